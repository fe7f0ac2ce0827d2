/* Unit tests for deliver/bounce: the golden replies in tests/golden/bounce
 * (real texts of the large receivers, each .in a raw reply, each .out
 * "class category"), and the local failure kinds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deliver/bounce.h"
#include "util/buf.h"
#include "util/fsutil.h"

#ifndef GOLDEN_DIR
#define GOLDEN_DIR "tests/golden/bounce"
#endif

/* split() takes a raw (possibly multi-line) reply apart: the code of the
 * last line, the enhanced code of the first, the text of every line joined. */
static void
split(const char *raw, int *code, char *enh, size_t enhlen, struct buf *text)
{
	const char *p = raw;

	enh[0] = '\0';
	while (*p) {
		const char *eol = strstr(p, "\r\n");
		const char *t = p + 4;
		size_t n;

		if (eol == NULL)
			eol = p + strlen(p);
		*code = atoi(p);
		if (isdigit((unsigned char)*t) && t[1] == '.') {
			size_t k = strcspn(t, " \r");
			if (enh[0] == '\0' && k < enhlen) {
				memcpy(enh, t, k);
				enh[k] = '\0';
			}
			t += k;
		}
		while (*t == ' ')
			t++;
		n = t < eol ? (size_t)(eol - t) : 0;
		if (text->len)
			buf_putc(text, ' ');
		buf_append(text, t, n);
		p = *eol ? eol + 2 : eol;
	}
}

static void
test_golden(void **state)
{
	DIR *d = opendir(GOLDEN_DIR);
	struct dirent *de;
	int n = 0, bad = 0;

	(void)state;
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		char path[512], *in = NULL, *out = NULL, enh[32], got[64];
		size_t inlen, outlen;
		struct buf text = { 0 };
		struct bounce_info bi;
		int code = 0;

		if (l < 4 || strcmp(de->d_name + l - 3, ".in") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", GOLDEN_DIR, de->d_name);
		assert_int_equal(fs_read_file(path, 65536, &in, &inlen), 0);
		snprintf(path + strlen(path) - 3, 5, ".out");
		assert_int_equal(fs_read_file(path, 65536, &out, &outlen), 0);
		out[strcspn(out, "\n")] = '\0';
		split(in, &code, enh, sizeof(enh), &text);
		bounce_classify(code, enh[0] ? enh : NULL, text.data, text.len, BOUNCE_LOCAL_NONE, &bi);
		snprintf(got, sizeof(got), "%s %s", bounce_class_name(bi.cls),
		    bounce_category_name(bi.category));
		if (strcmp(got, out) != 0) {
			fprintf(stderr, "%s: got \"%s\", want \"%s\"\n", de->d_name, got, out);
			bad++;
		}
		n++;
		free(in);
		free(out);
		buf_free(&text);
	}
	closedir(d);
	assert_true(n >= 20);
	assert_int_equal(bad, 0);
}

static void
test_local(void **state)
{
	struct bounce_info bi;

	(void)state;
	bounce_classify(556, "5.1.10", "null MX", 7, BOUNCE_LOCAL_NULLMX, &bi);
	assert_int_equal(bi.cls, BOUNCE_HARD);
	assert_int_equal(bi.category, BOUNCE_BAD_DOMAIN);
	bounce_classify(550, "5.1.2", NULL, 0, BOUNCE_LOCAL_NXDOMAIN, &bi);
	assert_string_equal(bounce_category_name(bi.category), "bad-domain");
	assert_int_equal(bi.cls, BOUNCE_HARD);
	bounce_classify(451, "4.4.3", "SERVFAIL", 8, BOUNCE_LOCAL_DNS, &bi);
	assert_string_equal(bounce_category_name(bi.category), "dns-failure");
	assert_int_equal(bi.cls, BOUNCE_SOFT);
	bounce_classify(421, "4.4.2", "connection refused", 18, BOUNCE_LOCAL_NETWORK, &bi);
	assert_string_equal(bounce_category_name(bi.category), "network");
	bounce_classify(421, "4.7.10", "STARTTLS failed", 15, BOUNCE_LOCAL_TLS, &bi);
	assert_string_equal(bounce_category_name(bi.category), "tls");
	bounce_classify(554, "5.4.7", "expired", 7, BOUNCE_LOCAL_EXPIRED, &bi);
	assert_string_equal(bounce_category_name(bi.category), "expired");
	assert_int_equal(bi.cls, BOUNCE_SOFT);
	/* malformed enhanced codes are ignored, never trusted */
	bounce_classify(550, "9.1.1", "", 0, BOUNCE_LOCAL_NONE, &bi);
	assert_string_equal(bounce_category_name(bi.category), "bad-mailbox");
	bounce_classify(450, "4.1.1x", "", 0, BOUNCE_LOCAL_NONE, &bi);
	assert_int_equal(bi.cls, BOUNCE_SOFT);
	bounce_classify(599, "5.1234.1", "zzz", 3, BOUNCE_LOCAL_NONE, &bi);
	assert_string_equal(bounce_category_name(bi.category), "other");
	assert_string_equal(bounce_category_name((enum bounce_category)99), "other");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_local),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
