/* http_msg: validation of a send request (see http_msg.h). Limits are
 * conservative and documented in docs/openapi.yaml. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/http_msg.h"
#include "smtp/smtp_parse.h"
#include "util/buf.h"
#include "util/xalloc.h"

#define NAME_MAX_LEN	256
#define SUBJECT_MAX_LEN	2048
#define HVALUE_MAX_LEN	998
#define FILENAME_MAX_LEN 255
#define META_MAX_LEN	4096

static char *
own(struct http_send *s, char *p)
{
	s->owned = xrealloc(s->owned, (s->nowned + 1) * sizeof *s->owned);
	s->owned[s->nowned++] = p;
	return p;
}

static int
is_atext(int c)
{
	return isalnum(c) || (c && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL) || c >= 0x80;
}

/* utf8_valid() checks well-formed UTF-8 (jansson did, but header values
 * also come from our own splitting). */
static int
has_ctl(const char *s)
{
	for (; *s; s++)
		if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
			return 1;
	return 0;
}

static int
has_crlf(const char *s)
{
	return strchr(s, '\r') != NULL || strchr(s, '\n') != NULL;
}

static int
domain_ascii_ok(const char *d)
{
	size_t lab = 0, n = 0, labels = 1;
	const char *p;
	char prev = '.';

	for (p = d; *p; p++, n++) {
		if (*p == '.') {
			if (lab == 0 || prev == '-')
				return 0;
			lab = 0;
			labels++;
		} else if (isalnum((unsigned char)*p) || *p == '-') {
			if (lab == 0 && *p == '-')
				return 0;
			if (++lab > 63)
				return 0;
		} else {
			return 0;
		}
		prev = *p;
	}
	return n > 0 && n <= 253 && lab > 0 && prev != '-' && labels >= 2;
}

int
http_addr_valid(const char *addr, char *out, size_t outlen, const char **why)
{
	const char *at = strrchr(addr, '@'), *p;
	size_t llen;
	char dom[256];

	if (at == NULL || at == addr) {
		*why = "not an email address";
		return -1;
	}
	llen = (size_t)(at - addr);
	if (llen > 64) {
		*why = "local part longer than 64 octets";
		return -1;
	}
	if (addr[0] == '"') {
		if (llen < 2 || addr[llen - 1] != '"') {
			*why = "bad quoted local part";
			return -1;
		}
		for (p = addr + 1; p < at - 1; p++) {
			unsigned char c = (unsigned char)*p;
			if (c == '\\') {
				p++;
				if (p >= at - 1 || (unsigned char)*p < 0x20 || *p == 0x7f) {
					*why = "bad quoted local part";
					return -1;
				}
			} else if (c < 0x20 || c == 0x7f || c == '"') {
				*why = "bad quoted local part";
				return -1;
			}
		}
	} else {
		for (p = addr; p < at; p++) {
			if (*p == '.' ? (p == addr || p + 1 == at || p[1] == '.') :
			    !is_atext((unsigned char)*p)) {
				*why = "bad local part";
				return -1;
			}
		}
	}
	if (at[1] == '[') {
		struct in_addr a4;
		struct in6_addr a6;
		size_t n = strlen(at + 1);
		char lit[64];
		if (n < 3 || n >= sizeof lit || at[n] != ']') {
			*why = "bad address literal";
			return -1;
		}
		memcpy(lit, at + 2, n - 2);
		lit[n - 2] = '\0';
		if (inet_pton(AF_INET, lit, &a4) != 1 &&
		    !(strncasecmp(lit, "IPv6:", 5) == 0 && inet_pton(AF_INET6, lit + 5, &a6) == 1)) {
			*why = "bad address literal";
			return -1;
		}
		snprintf(dom, sizeof dom, "%s", at + 1);
	} else if (mime_domain_to_ascii(at + 1, dom, sizeof dom) < 0 || !domain_ascii_ok(dom)) {
		*why = "bad domain";
		return -1;
	}
	if (llen + 1 + strlen(dom) > 254 || llen + 2 + strlen(dom) > outlen) {
		*why = "address longer than 254 octets";
		return -1;
	}
	memcpy(out, addr, llen);
	out[llen] = '@';
	strcpy(out + llen + 1, dom);
	/* The SMTP parser's rule too, so the API accepts nothing SMTP would not. */
	if (smtp_mailbox_valid(out, strlen(out), 1) == 0) {
		*why = "not a valid mailbox";
		return -1;
	}
	return 0;
}

/* parse_addr() reads "a@b", "Name <a@b>" or {"email", "name"} into a. */
static int
parse_addr(struct http_send *s, json_t *v, const char *field, struct mime_mailbox *a,
    struct http_errors *e)
{
	const char *email = NULL, *name = NULL, *why;
	char norm[300], sub[160];

	if (json_is_string(v)) {
		const char *str = json_string_value(v);
		const char *lt = strrchr(str, '<');
		size_t n = strlen(str);
		if (lt != NULL && n > 0 && str[n - 1] == '>') {
			const char *b = str, *end = lt;
			while (b < end && (*b == ' ' || *b == '\t'))
				b++;
			while (end > b && (end[-1] == ' ' || end[-1] == '\t'))
				end--;
			if (end - b >= 2 && *b == '"' && end[-1] == '"') {
				/* a quoted display name: drop quotes, unescape */
				char *q = own(s, xstrndup(b + 1, (size_t)(end - b - 2))), *w = q, *r;
				for (r = q; *r; r++) {
					if (*r == '\\' && r[1])
						r++;
					*w++ = *r;
				}
				*w = '\0';
				name = q;
			} else if (end > b) {
				name = own(s, xstrndup(b, (size_t)(end - b)));
			}
			email = own(s, xstrndup(lt + 1, n - (size_t)(lt - str) - 2));
		} else {
			email = str;
		}
		snprintf(sub, sizeof sub, "%s", field);
	} else if (json_is_object(v)) {
		json_t *je = json_object_get(v, "email"), *jn = json_object_get(v, "name");
		const char *k;
		json_t *x;
		json_object_foreach(v, k, x) {
			if (strcmp(k, "email") != 0 && strcmp(k, "name") != 0) {
				http_errors_add(e, field, "unknown member \"%.64s\"", k);
				return -1;
			}
		}
		if (!json_is_string(je)) {
			snprintf(sub, sizeof sub, "%s.email", field);
			http_errors_add(e, sub, "required string");
			return -1;
		}
		if (jn != NULL && !json_is_null(jn) && !json_is_string(jn)) {
			snprintf(sub, sizeof sub, "%s.name", field);
			http_errors_add(e, sub, "must be a string");
			return -1;
		}
		email = json_string_value(je);
		name = jn ? json_string_value(jn) : NULL;
		snprintf(sub, sizeof sub, "%s.email", field);
	} else {
		http_errors_add(e, field, "must be an address string or {\"email\", \"name\"}");
		return -1;
	}
	if (name != NULL) {
		char nf[160];
		snprintf(nf, sizeof nf, json_is_object(v) ? "%s.name" : "%s", field);
		if (has_crlf(name)) {
			http_errors_add(e, nf, "contains CR or LF");
			return -1;
		}
		if (has_ctl(name) || strlen(name) > NAME_MAX_LEN) {
			http_errors_add(e, nf, "name has control characters or is over %d octets",
			    NAME_MAX_LEN);
			return -1;
		}
	}
	if (has_crlf(email)) {
		http_errors_add(e, sub, "contains CR or LF");
		return -1;
	}
	if (http_addr_valid(email, norm, sizeof norm, &why) < 0) {
		http_errors_add(e, sub, "%s", why);
		return -1;
	}
	a->email = own(s, xstrdup(norm));
	a->name = name;
	if (strchr(a->email, '@') && (unsigned char)a->email[0] >= 0x80)
		s->smtputf8 = 1;
	for (why = a->email; *why; why++)
		if ((unsigned char)*why >= 0x80)
			s->smtputf8 = 1;
	return 0;
}

/* parse_list() reads an array (or a single address) of addresses. */
static void
parse_list(struct http_send *s, json_t *v, const char *field, size_t *start, size_t *n,
    struct http_errors *e)
{
	size_t i, cnt;
	char f[64];

	*start = s->naddrs;
	*n = 0;
	if (v == NULL || json_is_null(v))
		return;
	cnt = json_is_array(v) ? json_array_size(v) : 1;
	if (!json_is_array(v) && !json_is_string(v) && !json_is_object(v)) {
		http_errors_add(e, field, "must be an array of addresses");
		return;
	}
	if (cnt > 1000) {
		http_errors_add(e, field, "too many addresses");
		return;
	}
	s->addrs = xrealloc(s->addrs, (s->naddrs + cnt) * sizeof *s->addrs);
	for (i = 0; i < cnt; i++) {
		json_t *x = json_is_array(v) ? json_array_get(v, i) : v;
		if (json_is_array(v))
			snprintf(f, sizeof f, "%s[%zu]", field, i);
		else
			snprintf(f, sizeof f, "%s", field);
		if (parse_addr(s, x, f, &s->addrs[s->naddrs], e) == 0) {
			s->naddrs++;
			(*n)++;
		}
	}
}

/* b64_decode(): strict base64 (padding required, whitespace and line breaks
 * ignored). Returns the decoded length or -1. */
static long
b64_decode(const char *in, unsigned char *out)
{
	unsigned v = 0;
	int bits = 0, pad = 0;
	long n = 0;
	size_t count = 0;

	for (; *in; in++) {
		int c = (unsigned char)*in, d;
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		count++;
		if (c == '=') {
			pad++;
			continue;
		}
		if (pad > 0 || (d = buf_b64_digit(c)) < 0)
			return -1;
		v = v << 6 | (unsigned)d;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (unsigned char)(v >> bits);
		}
	}
	if (count % 4 != 0 || pad > 2 || (pad == 0 && bits != 0) || (v & ((1u << bits) - 1)) != 0)
		return -1;
	return n;
}

static void
parse_parts(struct http_send *s, json_t *v, struct http_errors *e)
{
	size_t i, n;
	char f[80];

	if (v == NULL || json_is_null(v))
		return;
	if (!json_is_array(v)) {
		http_errors_add(e, "attachments", "must be an array");
		return;
	}
	n = json_array_size(v);
	if (n > HTTP_MSG_MAX_ATTACHMENTS) {
		http_errors_add(e, "attachments", "more than %d attachments", HTTP_MSG_MAX_ATTACHMENTS);
		return;
	}
	s->parts = xcalloc(n + 1, sizeof *s->parts);
	for (i = 0; i < n; i++) {
		json_t *a = json_array_get(v, i), *x;
		struct mime_part *p = &s->parts[s->mime.nparts];
		const char *k, *str;
		unsigned char *data;
		long dl;
		int bad = 0;

		if (!json_is_object(a)) {
			snprintf(f, sizeof f, "attachments[%zu]", i);
			http_errors_add(e, f, "must be an object");
			continue;
		}
		json_object_foreach(a, k, x) {
			if (strcmp(k, "filename") && strcmp(k, "content_type") && strcmp(k, "content") &&
			    strcmp(k, "content_id")) {
				snprintf(f, sizeof f, "attachments[%zu]", i);
				http_errors_add(e, f, "unknown member \"%.64s\"", k);
				bad = 1;
			}
		}
		x = json_object_get(a, "filename");
		if (x != NULL && !json_is_null(x)) {
			snprintf(f, sizeof f, "attachments[%zu].filename", i);
			str = json_string_value(x);
			if (str == NULL) {
				http_errors_add(e, f, "must be a string");
				bad = 1;
			} else if (has_crlf(str)) {
				http_errors_add(e, f, "contains CR or LF");
				bad = 1;
			} else if (*str == '\0' || has_ctl(str) || strlen(str) > FILENAME_MAX_LEN ||
			    strchr(str, '/') || strchr(str, '\\')) {
				http_errors_add(e, f, "must be 1 to %d octets, no control characters or slashes",
				    FILENAME_MAX_LEN);
				bad = 1;
			} else {
				p->filename = str;
			}
		}
		x = json_object_get(a, "content_type");
		snprintf(f, sizeof f, "attachments[%zu].content_type", i);
		if (x == NULL || json_is_null(x)) {
			p->content_type = "application/octet-stream";
		} else if ((str = json_string_value(x)) == NULL || has_crlf(str) ||
		    !mime_content_type_valid(str)) {
			http_errors_add(e, f, "must be a MIME type \"type/subtype\"");
			bad = 1;
		} else {
			p->content_type = str;
		}
		x = json_object_get(a, "content_id");
		snprintf(f, sizeof f, "attachments[%zu].content_id", i);
		if (x != NULL && !json_is_null(x)) {
			if ((str = json_string_value(x)) == NULL || has_crlf(str) ||
			    !mime_content_id_valid(str)) {
				http_errors_add(e, f, "must be an id like \"logo@shop\" (no <>)");
				bad = 1;
			} else {
				p->content_id = str;
			}
		}
		x = json_object_get(a, "content");
		snprintf(f, sizeof f, "attachments[%zu].content", i);
		if ((str = json_string_value(x)) == NULL) {
			http_errors_add(e, f, "required base64 string");
			continue;
		}
		data = (unsigned char *)own(s, xmalloc(strlen(str) / 4 * 3 + 3));
		if ((dl = b64_decode(str, data)) < 0) {
			http_errors_add(e, f, "not base64");
			continue;
		}
		if (bad)
			continue;
		p->data = data;
		p->len = (size_t)dl;
		s->mime.nparts++;
	}
	s->mime.parts = s->parts;
}

static void
parse_headers(struct http_send *s, json_t *v, struct http_errors *e)
{
	const char *k;
	json_t *x;
	char f[128];

	if (v == NULL || json_is_null(v))
		return;
	if (!json_is_object(v)) {
		http_errors_add(e, "headers", "must be an object of strings");
		return;
	}
	if (json_object_size(v) > HTTP_MSG_MAX_HEADERS) {
		http_errors_add(e, "headers", "more than %d headers", HTTP_MSG_MAX_HEADERS);
		return;
	}
	s->headers = xcalloc(json_object_size(v) + 1, sizeof *s->headers);
	json_object_foreach(v, k, x) {
		const char *val = json_string_value(x);
		snprintf(f, sizeof f, "headers.%.100s", k);
		if (has_crlf(k) || !mime_header_name_valid(k)) {
			http_errors_add(e, f, "not a valid header name");
		} else if (mime_header_owned(k)) {
			http_errors_add(e, f, "set by hermod, not allowed here");
		} else if (val == NULL) {
			http_errors_add(e, f, "must be a string");
		} else if (has_crlf(val)) {
			http_errors_add(e, f, "contains CR or LF");
		} else if (has_ctl(val) || strlen(val) > HVALUE_MAX_LEN) {
			http_errors_add(e, f, "control characters or over %d octets", HVALUE_MAX_LEN);
		} else {
			s->headers[s->mime.nheaders].name = k;
			s->headers[s->mime.nheaders].value = val;
			s->mime.nheaders++;
		}
	}
	s->mime.headers = s->headers;
}

static void
parse_meta(struct http_send *s, json_t *root, struct http_errors *e)
{
	json_t *tags = json_object_get(root, "tags"), *md = json_object_get(root, "metadata");
	json_t *stream = json_object_get(root, "stream"), *m, *x;
	const char *k;
	size_t i;
	char *txt;

	m = json_object();
	if (tags != NULL && !json_is_null(tags)) {
		if (!json_is_array(tags) || json_array_size(tags) > HTTP_MSG_MAX_TAGS) {
			http_errors_add(e, "tags", "must be an array of at most %d strings",
			    HTTP_MSG_MAX_TAGS);
		} else {
			json_array_foreach(tags, i, x) {
				const char *t = json_string_value(x);
				if (t == NULL || *t == '\0' || strlen(t) > 128 || has_ctl(t)) {
					char f[32];
					snprintf(f, sizeof f, "tags[%zu]", i);
					http_errors_add(e, f, "must be a string of 1 to 128 printable octets");
				}
			}
			json_object_set(m, "tags", tags);
		}
	}
	if (md != NULL && !json_is_null(md)) {
		if (!json_is_object(md)) {
			http_errors_add(e, "metadata", "must be an object");
		} else {
			json_object_foreach(md, k, x) {
				if (!json_is_string(x) && !json_is_number(x) && !json_is_boolean(x)) {
					char f[128];
					snprintf(f, sizeof f, "metadata.%.100s", k);
					http_errors_add(e, f, "must be a string, number or boolean");
				}
			}
			json_object_set(m, "metadata", md);
		}
	}
	if (stream != NULL && !json_is_null(stream)) {
		const char *sv = json_string_value(stream);
		if (sv == NULL || (strcmp(sv, "transactional") != 0 && strcmp(sv, "broadcast") != 0))
			http_errors_add(e, "stream", "must be \"transactional\" or \"broadcast\"");
		else
			json_object_set(m, "stream", stream);
	}
	if (json_object_size(m) > 0) {
		txt = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
		if (txt != NULL && strlen(txt) > META_MAX_LEN)
			http_errors_add(e, "metadata", "tags and metadata over %d octets", META_MAX_LEN);
		if (txt != NULL) {
			s->meta_json = xstrdup(txt);
			free(txt);
		}
	}
	json_decref(m);
}

static const char *
opt_string(json_t *root, const char *key, struct http_errors *e)
{
	json_t *x = json_object_get(root, key);

	if (x == NULL || json_is_null(x))
		return NULL;
	if (!json_is_string(x)) {
		http_errors_add(e, key, "must be a string");
		return NULL;
	}
	return json_string_value(x);
}

static void
add_rcpt(struct http_send *s, const char *addr)
{
	size_t i;

	for (i = 0; i < s->nrcpt; i++)
		if (strcasecmp(s->rcpts[i], addr) == 0)
			return;
	s->rcpts = xrealloc(s->rcpts, (s->nrcpt + 1) * sizeof *s->rcpts);
	s->rcpts[s->nrcpt++] = xstrdup(addr);
}

int
http_send_parse(json_t *v, size_t max_recipients, struct http_send *s, struct http_errors *e)
{
	static const char *const known[] = { "from", "to", "cc", "bcc", "reply_to", "subject",
		"text", "html", "attachments", "headers", "tags", "metadata", "stream", NULL };
	size_t before = http_errors_count(e), rt0, nrt, to0, nto, cc0, ncc, bcc0, nbcc, i;
	const char *k;
	json_t *x;
	struct mime_mailbox from = { 0 };

	memset(s, 0, sizeof *s);
	if (!json_is_object(v)) {
		http_errors_add(e, "", "the message must be a JSON object");
		return -1;
	}
	json_object_foreach(v, k, x) {
		for (i = 0; known[i] && strcmp(known[i], k) != 0; i++)
			;
		if (known[i] == NULL) {
			char f[80];
			snprintf(f, sizeof f, "%.64s", k);
			http_errors_add(e, f, "unknown field");
		}
	}
	x = json_object_get(v, "from");
	if (x == NULL || json_is_null(x))
		http_errors_add(e, "from", "required");
	else if (parse_addr(s, x, "from", &from, e) == 0)
		s->mime.from = from;
	parse_list(s, json_object_get(v, "reply_to"), "reply_to", &rt0, &nrt, e);
	parse_list(s, json_object_get(v, "to"), "to", &to0, &nto, e);
	parse_list(s, json_object_get(v, "cc"), "cc", &cc0, &ncc, e);
	parse_list(s, json_object_get(v, "bcc"), "bcc", &bcc0, &nbcc, e);
	if (http_errors_count(e) == before && nto + ncc + nbcc == 0)
		http_errors_add(e, "to", "at least one recipient (to, cc or bcc) is required");
	if (nto + ncc + nbcc > max_recipients)
		http_errors_add(e, "to", "more than %zu recipients", max_recipients);
	s->mime.subject = opt_string(v, "subject", e);
	if (s->mime.subject != NULL) {
		if (has_crlf(s->mime.subject))
			http_errors_add(e, "subject", "contains CR or LF");
		else if (has_ctl(s->mime.subject) || strlen(s->mime.subject) > SUBJECT_MAX_LEN)
			http_errors_add(e, "subject", "control characters or over %d octets",
			    SUBJECT_MAX_LEN);
	}
	s->mime.text = opt_string(v, "text", e);
	s->mime.html = opt_string(v, "html", e);
	if (s->mime.text != NULL && s->mime.text[0] == '\0')
		s->mime.text = NULL;
	if (s->mime.html != NULL && s->mime.html[0] == '\0')
		s->mime.html = NULL;
	if (s->mime.text == NULL && s->mime.html == NULL && !json_is_string(json_object_get(v, "text")) &&
	    json_object_get(v, "text") != NULL && !json_is_null(json_object_get(v, "text")))
		;	/* type error already recorded */
	else if (s->mime.text == NULL && s->mime.html == NULL)
		http_errors_add(e, "text", "text or html is required");
	parse_parts(s, json_object_get(v, "attachments"), e);
	parse_headers(s, json_object_get(v, "headers"), e);
	parse_meta(s, v, e);
	if (http_errors_count(e) != before) {
		http_send_free(s);
		return -1;
	}
	s->mime.reply_to = s->addrs + rt0;
	s->mime.nreply_to = nrt;
	s->mime.to = s->addrs + to0;
	s->mime.nto = nto;
	s->mime.cc = s->addrs + cc0;
	s->mime.ncc = ncc;
	s->bcc = s->addrs + bcc0;
	s->nbcc = nbcc;
	s->from_email = xstrdup(s->mime.from.email);
	s->from_domain = xstrdup(strrchr(s->from_email, '@') + 1);
	for (i = 0; i < nto; i++)
		add_rcpt(s, s->mime.to[i].email);
	for (i = 0; i < ncc; i++)
		add_rcpt(s, s->mime.cc[i].email);
	for (i = 0; i < nbcc; i++)
		add_rcpt(s, s->bcc[i].email);
	return 0;
}

void
http_send_free(struct http_send *s)
{
	size_t i;

	for (i = 0; i < s->nowned; i++)
		free(s->owned[i]);
	free(s->owned);
	for (i = 0; i < s->nrcpt; i++)
		free(s->rcpts[i]);
	free(s->rcpts);
	free(s->addrs);
	free(s->parts);
	free(s->headers);
	free(s->meta_json);
	free(s->from_email);
	free(s->from_domain);
	memset(s, 0, sizeof *s);
}
