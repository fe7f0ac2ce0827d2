/* Unit tests for mime/mime_addr: golden address lists (tests/golden/
 * mime_addr) and the From:-domain check the SMTP server builds on it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "mime/mime_addr.h"
#include "smtp/smtp_parse.h"
#include "golden.h"

static void
render_addr(const char *in, size_t len, struct buf *out)
{
	struct mime_addr_list l;
	const char *why;
	size_t i;

	if (mime_addr_parse(in, len, 1, &l, &why) < 0) {
		assert_int_equal(l.n, 0);
		buf_printf(out, "error %s", why);
		return;
	}
	buf_printf(out, "ok %zu", l.n);
	for (i = 0; i < l.n; i++) {
		buf_puts(out, "\naddr ");
		golden_escape(out, l.v[i].addr, strlen(l.v[i].addr));
		buf_printf(out, " utf8 %d", l.v[i].utf8);
		if (l.v[i].name) {
			buf_puts(out, " name ");
			golden_escape(out, l.v[i].name, strlen(l.v[i].name));
		}
		if (l.v[i].group) {
			buf_puts(out, " group ");
			golden_escape(out, l.v[i].group, strlen(l.v[i].group));
		}
	}
	mime_addr_list_free(&l);
}

static void
test_addr_golden(void **state)
{
	int failed, n;

	(void)state;
	n = golden_run("tests/golden/mime_addr", render_addr, &failed);
	assert_true(n >= 39);
	assert_int_equal(failed, 0);
}

static void
test_addr_utf8_switch(void **state)
{
	struct mime_addr_list l;
	const char *why;
	const char s[] = "J\xc3\xb6rg <j\xc3\xb6rg@example.com>";

	(void)state;
	assert_int_equal(mime_addr_parse(s, sizeof(s) - 1, 0, &l, &why), -1);
	assert_int_equal(mime_addr_parse(s, sizeof(s) - 1, 1, &l, &why), 0);
	assert_int_equal(l.n, 1);
	assert_true(l.v[0].utf8);
	mime_addr_list_free(&l);
}

/* The server's check: every From: address on the account's domain. */
static void
test_addr_domain(void **state)
{
	struct mime_addr_list l;
	const char *why;
	const char s[] = "a@Example.com, \"x@evil.example\"@example.com";

	(void)state;
	assert_int_equal(mime_addr_parse(s, sizeof(s) - 1, 0, &l, &why), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(smtp_mailbox_domain(l.v[0].addr), "Example.com");
	assert_string_equal(smtp_mailbox_domain(l.v[1].addr), "example.com");
	mime_addr_list_free(&l);
}

static void
test_addr_many(void **state)
{
	struct buf b = { 0 };
	struct mime_addr_list l;
	const char *why;
	int i;

	(void)state;
	for (i = 0; i < MIME_ADDR_MAX + 1; i++)
		buf_printf(&b, "u%d@example.com,", i);
	assert_int_equal(mime_addr_parse(b.data, b.len, 0, &l, &why), -1);
	assert_string_equal(why, "too many addresses");
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr_golden),
		cmocka_unit_test(test_addr_utf8_switch),
		cmocka_unit_test(test_addr_domain),
		cmocka_unit_test(test_addr_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
