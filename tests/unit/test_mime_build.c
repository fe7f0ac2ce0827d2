/* Unit tests for mime/mime_build and the pure parts of http (JSON depth
 * check, request validation): golden files in tests/golden/mime_build/ and
 * tests/golden/http_json/ (each NAME.in gives NAME.out; UPDATE_GOLDEN=1
 * rewrites the .out files), line-length and encoding properties. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_json.h"
#include "http/http_msg.h"
#include "mime/mime_build.h"
#include "util/xalloc.h"

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

/* golden() compares got with DIR/NAME.out, or writes it with UPDATE_GOLDEN. */
static void
golden(const char *dir, const char *name, const char *got, size_t len)
{
	char path[512];
	size_t wl;
	char *want;

	snprintf(path, sizeof path, "%s/%s.out", dir, name);
	if (getenv("UPDATE_GOLDEN")) {
		FILE *f = fopen(path, "wb");
		assert_non_null(f);
		fwrite(got, 1, len, f);
		fclose(f);
		return;
	}
	want = slurp(path, &wl);
	if (want == NULL)
		fail_msg("missing golden file %s", path);
	if (wl != len || memcmp(want, got, len) != 0)
		fail_msg("%s differs from the output:\n%.*s", path, (int)len, got);
	free(want);
}

/* build_from_json() runs the API's path: validate, then build with fixed
 * date, id and boundary. */
static int
build_from_json(const char *text, size_t len, struct buf *out)
{
	json_error_t jerr;
	const char *why;
	struct http_errors e = { 0 };
	struct http_send s;
	json_t *v = http_json_load(text, len, &jerr, &why);
	unsigned flags = 0;
	char *err = NULL;
	int rc;

	if (v == NULL) {
		buf_printf(out, "load error: %s\n", why);
		return -1;
	}
	if (http_send_parse(v, 100, &s, &e) < 0) {
		char *t = json_dumps(e.list, JSON_INDENT(1) | JSON_SORT_KEYS);
		buf_printf(out, "invalid:\n%s\n", t);
		free(t);
		http_errors_free(&e);
		json_decref(v);
		return -1;
	}
	s.mime.message_id = "01TESTTESTTESTTESTTE@mail.test.example";
	s.mime.date_ms = 1795701600000ULL;
	s.mime.boundary_token = "TOKEN";
	rc = mime_build(&s.mime, out, &flags, &err);
	buf_printf(out, "-- flags=%u rcpts=", flags);
	for (size_t i = 0; i < s.nrcpt; i++)
		buf_printf(out, "%s%s", i ? "," : "", s.rcpts[i]);
	buf_printf(out, " meta=%s\n", s.meta_json ? s.meta_json : "null");
	free(err);
	http_send_free(&s);
	json_decref(v);
	return rc;
}

static void
test_golden_mime(void **state)
{
	const char *dir = "tests/golden/mime_build";
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	(void)state;
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		size_t nl = strlen(de->d_name), len;
		char path[512], name[256], *in;
		struct buf out = { 0 };
		if (nl < 4 || strcmp(de->d_name + nl - 3, ".in") != 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		snprintf(name, sizeof name, "%.*s", (int)(nl - 3), de->d_name);
		in = slurp(path, &len);
		assert_non_null(in);
		build_from_json(in, len, &out);
		golden(dir, name, out.data, out.len);
		buf_free(&out);
		free(in);
		n++;
	}
	closedir(d);
	assert_true(n >= 5);
}

static void
test_golden_json(void **state)
{
	const char *dir = "tests/golden/http_json";
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	(void)state;
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		size_t nl = strlen(de->d_name), len;
		char path[512], name[256], *in;
		struct buf out = { 0 };
		json_error_t jerr;
		const char *why = "";
		json_t *v;
		if (nl < 4 || strcmp(de->d_name + nl - 3, ".in") != 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		snprintf(name, sizeof name, "%.*s", (int)(nl - 3), de->d_name);
		in = slurp(path, &len);
		v = http_json_load(in, len, &jerr, &why);
		buf_printf(&out, "depth=%d load=%s\n", http_json_depth(in, len, 1000),
		    v ? "ok" : why);
		json_decref(v);
		golden(dir, name, out.data, out.len);
		buf_free(&out);
		free(in);
		n++;
	}
	closedir(d);
	assert_true(n >= 4);
}

static void
test_depth(void **state)
{
	char deep[100];

	(void)state;
	memset(deep, '[', 50);
	memset(deep + 50, ']', 50);
	assert_int_equal(http_json_depth(deep, 100, 1000), 50);
	assert_int_equal(http_json_depth(deep, 100, 32), 33);
	assert_int_equal(http_json_depth("{\"a\":\"[[[\\\"[\"}", 14, 100), 1);
	assert_int_equal(http_json_depth("", 0, 10), 0);
}

/* Every line within limits: headers <= 78 unless a single token is longer,
 * bodies <= 76, all lines CRLF-terminated. */
static void
test_line_lengths(void **state)
{
	struct mime_mailbox to[12];
	struct mime_msg m = { 0 };
	struct buf out = { 0 };
	unsigned flags;
	char *why = NULL, body[3000];
	size_t i, col = 0, hdr_end;
	int in_hdr = 1;

	(void)state;
	for (i = 0; i < 12; i++) {
		to[i].email = "someone.with.a.long.name@example.org";
		to[i].name = i % 2 ? "Jürgen Groß-Überlänge" : "Plain Name";
	}
	for (i = 0; i < sizeof body - 1; i++)
		body[i] = "aé bc\n"[i % 7 == 6 ? 5 : i % 5];
	body[sizeof body - 1] = '\0';
	m.from.email = "a@b.example";
	m.from.name = "Ünïcödé Sender with a rather long display name that goes on";
	m.to = to;
	m.nto = 12;
	m.subject = "Ein sehr langer Betreff mit Umlauten: äöü ÄÖÜ ß, der gefaltet werden muss, "
	    "weil er länger als achtundsiebzig Zeichen ist";
	m.text = body;
	m.message_id = "x@y";
	m.boundary_token = "T";
	assert_int_equal(mime_build(&m, &out, &flags, &why), 0);
	hdr_end = (size_t)(strstr(out.data, "\r\n\r\n") - out.data);
	for (i = 0; i < out.len; i++) {
		if (i == hdr_end)
			in_hdr = 0;
		if (out.data[i] == '\n') {
			assert_true(i > 0 && out.data[i - 1] == '\r');
			col = 0;
		} else if (out.data[i] != '\r') {
			col++;
			assert_true(col <= (in_hdr ? 78u : 76u));
		} else {
			assert_true(i + 1 < out.len && out.data[i + 1] == '\n');
		}
	}
	buf_free(&out);
}

static void
test_qp(void **state)
{
	struct buf b = { 0 };

	(void)state;
	mime_qp_encode(&b, "a=b \n.dot\r\nend ", 15);
	assert_string_equal(b.data, "a=3Db=20\r\n=2Edot\r\nend=20");
	buf_free(&b);
}

static void
test_owned(void **state)
{
	(void)state;
	assert_true(mime_header_owned("from"));
	assert_true(mime_header_owned("Content-Type"));
	assert_true(mime_header_owned("dkim-signature"));
	assert_false(mime_header_owned("X-Order"));
	assert_false(mime_header_owned("List-Unsubscribe"));
	assert_false(mime_header_name_valid("Bad Name"));
	assert_false(mime_header_name_valid("Bad:Name"));
	assert_true(mime_header_name_valid("X-Ok"));
}

static void
test_addr(void **state)
{
	char out[300];
	const char *why;

	(void)state;
	assert_int_equal(http_addr_valid("a@b.example", out, sizeof out, &why), 0);
	assert_int_equal(http_addr_valid("A@Bücher.Example", out, sizeof out, &why), 0);
	assert_string_equal(out, "A@xn--bcher-kva.example");
	assert_int_equal(http_addr_valid("\"a b\"@x.example", out, sizeof out, &why), 0);
	assert_int_equal(http_addr_valid("ü@x.example", out, sizeof out, &why), 0);
	assert_int_equal(http_addr_valid("a@[127.0.0.1]", out, sizeof out, &why), 0);
	assert_int_equal(http_addr_valid("a..b@x.example", out, sizeof out, &why), -1);
	assert_int_equal(http_addr_valid("a@x", out, sizeof out, &why), -1);
	assert_int_equal(http_addr_valid("a@-x.example", out, sizeof out, &why), -1);
	assert_int_equal(http_addr_valid("a b@x.example", out, sizeof out, &why), -1);
	assert_int_equal(http_addr_valid("@x.example", out, sizeof out, &why), -1);
	assert_int_equal(http_addr_valid("a@x.example>", out, sizeof out, &why), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_mime),
		cmocka_unit_test(test_golden_json),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_line_lengths),
		cmocka_unit_test(test_qp),
		cmocka_unit_test(test_owned),
		cmocka_unit_test(test_addr),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
