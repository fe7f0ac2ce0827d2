/* http_json: the depth pre-check, the strict loader and problem documents. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "http/http_json.h"
#include "util/xalloc.h"

int
http_json_depth(const char *buf, size_t len, int max)
{
	size_t i;
	int depth = 0, deepest = 0, in_str = 0;

	for (i = 0; i < len; i++) {
		char c = buf[i];
		if (in_str) {
			if (c == '\\')
				i++;		/* skip the escaped byte, whatever it is */
			else if (c == '"')
				in_str = 0;
			continue;
		}
		switch (c) {
		case '"':
			in_str = 1;
			break;
		case '[':
		case '{':
			if (++depth > deepest) {
				deepest = depth;
				if (deepest > max)
					return max + 1;
			}
			break;
		case ']':
		case '}':
			if (depth > 0)
				depth--;
			break;
		default:
			break;
		}
	}
	return deepest;
}

json_t *
http_json_load(const char *buf, size_t len, json_error_t *jerr, const char **why)
{
	json_t *v;

	if (http_json_depth(buf, len, HTTP_JSON_MAX_DEPTH) > HTTP_JSON_MAX_DEPTH) {
		*why = "JSON nested deeper than 32 levels";
		return NULL;
	}
	/* jansson refuses invalid UTF-8 always and \u0000 unless JSON_ALLOW_NUL. */
	v = json_loadb(buf, len, JSON_REJECT_DUPLICATES, jerr);
	if (v == NULL)
		*why = jerr->text;
	return v;
}

void
http_errors_add(struct http_errors *e, const char *field, const char *fmt, ...)
{
	va_list ap;
	char msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (e->list == NULL)
		e->list = json_array();
	json_array_append_new(e->list, json_pack("{s:s, s:s}", "field", field, "message", msg));
}

size_t
http_errors_count(const struct http_errors *e)
{
	return e->list ? json_array_size(e->list) : 0;
}

void
http_errors_free(struct http_errors *e)
{
	json_decref(e->list);
	e->list = NULL;
}

json_t *
http_problem(int status, const char *slug, const char *title, const char *detail,
    struct http_errors *e)
{
	json_t *p;
	char type[128];

	snprintf(type, sizeof type, "https://hermod.dev/problems/%s", slug);
	p = json_pack("{s:s, s:s, s:i}", "type", type, "title", title, "status", status);
	if (p == NULL)
		abort();
	if (detail != NULL)
		json_object_set_new(p, "detail", json_string(detail));
	if (e != NULL && e->list != NULL) {
		json_object_set_new(p, "errors", e->list);
		e->list = NULL;
	}
	return p;
}
