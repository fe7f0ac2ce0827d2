/* fb_parse_dump: a test tool (not installed) that runs feedback/fb_parse
 * over files and prints each answer as one JSON object a line, so that
 * tests in other languages can compare it with an independent parser.
 *
 *   fb_parse_dump FILE...
 *       {"file": "...", "rc": 0, "kind": "dsn", "format": "rfc3464",
 *        "orig_message_id": ..., "rcpts": [{"recipient": ..., "action": ...,
 *        "status": ..., "smtp_code": 550, ...}], ...}
 * A field the parser did not set is null. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "feedback/fb_parse.h"
#include "util/fsutil.h"

static json_t *
str(const char *s)
{
	return s ? json_stringn_nocheck(s, strlen(s)) : json_null();
}

int
main(int argc, char **argv)
{
	int bad = 0;

	for (int i = 1; i < argc; i++) {
		struct fb_report r;
		json_t *o, *rc;
		char *data = NULL, *text;
		size_t len = 0;
		int ret;

		if (fs_read_file(argv[i], 64u << 20, &data, &len) != 0) {
			fprintf(stderr, "fb_parse_dump: cannot read %s\n", argv[i]);
			bad = 1;
			continue;
		}
		ret = fb_parse(data, len, &r);
		o = json_object();
		json_object_set_new(o, "file", json_string(argv[i]));
		json_object_set_new(o, "rc", json_integer(ret));
		json_object_set_new(o, "kind", json_string(r.kind == FB_DSN ? "dsn" :
		    r.kind == FB_ARF ? "arf" : "none"));
		json_object_set_new(o, "format", str(r.format));
		json_object_set_new(o, "reporting_mta", str(r.reporting_mta));
		json_object_set_new(o, "envelope_id", str(r.envelope_id));
		json_object_set_new(o, "feedback_type", str(r.feedback_type));
		json_object_set_new(o, "source_ip", str(r.source_ip));
		json_object_set_new(o, "orig_rcpt_to", str(r.orig_rcpt_to));
		json_object_set_new(o, "orig_message_id", str(r.orig_message_id));
		json_object_set_new(o, "orig_return_path", str(r.orig_return_path));
		json_object_set_new(o, "orig_headers", str(r.orig_headers));
		rc = json_array();
		for (size_t k = 0; k < r.nrcpt; k++) {
			json_t *p = json_object();

			json_object_set_new(p, "recipient", str(r.rcpts[k].recipient));
			json_object_set_new(p, "original_recipient", str(r.rcpts[k].original_recipient));
			json_object_set_new(p, "action", str(r.rcpts[k].action));
			json_object_set_new(p, "status", str(r.rcpts[k].status[0] ? r.rcpts[k].status : NULL));
			json_object_set_new(p, "smtp_code", json_integer(r.rcpts[k].smtp_code));
			json_object_set_new(p, "diagnostic", str(r.rcpts[k].diagnostic));
			json_object_set_new(p, "remote_mta", str(r.rcpts[k].remote_mta));
			json_array_append_new(rc, p);
		}
		json_object_set_new(o, "rcpts", rc);
		text = json_dumps(o, JSON_COMPACT);
		puts(text);
		free(text);
		json_decref(o);
		fb_report_free(&r);
		free(data);
	}
	return bad;
}
