/* libFuzzer harness for suppress_addr: any bytes as an address to suppress.
 * Whatever suppress_addr_normalize() accepts must normalise to itself, keep
 * its last '@' with a non-empty local part, and have a key that is the key
 * of its ASCII upper-cased twin (matching ignores ASCII case); whatever it
 * refuses must come with a reason. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "suppress/suppress.h"
#include "util/xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *why = NULL;
	char *in, *out, *again, *k1, *k2, *up, *nup, *at;

	if (size > 1024 || memchr(data, 0, size) != NULL)
		return 0;
	in = xstrndup((const char *)data, size);
	out = suppress_addr_normalize(in, &why);
	if (out == NULL) {
		if (why == NULL)
			abort();
		free(in);
		return 0;
	}
	at = strrchr(out, '@');
	if (at == NULL || at == out || at[1] == '\0')
		abort();
	if ((again = suppress_addr_normalize(out, NULL)) == NULL || strcmp(again, out) != 0)
		abort();
	k1 = suppress_addr_key(out);
	up = xstrdup(out);
	for (char *p = up; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	if ((nup = suppress_addr_normalize(up, NULL)) == NULL)
		abort();
	k2 = suppress_addr_key(nup);
	if (strcmp(k1, k2) != 0)
		abort();
	free(k1);
	free(k2);
	free(nup);
	free(up);
	free(again);
	free(out);
	free(in);
	return 0;
}
