/* Unit tests for mime/mime_rcpt (the `sendmail -t` header scanner): golden
 * files in tests/golden/mime_rcpt/ (NAME.in gives NAME.out; UPDATE_GOLDEN=1
 * rewrites them) and address-list cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mime/mime_rcpt.h"
#include "util/buf.h"

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct buf b = { 0 };
	char tmp[4096];
	size_t n;

	if (f == NULL)
		return NULL;
	while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
		buf_append(&b, tmp, n);
	fclose(f);
	buf_putc(&b, '\0');
	b.len--;
	return buf_steal(&b, len);
}

static void
render(const char *in, size_t len, struct buf *out)
{
	struct mime_rcpt r;
	const char *why;
	char *bad = NULL;
	size_t i;

	if (mime_rcpt_scan(in, len, &r, &why, &bad) < 0) {
		buf_printf(out, "error: %s%s%s\n", why, bad ? ": " : "", bad ? bad : "");
	} else {
		buf_printf(out, "from: %s\n", r.from ? r.from : "(none)");
		for (i = 0; i < r.nrcpt; i++)
			buf_printf(out, "rcpt: %s\n", r.rcpt[i]);
		for (i = 0; i < r.nbcc; i++)
			buf_printf(out, "bcc field: %zu+%zu\n", r.bcc[i].off, r.bcc[i].len);
		buf_printf(out, "header_end: %zu of %zu\ndate: %d message-id: %d\n", r.header_end, len,
		    r.has_date, r.has_message_id);
	}
	free(bad);
	mime_rcpt_free(&r);
}

static void
test_golden(void **state)
{
	const char *dir = "tests/golden/mime_rcpt";
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	(void)state;
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		size_t nl = strlen(de->d_name), len, wl;
		char path[512], *in, *want;
		struct buf out = { 0 };
		if (nl < 4 || strcmp(de->d_name + nl - 3, ".in") != 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		in = slurp(path, &len);
		assert_non_null(in);
		render(in, len, &out);
		snprintf(path, sizeof path, "%s/%.*s.out", dir, (int)(nl - 3), de->d_name);
		if (getenv("UPDATE_GOLDEN")) {
			FILE *f = fopen(path, "wb");
			assert_non_null(f);
			fwrite(out.data, 1, out.len, f);
			fclose(f);
		} else {
			want = slurp(path, &wl);
			if (want == NULL)
				fail_msg("missing %s", path);
			if (wl != out.len || memcmp(want, out.data, wl) != 0)
				fail_msg("%s differs:\n%s", path, out.data);
			free(want);
		}
		buf_free(&out);
		free(in);
		n++;
	}
	closedir(d);
	assert_true(n >= 8);
}

static int
count(const char *addr, void *arg)
{
	(void)addr;
	(*(int *)arg)++;
	return 0;
}

static void
test_lists(void **state)
{
	static const struct { const char *s; int rc, n; } cases[] = {
		{ "a@x.example", 0, 1 },
		{ "A <a@x.example>, b@x.example", 0, 2 },
		{ "\"q, x\" <a@x.example>", 0, 1 },
		{ "(c) a@x.example (d)", 0, 1 },
		{ "g: ;", 0, 0 },
		{ "a@x.example <b@x.example>", -1, 0 },
		{ "<a@x.example> b", -1, 0 },
		{ "<a@x.example", -1, 0 },
		{ "a@x.example>", -1, 0 },
		{ "(unclosed a@x.example", -1, 0 },
		{ "<>", -1, 0 },
		{ "a@@x.example", -1, 0 },
		{ "\"a b\"@x.example", 0, 1 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int n = 0;
		char *bad = NULL;
		int rc = mime_addr_list_each(cases[i].s, strlen(cases[i].s), count, &n, &bad);
		if (rc != cases[i].rc || (rc == 0 && n != cases[i].n))
			fail_msg("%s: rc %d n %d", cases[i].s, rc, n);
		free(bad);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_lists),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
