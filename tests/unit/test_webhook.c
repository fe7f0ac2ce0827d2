/* Unit tests for src/webhook's pure parts and its store rows: the Standard
 * Webhooks signature (the published test vector, and a key of our own
 * checked against a direct HMAC), secrets, the SSRF address classifier (every
 * range, edges on both sides, IPv4 carried in IPv6), the target URL check,
 * and the subscription and pending-event rows (limits, order per message,
 * due times, wake-up, disable). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "store/store.h"
#include "util/xalloc.h"
#include "webhook/webhook.h"

/* ---- signing ---- */

static void
test_sign_vector(void **state)
{
	char sig[WEBHOOK_SIG_LEN + 1];
	const char *body = "{\"test\": 2432232314}";

	(void)state;
	/* the Standard Webhooks / Svix published example */
	assert_int_equal(webhook_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
	    "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body, strlen(body), sig), 0);
	assert_string_equal(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
	/* a bare base64 secret is the same key */
	assert_int_equal(webhook_sign("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
	    "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body, strlen(body), sig), 0);
	assert_string_equal(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
	/* any change of id, time or body changes it */
	assert_int_equal(webhook_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
	    "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265331, body, strlen(body), sig), 0);
	assert_string_not_equal(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
	assert_int_equal(webhook_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
	    "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body, strlen(body) - 1, sig), 0);
	assert_string_not_equal(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
	/* malformed secrets */
	assert_int_equal(webhook_sign("whsec_", "m", 1, "x", 1, sig), -1);
	assert_int_equal(webhook_sign("whsec_!!!!", "m", 1, "x", 1, sig), -1);
	assert_int_equal(webhook_sign(NULL, "m", 1, "x", 1, sig), -1);
}

static void
test_secret_new(void **state)
{
	char a[WEBHOOK_SECRET_LEN + 1], b[WEBHOOK_SECRET_LEN + 1], sig[WEBHOOK_SIG_LEN + 1];
	char expect[WEBHOOK_SIG_LEN + 1];
	unsigned char key[WEBHOOK_KEY_MAX], mac[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_state h;
	const char *msg = "evt1.1700000000.{}";

	(void)state;
	webhook_secret_new(a);
	webhook_secret_new(b);
	assert_int_equal(strlen(a), WEBHOOK_SECRET_LEN);
	assert_memory_equal(a, "whsec_", 6);
	assert_string_not_equal(a, b);
	assert_int_equal(webhook_secret_key(a, key), WEBHOOK_KEY_LEN);
	/* the signature is HMAC-SHA256 over "id.timestamp.body" with that key */
	crypto_auth_hmacsha256_init(&h, key, WEBHOOK_KEY_LEN);
	crypto_auth_hmacsha256_update(&h, (const unsigned char *)msg, strlen(msg));
	crypto_auth_hmacsha256_final(&h, mac);
	memcpy(expect, "v1,", 3);
	sodium_bin2base64(expect + 3, sizeof expect - 3, mac, sizeof mac,
	    sodium_base64_VARIANT_ORIGINAL);
	assert_int_equal(webhook_sign(a, "evt1", 1700000000, "{}", 2, sig), 0);
	assert_string_equal(sig, expect);
	assert_int_equal(strlen(sig), WEBHOOK_SIG_LEN);
}

/* ---- the classifier ---- */

static enum webhook_addr_class
c4(const char *s)
{
	unsigned char a[4];

	assert_int_equal(inet_pton(AF_INET, s, a), 1);
	return webhook_addr_classify(AF_INET, a);
}

static enum webhook_addr_class
c6(const char *s)
{
	unsigned char a[16];

	assert_int_equal(inet_pton(AF_INET6, s, a), 1);
	return webhook_addr_classify(AF_INET6, a);
}

static void
test_classify_v4(void **state)
{
	(void)state;
	assert_int_equal(c4("0.0.0.0"), WEBHOOK_ADDR_UNSPECIFIED);
	assert_int_equal(c4("0.255.255.255"), WEBHOOK_ADDR_UNSPECIFIED);
	assert_int_equal(c4("1.0.0.0"), WEBHOOK_ADDR_PUBLIC);
	assert_int_equal(c4("9.255.255.255"), WEBHOOK_ADDR_PUBLIC);
	assert_int_equal(c4("10.0.0.0"), WEBHOOK_ADDR_PRIVATE);
	assert_int_equal(c4("10.255.255.255"), WEBHOOK_ADDR_PRIVATE);
	assert_int_equal(c4("11.0.0.0"), WEBHOOK_ADDR_PUBLIC);
	assert_int_equal(c4("100.63.255.255"), WEBHOOK_ADDR_PUBLIC);
	assert_int_equal(c4("100.64.0.0"), WEBHOOK_ADDR_CGNAT);
	assert_int_equal(c4("100.127.255.255"), WEBHOOK_ADDR_CGNAT);
	assert_int_equal(c4("100.128.0.0"), WEBHOOK_ADDR_PUBLIC);
	assert_int_equal(c4("126.255.255.255"), WEBHOOK_ADDR_PUBLIC);
	assert_int_equal(c4("127.0.0.1"), WEBHOOK_ADDR_LOOPBACK);
	assert_int_equal(c4("127.255.255.254"), WEBHOOK_ADDR_LOOPBACK);
	assert_int_equal(c4("128.0.0.0"), WEBHOOK_ADDR_PUBLIC);
	assert_int_equal(c4("169.253.255.255"), WEBHOOK_ADDR_PUBLIC);
	assert_int_equal(c4("169.254.0.0"), WEBHOOK_ADDR_LINKLOCAL);
	assert_int_equal(c4("169.254.169.254"), WEBHOOK_ADDR_LINKLOCAL);
	assert_int_equal(c4("169.255.0.0"), WEBHOOK_ADDR_PUBLIC);
	assert_int_equal(c4("172.15.255.255"), WEBHOOK_ADDR_PUBLIC);
	assert_int_equal(c4("172.16.0.0"), WEBHOOK_ADDR_PRIVATE);
	assert_int_equal(c4("172.31.255.255"), WEBHOOK_ADDR_PRIVATE);
	assert_int_equal(c4("172.32.0.0"), WEBHOOK_ADDR_PUBLIC);
	assert_int_equal(c4("192.0.0.8"), WEBHOOK_ADDR_RESERVED);
	assert_int_equal(c4("192.0.1.0"), WEBHOOK_ADDR_PUBLIC);
	assert_int_equal(c4("192.167.255.255"), WEBHOOK_ADDR_PUBLIC);
	assert_int_equal(c4("192.168.0.0"), WEBHOOK_ADDR_PRIVATE);
	assert_int_equal(c4("192.168.255.255"), WEBHOOK_ADDR_PRIVATE);
	assert_int_equal(c4("192.169.0.0"), WEBHOOK_ADDR_PUBLIC);
	assert_int_equal(c4("198.17.255.255"), WEBHOOK_ADDR_PUBLIC);
	assert_int_equal(c4("198.18.0.1"), WEBHOOK_ADDR_RESERVED);
	assert_int_equal(c4("198.19.255.255"), WEBHOOK_ADDR_RESERVED);
	assert_int_equal(c4("198.20.0.0"), WEBHOOK_ADDR_PUBLIC);
	assert_int_equal(c4("223.255.255.255"), WEBHOOK_ADDR_PUBLIC);
	assert_int_equal(c4("224.0.0.1"), WEBHOOK_ADDR_MULTICAST);
	assert_int_equal(c4("239.255.255.255"), WEBHOOK_ADDR_MULTICAST);
	assert_int_equal(c4("240.0.0.1"), WEBHOOK_ADDR_RESERVED);
	assert_int_equal(c4("255.255.255.255"), WEBHOOK_ADDR_RESERVED);
	assert_int_equal(c4("8.8.8.8"), WEBHOOK_ADDR_PUBLIC);
	assert_int_equal(c4("93.184.216.34"), WEBHOOK_ADDR_PUBLIC);
}

static void
test_classify_v6(void **state)
{
	(void)state;
	assert_int_equal(c6("::"), WEBHOOK_ADDR_UNSPECIFIED);
	assert_int_equal(c6("::1"), WEBHOOK_ADDR_LOOPBACK);
	assert_int_equal(c6("::2"), WEBHOOK_ADDR_UNSPECIFIED);	/* ::0.0.0.2, "this network" */
	assert_int_equal(c6("2001:4860:4860::8888"), WEBHOOK_ADDR_PUBLIC);
	assert_int_equal(c6("2606:4700::1111"), WEBHOOK_ADDR_PUBLIC);
	assert_int_equal(c6("fbff:ffff::1"), WEBHOOK_ADDR_PUBLIC);
	assert_int_equal(c6("fc00::1"), WEBHOOK_ADDR_PRIVATE);
	assert_int_equal(c6("fd12:3456:789a::1"), WEBHOOK_ADDR_PRIVATE);
	assert_int_equal(c6("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), WEBHOOK_ADDR_PRIVATE);
	assert_int_equal(c6("fe7f:ffff::1"), WEBHOOK_ADDR_PUBLIC);
	assert_int_equal(c6("fe80::1"), WEBHOOK_ADDR_LINKLOCAL);
	assert_int_equal(c6("febf:ffff::1"), WEBHOOK_ADDR_LINKLOCAL);
	assert_int_equal(c6("fec0::1"), WEBHOOK_ADDR_PRIVATE);
	assert_int_equal(c6("ff02::1"), WEBHOOK_ADDR_MULTICAST);
	assert_int_equal(c6("ff0e::1"), WEBHOOK_ADDR_MULTICAST);
	assert_int_equal(c6("100::1"), WEBHOOK_ADDR_RESERVED);
	/* IPv4 inside IPv6: the class of the IPv4 address */
	assert_int_equal(c6("::ffff:127.0.0.1"), WEBHOOK_ADDR_LOOPBACK);
	assert_int_equal(c6("::ffff:10.1.2.3"), WEBHOOK_ADDR_PRIVATE);
	assert_int_equal(c6("::ffff:169.254.169.254"), WEBHOOK_ADDR_LINKLOCAL);
	assert_int_equal(c6("::ffff:100.64.0.1"), WEBHOOK_ADDR_CGNAT);
	assert_int_equal(c6("::ffff:0.0.0.0"), WEBHOOK_ADDR_UNSPECIFIED);
	assert_int_equal(c6("::ffff:224.0.0.1"), WEBHOOK_ADDR_MULTICAST);
	assert_int_equal(c6("::ffff:8.8.8.8"), WEBHOOK_ADDR_PUBLIC);
	assert_int_equal(c6("::127.0.0.1"), WEBHOOK_ADDR_LOOPBACK);
	assert_int_equal(c6("::192.168.1.1"), WEBHOOK_ADDR_PRIVATE);
	assert_int_equal(c6("64:ff9b::127.0.0.1"), WEBHOOK_ADDR_LOOPBACK);
	assert_int_equal(c6("64:ff9b::10.0.0.1"), WEBHOOK_ADDR_PRIVATE);
	assert_int_equal(c6("64:ff9b::8.8.8.8"), WEBHOOK_ADDR_PUBLIC);
	assert_int_equal(c6("2002:7f00:1::"), WEBHOOK_ADDR_LOOPBACK);	/* 6to4 of 127.0.0.1 */
	assert_int_equal(c6("2002:c0a8:101::1"), WEBHOOK_ADDR_PRIVATE);
	assert_int_equal(c6("2002:808:808::1"), WEBHOOK_ADDR_PUBLIC);
	/* RFC 8215's local-use NAT64 prefix: a site's own translator */
	assert_int_equal(c6("64:ff9b:1::a9fe:a9fe"), WEBHOOK_ADDR_RESERVED);
	assert_int_equal(c6("64:ff9b:1:a9fe:a9:fe00::"), WEBHOOK_ADDR_RESERVED);
	assert_int_equal(webhook_addr_classify(AF_UNIX, (const unsigned char *)"x"),
	    WEBHOOK_ADDR_INVALID);
}

static void
test_classify_sockaddr(void **state)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };

	(void)state;
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	assert_int_equal(webhook_addr_classify_sa((struct sockaddr *)&sin), WEBHOOK_ADDR_LOOPBACK);
	inet_pton(AF_INET, "1.1.1.1", &sin.sin_addr);
	assert_int_equal(webhook_addr_classify_sa((struct sockaddr *)&sin), WEBHOOK_ADDR_PUBLIC);
	inet_pton(AF_INET6, "::ffff:192.168.0.1", &sin6.sin6_addr);
	assert_int_equal(webhook_addr_classify_sa((struct sockaddr *)&sin6), WEBHOOK_ADDR_PRIVATE);
	assert_int_equal(webhook_addr_classify_sa(NULL), WEBHOOK_ADDR_INVALID);
	assert_string_equal(webhook_addr_class_name(WEBHOOK_ADDR_LOOPBACK), "loopback");
}

/* ---- URLs ---- */

static int
url_ok(const char *url, int allow)
{
	const char *why = NULL;
	int rc = webhook_url_check(url, allow, &why);

	assert_true(rc == 0 ? why == NULL : why != NULL);
	return rc == 0;
}

static void
test_url_check(void **state)
{
	(void)state;
	assert_true(url_ok("https://hooks.example.com/hermod", 0));
	assert_true(url_ok("http://hooks.example.com:8080/x?y=1", 0));
	assert_true(url_ok("https://93.184.216.34/hook", 0));
	assert_true(url_ok("https://[2606:4700::1111]/hook", 0));
	/* names are judged at connect time, on the resolved address */
	assert_true(url_ok("http://localhost:9000/hook", 0));
	/* literal private addresses, in every spelling */
	assert_false(url_ok("http://127.0.0.1:9000/hook", 0));
	assert_true(url_ok("http://127.0.0.1:9000/hook", 1));
	assert_false(url_ok("http://10.1.2.3/", 0));
	assert_false(url_ok("http://169.254.169.254/latest/meta-data/", 0));
	assert_false(url_ok("http://[::1]/", 0));
	assert_false(url_ok("http://[::ffff:127.0.0.1]/", 0));
	assert_false(url_ok("http://[fd00::1]/", 0));
	assert_false(url_ok("http://[fe80::1]/", 0));
	assert_false(url_ok("http://0.0.0.0/", 0));
	assert_false(url_ok("http://2130706433/", 0));	/* 127.0.0.1 as one number */
	assert_false(url_ok("http://0x7f.1/", 0));
	assert_false(url_ok("http://127.1/", 0));
	assert_false(url_ok("http://100.64.1.1/", 0));
	/* not URLs we send to */
	assert_false(url_ok("ftp://hooks.example.com/", 0));
	assert_false(url_ok("file:///etc/passwd", 0));
	assert_false(url_ok("gopher://hooks.example.com/", 0));
	assert_false(url_ok("hooks.example.com/x", 0));
	assert_false(url_ok("https://", 0));
	assert_false(url_ok("", 0));
	assert_false(url_ok(NULL, 0));
	assert_false(url_ok("https://user:pw@hooks.example.com/", 0));
	{
		char big[WEBHOOK_URL_MAX + 40];
		memset(big, 'a', sizeof big);
		memcpy(big, "https://x.example/", 18);
		big[sizeof big - 1] = '\0';
		assert_false(url_ok(big, 0));
	}
}

/* ---- store rows ---- */

static struct store *
open_store(void)
{
	struct store *st = NULL;
	char *err = NULL;

	assert_int_equal(store_open(&st, "sqlite::memory:", &err), 0);
	assert_int_equal(store_account_create(st, "shop", &err), 0);
	assert_int_equal(store_account_create(st, "other", &err), 0);
	return st;
}

static void
make_hook(struct store *st, const char *account, const char *id, int expect)
{
	char secret[WEBHOOK_SECRET_LEN + 1], *err = NULL;
	struct store_webhook w = { .id = (char *)id, .account = (char *)account,
		.url = "https://hooks.example.com/", .events = "delivered,bounced",
		.secret = secret, .cursor = 7 };

	webhook_secret_new(secret);
	assert_int_equal(store_webhook_create(st, &w, 2, &err), expect);
	free(err);
}

static void
test_store_subscriptions(void **state)
{
	struct store *st = open_store();
	struct store_webhook *v;
	size_t n;
	char *err = NULL;

	(void)state;
	make_hook(st, "shop", "wh_0000000000aaaaaaaaaa", 0);
	make_hook(st, "shop", "wh_0000000001aaaaaaaaaa", 0);
	make_hook(st, "shop", "wh_0000000002aaaaaaaaaa", STORE_FULL);	/* max 2 */
	make_hook(st, "other", "wh_0000000003aaaaaaaaaa", 0);
	make_hook(st, "nobody", "wh_0000000004aaaaaaaaaa", STORE_NOTFOUND);

	assert_int_equal(store_webhook_list(st, "shop", &v, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_null(v[0].secret);	/* the API's view has no secrets */
	assert_string_equal(v[0].events, "delivered,bounced");
	assert_int_equal(v[0].cursor, 7);
	store_webhook_list_free(v, n);
	assert_int_equal(store_webhook_active(st, &v, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_non_null(v[0].secret);
	assert_memory_equal(v[0].secret, "whsec_", 6);
	store_webhook_list_free(v, n);

	/* the cursor never goes back */
	assert_int_equal(store_webhook_set_cursor(st, "wh_0000000000aaaaaaaaaa", 50, &err), 0);
	assert_int_equal(store_webhook_set_cursor(st, "wh_0000000000aaaaaaaaaa", 20, &err), 0);
	assert_int_equal(store_webhook_list(st, "shop", &v, &n, &err), 0);
	assert_int_equal(v[0].cursor, 50);
	store_webhook_list_free(v, n);

	/* another account cannot delete it */
	assert_int_equal(store_webhook_delete(st, "other", "wh_0000000000aaaaaaaaaa", &err),
	    STORE_NOTFOUND);
	assert_int_equal(store_webhook_delete(st, "shop", "wh_nonsense", &err), STORE_NOTFOUND);
	assert_int_equal(store_webhook_delete(st, "shop", "wh_0000000000aaaaaaaaaa", &err), 0);
	assert_int_equal(store_webhook_delete(st, "shop", "wh_0000000000aaaaaaaaaa", &err),
	    STORE_NOTFOUND);
	make_hook(st, "shop", "wh_0000000002aaaaaaaaaa", 0);	/* room again */
	store_close(st);
}

static void
add_pending(struct store *st, const char *hook, int64_t seq, const char *msg, int64_t next)
{
	char id[32], *err = NULL;
	struct store_webhook_pending p = { .webhook = (char *)hook, .seq = seq, .event_id = id,
		.message_id = (char *)msg, .event_time = 1000, .attempts = 1,
		.next_attempt = next, .body = "{}" };

	snprintf(id, sizeof id, "ev%lld", (long long)seq);
	assert_int_equal(store_webhook_pending_add(st, &p, &err), 0);
}

/* due() returns the seqs due at now, in order, as "1,2,3". */
static char *
due(struct store *st, int64_t now, int64_t *next)
{
	struct store_webhook_pending *v;
	size_t n, i;
	char *err = NULL, out[256] = "";

	assert_int_equal(store_webhook_pending_due(st, now, 100, &v, &n, next, &err), 0);
	for (i = 0; i < n; i++)
		snprintf(out + strlen(out), sizeof out - strlen(out), "%s%lld", i ? "," : "",
		    (long long)v[i].seq);
	store_webhook_pending_free(v, n);
	return xstrdup(out);
}

static void
test_store_pending(void **state)
{
	struct store *st = open_store();
	const char *h = "wh_0000000000aaaaaaaaaa", *h2 = "wh_0000000001aaaaaaaaaa";
	int64_t next;
	char *s, *err = NULL;

	(void)state;
	make_hook(st, "shop", h, 0);
	make_hook(st, "shop", h2, 0);
	add_pending(st, h, 10, "m1", 100);
	add_pending(st, h, 11, "m1", 50);	/* behind 10: waits however due */
	add_pending(st, h, 12, "m2", 200);
	add_pending(st, h, 13, NULL, 60);	/* no message: no order */
	add_pending(st, h2, 10, "m1", 70);	/* another subscription: its own order */
	add_pending(st, h, 10, "m1", 1);	/* a repeat keeps the first record */

	s = due(st, 99, &next);
	assert_string_equal(s, "13,10");	/* by due time; 11 waits for 10 */
	free(s);
	assert_int_equal(next, 100);
	s = due(st, 1000, &next);
	assert_string_equal(s, "13,10,10,12");
	free(s);
	assert_int_equal(next, 0);
	assert_int_equal(store_webhook_pending_blocked(st, h, "m1", &err), 0);
	assert_int_equal(store_webhook_pending_blocked(st, h, "m3", &err), STORE_NOTFOUND);
	assert_int_equal(store_webhook_pending_blocked(st, h, NULL, &err), STORE_NOTFOUND);

	/* 10 delivered: 11 is next for m1 */
	assert_int_equal(store_webhook_pending_done(st, h, 10, &err), 0);
	s = due(st, 1000, &next);
	assert_string_equal(s, "11,13,10,12");
	free(s);
	/* a retry moves it later */
	assert_int_equal(store_webhook_pending_retry(st, h, 11, 2, 5000, &err), 0);
	s = due(st, 1000, &next);
	assert_string_equal(s, "13,10,12");
	free(s);
	assert_int_equal(next, 5000);
	/* wake: everything of h due now */
	assert_int_equal(store_webhook_pending_wake(st, h, 1000, &err), 0);
	s = due(st, 1000, &next);
	assert_string_equal(s, "13,10,12,11");
	free(s);
	/* disable drops h's rows and hides it from the dispatcher */
	assert_int_equal(store_webhook_disable(st, h, "410 Gone", &err), 0);
	s = due(st, 1000, &next);
	assert_string_equal(s, "10");
	free(s);
	{
		struct store_webhook *v;
		size_t n;
		assert_int_equal(store_webhook_list(st, "shop", &v, &n, &err), 0);
		assert_int_equal(n, 2);
		assert_true(v[0].disabled > 0);
		assert_string_equal(v[0].disabled_reason, "410 Gone");
		store_webhook_list_free(v, n);
		assert_int_equal(store_webhook_active(st, &v, &n, &err), 0);
		assert_int_equal(n, 1);
		store_webhook_list_free(v, n);
	}
	/* deleting a subscription deletes its rows */
	assert_int_equal(store_webhook_delete(st, "shop", h2, &err), 0);
	s = due(st, 1000, &next);
	assert_string_equal(s, "");
	free(s);
	/* rows of a deleted subscription are not recorded */
	add_pending(st, h2, 99, "m9", 1);
	s = due(st, 1000, &next);
	assert_string_equal(s, "");
	free(s);
	store_close(st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sign_vector),
		cmocka_unit_test(test_secret_new),
		cmocka_unit_test(test_classify_v4),
		cmocka_unit_test(test_classify_v6),
		cmocka_unit_test(test_classify_sockaddr),
		cmocka_unit_test(test_url_check),
		cmocka_unit_test(test_store_subscriptions),
		cmocka_unit_test(test_store_pending),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
