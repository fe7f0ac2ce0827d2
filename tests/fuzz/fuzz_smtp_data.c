/* fuzz_smtp_data: libFuzzer harness for smtp_data_feed(). Decodes the input
 * whole, then in chunks whose sizes come from the input itself, and checks
 * that both give the same events, output and flags (the decoder must not
 * depend on how TCP splits the stream), and that a message that ends without
 * an error contains no bare CR or LF. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_parse.h"

struct run {
	struct smtp_data d;
	struct buf	 out;
	size_t		 events[8];
	int		 kinds[8];
	int		 nevents;
	size_t		 pos;
};

static void
decode(const char *buf, size_t len, const uint8_t *split, size_t nsplit, struct run *r)
{
	size_t limit = 0, consumed, k = 0;
	enum smtp_data_rc rc;

	memset(r, 0, sizeof(*r));
	while (r->pos < len) {
		if (limit <= r->pos) {
			size_t step = nsplit ? (size_t)split[k++ % nsplit] % 16 + 1 : len;

			limit = r->pos + step > len ? len : r->pos + step;
		}
		rc = smtp_data_feed(&r->d, buf + r->pos, limit - r->pos, &consumed, &r->out, 4096);
		assert(consumed <= limit - r->pos);
		r->pos += consumed;
		if (rc != SMTP_DATA_MORE) {
			assert(r->nevents < 8);
			r->events[r->nevents] = r->pos;
			r->kinds[r->nevents++] = rc;
			if (rc == SMTP_DATA_DONE) {
				/* Only CRLF "." CRLF ends a message (or "." CRLF first). */
				assert(r->pos >= 3 && memcmp(buf + r->pos - 3, ".\r\n", 3) == 0);
				assert(r->pos == 3 || (r->pos >= 5 && memcmp(buf + r->pos - 5, "\r\n", 2) == 0));
				break;
			}
		} else
			assert(r->pos == limit);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run a, b;
	const char *buf = (const char *)data;
	size_t nsplit = size > 8 ? 8 : size;

	decode(buf, size, NULL, 0, &a);
	decode(buf, size, data, nsplit, &b);
	assert(a.nevents == b.nevents && a.pos == b.pos);
	assert(memcmp(a.events, b.events, sizeof(a.events[0]) * a.nevents) == 0);
	assert(memcmp(a.kinds, b.kinds, sizeof(a.kinds[0]) * a.nevents) == 0);
	assert(a.d.size == b.d.size && a.d.bare == b.d.bare && a.d.nul == b.d.nul &&
	    a.d.longline == b.d.longline);
	assert(a.out.len == b.out.len);
	assert(a.out.len <= 4096);
	if (a.out.len)
		assert(memcmp(a.out.data, b.out.data, a.out.len) == 0);
	if (!a.d.bare && a.out.len) {
		/* Only CRLF pairs: every LF follows a CR and every CR precedes an LF. */
		size_t i;

		for (i = 0; i < a.out.len; i++) {
			if (a.out.data[i] == '\n')
				assert(i > 0 && a.out.data[i - 1] == '\r');
			if (a.out.data[i] == '\r' && i + 1 < a.out.len)
				assert(a.out.data[i + 1] == '\n');
		}
	}
	buf_free(&a.out);
	buf_free(&b.out);
	return 0;
}
