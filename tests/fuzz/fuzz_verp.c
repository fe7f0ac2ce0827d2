/* libFuzzer harness for feedback/verp: any bytes parse without crashing,
 * and whatever parses as VERP makes the same address again (one spelling
 * per token, lower case). Seeds: tests/golden/verp (the key is the unit
 * test's: bytes 1..32). */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "feedback/verp.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct verp_key k;
	struct verp_addr a;
	char again[VERP_ADDR_MAX];

	for (int i = 0; i < VERP_KEY_LEN; i++)
		k.k[i] = (unsigned char)(i + 1);
	if (verp_parse(&k, (const char *)data, size, &a) != VERP_OK)
		return 0;
	if (verp_make(&k, a.id, a.rcpt_index, a.domain, again) != 0)
		abort();
	if (strlen(again) != size)
		abort();
	for (size_t i = 0; i < size; i++)
		if (tolower(data[i]) != again[i])
			abort();
	return 0;
}
