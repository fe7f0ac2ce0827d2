/* Unit tests for feedback/verp: make/parse round trips, case folding,
 * tampered tokens, a wrong key, the bounce domain, the key file, and the
 * golden cases in tests/golden/verp (parsed with the test key below). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "feedback/verp.h"
#include "golden.h"
#include "util/id.h"

#define TID "01jc3x5f7q9m2a4b6c8d"

/* The golden cases' key: bytes 1..32. */
static void
test_key(struct verp_key *k)
{
	for (int i = 0; i < VERP_KEY_LEN; i++)
		k->k[i] = (unsigned char)(i + 1);
}

static void
test_round_trip(void **state)
{
	struct verp_key k;
	struct verp_addr a;
	char out[VERP_ADDR_MAX];
	const char *at;

	(void)state;
	test_key(&k);
	assert_int_equal(verp_make(&k, TID, 0, "bounce.shop.example", out), 0);
	at = strchr(out, '@');
	assert_non_null(at);
	assert_true(at - out <= 64);
	assert_string_equal(at + 1, "bounce.shop.example");
	assert_memory_equal(out, "b-" TID "-0-", 2 + ID_LEN + 3);
	for (const char *p = out; *p; p++)
		assert_false(isupper((unsigned char)*p));
	assert_int_equal(verp_parse(&k, out, strlen(out), &a), VERP_OK);
	assert_string_equal(a.id, TID);
	assert_int_equal(a.rcpt_index, 0);
	assert_string_equal(a.domain, "bounce.shop.example");

	/* the largest index, and a long domain still fit in 64 octets of local part */
	assert_int_equal(verp_make(&k, TID, VERP_MAX_INDEX, "Bounce.Shop.Example", out), 0);
	assert_true(strchr(out, '@') - out <= 64);
	assert_int_equal(verp_parse(&k, out, strlen(out), &a), VERP_OK);
	assert_int_equal(a.rcpt_index, VERP_MAX_INDEX);
	assert_string_equal(a.domain, "bounce.shop.example");
	assert_int_equal(verp_make(&k, TID, VERP_MAX_INDEX + 1, "b.example", out), -1);
	assert_int_equal(verp_make(&k, "short", 0, "b.example", out), -1);
	assert_int_equal(verp_make(&k, TID, 0, "", out), -1);
	assert_int_equal(verp_make(&k, TID, 0, "a..b", out), -1);
}

static void
test_case_folding(void **state)
{
	struct verp_key k;
	struct verp_addr a;
	char out[VERP_ADDR_MAX], up[VERP_ADDR_MAX];

	(void)state;
	test_key(&k);
	assert_int_equal(verp_make(&k, TID, 17, "bounce.shop.example", out), 0);
	for (size_t i = 0; i <= strlen(out); i++)
		up[i] = (char)toupper((unsigned char)out[i]);
	assert_int_equal(verp_parse(&k, up, strlen(up), &a), VERP_OK);
	assert_string_equal(a.id, TID);
	assert_int_equal(a.rcpt_index, 17);
	assert_string_equal(a.domain, "bounce.shop.example");
}

static void
test_tampered(void **state)
{
	struct verp_key k, other;
	struct verp_addr a;
	char out[VERP_ADDR_MAX], t[VERP_ADDR_MAX];
	size_t n;

	(void)state;
	test_key(&k);
	memset(&other, 0x5a, sizeof(other));
	assert_int_equal(verp_make(&k, TID, 3, "bounce.shop.example", out), 0);
	n = strlen(out);
	/* every single-character change in the local part is refused */
	for (size_t i = 2; out[i] != '@'; i++) {
		memcpy(t, out, n + 1);
		if (t[i] == '-')
			continue;
		t[i] = t[i] == 'z' ? 'y' : (t[i] == '9' ? '8' : (isdigit((unsigned char)t[i]) ? t[i] + 1 : 'z'));
		if (!strcmp(t, out))
			continue;
		assert_int_not_equal(verp_parse(&k, t, n, &a), VERP_OK);
	}
	/* another index with the same MAC */
	memcpy(t, out, n + 1);
	t[2 + ID_LEN + 1] = '4';
	assert_int_equal(verp_parse(&k, t, n, &a), VERP_BAD_MAC);
	assert_string_equal(a.id, "");
	/* the token moved to another bounce domain */
	snprintf(t, sizeof(t), "%.*s@bounce.evil.example", (int)(strchr(out, '@') - out), out);
	assert_int_equal(verp_parse(&k, t, strlen(t), &a), VERP_BAD_MAC);
	/* a wrong key */
	assert_int_equal(verp_parse(&other, out, n, &a), VERP_BAD_MAC);
	/* a leading zero is another spelling of the index: refused */
	snprintf(t, sizeof(t), "b-" TID "-03-%s", strchr(out, '-') + ID_LEN + 4);
	assert_int_equal(verp_parse(&k, t, strlen(t), &a), VERP_NOT_VERP);
	/* not VERP at all */
	assert_int_equal(verp_parse(&k, "fbl@bounce.shop.example", 23, &a), VERP_NOT_VERP);
	assert_int_equal(verp_parse(&k, "", 0, &a), VERP_NOT_VERP);
	assert_int_equal(verp_parse(&k, out, n - 1, &a), VERP_BAD_MAC);	/* shorter domain */
	assert_int_equal(verp_parse(&k, out, (size_t)(strchr(out, '@') - out), &a), VERP_NOT_VERP);
}

static void
test_bounce_domain(void **state)
{
	struct verp_key k;
	struct verp_addr a;
	char d[256], rp[VERP_ADDR_MAX];

	(void)state;
	test_key(&k);
	assert_int_equal(verp_bounce_domain(NULL, "Orders@Shop.Example", d), 0);
	assert_string_equal(d, "bounce.shop.example");
	assert_int_equal(verp_bounce_domain("", "a@b.example", d), 0);
	assert_string_equal(d, "bounce.b.example");
	assert_int_equal(verp_bounce_domain("Returns.Hermod.Example", "a@b.example", d), 0);
	assert_string_equal(d, "returns.hermod.example");
	assert_int_equal(verp_bounce_domain(NULL, "nodomain", d), -1);
	assert_int_equal(verp_bounce_domain(NULL, "a@", d), -1);

	/* the null return path stays null; others become VERP */
	verp_return_path(&k, NULL, "", TID, 0, rp);
	assert_string_equal(rp, "");
	verp_return_path(&k, NULL, "orders@shop.example", TID, 2, rp);
	assert_int_equal(verp_parse(&k, rp, strlen(rp), &a), VERP_OK);
	assert_int_equal(a.rcpt_index, 2);
	assert_string_equal(a.domain, "bounce.shop.example");
	/* no key, or an address that cannot be VERP'd: unchanged */
	verp_return_path(NULL, NULL, "orders@shop.example", TID, 2, rp);
	assert_string_equal(rp, "orders@shop.example");
	verp_return_path(&k, NULL, "local-only", TID, 2, rp);
	assert_string_equal(rp, "local-only");
}

static void
test_key_file(void **state)
{
	char dir[] = "/tmp/test_verp.XXXXXX", path[256];
	struct verp_key k1, k2;
	struct stat sb;
	char *err = NULL;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(verp_key_load(dir, &k1, &err), 0);
	snprintf(path, sizeof(path), "%s/verp.key", dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(sb.st_size, VERP_KEY_LEN);
	/* the second load reads the same key */
	assert_int_equal(verp_key_load(dir, &k2, &err), 0);
	assert_memory_equal(k1.k, k2.k, VERP_KEY_LEN);
	/* a damaged key file is an error, never a silent new key */
	truncate(path, 5);
	assert_int_equal(verp_key_load(dir, &k2, &err), -1);
	assert_non_null(err);
	free(err);
	unlink(path);
	rmdir(dir);
}

static void
render(const char *in, size_t len, struct buf *out)
{
	struct verp_key k;
	struct verp_addr a;
	enum verp_rc rc;

	test_key(&k);
	/* one address per file; a final newline is not part of it */
	while (len > 0 && (in[len - 1] == '\n' || in[len - 1] == '\r'))
		len--;
	rc = verp_parse(&k, in, len, &a);
	if (rc == VERP_OK)
		buf_printf(out, "ok id=%s index=%zu domain=%s", a.id, a.rcpt_index, a.domain);
	else
		buf_puts(out, rc == VERP_BAD_MAC ? "bad-mac " : "not-verp ");
	if (rc != VERP_OK)
		golden_escape(out, in, len);
}

static void
test_golden(void **state)
{
	int failed = 0, n;

	(void)state;
	n = golden_run("tests/golden/verp", render, &failed);
	assert_true(n >= 8);
	assert_int_equal(failed, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_case_folding),
		cmocka_unit_test(test_tampered),
		cmocka_unit_test(test_bounce_domain),
		cmocka_unit_test(test_key_file),
		cmocka_unit_test(test_golden),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
