/* libFuzzer harness for deliver/bounce: any reply (code, enhanced code, text)
 * classifies without crashing into a valid class and category. Seeds:
 * tests/golden/bounce (raw replies). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "deliver/bounce.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char enh[32];
	struct bounce_info bi;
	size_t i = 0, k = 0;
	int code = 0;

	/* "550 5.1.1 text": the code, then an optional enhanced code */
	while (i < size && i < 3 && data[i] >= '0' && data[i] <= '9')
		code = code * 10 + (data[i++] - '0');
	if (i < size && (data[i] == ' ' || data[i] == '-'))
		i++;
	while (i < size && k < sizeof(enh) - 1 && data[i] != ' ')
		enh[k++] = (char)data[i++];
	enh[k] = '\0';
	for (int local = BOUNCE_LOCAL_NONE; local <= BOUNCE_LOCAL_MESSAGE; local++) {
		bounce_classify(code, k ? enh : NULL, (const char *)data + i, size - i,
		    (enum bounce_local)local, &bi);
		if (bi.cls != BOUNCE_SOFT && bi.cls != BOUNCE_HARD)
			abort();
		if (strcmp(bounce_category_name(bi.category), "other") != 0 && bi.category > BOUNCE_OTHER)
			abort();
		if (code >= 400 && code < 500 && bi.cls != BOUNCE_SOFT)
			abort();	/* a 4xx is never hard */
	}
	return 0;
}
