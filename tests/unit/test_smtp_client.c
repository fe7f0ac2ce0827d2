/* Unit tests for the pure part of deliver/smtp_client: dot-stuffing of the
 * message body (RFC 5321 4.5.2) and its terminator. The protocol side runs
 * against real servers in test_deliver and tests/integration/50_delivery.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "deliver/smtp_client.h"

static void
check(const char *in, const char *want)
{
	struct buf b = { 0 };

	smtp_client_stuff(in, strlen(in), &b);
	assert_string_equal(b.data, want);
	buf_free(&b);
}

static void
test_stuff(void **state)
{
	(void)state;
	check("a\r\n.b\r\n..c\r\n.\r\nd\r\n", "a\r\n..b\r\n...c\r\n..\r\nd\r\n.\r\n");
	check(".x", "..x\r\n.\r\n");		/* first line, no final CRLF */
	check("", ".\r\n");
	check("abc\r\n", "abc\r\n.\r\n");
	check("x\r\n.", "x\r\n..\r\n.\r\n");
	check("no dots\r\nat all\r\n", "no dots\r\nat all\r\n.\r\n");
	check("mid.dle\r\n .lead space\r\n", "mid.dle\r\n .lead space\r\n.\r\n");
}

static void
test_stuff_large(void **state)
{
	static char in[70001];	/* 7000 lines of 10 octets */
	struct buf b = { 0 };
	size_t dots = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(in) - 1; i++)
		in[i] = i % 10 == 8 ? '\r' : i % 10 == 9 ? '\n' : (i % 10 == 0 && i % 30 == 0) ? '.' : 'x';
	in[sizeof(in) - 1] = '\0';
	for (size_t i = 0; i < sizeof(in) - 1; i++)
		dots += in[i] == '.';
	smtp_client_stuff(in, strlen(in), &b);
	/* every dot started a line, so each was doubled; then ".\r\n" */
	assert_int_equal(b.len, strlen(in) + dots + 3);
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stuff),
		cmocka_unit_test(test_stuff_large),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
