/* Unit tests for smtp/smtp_reply: golden replies (tests/golden/smtp_reply),
 * each fed whole and byte by byte (which must agree), the caps, and EHLO. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_reply.h"
#include "golden.h"

/* run_replies() parses in, handing the parser step more bytes at a time the
 * way a client reading a socket would, and renders each answer. */
static void
run_replies(const char *in, size_t len, size_t step, struct buf *out)
{
	struct smtp_reply_state st = { 0 };
	struct smtp_reply r;
	size_t start = 0, avail = 0, consumed;
	enum smtp_reply_rc rc;
	int guard = 0;

	while (guard++ < 100000) {
		avail = avail + step > len ? len : avail + step;
		for (;;) {
			rc = smtp_reply_parse(&st, in + start, avail - start, &consumed, &r);
			assert_true(consumed <= avail - start);
			start += consumed;
			if (rc != SMTP_REPLY_DONE)
				break;
			buf_printf(out, "reply %d status \"%s\" lines %u text ", r.code, r.status, r.nlines);
			golden_escape(out, r.text, r.textlen);
			assert_int_equal(strlen(r.text), r.textlen);
			if (r.code == 250 && r.nlines > 1) {
				struct smtp_ehlo e;

				smtp_reply_ehlo(r.text, r.textlen, &e);
				buf_printf(out, "\nehlo ext 0x%04x auth 0x%02x size %llu", e.ext, e.auth,
				    (unsigned long long)e.size);
			}
			buf_putc(out, '\n');
		}
		if (rc == SMTP_REPLY_ERROR) {
			buf_printf(out, "error after %zu\n", start);
			break;
		}
		if (avail == len)
			break;
	}
	buf_printf(out, "left %zu", len - start);
	smtp_reply_free(&st);
}

static void
render_reply(const char *in, size_t len, struct buf *out)
{
	struct buf b = { 0 };

	run_replies(in, len, len ? len : 1, out);
	run_replies(in, len, 1, &b);
	assert_string_equal(out->data, b.data);
	buf_free(&b);
}

static void
test_reply_golden(void **state)
{
	int failed, n;

	(void)state;
	n = golden_run("tests/golden/smtp_reply", render_reply, &failed);
	assert_true(n >= 20);
	assert_int_equal(failed, 0);
}

/* A server that never ends its reply is cut off at SMTP_REPLY_TOTAL_MAX. */
static void
test_reply_total_cap(void **state)
{
	struct smtp_reply_state st = { 0 };
	struct smtp_reply r;
	char line[512];
	size_t consumed, i;
	enum smtp_reply_rc rc = SMTP_REPLY_MORE;

	(void)state;
	memset(line, 'x', sizeof(line));
	memcpy(line, "250-", 4);
	memcpy(line + 508, "\r\n", 2);
	for (i = 0; i < 1000 && rc == SMTP_REPLY_MORE; i++)
		rc = smtp_reply_parse(&st, line, 510, &consumed, &r);
	assert_int_equal(rc, SMTP_REPLY_ERROR);
	assert_true(i <= SMTP_REPLY_LINES_MAX + 1);
	smtp_reply_free(&st);
}

static void
test_ehlo(void **state)
{
	struct smtp_ehlo e;
	const char t1[] = "mx.example\nsize 100\nauth=LOGIN\nX-FOO\nstarttls";
	const char t2[] = "mx.example\nSIZE 99999999999999999999999\nAUTH\nSIZE12";
	const char t3[] = "just the greeting";

	(void)state;
	smtp_reply_ehlo(t1, sizeof(t1) - 1, &e);
	assert_int_equal(e.ext, SMTP_EXT_SIZE | SMTP_EXT_AUTH | SMTP_EXT_STARTTLS);
	assert_int_equal(e.auth, SMTP_AUTH_LOGIN);
	assert_int_equal(e.size, 100);
	smtp_reply_ehlo(t2, sizeof(t2) - 1, &e);
	assert_int_equal(e.ext, SMTP_EXT_SIZE | SMTP_EXT_AUTH);
	assert_int_equal(e.size, 0);
	assert_int_equal(e.auth, 0);
	smtp_reply_ehlo(t3, sizeof(t3) - 1, &e);
	assert_int_equal(e.ext, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reply_golden),
		cmocka_unit_test(test_reply_total_cap),
		cmocka_unit_test(test_ehlo),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
