/* golden.h: the golden-file loader shared by the parser tests. Each case is
 * tests/golden/<dir>/<name>.in (raw bytes) and <name>.out (the expected text
 * the test renders from the parser's answer). GOLDEN_UPDATE=1 rewrites the
 * .out files instead of comparing: review the diff before committing.
 * Header-only because each unit test is one binary built from one file. */
#ifndef HERMOD_TEST_GOLDEN_H
#define HERMOD_TEST_GOLDEN_H
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

typedef void (*golden_fn)(const char *in, size_t len, struct buf *out);

static char *
golden_slurp(const char *path, size_t *lenp)
{
	FILE *f = fopen(path, "rb");
	struct buf b = { 0 };
	char tmp[4096];
	size_t n;

	if (f == NULL)
		return NULL;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buf_append(&b, tmp, n);
	fclose(f);
	if (b.data == NULL)
		buf_reserve(&b, 1);
	return buf_steal(&b, lenp);
}

/* golden_escape() renders bytes as a quoted C-like string on one line. */
static void
golden_escape(struct buf *out, const char *s, size_t n)
{
	size_t i;

	buf_putc(out, '"');
	for (i = 0; i < n; i++) {
		unsigned char c = s[i];

		if (c == '\r')
			buf_puts(out, "\\r");
		else if (c == '\n')
			buf_puts(out, "\\n");
		else if (c == '\\' || c == '"')
			buf_printf(out, "\\%c", c);
		else if (c < 32 || c >= 127)
			buf_printf(out, "\\x%02x", c);
		else
			buf_putc(out, c);
	}
	buf_putc(out, '"');
}

static int
golden_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* golden_run() runs fn over every .in file of dir and returns the number of
 * cases; mismatches are printed and counted in *failed. */
static int
golden_run(const char *dir, golden_fn fn, int *failed)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, i;
	int update = getenv("GOLDEN_UPDATE") != NULL;

	*failed = 0;
	if (d == NULL) {
		fprintf(stderr, "golden: cannot open %s (run from the repository root)\n", dir);
		*failed = 1;
		return 0;
	}
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);

		if (l > 3 && strcmp(e->d_name + l - 3, ".in") == 0) {
			names = realloc(names, (n + 1) * sizeof(*names));
			names[n++] = strndup(e->d_name, l - 3);
		}
	}
	closedir(d);
	qsort(names, n, sizeof(*names), golden_cmp);
	for (i = 0; i < n; i++) {
		char path[4096];
		size_t inlen, explen;
		char *in, *exp;
		struct buf got = { 0 };

		snprintf(path, sizeof(path), "%s/%s.in", dir, names[i]);
		in = golden_slurp(path, &inlen);
		fn(in, inlen, &got);
		buf_putc(&got, '\n');
		snprintf(path, sizeof(path), "%s/%s.out", dir, names[i]);
		if (update) {
			FILE *f = fopen(path, "wb");

			if (f) {
				fwrite(got.data, 1, got.len, f);
				fclose(f);
			}
		} else {
			exp = golden_slurp(path, &explen);
			if (exp == NULL || explen != got.len || memcmp(exp, got.data, got.len) != 0) {
				fprintf(stderr, "golden %s/%s: expected\n%sgot\n%s", dir, names[i],
				    exp ? exp : "(no .out file)\n", got.data);
				(*failed)++;
			}
			free(exp);
		}
		free(in);
		buf_free(&got);
		free(names[i]);
	}
	free(names);
	return (int)n;
}

#endif
