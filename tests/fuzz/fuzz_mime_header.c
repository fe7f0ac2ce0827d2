/* fuzz_mime_header: libFuzzer harness for mime_header_scan(), _next(), _get()
 * and _unfold(). Checks that the field walk and the scan agree on where the
 * header block ends, that counts are consistent and that unfolding never
 * grows a value or leaves a fold in it. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mime/mime_header.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct mime_header_info info;
	struct mime_field f;
	struct buf v = { 0 };
	size_t pos = 0, i;
	unsigned fields = 0, from = 0;

	mime_header_scan(buf, size, &info);
	assert(info.header_len <= size);
	assert(info.nfolded <= info.nlines && info.nfields <= info.nlines);
	assert(info.longest <= size);
	while (mime_header_next(buf, size, &pos, &f)) {
		assert(pos <= size);
		if (f.malformed)
			continue;
		fields++;
		assert(f.namelen > 0 && memchr(f.name, ':', f.namelen) == NULL);
		assert(f.value >= buf && f.value + f.valuelen <= buf + size);
		if (f.namelen == 4 && strncasecmp(f.name, "from", 4) == 0)
			from++;
		buf_reset(&v);
		mime_header_unfold(f.value, f.valuelen, &v);
		assert(v.len <= f.valuelen);
		for (i = 0; i + 1 < v.len; i++)
			assert(!(v.data[i] == '\n' && (v.data[i + 1] == ' ' || v.data[i + 1] == '\t')));
	}
	assert(pos == info.header_len);
	assert(fields == info.nfields && from == info.n_from);
	buf_reset(&v);
	assert(mime_header_get(buf, size, "From", &v) == info.n_from);
	buf_free(&v);
	return 0;
}
