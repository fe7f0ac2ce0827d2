/* http_json: JSON helpers for the API: the nesting-depth pre-check (pure,
 * run before jansson so a hostile document cannot make it recurse deeply),
 * the strict load (duplicate keys, invalid UTF-8 and \u0000 refused), and the
 * problem+json (RFC 9457) writer. */
#ifndef HERMOD_HTTP_JSON_H
#define HERMOD_HTTP_JSON_H
#include <stddef.h>

#include <jansson.h>

#define HTTP_JSON_MAX_DEPTH	32

/* http_json_depth() scans len bytes of JSON text and returns the deepest
 * nesting of arrays and objects, counting strings properly (brackets inside
 * strings and escaped quotes do not count). It stops early and returns
 * max + 1 as soon as the depth passes max. Pure; never fails: malformed text
 * is left for the real parser to reject. */
int	http_json_depth(const char *buf, size_t len, int max);

/* http_json_load() parses a request body: depth <= HTTP_JSON_MAX_DEPTH,
 * duplicate object keys, invalid UTF-8 and \u0000 refused. Returns the value
 * or NULL with *why set to a short message (static or in jerr). */
json_t *http_json_load(const char *buf, size_t len, json_error_t *jerr, const char **why);

/* A list of field errors for a problem document. */
struct http_errors {
	json_t	*list;		/* array of {field, message}, NULL until the first */
};

/* http_errors_add() records "field: message" (printf-style message). */
void	http_errors_add(struct http_errors *e, const char *field, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
size_t	http_errors_count(const struct http_errors *e);
void	http_errors_free(struct http_errors *e);

/* http_problem() returns a problem+json object: type (a URN under
 * "https://hermod.dev/problems/" + slug), title, status, detail, and the
 * errors list when e holds any (its reference is taken). */
json_t *http_problem(int status, const char *slug, const char *title, const char *detail,
	    struct http_errors *e);

#endif
