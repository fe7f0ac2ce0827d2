/* Unit tests for mime/mime_header: golden header blocks (tests/golden/
 * mime_header) rendered as scan results, fields and unfolded values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "mime/mime_header.h"
#include "golden.h"

static void
render_header(const char *in, size_t len, struct buf *out)
{
	struct mime_header_info info;
	struct mime_field f;
	struct buf v = { 0 };
	size_t pos = 0;
	unsigned n, shown = 0;

	mime_header_scan(in, len, &info);
	buf_printf(out, "header_len %zu complete %d fields %u lines %u folded %u longest %zu\n"
	    "nul %d eightbit %d bare %d malformed %d from %u date %u message_id %u sender %u\n",
	    info.header_len, info.complete, info.nfields, info.nlines, info.nfolded, info.longest,
	    info.nul, info.eightbit, info.bare, info.malformed, info.n_from, info.n_date,
	    info.n_message_id, info.n_sender);
	while (mime_header_next(in, len, &pos, &f)) {
		if (shown++ >= 10)
			continue;	/* enough to show the shape */
		if (f.malformed) {
			buf_puts(out, "malformed\n");
			continue;
		}
		buf_reset(&v);
		mime_header_unfold(f.value, f.valuelen, &v);
		buf_puts(out, "field ");
		golden_escape(out, f.name, f.namelen);
		buf_putc(out, ' ');
		golden_escape(out, v.data ? v.data : "", v.len > 200 ? 200 : v.len);
		buf_putc(out, '\n');
	}
	assert_int_equal(pos, info.header_len);
	buf_reset(&v);
	n = mime_header_get(in, len, "from", &v);
	buf_printf(out, "get from %u ", n);
	golden_escape(out, v.data ? v.data : "", v.len);
	buf_free(&v);
}

static void
test_header_golden(void **state)
{
	int failed, n;

	(void)state;
	n = golden_run("tests/golden/mime_header", render_header, &failed);
	assert_true(n >= 19);
	assert_int_equal(failed, 0);
}

static void
test_header_get(void **state)
{
	const char msg[] = "Subject: one\r\n two\r\n\tthree  \r\nX: y\r\n\r\nSubject: body\r\n";
	struct buf v = { 0 };

	(void)state;
	assert_int_equal(mime_header_get(msg, sizeof(msg) - 1, "SUBJECT", &v), 1);
	assert_string_equal(v.data, "one two\tthree");
	buf_reset(&v);
	assert_int_equal(mime_header_get(msg, sizeof(msg) - 1, "Subj", &v), 0);
	assert_int_equal(v.len, 0);
	buf_free(&v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_golden),
		cmocka_unit_test(test_header_get),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
