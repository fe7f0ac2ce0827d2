/* Unit tests for smtp/smtp_parse: command lines, commands (golden files in
 * tests/golden/smtp_cmd), the DATA decoder (tests/golden/smtp_data, each case
 * fed whole, byte by byte and in random chunks, which must all agree), the
 * mailbox validator and the BDAT argument. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_parse.h"
#include "golden.h"

static const char *const verb_names[] = {
	"UNKNOWN", "HELO", "EHLO", "MAIL", "RCPT", "DATA", "BDAT", "RSET", "NOOP", "QUIT",
	"VRFY", "EXPN", "HELP", "STARTTLS", "AUTH",
};
static const char *const cmd_rc_names[] = { "OK", "ESYNTAX", "EPATH", "EPARAM" };

/* render_cmd() is the golden renderer of smtp_cmd_parse(). */
static void
render_cmd(const char *in, size_t len, struct buf *out)
{
	char *line = malloc(len + 1);
	struct smtp_cmd cmd;
	const char *why;
	enum smtp_cmd_rc rc;
	size_t i;

	memcpy(line, in, len);
	line[len] = '\0';
	rc = smtp_cmd_parse(line, len, &cmd, &why);
	buf_printf(out, "rc %s\nverb %s", cmd_rc_names[rc], verb_names[cmd.verb]);
	if (rc == SMTP_CMD_OK) {
		if (cmd.verb != SMTP_CMD_MAIL && cmd.verb != SMTP_CMD_RCPT) {
			buf_puts(out, "\narg ");
			golden_escape(out, cmd.arg, strlen(cmd.arg));
		} else {
			buf_puts(out, "\npath ");
			golden_escape(out, cmd.path, strlen(cmd.path));
			buf_printf(out, "\nutf8 %d", cmd.path_utf8);
			for (i = 0; i < cmd.nparams; i++) {
				buf_puts(out, "\nparam ");
				golden_escape(out, cmd.params[i].key, strlen(cmd.params[i].key));
				if (cmd.params[i].value) {
					buf_putc(out, '=');
					golden_escape(out, cmd.params[i].value, strlen(cmd.params[i].value));
				}
			}
		}
	} else
		buf_printf(out, "\nwhy %s", why);
	free(line);
}

static void
test_cmd_golden(void **state)
{
	int failed, n;

	(void)state;
	n = golden_run("tests/golden/smtp_cmd", render_cmd, &failed);
	assert_true(n >= 90);
	assert_int_equal(failed, 0);
}

/* feed_data() decodes in using the chunk sizes given by next_chunk() and
 * renders every answer, so two splittings can be compared as text. */
static void
feed_data(const char *in, size_t len, size_t (*next_chunk)(size_t), struct buf *out)
{
	struct smtp_data d = { 0 };
	struct buf body = { 0 };
	size_t pos = 0, limit = 0, consumed;
	enum smtp_data_rc rc = SMTP_DATA_MORE;
	int steps = 0;

	buf_puts(out, "events");
	while (pos < len && steps++ < 1000000) {
		if (limit <= pos) {
			limit = pos + next_chunk(len - pos);
			if (limit > len)
				limit = len;
		}
		rc = smtp_data_feed(&d, in + pos, limit - pos, &consumed, &body, 1 << 20);
		assert_true(consumed <= limit - pos);
		pos += consumed;
		if (rc == SMTP_DATA_ERROR)
			buf_printf(out, " ERROR@%zu", pos);
		else if (rc == SMTP_DATA_DONE) {
			buf_printf(out, " DONE@%zu", pos);
			break;
		} else
			assert_int_equal(pos, limit);
	}
	buf_printf(out, "\nresult %s\nconsumed %zu\nsize %llu\nbare %d nul %d longline %d\nbody ",
	    rc == SMTP_DATA_DONE ? "DONE" : rc == SMTP_DATA_ERROR ? "ERROR" : "MORE",
	    pos, (unsigned long long)d.size, d.bare, d.nul, d.longline);
	golden_escape(out, body.data ? body.data : "", body.len);
	buf_free(&body);
}

static size_t chunk_whole(size_t left) { return left; }
static size_t chunk_byte(size_t left) { (void)left; return 1; }
static size_t chunk_random(size_t left) { (void)left; return 1 + (size_t)(rand() % 7); }

/* render_data() renders the whole-input run and checks the others match. */
static void
render_data(const char *in, size_t len, struct buf *out)
{
	struct buf b1 = { 0 }, b2 = { 0 };
	int i;

	feed_data(in, len, chunk_whole, out);
	feed_data(in, len, chunk_byte, &b1);
	assert_string_equal(out->data, b1.data);
	for (i = 0; i < 20; i++) {
		buf_reset(&b2);
		feed_data(in, len, chunk_random, &b2);
		assert_string_equal(out->data, b2.data);
	}
	buf_free(&b1);
	buf_free(&b2);
}

static void
test_data_golden(void **state)
{
	int failed, n;

	(void)state;
	srand(42);
	n = golden_run("tests/golden/smtp_data", render_data, &failed);
	assert_true(n >= 29);
	assert_int_equal(failed, 0);
}

/* Every smuggling variant, asserted directly as well as in golden files. */
static void
test_data_smuggling(void **state)
{
	static const char *const ends[] = {
		"\n.\n", "\n.\r", "\r.\n", "\r.\r", "\n.\r\n", "\r.\r\n", "\r\n.\r\r\n", "\r\n.\n",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
		struct smtp_data d = { 0 };
		struct buf body = { 0 };
		char msg[256];
		size_t consumed, n;

		n = (size_t)snprintf(msg, sizeof(msg), "Subject: x\r\n\r\nbody%sMAIL FROM:<e@x.example>\r\n", ends[i]);
		assert_int_equal(smtp_data_feed(&d, msg, n, &consumed, &body, 1 << 20), SMTP_DATA_ERROR);
		assert_true(d.bare);
		/* After the error, feeding goes on without a second message ending. */
		assert_int_equal(smtp_data_feed(&d, msg + consumed, n - consumed, &consumed, &body, 1 << 20),
		    SMTP_DATA_MORE);
		buf_free(&body);
	}
}

static void
test_data_nul_dot(void **state)
{
	struct smtp_data d = { 0 };
	struct buf body = { 0 };
	const char msg[] = "a\r\n\0.\r\nb\r\n.\r\n";
	size_t consumed;

	(void)state;
	assert_int_equal(smtp_data_feed(&d, msg, sizeof(msg) - 1, &consumed, &body, 1 << 20), SMTP_DATA_DONE);
	assert_int_equal(consumed, sizeof(msg) - 1);
	assert_true(d.nul);
	assert_false(d.bare);
	assert_int_equal(body.len, 10);
	assert_memory_equal(body.data, "a\r\n\0.\r\nb\r\n", 10);
	buf_free(&body);
}

static void
test_data_max(void **state)
{
	struct smtp_data d = { 0 };
	struct buf body = { 0 };
	const char msg[] = "0123456789\r\nabcdef\r\n.\r\n";
	size_t consumed, i;

	(void)state;
	for (i = 0; i < sizeof(msg) - 1; i += consumed)
		if (smtp_data_feed(&d, msg + i, 1, &consumed, &body, 5) == SMTP_DATA_DONE)
			break;
	assert_int_equal(body.len, 5);
	assert_memory_equal(body.data, "01234", 5);
	assert_int_equal(d.size, 20);
	/* DONE is sticky and consumes nothing more. */
	assert_int_equal(smtp_data_feed(&d, "x", 1, &consumed, &body, 5), SMTP_DATA_DONE);
	assert_int_equal(consumed, 0);
	buf_free(&body);
}

static void
test_line_next(void **state)
{
	char big[3000];
	size_t ll, c;

	(void)state;
	assert_int_equal(smtp_line_next("EHLO x\r\nQUIT\r\n", 14, &ll, &c), SMTP_LINE_OK);
	assert_int_equal(ll, 6);
	assert_int_equal(c, 8);
	assert_int_equal(smtp_line_next("EHLO x", 6, &ll, &c), SMTP_LINE_PARTIAL);
	assert_int_equal(smtp_line_next("EHLO x\r", 7, &ll, &c), SMTP_LINE_PARTIAL);
	assert_int_equal(smtp_line_next("", 0, &ll, &c), SMTP_LINE_PARTIAL);
	assert_int_equal(smtp_line_next("\r\n", 2, &ll, &c), SMTP_LINE_OK);
	assert_int_equal(ll, 0);
	assert_int_equal(smtp_line_next("EHLO x\n", 7, &ll, &c), SMTP_LINE_BARE);
	assert_int_equal(c, 7);
	assert_int_equal(smtp_line_next("EHLO x\rQ", 8, &ll, &c), SMTP_LINE_BARE);
	assert_int_equal(c, 7);
	/* "\r\r\n" is a bare CR, then a CRLF. */
	assert_int_equal(smtp_line_next("A\r\r\n", 4, &ll, &c), SMTP_LINE_BARE);
	assert_int_equal(c, 2);
	assert_int_equal(smtp_line_next("\r\n", 2, &ll, &c), SMTP_LINE_OK);

	/* 998 octets and CRLF is the longest line. */
	memset(big, 'a', sizeof(big));
	big[998] = '\r';
	big[999] = '\n';
	assert_int_equal(smtp_line_next(big, 1000, &ll, &c), SMTP_LINE_OK);
	assert_int_equal(ll, 998);
	assert_int_equal(smtp_line_next(big, 998, &ll, &c), SMTP_LINE_PARTIAL);
	assert_int_equal(smtp_line_next(big, 999, &ll, &c), SMTP_LINE_PARTIAL);
	big[998] = 'a';
	big[999] = 'a';
	assert_int_equal(smtp_line_next(big, 999, &ll, &c), SMTP_LINE_TOOLONG);
	assert_int_equal(c, 999);
	/* TOOLONG hands back the CR/LF-free run, never splitting a CRLF. */
	big[2000] = '\r';
	big[2001] = '\n';
	assert_int_equal(smtp_line_next(big, 2500, &ll, &c), SMTP_LINE_TOOLONG);
	assert_int_equal(c, 2000);
	assert_int_equal(smtp_line_next(big + c, 500, &ll, &c), SMTP_LINE_OK);
	assert_int_equal(ll, 0);
}

/* A 10 MB command line is discarded in bounded steps. */
static void
test_line_huge(void **state)
{
	size_t n = 10 * 1024 * 1024, pos = 0, ll, c, steps = 0;
	char *big = malloc(n + 8);
	enum smtp_line_rc rc;

	(void)state;
	memset(big, 'x', n);
	memcpy(big + n, "\r\nQUIT\r\n", 8);
	while ((rc = smtp_line_next(big + pos, n + 8 - pos, &ll, &c)) == SMTP_LINE_TOOLONG) {
		pos += c;
		steps++;
	}
	assert_int_equal(rc, SMTP_LINE_OK);
	assert_int_equal(pos, n);
	assert_int_equal(steps, 1);
	pos += c;
	assert_int_equal(smtp_line_next(big + pos, n + 8 - pos, &ll, &c), SMTP_LINE_OK);
	assert_int_equal(ll, 4);
	free(big);
}

static void
test_mailbox_valid(void **state)
{
	(void)state;
	assert_int_equal(smtp_mailbox_valid("a@b.example", 11, 0), 1);
	assert_int_equal(smtp_mailbox_valid("\"a b\"@b.example", 15, 0), 1);
	assert_int_equal(smtp_mailbox_valid("u@[127.0.0.1]", 13, 0), 1);
	assert_int_equal(smtp_mailbox_valid("u@[IPv6:::1]", 12, 0), 1);
	assert_int_equal(smtp_mailbox_valid("us\xc3\xa9r@b.example", 14, 0), 0);
	assert_int_equal(smtp_mailbox_valid("us\xc3\xa9r@b.example", 14, 1), 2);
	assert_int_equal(smtp_mailbox_valid("<a@b.example>", 13, 0), 0);
	assert_int_equal(smtp_mailbox_valid("a@b.example ", 12, 0), 0);
	assert_int_equal(smtp_mailbox_valid("a@b", 3, 0), 1);
	assert_int_equal(smtp_mailbox_valid("a@b\0c", 5, 0), 0);
	assert_int_equal(smtp_mailbox_valid("", 0, 0), 0);
	assert_int_equal(smtp_mailbox_valid("@b", 2, 0), 0);
	assert_int_equal(smtp_mailbox_valid("a@", 2, 0), 0);
	assert_string_equal(smtp_mailbox_domain("\"x@y\"@d.example"), "d.example");
	assert_null(smtp_mailbox_domain("nodomain"));
}

static void
test_cmd_param(void **state)
{
	char line[] = "MAIL FROM:<a@b.example> SIZE=10 SMTPUTF8 body=8BITMIME";
	struct smtp_cmd cmd;
	const char *why;
	const struct smtp_param *p;

	(void)state;
	assert_int_equal(smtp_cmd_parse(line, strlen(line), &cmd, &why), SMTP_CMD_OK);
	p = smtp_cmd_param(&cmd, "size");
	assert_non_null(p);
	assert_string_equal(p->value, "10");
	p = smtp_cmd_param(&cmd, "SMTPUTF8");
	assert_non_null(p);
	assert_null(p->value);
	assert_string_equal(smtp_cmd_param(&cmd, "BODY")->value, "8BITMIME");
	assert_null(smtp_cmd_param(&cmd, "RET"));
}

static void
test_bdat_arg(void **state)
{
	uint64_t size;
	int last;

	(void)state;
	assert_int_equal(smtp_bdat_parse_arg("100", &size, &last), 0);
	assert_int_equal(size, 100);
	assert_int_equal(last, 0);
	assert_int_equal(smtp_bdat_parse_arg("0 LAST", &size, &last), 0);
	assert_int_equal(size, 0);
	assert_int_equal(last, 1);
	assert_int_equal(smtp_bdat_parse_arg("7 last", &size, &last), 0);
	assert_int_equal(smtp_bdat_parse_arg("18446744073709551615", &size, &last), 0);
	assert_true(size == UINT64_MAX);
	assert_int_equal(smtp_bdat_parse_arg("18446744073709551616", &size, &last), -1);
	assert_int_equal(smtp_bdat_parse_arg("99999999999999999999999", &size, &last), -1);
	assert_int_equal(smtp_bdat_parse_arg("", &size, &last), -1);
	assert_int_equal(smtp_bdat_parse_arg("-1", &size, &last), -1);
	assert_int_equal(smtp_bdat_parse_arg("+1", &size, &last), -1);
	assert_int_equal(smtp_bdat_parse_arg(" 1", &size, &last), -1);
	assert_int_equal(smtp_bdat_parse_arg("1x", &size, &last), -1);
	assert_int_equal(smtp_bdat_parse_arg("1 LASTX", &size, &last), -1);
	assert_int_equal(smtp_bdat_parse_arg("1 LAST x", &size, &last), -1);
	assert_int_equal(smtp_bdat_parse_arg("0x10", &size, &last), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_line_next),
		cmocka_unit_test(test_line_huge),
		cmocka_unit_test(test_cmd_golden),
		cmocka_unit_test(test_mailbox_valid),
		cmocka_unit_test(test_cmd_param),
		cmocka_unit_test(test_bdat_arg),
		cmocka_unit_test(test_data_golden),
		cmocka_unit_test(test_data_smuggling),
		cmocka_unit_test(test_data_nul_dot),
		cmocka_unit_test(test_data_max),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
