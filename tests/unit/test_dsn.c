/* Unit tests for deliver/dsn: who gets a DSN (never a null sender, NOTIFY),
 * and the RFC 3464 report's structure with RET=FULL and RET=HDRS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "deliver/dsn.h"
#include "spool/spool.h"

static const char msg[] =
    "From: a@shop.example\r\nTo: b@x.example\r\nSubject: hi\r\nMessage-ID: <m1@shop.example>\r\n\r\n"
    "SECRET BODY LINE\r\n";

static void
test_wanted(void **state)
{
	(void)state;
	assert_false(dsn_wanted("", SPOOL_F_DSN, 0, DSN_FAILED));		/* null sender */
	assert_false(dsn_wanted(NULL, SPOOL_F_DSN, 0, DSN_FAILED));
	assert_false(dsn_wanted("a@b", 0, 0, DSN_FAILED));			/* API mail: events instead */
	assert_true(dsn_wanted("a@b", SPOOL_F_DSN, 0, DSN_FAILED));		/* default: failures */
	assert_false(dsn_wanted("a@b", SPOOL_F_DSN, 0, DSN_DELIVERED));
	assert_false(dsn_wanted("a@b", SPOOL_F_DSN, SPOOL_NOTIFY_NEVER, DSN_FAILED));
	assert_false(dsn_wanted("a@b", SPOOL_F_DSN, SPOOL_NOTIFY_DELAY, DSN_FAILED));
	assert_true(dsn_wanted("a@b", SPOOL_F_DSN, SPOOL_NOTIFY_FAILURE | SPOOL_NOTIFY_DELAY, DSN_FAILED));
	assert_true(dsn_wanted("a@b", SPOOL_F_DSN, SPOOL_NOTIFY_SUCCESS, DSN_DELIVERED));
	assert_true(dsn_wanted("a@b", SPOOL_F_DSN, SPOOL_NOTIFY_SUCCESS, DSN_RELAYED));
	assert_false(dsn_wanted("a@b", SPOOL_F_DSN, 0, DSN_DELAYED));
	assert_true(dsn_wanted("a@b", SPOOL_F_DSN, SPOOL_NOTIFY_DELAY, DSN_DELAYED));
}

static void
build(int ret, struct buf *out)
{
	struct dsn_params p = {
		.reporting_mta = "mail.test.example", .return_path = "a@shop.example",
		.envid = "ENV42", .ret = ret, .arrival = 1795716000000ULL, .now = 1795716060000ULL,
		.token = "TOKEN123", .msg = msg, .msglen = sizeof(msg) - 1,
	};
	struct dsn_rcpt r[2] = {
		{ .addr = "b@x.example", .orcpt = "rfc822;B@x.example", .action = DSN_FAILED,
		  .status = "5.1.1", .remote_mta = "mx1.x.example",
		  .diagnostic = "550 5.1.1 No such user\r\nInjected: header", .last_attempt = 1795716060000ULL },
		{ .addr = "c@x.example", .action = DSN_FAILED, .status = "4.4.7",
		  .diagnostic = NULL },
	};
	buf_init(out);
	assert_int_equal(dsn_build(&p, r, 2, out), 0);
}

static void
test_full(void **state)
{
	struct buf b;

	(void)state;
	build(SPOOL_RET_FULL, &b);
	assert_non_null(strstr(b.data, "To: <a@shop.example>\r\n"));
	assert_non_null(strstr(b.data, "Content-Type: multipart/report; report-type=delivery-status;"));
	assert_non_null(strstr(b.data, "Auto-Submitted: auto-replied\r\n"));
	assert_non_null(strstr(b.data, "Content-Type: message/delivery-status\r\n"));
	assert_non_null(strstr(b.data, "Reporting-MTA: dns; mail.test.example\r\n"));
	assert_non_null(strstr(b.data, "Original-Envelope-Id: ENV42\r\n"));
	assert_non_null(strstr(b.data, "\r\nFinal-Recipient: rfc822; b@x.example\r\n"
	    "Original-Recipient: rfc822;B@x.example\r\nAction: failed\r\nStatus: 5.1.1\r\n"
	    "Remote-MTA: dns; mx1.x.example\r\n"));
	/* the reply's CRLF cannot start a new field */
	assert_non_null(strstr(b.data, "Diagnostic-Code: smtp; 550 5.1.1 No such user  Injected: header\r\n"));
	assert_null(strstr(b.data, "\r\nInjected:"));
	assert_non_null(strstr(b.data, "Status: 4.4.7\r\n"));
	assert_non_null(strstr(b.data, "Content-Type: message/rfc822\r\n\r\nFrom: a@shop.example"));
	assert_non_null(strstr(b.data, "SECRET BODY LINE\r\n\r\n--TOKEN123/mail.test.example--\r\n"));
	buf_free(&b);
}

static void
test_headers_only(void **state)
{
	struct buf b;

	(void)state;
	build(SPOOL_RET_HDRS, &b);
	assert_non_null(strstr(b.data, "Content-Type: text/rfc822-headers\r\n\r\nFrom: a@shop.example"));
	assert_non_null(strstr(b.data, "Message-ID: <m1@shop.example>\r\n"));
	assert_null(strstr(b.data, "SECRET BODY LINE"));
	buf_free(&b);
}

static void
test_refuses_injection(void **state)
{
	struct dsn_params p = { .reporting_mta = "h", .return_path = "a@b\r\nBcc: x@y", .token = "T",
		.msg = msg, .msglen = sizeof(msg) - 1 };
	struct dsn_rcpt r = { .addr = "b@c", .status = "5.0.0" };
	struct buf b = { 0 };

	(void)state;
	assert_int_equal(dsn_build(&p, &r, 1, &b), -1);
	p.return_path = "";
	assert_int_equal(dsn_build(&p, &r, 1, &b), -1);
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wanted),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_headers_only),
		cmocka_unit_test(test_refuses_injection),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
