/* Unit tests for inbound/inbound_policy: which RCPT addresses the inbound
 * listener takes. Everything that is not a signed VERP address or a
 * feedback local part at a bounce domain is refused, whatever its shape. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "events/events.h"
#include "feedback/verp.h"
#include "inbound/inbound.h"
#include "store/store.h"
#include "util/fsutil.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

#define TID "01jc3x5f7q9m2a4b6c8d"
#define FB "fbl abuse postmaster"

static struct verp_key key;

static enum inbound_rcpt
classify(const char *fixed, const char *addr, char dom[256])
{
	return inbound_rcpt_classify(&key, fixed, FB, addr, dom);
}

static void
test_refused(void **state)
{
	char dom[256], v[VERP_ADDR_MAX], bad[VERP_ADDR_MAX + 8];
	const char *refused[] = {
		"v@ext.example",
		"v%ext.example@bounce.shop.example",
		"ext.example!v@bounce.shop.example",
		"v@ext.example@bounce.shop.example",
		"\"v@ext.example\"@bounce.shop.example",
		"\"fbl\"@bounce.shop.example",
		"fbl@[127.0.0.1]",
		"fbl@shop.example",		/* not a bounce domain */
		"fbl@bounce.",
		"nobody@bounce.shop.example",	/* not a feedback local part */
		"b-@bounce.shop.example",
		"b-" TID "-0-aaaaaaaaaaaaaaaa@bounce.shop.example",	/* unsigned */
		"@bounce.shop.example",
		"fbl",
		"",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		dom[0] = 'x';
		assert_int_equal(classify(NULL, refused[i], dom), INBOUND_RCPT_REFUSE);
		assert_string_equal(dom, "");
	}
	/* a real token, tampered or moved to another domain */
	assert_int_equal(verp_make(&key, TID, 4, "bounce.shop.example", v), 0);
	memcpy(bad, v, strlen(v) + 1);
	bad[strchr(bad, '@') - bad - 1] ^= 1;
	assert_int_equal(classify(NULL, bad, dom), INBOUND_RCPT_REFUSE);
	snprintf(bad, sizeof(bad), "%.*s@bounce.evil.example", (int)(strchr(v, '@') - v), v);
	assert_int_equal(classify(NULL, bad, dom), INBOUND_RCPT_REFUSE);
	/* the same with no key at all */
	assert_int_equal(inbound_rcpt_classify(NULL, NULL, FB, v, dom), INBOUND_RCPT_REFUSE);
}

static void
test_accepted(void **state)
{
	char dom[256], v[VERP_ADDR_MAX], up[VERP_ADDR_MAX];

	(void)state;
	assert_int_equal(verp_make(&key, TID, 4, "bounce.shop.example", v), 0);
	assert_int_equal(classify(NULL, v, dom), INBOUND_RCPT_VERP);
	for (size_t i = 0; i <= strlen(v); i++)
		up[i] = (char)(v[i] >= 'a' && v[i] <= 'z' ? v[i] - 32 : v[i]);
	assert_int_equal(classify(NULL, up, dom), INBOUND_RCPT_VERP);
	/* feedback addresses: checked against the store by the caller */
	assert_int_equal(classify(NULL, "fbl@bounce.shop.example", dom), INBOUND_RCPT_FEEDBACK_CHECK);
	assert_string_equal(dom, "shop.example");
	assert_int_equal(classify(NULL, "Abuse@Bounce.Sub.Shop.Example", dom), INBOUND_RCPT_FEEDBACK_CHECK);
	assert_string_equal(dom, "sub.shop.example");
}

static void
test_fixed_domain(void **state)
{
	char dom[256], v[VERP_ADDR_MAX];

	(void)state;
	assert_int_equal(classify("returns.example.net", "fbl@returns.example.net", dom), INBOUND_RCPT_FEEDBACK);
	assert_int_equal(classify("returns.example.net", "FBL@Returns.Example.Net", dom), INBOUND_RCPT_FEEDBACK);
	/* with a fixed domain, bounce.DOMAIN feedback addresses are not ours */
	assert_int_equal(classify("returns.example.net", "fbl@bounce.shop.example", dom), INBOUND_RCPT_REFUSE);
	/* VERP addresses are signed with their domain, whichever it is */
	assert_int_equal(verp_make(&key, TID, 0, "returns.example.net", v), 0);
	assert_int_equal(classify("returns.example.net", v, dom), INBOUND_RCPT_VERP);
}

/* A report file is the report's only durable record: it is removed only
 * once its events are in the events store. While the pipeline is not
 * running (a stop while the worker runs), the file stays in new/ for the
 * next start; with it running, the event is stored and the file goes. */
static void
write_report(const char *path, const char *verp)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fprintf(f, "hermod-inbound 1\r\nclient 127.0.0.1\r\nhelo mx.dest.example\r\n"
	    "from \r\nto %s\r\n\r\n", verp);
	fputs("From: MAILER-DAEMON@mx.dest.example\r\nTo: <x@y>\r\nSubject: failed\r\n"
	    "MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; "
	    "boundary=\"B\"\r\n\r\n--B\r\n\r\nfailed\r\n\r\n--B\r\n"
	    "Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.dest.example\r\n"
	    "\r\nFinal-Recipient: rfc822; gone@dest.example\r\nAction: failed\r\n"
	    "Status: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 no such user\r\n\r\n--B--\r\n", f);
	assert_int_equal(fclose(f), 0);
}

static void
test_report_kept_until_stored(void **state)
{
	char dir[] = "/tmp/hermod-inbound.XXXXXX", v[VERP_ADDR_MAX], *url, *path, *cmd;
	struct store *st = NULL;
	struct store_event e = { 0 }, *out = NULL;
	uv_loop_t loop;
	size_t n = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	url = xasprintf("sqlite:%s/hermod.db", dir);
	assert_int_equal(store_open(&st, url, NULL), 0);
	free(url);
	assert_int_equal(inbound_make_dirs(dir, &url), 0);
	e.id = "ev000001";
	e.type = "queued";
	e.time = (int64_t)time_now_ms();
	e.account = "shop";
	e.message_id = TID;
	e.recipient = "gone@dest.example";
	e.rcpt_index = 0;
	e.json = "{\"tags\":[]}";
	assert_int_equal(store_events_insert(st, &e, 1, NULL), 0);
	assert_int_equal(verp_make(&key, TID, 0, "bounce.shop.example", v), 0);
	path = xasprintf("%s/inbound/new/01jc3x5f7q9m2a4b6c8r", dir);

	/* the pipeline is not running: the bounce maps, but is not stored */
	write_report(path, v);
	assert_int_equal(inbound_process_file(dir, st, &key, path), 1);
	assert_int_equal(access(path, F_OK), 0);

	/* running: stored, then the file is removed */
	uv_loop_init(&loop);
	assert_int_equal(events_start(&loop, st, NULL, &url), 0);
	assert_int_equal(inbound_process_file(dir, st, &key, path), 1);
	assert_int_not_equal(access(path, F_OK), 0);
	assert_int_equal(store_events_after(st, 1, "shop", 10, &out, &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_string_equal(out[0].type, "bounced");
	assert_string_equal(out[0].recipient, "gone@dest.example");
	store_events_free(out, n);
	events_stop();
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);

	store_close(st);
	free(path);
	cmd = xasprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

/* Mapped by Message-ID: the recipient is found among the message's even
 * past an index no event names (a recipient dropped before it was queued). */
static void
test_message_id_gap(void **state)
{
	char dir[] = "/tmp/hermod-inbound.XXXXXX", *url, *path, *cmd;
	struct store *st = NULL;
	struct store_event e = { 0 }, *out = NULL;
	uv_loop_t loop;
	FILE *f;
	size_t n = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	url = xasprintf("sqlite:%s/hermod.db", dir);
	assert_int_equal(store_open(&st, url, NULL), 0);
	free(url);
	assert_int_equal(inbound_make_dirs(dir, &url), 0);
	e.id = "ev000002";
	e.type = "queued";
	e.time = (int64_t)time_now_ms();
	e.account = "shop";
	e.message_id = TID;
	e.header_message_id = "m1@shop.example";
	e.recipient = "second@dest.example";
	e.rcpt_index = 1;	/* index 0 was dropped: no event names it */
	e.json = "{\"tags\":[]}";
	assert_int_equal(store_events_insert(st, &e, 1, NULL), 0);
	path = xasprintf("%s/inbound/new/01jc3x5f7q9m2a4b6c8s", dir);
	assert_non_null(f = fopen(path, "w"));
	fputs("hermod-inbound 1\r\nclient 127.0.0.1\r\nhelo mx\r\nfrom \r\n"
	    "to postmaster@bounce.shop.example\r\n\r\n"
	    "From: MAILER-DAEMON@mx.dest.example\r\nSubject: failed\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n"
	    "--B\r\n\r\nfailed\r\n\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\n"
	    "Reporting-MTA: dns; mx.dest.example\r\n\r\n"
	    "Final-Recipient: rfc822; second@dest.example\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
	    "--B\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: app@shop.example\r\n"
	    "Message-ID: <m1@shop.example>\r\n\r\n--B--\r\n", f);
	assert_int_equal(fclose(f), 0);
	uv_loop_init(&loop);
	assert_int_equal(events_start(&loop, st, NULL, &url), 0);
	assert_int_equal(inbound_process_file(dir, st, &key, path), 1);
	assert_int_equal(store_events_after(st, 1, "shop", 10, &out, &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_string_equal(out[0].type, "bounced");
	assert_int_equal(out[0].rcpt_index, 1);
	store_events_free(out, n);
	events_stop();
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	store_close(st);
	free(path);
	cmd = xasprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_accepted),
		cmocka_unit_test(test_fixed_domain),
		cmocka_unit_test(test_report_kept_until_stored),
		cmocka_unit_test(test_message_id_gap),
	};

	for (int i = 0; i < VERP_KEY_LEN; i++)
		key.k[i] = (unsigned char)(7 * i + 3);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
