/* fuzz_smtp_reply: libFuzzer harness for smtp_reply_parse() and
 * smtp_reply_ehlo(). Parses the input as a stream of replies, whole and byte
 * by byte as a socket would deliver it, and checks that both agree and that
 * every reply respects the caps and carries only printable text. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_reply.h"

/* run() returns a checksum of every reply so two runs can be compared. */
static uint64_t
run(const char *in, size_t len, size_t step, size_t *left)
{
	struct smtp_reply_state st = { 0 };
	struct smtp_reply r;
	struct smtp_ehlo e;
	size_t start = 0, avail = 0, consumed, i;
	enum smtp_reply_rc rc = SMTP_REPLY_MORE;
	uint64_t sum = 1469598103934665603ULL;

	while (rc != SMTP_REPLY_ERROR) {
		avail = avail + step > len ? len : avail + step;
		while ((rc = smtp_reply_parse(&st, in + start, avail - start, &consumed, &r)) ==
		    SMTP_REPLY_DONE) {
			assert(consumed > 0 && consumed <= avail - start);
			start += consumed;
			assert(r.code >= 200 && r.code <= 559);
			assert(r.nlines >= 1 && r.nlines <= SMTP_REPLY_LINES_MAX);
			assert(r.textlen < SMTP_REPLY_TOTAL_MAX && strlen(r.text) == r.textlen);
			for (i = 0; i < r.textlen; i++) {
				unsigned char c = r.text[i];

				assert(c >= 32 || c == '\n' || c == '\t');
				sum = (sum ^ c) * 1099511628211ULL;
			}
			sum = (sum ^ (uint64_t)r.code) * 1099511628211ULL;
			smtp_reply_ehlo(r.text, r.textlen, &e);
			sum = (sum ^ e.ext ^ ((uint64_t)e.auth << 16) ^ e.size) * 1099511628211ULL;
		}
		assert(consumed <= avail - start);
		start += consumed;
		if (rc == SMTP_REPLY_MORE)
			assert(avail - start < SMTP_REPLY_LINE_MAX);
		if (avail == len)
			break;
	}
	smtp_reply_free(&st);
	*left = len - start;
	return sum ^ (uint64_t)rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t l1, l2;
	uint64_t a = run((const char *)data, size, size ? size : 1, &l1);
	uint64_t b = run((const char *)data, size, 1, &l2);

	assert(a == b && l1 == l2);
	return 0;
}
