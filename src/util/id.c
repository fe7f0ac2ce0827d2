/* id: time-ordered random identifiers. */
#include "util/id.h"
#include "util/timeutil.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* Crockford's base32 alphabet, lower case: no i, l, o, u. */
static const char alphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";

void
id_random_bytes(void *p, size_t n)
{
	size_t off = 0;

	while (off < n) {
		ssize_t r = getrandom((char *)p + off, n - off, 0);
		if (r <= 0) {
			fprintf(stderr, "getrandom failed\n");
			abort();
		}
		off += (size_t)r;
	}
}

void
id_new(char out[ID_LEN + 1])
{
	uint64_t t = time_now_ms(), r;
	int i;

	id_random_bytes(&r, sizeof(r));
	for (i = 9; i >= 0; i--) {
		out[i] = alphabet[t & 31];
		t >>= 5;
	}
	for (i = 10; i < 20; i++) {
		out[i] = alphabet[r & 31];
		r >>= 5;
	}
	out[ID_LEN] = '\0';
}

int
id_valid(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (strchr(alphabet, s[i]) == NULL)
			return 0;
	return i == ID_LEN;
}
