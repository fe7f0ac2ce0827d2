/* Unit tests for inbound/inbound_policy: which RCPT addresses the inbound
 * listener takes. Everything that is not a signed VERP address or a
 * feedback local part at a bounce domain is refused, whatever its shape. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "feedback/verp.h"
#include "inbound/inbound.h"

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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_accepted),
		cmocka_unit_test(test_fixed_domain),
	};

	for (int i = 0; i < VERP_KEY_LEN; i++)
		key.k[i] = (unsigned char)(7 * i + 3);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
