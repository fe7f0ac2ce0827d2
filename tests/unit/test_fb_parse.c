/* Unit tests for feedback/fb_parse: the golden reports in
 * tests/golden/fb_parse (each NAME.in a whole message, NAME.out every field
 * of the answer as key=value lines: a field that is absent is not listed),
 * then properties every input must keep: CRLF and LF give the same answer,
 * every prefix of a fixture parses without harm, the caps hold on inputs
 * built here (nesting, parts, sizes), and hermod's own DSNs (deliver/dsn.c)
 * read back field for field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deliver/dsn.h"
#include "feedback/fb_int.h"
#include "feedback/fb_parse.h"
#include "spool/spool.h"
#include "util/buf.h"
#include "golden.h"

#define DIR_FB	"tests/golden/fb_parse"

/* put() renders one value: printable ASCII as it is, anything else escaped,
 * so the .out files stay one line per field. */
static void
put(struct buf *o, const char *key, const char *v)
{
	if (v == NULL)
		return;
	buf_printf(o, "%s=", key);
	for (; *v; v++) {
		unsigned char c = (unsigned char)*v;

		if (c == '\\')
			buf_puts(o, "\\\\");
		else if (c == '\r')
			buf_puts(o, "\\r");
		else if (c == '\n')
			buf_puts(o, "\\n");
		else if (c < 32 || c >= 127)
			buf_printf(o, "\\x%02x", c);
		else
			buf_putc(o, (char)c);
	}
	buf_putc(o, '\n');
}

static void
render(const char *in, size_t len, struct buf *o)
{
	struct fb_report r;
	int rc = fb_parse(in, len, &r);
	char key[64];

	buf_printf(o, "rc=%d\n", rc);
	buf_printf(o, "kind=%s\n", r.kind == FB_DSN ? "dsn" : r.kind == FB_ARF ? "arf" : "none");
	put(o, "format", r.format);
	put(o, "reporting_mta", r.reporting_mta);
	put(o, "envelope_id", r.envelope_id);
	put(o, "arrival_date", r.arrival_date);
	put(o, "feedback_type", r.feedback_type);
	put(o, "user_agent", r.user_agent);
	put(o, "source_ip", r.source_ip);
	put(o, "orig_rcpt_to", r.orig_rcpt_to);
	if (r.kind == FB_ARF)
		buf_printf(o, "incidents=%u\n", r.incidents);
	put(o, "orig_message_id", r.orig_message_id);
	put(o, "orig_return_path", r.orig_return_path);
	put(o, "orig_from", r.orig_from);
	put(o, "orig_subject", r.orig_subject);
	buf_printf(o, "nrcpt=%zu\n", r.nrcpt);
	for (size_t i = 0; i < r.nrcpt; i++) {
		const struct fb_rcpt *p = &r.rcpts[i];

#define F(name, v) do { snprintf(key, sizeof(key), "rcpt%zu.%s", i, name); put(o, key, v); } while (0)
		F("recipient", p->recipient);
		F("original_recipient", p->original_recipient);
		F("action", p->action);
		F("status", p->status[0] ? p->status : NULL);
		if (p->smtp_code)
			buf_printf(o, "rcpt%zu.smtp_code=%d\n", i, p->smtp_code);
		F("diagnostic", p->diagnostic);
		F("remote_mta", p->remote_mta);
		F("last_attempt", p->last_attempt);
		F("will_retry_until", p->will_retry_until);
#undef F
	}
	if (r.orig_headers != NULL) {
		buf_puts(o, "orig_headers=");
		golden_escape(o, r.orig_headers, strlen(r.orig_headers));
		buf_putc(o, '\n');
	}
	/* The contract: -1 always comes with FB_NONE and nothing allocated. */
	if (rc != 0 && (r.kind != FB_NONE || r.nrcpt != 0 || r.rcpts != NULL))
		buf_puts(o, "BROKEN: -1 with a report\n");
	fb_report_free(&r);
}

static void
test_golden(void **state)
{
	int failed = 0, n;

	(void)state;
	n = golden_run(DIR_FB, render, &failed);
	assert_true(n >= 30);
	assert_int_equal(failed, 0);
}

/* for_each() calls fn on every golden input. */
static void
for_each(void (*fn)(const char *name, const char *in, size_t len))
{
	DIR *d = opendir(DIR_FB);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name), len;
		char path[512], *in;

		if (l < 4 || strcmp(e->d_name + l - 3, ".in") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", DIR_FB, e->d_name);
		in = golden_slurp(path, &len);
		assert_non_null(in);
		fn(e->d_name, in, len);
		free(in);
		n++;
	}
	closedir(d);
	assert_true(n > 0);
}

/* strip_cr() drops the rendered "\r" escapes: what stays must be equal. */
static void
strip_cr(struct buf *b)
{
	size_t r = 0, w = 0;

	for (; r < b->len; r++) {
		if (b->data[r] == '\\' && r + 1 < b->len && b->data[r + 1] == 'r') {
			r++;
			continue;
		}
		if (b->data[r] == '\\' && r + 1 < b->len) {
			b->data[w++] = b->data[r++];
		}
		b->data[w++] = b->data[r];
	}
	b->len = w;
	b->data[w] = '\0';
}

static void
one_crlf(const char *name, const char *in, size_t len)
{
	struct buf lf = { 0 }, crlf = { 0 }, a = { 0 }, b = { 0 };

	/* Both spellings from the same text: CRs dropped, then added back. */
	for (size_t i = 0; i < len; i++)
		if (in[i] != '\r' || i + 1 >= len || in[i + 1] != '\n')
			buf_putc(&lf, in[i]);
	for (size_t i = 0; i < lf.len; i++) {
		if (lf.data[i] == '\n')
			buf_putc(&crlf, '\r');
		buf_putc(&crlf, lf.data[i]);
	}
	render(lf.data ? lf.data : "", lf.len, &a);
	render(crlf.data ? crlf.data : "", crlf.len, &b);
	strip_cr(&a);
	strip_cr(&b);
	if (strcmp(a.data, b.data) != 0)
		fprintf(stderr, "%s: LF and CRLF differ\nLF:\n%sCRLF:\n%s", name, a.data, b.data);
	assert_string_equal(a.data, b.data);
	buf_free(&lf);
	buf_free(&crlf);
	buf_free(&a);
	buf_free(&b);
}

static void
test_crlf(void **state)
{
	(void)state;
	for_each(one_crlf);
}

static void
one_prefixes(const char *name, const char *in, size_t len)
{
	size_t step = len / 97 + 1;

	(void)name;
	for (size_t n = 0; n <= len; n += step) {
		/* A copy of exactly n bytes, so ASan sees any read past it. */
		char *c = malloc(n ? n : 1);
		struct fb_report r;
		int rc;

		memcpy(c, in, n);
		rc = fb_parse(c, n, &r);
		assert_true(rc == 0 || rc == -1);
		if (rc == 0) {
			assert_true(r.kind == FB_DSN || r.kind == FB_ARF);
			assert_non_null(r.format);
			for (size_t i = 0; i < r.nrcpt; i++)
				assert_non_null(r.rcpts[i].recipient);
		} else {
			assert_int_equal(r.kind, FB_NONE);
		}
		fb_report_free(&r);
		free(c);
	}
}

static void
test_prefixes(void **state)
{
	(void)state;
	for_each(one_prefixes);
}

/* The RFC 3464 multi-recipient example, field by field. */
static void
test_rfc3464_multi(void **state)
{
	size_t len;
	char *in = golden_slurp(DIR_FB "/rfc3464-e2-multi.in", &len);
	struct fb_report r;

	(void)state;
	assert_non_null(in);
	assert_int_equal(fb_parse(in, len, &r), 0);
	assert_int_equal(r.kind, FB_DSN);
	assert_string_equal(r.format, "rfc3464");
	assert_string_equal(r.reporting_mta, "cs.utk.edu");
	assert_int_equal(r.nrcpt, 3);
	assert_string_equal(r.rcpts[0].recipient, "arathib@vnet.ibm.com");
	assert_string_equal(r.rcpts[0].action, "failed");
	assert_string_equal(r.rcpts[0].status, "5.0.0");
	assert_int_equal(r.rcpts[0].smtp_code, 550);
	assert_string_equal(r.rcpts[0].diagnostic,
	    "550 'arathib@vnet.IBM.COM' is not a registered gateway user");
	assert_string_equal(r.rcpts[0].remote_mta, "vnet.ibm.com");
	assert_string_equal(r.rcpts[1].recipient, "johnh@hpnjld.njd.hp.com");
	assert_string_equal(r.rcpts[1].action, "delayed");
	assert_string_equal(r.rcpts[1].status, "4.0.0");
	assert_int_equal(r.rcpts[1].smtp_code, 0);
	assert_null(r.rcpts[1].diagnostic);
	assert_string_equal(r.rcpts[2].recipient, "wsnell@sdcc13.ucsd.edu");
	assert_int_equal(r.rcpts[2].smtp_code, 550);
	fb_report_free(&r);
	assert_null(r.rcpts);
	fb_report_free(&r);	/* twice is harmless */
	free(in);
}

/* Caps: deep nesting and many parts, built past any fixture's size. */
static void
test_caps(void **state)
{
	struct buf b = { 0 };
	struct fb_report r;
	int i;

	(void)state;
	buf_puts(&b, "Content-Type: multipart/mixed; boundary=b0\n\n");
	for (i = 0; i < 20000; i++)
		buf_printf(&b, "--b%d\nContent-Type: multipart/mixed; boundary=b%d\n\n", i, i + 1);
	assert_int_equal(fb_parse(b.data, b.len, &r), -1);
	assert_int_equal(r.kind, FB_NONE);
	buf_reset(&b);
	buf_puts(&b, "Content-Type: multipart/report; boundary=x\n\n");
	for (i = 0; i < 100000; i++)
		buf_puts(&b, "--x\n\n");
	assert_int_equal(fb_parse(b.data, b.len, &r), -1);
	buf_reset(&b);
	/* Many recipients: kept up to the cap. */
	buf_puts(&b, "Content-Type: message/delivery-status\n\nReporting-MTA: dns; many.example\n\n");
	for (i = 0; i < FB_PARSE_MAX_RCPTS + 50; i++)
		buf_printf(&b, "Final-Recipient: rfc822; u%d@Many.Example\nAction: failed\nStatus: 5.1.1\n\n", i);
	assert_int_equal(fb_parse(b.data, b.len, &r), 0);
	assert_int_equal(r.nrcpt, FB_PARSE_MAX_RCPTS);
	assert_string_equal(r.rcpts[7].recipient, "u7@many.example");
	fb_report_free(&r);
	/* NUL bytes inside the report do not cut it short or crash. */
	buf_reset(&b);
	buf_puts(&b, "Content-Type: message/delivery-status\n\nReporting-MTA: dns; nul.example\n\n"
	    "Final-Recipient: rfc822; a@nul.example\nDiagnostic-Code: smtp; 550 a");
	buf_putc(&b, '\0');
	buf_puts(&b, "b\nAction: failed\n");
	assert_int_equal(fb_parse(b.data, b.len, &r), 0);
	assert_int_equal(r.nrcpt, 1);
	assert_string_equal(r.rcpts[0].action, "failed");
	assert_string_equal(r.rcpts[0].diagnostic, "550 a b");
	fb_report_free(&r);
	assert_int_equal(fb_parse(NULL, 0, &r), -1);
	buf_free(&b);
}

/* hermod's own DSN (deliver/dsn.c) reads back field for field. */
static void
test_own_dsn(void **state)
{
	const char *orig = "Return-Path: <b-own@bounce.shop.example>\r\nFrom: orders@shop.example\r\n"
	    "To: x@dest.example\r\nSubject: own\r\nMessage-ID: <own.1@shop.example>\r\n\r\nbody\r\n";
	struct dsn_rcpt rc[2] = {
		{ .addr = "x@Dest.Example", .orcpt = "rfc822;x@Dest.Example", .action = DSN_FAILED,
		  .status = "5.1.1", .remote_mta = "mx.dest.example",
		  .diagnostic = "550 5.1.1 no such user", .last_attempt = 1795723262000ull },
		{ .addr = "y@dest.example", .action = DSN_DELAYED, .status = "4.4.1" },
	};
	struct dsn_params p = {
		.reporting_mta = "hermod.shop.example", .return_path = "b-own@bounce.shop.example",
		.envid = "env+2B1", .ret = SPOOL_RET_HDRS, .arrival = 1795723200000ull,
		.now = 1795723262000ull, .token = "Q1", .msg = orig, .msglen = strlen(orig),
	};
	struct buf b = { 0 };
	struct fb_report r;

	(void)state;
	assert_int_equal(dsn_build(&p, rc, 2, &b), 0);
	assert_int_equal(fb_parse(b.data, b.len, &r), 0);
	assert_int_equal(r.kind, FB_DSN);
	assert_string_equal(r.reporting_mta, "hermod.shop.example");
	assert_string_equal(r.envelope_id, "env+2B1");	/* as written: opaque */
	assert_int_equal(r.nrcpt, 2);
	assert_string_equal(r.rcpts[0].recipient, "x@dest.example");
	assert_string_equal(r.rcpts[0].original_recipient, "x@dest.example");
	assert_string_equal(r.rcpts[0].action, "failed");
	assert_string_equal(r.rcpts[0].status, "5.1.1");
	assert_int_equal(r.rcpts[0].smtp_code, 550);
	assert_string_equal(r.rcpts[0].diagnostic, "550 5.1.1 no such user");
	assert_string_equal(r.rcpts[0].remote_mta, "mx.dest.example");
	assert_non_null(r.rcpts[0].last_attempt);
	assert_string_equal(r.rcpts[1].recipient, "y@dest.example");
	assert_string_equal(r.rcpts[1].action, "delayed");
	assert_string_equal(r.rcpts[1].status, "4.4.1");
	assert_string_equal(r.orig_message_id, "own.1@shop.example");
	assert_string_equal(r.orig_return_path, "b-own@bounce.shop.example");
	assert_non_null(r.orig_headers);
	assert_non_null(strstr(r.orig_headers, "Subject: own"));
	fb_report_free(&r);
	buf_free(&b);
}

/* The small readers the parser is built from, on their edge cases. */
static void
test_readers(void **state)
{
	static const struct { const char *in, *out; } joins[] = {
		{ "550-5.1.1 a 550-5.1.1 b 550 5.1.1 c", "550 5.1.1 a b c" },
		{ "550-a 550 b", "550 a b" },
		{ "550 5.1.1 a 5501 x 550-5.1.2 y", "550 5.1.1 a 5501 x 550-5.1.2 y" },
		{ "no code 550-5.1.1 x", "no code 550-5.1.1 x" },
		{ "550-5.1.1", "550 5.1.1" },
	};
	static const struct { const char *in, *out; } addrs[] = {
		{ "rfc822;User@EXAMPLE.com", "User@example.com" },
		{ " RFC822 ; <a@B.example> (comment)", "a@b.example" },
		{ "\"x y\"@Q.example", "\"x y\"@q.example" },
		{ "utf-8; \\x{E9}t\\x{E9}@X.example", "\xc3\xa9t\xc3\xa9@x.example" },
		{ "Name <a@b.example> trailing", "a@b.example" },
		{ "a@b.example junk", "a@b.example" },
		{ "rfc822; \"a\\\"b (not a comment)\"@X.example", "\"a\\\"b (not a comment)\"@x.example" },
		{ "rfc822;", NULL },
		{ "(only a comment)", NULL },
	};
	char st[16];
	int code;
	size_t at;

	(void)state;
	for (size_t i = 0; i < sizeof(joins) / sizeof(joins[0]); i++) {
		char *s = strdup(joins[i].in);

		fb_reply_join(s);
		assert_string_equal(s, joins[i].out);
		free(s);
	}
	for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		char *a = fb_addr(addrs[i].in, strlen(addrs[i].in));

		if (addrs[i].out == NULL)
			assert_null(a);
		else
			assert_string_equal(a, addrs[i].out);
		free(a);
	}
	/* Codes: not inside numbers, addresses or IPs; the status after it. */
	at = fb_smtp_scan("host 192.0.2.25 said: 550-5.1.1 no", 35, &code, st);
	assert_int_equal(code, 550);
	assert_string_equal(st, "5.1.1");
	assert_int_equal(at, 22);
	fb_smtp_scan("id 12550 and 5501 and x550 only", 31, &code, st);
	assert_int_equal(code, 0);
	assert_string_equal(st, "");
	fb_smtp_scan("(#5.1.2)", 8, &code, st);
	assert_int_equal(code, 0);
	assert_string_equal(st, "5.1.2");
	assert_int_equal(fb_enhanced("5.1.1", 5, st), 5);
	assert_int_equal(fb_enhanced("5.1.1.1", 7, st), 0);
	assert_int_equal(fb_enhanced("5.1234.1", 8, st), 0);
	assert_int_equal(fb_enhanced("3.1.1", 5, st), 0);
	assert_int_equal(fb_enhanced("4.7.26", 6, st), 6);
}

/* parse_one() parses a bare message/delivery-status body with one
 * recipient group and returns that recipient (the report in *r). */
static const struct fb_rcpt *
parse_one(const char *group, struct fb_report *r)
{
	char *m = NULL;
	int n = asprintf(&m, "Content-Type: message/delivery-status\n\nReporting-MTA: dns; t.example\n\n%s",
	    group);

	assert_true(n > 0);
	assert_int_equal(fb_parse(m, strlen(m), r), 0);
	free(m);
	assert_int_equal(r->nrcpt, 1);
	return &r->rcpts[0];
}

/* Per-recipient fields: which text is a code, which status wins. */
static void
test_fields(void **state)
{
	struct fb_report r;
	const struct fb_rcpt *p;

	(void)state;
	/* A number inside a non-SMTP diagnostic is not a reply code. */
	p = parse_one("Final-Recipient: rfc822; a@t.example\nAction: failed\n"
	    "Diagnostic-Code: X-Unix; gave up after 450 tries\n", &r);
	assert_int_equal(p->smtp_code, 0);
	assert_string_equal(p->diagnostic, "gave up after 450 tries");
	fb_report_free(&r);
	/* In an SMTP one it is, and its status fills a missing Status. */
	p = parse_one("Final-Recipient: rfc822; a@t.example\nAction: failed\n"
	    "Diagnostic-Code: smtp; host mx said: 550 5.7.1 blocked\n", &r);
	assert_int_equal(p->smtp_code, 550);
	assert_string_equal(p->status, "5.7.1");
	fb_report_free(&r);
	/* The Status field wins over the diagnostic's, in either order. */
	p = parse_one("Final-Recipient: rfc822; a@t.example\nDiagnostic-Code: smtp; 550 5.1.1 x\n"
	    "Status: 5.1.10\nAction: Failed (comment)\n", &r);
	assert_string_equal(p->status, "5.1.10");
	assert_string_equal(p->action, "failed");
	fb_report_free(&r);
	p = parse_one("Final-Recipient: rfc822; a@t.example\nStatus: 5.0.0\n"
	    "Diagnostic-Code: smtp; 550 5.1.1 x\n", &r);
	assert_string_equal(p->status, "5.0.0");
	fb_report_free(&r);
	/* Original-Recipient alone names the recipient; MTA names lose
	 * their type, comments and final dot. */
	p = parse_one("Original-Recipient: rfc822;Only@Orig.Example\nAction: delayed\n"
	    "Remote-MTA: DNS; mx.orig.example. (primary)\n", &r);
	assert_string_equal(p->recipient, "Only@orig.example");
	assert_string_equal(p->original_recipient, "Only@orig.example");
	assert_string_equal(p->remote_mta, "mx.orig.example");
	assert_string_equal(r.reporting_mta, "t.example");
	fb_report_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_crlf),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_rfc3464_multi),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_own_dsn),
		cmocka_unit_test(test_readers),
		cmocka_unit_test(test_fields),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
