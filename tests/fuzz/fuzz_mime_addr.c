/* fuzz_mime_addr: libFuzzer harness for mime_addr_parse(). Every address it
 * returns must be a valid RFC 5321 mailbox, ASCII unless UTF-8 was allowed,
 * and the list must stay within MIME_ADDR_MAX. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mime/mime_addr.h"
#include "smtp/smtp_parse.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mime_addr_list l;
	const char *why;
	int utf8;
	size_t i;

	for (utf8 = 0; utf8 < 2; utf8++) {
		if (mime_addr_parse((const char *)data, size, utf8, &l, &why) < 0) {
			assert(l.n == 0 && l.v == NULL && why != NULL);
			continue;
		}
		assert(l.n <= MIME_ADDR_MAX);
		for (i = 0; i < l.n; i++) {
			int v = smtp_mailbox_valid(l.v[i].addr, strlen(l.v[i].addr), utf8);

			assert(v == (l.v[i].utf8 ? 2 : 1));
			assert(smtp_mailbox_domain(l.v[i].addr) != NULL);
		}
		mime_addr_list_free(&l);
	}
	return 0;
}
