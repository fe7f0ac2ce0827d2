/* Unit tests for auth/: the key format and hash, scopes, account names,
 * domain normalisation (IDNA) and the sender-domain check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"

static void
test_key_format(void **state)
{
	char a[AUTH_KEY_LEN + 1], b[AUTH_KEY_LEN + 1];

	(void)state;
	auth_key_new(a);
	auth_key_new(b);
	assert_int_equal(strlen(a), AUTH_KEY_LEN);
	assert_memory_equal(a, "hm_", 3);
	assert_true(auth_key_wellformed(a, strlen(a)));
	assert_string_not_equal(a, b);
	/* 43 base64url characters of 32 bytes: the last one carries 4 bits,
	 * so it is one of the 16 characters whose low two bits are zero. */
	assert_non_null(strchr("AEIMQUYcgkosw048", a[AUTH_KEY_LEN - 1]));

	assert_false(auth_key_wellformed(a, strlen(a) - 1));
	b[0] = 'x';
	assert_false(auth_key_wellformed(b, strlen(b)));
	memcpy(b, a, sizeof(b));
	b[20] = '+';	/* base64, not base64url */
	assert_false(auth_key_wellformed(b, strlen(b)));
	b[20] = '\0';
	assert_false(auth_key_wellformed(b, AUTH_KEY_LEN));
	assert_false(auth_key_wellformed("", 0));
}

static void
test_key_hash(void **state)
{
	unsigned char h[AUTH_KEY_HASH_LEN], h2[AUTH_KEY_HASH_LEN];
	/* FIPS 180-2 appendix B.1: SHA-256("abc"). */
	static const unsigned char abc[AUTH_KEY_HASH_LEN] = {
		0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae,
		0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61,
		0xf2, 0x00, 0x15, 0xad,
	};

	(void)state;
	auth_key_hash("abc", 3, h);
	assert_memory_equal(h, abc, sizeof(abc));
	assert_true(auth_key_hash_equal(h, abc));
	auth_key_hash("abd", 3, h2);
	assert_false(auth_key_hash_equal(h2, abc));
	h[31] ^= 1;
	assert_false(auth_key_hash_equal(h, abc));
}

static void
test_scopes_and_names(void **state)
{
	(void)state;
	assert_true(auth_scope_valid("send"));
	assert_true(auth_scope_valid("admin"));
	assert_false(auth_scope_valid("Send"));
	assert_false(auth_scope_valid(NULL));
	assert_true(auth_scope_allows("admin", "send"));
	assert_true(auth_scope_allows("send", "send"));
	assert_false(auth_scope_allows("send", "admin"));
	assert_false(auth_scope_allows("root", "send"));

	assert_true(auth_account_name_valid("shop"));
	assert_true(auth_account_name_valid("a.b-c_9"));
	assert_false(auth_account_name_valid(""));
	assert_false(auth_account_name_valid("Shop"));
	assert_false(auth_account_name_valid("a b"));
	assert_false(auth_account_name_valid("a/b"));
	assert_false(auth_account_name_valid(NULL));

	assert_true(auth_selector_valid("s2026"));
	assert_true(auth_selector_valid("a.b-c"));
	assert_false(auth_selector_valid(""));
	assert_false(auth_selector_valid("-a"));
	assert_false(auth_selector_valid("a-"));
	assert_false(auth_selector_valid("a..b"));
	assert_false(auth_selector_valid("A"));
	assert_false(auth_selector_valid("a_b"));
}

static void
expect_norm(const char *in, const char *out)
{
	char *err = NULL, *d = auth_domain_normalize(in, &err);

	if (d == NULL)
		fail_msg("%s: %s", in, err);
	assert_string_equal(d, out);
	free(d);
}

static void
expect_bad(const char *in)
{
	char *err = NULL, *d = auth_domain_normalize(in, &err);

	if (d != NULL)
		fail_msg("%s accepted as %s", in, d);
	assert_non_null(err);
	free(err);
}

static void
test_domain_normalize(void **state)
{
	char big[300];

	(void)state;
	expect_norm("example.com", "example.com");
	expect_norm("Mail.Example.COM.", "mail.example.com");
	expect_norm("bücher.example", "xn--bcher-kva.example");
	expect_norm("BÜCHER.example", "xn--bcher-kva.example");
	expect_norm("xn--bcher-kva.example", "xn--bcher-kva.example");
	expect_norm("münchen.de", "xn--mnchen-3ya.de");
	expect_bad("");
	expect_bad("localhost");
	expect_bad("a..example");
	expect_bad(".example.com");
	expect_bad("-a.example");
	expect_bad("a-.example");
	expect_bad("ex_ample.com");
	expect_bad("exa mple.com");
	expect_bad("example.com\r\nX: y");
	expect_bad("[127.0.0.1]");
	expect_bad("\xff\xfe.example");		/* not UTF-8 */
	memset(big, 'a', 64);
	strcpy(big + 64, ".example");
	expect_bad(big);			/* a 64-octet label */
	for (int i = 0; i < 290; i += 2)
		big[i] = 'a', big[i + 1] = '.';
	strcpy(big + 254, "com");
	expect_bad(big);			/* over 253 octets */
}

static void
test_domain_allowed(void **state)
{
	char *domains[] = { "shop.example", "xn--bcher-kva.example", NULL };
	char *none[] = { NULL };

	(void)state;
	assert_true(auth_domain_allowed(domains, "shop.example"));
	assert_true(auth_domain_allowed(domains, "SHOP.Example"));
	assert_true(auth_domain_allowed(domains, "mail.shop.example"));
	assert_true(auth_domain_allowed(domains, "a.b.shop.example"));
	assert_true(auth_domain_allowed(domains, "bücher.example"));
	assert_true(auth_domain_allowed(domains, "news.BÜCHER.example"));
	assert_false(auth_domain_allowed(domains, "evilshop.example"));
	assert_false(auth_domain_allowed(domains, "shop.example.evil"));
	assert_false(auth_domain_allowed(domains, "example"));
	assert_false(auth_domain_allowed(domains, "hop.example"));
	assert_false(auth_domain_allowed(domains, "[127.0.0.1]"));
	assert_false(auth_domain_allowed(domains, ""));
	assert_false(auth_domain_allowed(domains, NULL));
	assert_false(auth_domain_allowed(none, "shop.example"));
	assert_false(auth_domain_allowed(NULL, "shop.example"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_format),
		cmocka_unit_test(test_key_hash),
		cmocka_unit_test(test_scopes_and_names),
		cmocka_unit_test(test_domain_normalize),
		cmocka_unit_test(test_domain_allowed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
