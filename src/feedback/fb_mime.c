/* fb_mime: just enough MIME (RFC 2045, 2046) to find the parts of a report:
 * the header of each entity, Content-Type with its parameters (quoted
 * strings, comments, odd quoting), multipart bodies split at their
 * delimiters, and the base64 and quoted-printable decoders. A hand-written
 * walker rather than a library because the parser must stay a bounded pure
 * function over one buffer: it never copies the message, it only records
 * where each leaf is, and every loop is capped (depth, leaves, entities). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "feedback/fb_int.h"

#define BOUNDARY_MAX	200	/* RFC 2046 says 70; senders are sloppy */
#define ENTITIES_MAX	(4 * FB_PARSE_MAX_PARTS)

int
fb_header_get(const char *hdr, size_t len, const char *name, struct buf *out)
{
	struct fb_field f;
	size_t pos = 0;

	while (fb_field_next(hdr, len, &pos, &f))
		if (fb_field_is(&f, name)) {
			fb_unfold(f.value, f.valuelen, out);
			if (out->data == NULL)
				buf_append(out, "", 0);	/* allocated and NUL-terminated */
			return 1;
		}
	return 0;
}

/* ct_skip() skips blanks and comments. */
static size_t
ct_skip(const char *s, size_t n, size_t i)
{
	while (i < n) {
		if (isspace((unsigned char)s[i])) {
			i++;
		} else if (s[i] == '(') {
			int depth = 0;

			for (; i < n; i++) {
				if (s[i] == '\\' && i + 1 < n)
					i++;
				else if (s[i] == '(')
					depth++;
				else if (s[i] == ')' && --depth == 0) {
					i++;
					break;
				}
			}
		} else {
			break;
		}
	}
	return i;
}

/* ct_type() copies the lower-cased "type/subtype" of a Content-Type value. */
static void
ct_type(const char *s, size_t n, char *out, size_t outsz)
{
	size_t i = ct_skip(s, n, 0), k = 0;

	while (i < n && s[i] != ';' && s[i] != '(' && !isspace((unsigned char)s[i]) && k + 1 < outsz)
		out[k++] = (char)tolower((unsigned char)s[i++]);
	out[k] = '\0';
}

/* ct_param() finds parameter name in a Content-Type value and copies its
 * value (quotes and quoted pairs undone) to out; returns 1 if found. An
 * unquoted value ends at a blank, ';' or a comment. */
static int
ct_param(const char *s, size_t n, const char *name, char *out, size_t outsz)
{
	size_t i = 0, nl = strlen(name);

	/* Past the type. */
	while (i < n && s[i] != ';') {
		if (s[i] == '"') {
			for (i++; i < n && s[i] != '"'; i++)
				if (s[i] == '\\')
					i++;
		}
		i++;
	}
	while (i < n) {
		size_t ns, ne, k = 0;
		int match;

		i = ct_skip(s, n, i + 1);	/* past the ';' */
		ns = i;
		while (i < n && s[i] != '=' && s[i] != ';' && !isspace((unsigned char)s[i]) && s[i] != '(')
			i++;
		ne = i;
		i = ct_skip(s, n, i);
		if (i >= n || s[i] != '=') {
			while (i < n && s[i] != ';')
				i++;
			continue;
		}
		i = ct_skip(s, n, i + 1);
		match = ne - ns == nl && strncasecmp(s + ns, name, nl) == 0;
		if (i < n && s[i] == '"') {
			for (i++; i < n && s[i] != '"'; i++) {
				if (s[i] == '\\' && i + 1 < n)
					i++;
				if (match && k + 1 < outsz && s[i] != '\r' && s[i] != '\n')
					out[k++] = s[i];
			}
			if (i < n)
				i++;
		} else {
			while (i < n && s[i] != ';' && !isspace((unsigned char)s[i]) && s[i] != '(') {
				if (match && k + 1 < outsz)
					out[k++] = s[i];
				i++;
			}
		}
		if (match) {
			out[k] = '\0';
			return 1;
		}
		while (i < n && s[i] != ';') {
			if (s[i] == '"') {
				for (i++; i < n && s[i] != '"'; i++)
					if (s[i] == '\\')
						i++;
			}
			i++;
		}
	}
	return 0;
}

/* delim() says whether the line at p is a delimiter of boundary b: "--b",
 * then "--" for the closing one, then only transport padding. Sets *close. */
static int
delim(const char *s, size_t n, size_t p, const char *b, size_t bl, int *close)
{
	size_t i;

	if (n - p < bl + 2 || s[p] != '-' || s[p + 1] != '-' || memcmp(s + p + 2, b, bl) != 0)
		return 0;
	i = p + 2 + bl;
	*close = i + 1 < n && s[i] == '-' && s[i + 1] == '-';
	if (*close)
		i += 2;
	for (; i < n && s[i] != '\n'; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return 0;
	return 1;
}

/* next_delim() finds the next delimiter line at or after *p. Returns 1 with
 * *start at the line end before it (the part before ends there), *p after
 * its line, *close set; 0 when there is none. */
static int
next_delim(const char *s, size_t n, size_t *p, const char *b, size_t bl, size_t *start, int *close)
{
	size_t i = *p;

	while (i < n) {
		if (delim(s, n, i, b, bl, close)) {
			const char *lf = memchr(s + i, '\n', n - i);

			*start = i;
			if (i > *p && s[i - 1] == '\n') {
				(*start)--;
				if (*start > *p && s[*start - 1] == '\r')
					(*start)--;
			}
			*p = lf ? (size_t)(lf - s) + 1 : n;
			return 1;
		}
		{
			const char *lf = memchr(s + i, '\n', n - i);

			if (lf == NULL)
				break;
			i = (size_t)(lf - s) + 1;
		}
	}
	return 0;
}

static void walk(const char *s, size_t n, unsigned depth, const char *deftype, struct fb_mime *m);

static void
add_leaf(struct fb_mime *m, const char *type, const char *cte, const char *hdr, size_t hdrlen,
    const char *body, size_t bodylen, unsigned depth)
{
	struct fb_part *p;

	if (m->nparts >= FB_PARSE_MAX_PARTS)
		return;
	p = &m->parts[m->nparts++];
	memset(p, 0, sizeof(*p));
	snprintf(p->type, sizeof(p->type), "%s", type);
	snprintf(p->cte, sizeof(p->cte), "%s", cte);
	p->hdr = hdr;
	p->hdrlen = hdrlen;
	p->body = body;
	p->bodylen = bodylen;
	p->depth = depth;
}

/* split() walks each part of a multipart body. Returns 0 when the boundary
 * has no delimiter in the body (the caller may try another spelling). */
static int
split(const char *s, size_t n, const char *b, unsigned depth, const char *deftype, struct fb_mime *m)
{
	size_t p = 0, start, bl = strlen(b);
	int close = 0;

	if (bl == 0 || !next_delim(s, n, &p, b, bl, &start, &close))
		return 0;
	while (!close && m->nparts < FB_PARSE_MAX_PARTS && m->entities < ENTITIES_MAX) {
		size_t from = p;

		if (!next_delim(s, n, &p, b, bl, &start, &close)) {
			/* Truncated: the last part runs to the end. */
			walk(s + from, n - from, depth + 1, deftype, m);
			break;
		}
		walk(s + from, start - from, depth + 1, deftype, m);
	}
	return 1;
}

static void
walk(const char *s, size_t n, unsigned depth, const char *deftype, struct fb_mime *m)
{
	struct fb_field f;
	size_t pos = 0, ctlen = 0;
	const char *ct = NULL;
	char type[80], cte[32] = "", b[BOUNDARY_MAX + 1];

	m->entities++;
	while (fb_field_next(s, n, &pos, &f)) {
		if (ct == NULL && fb_field_is(&f, "content-type")) {
			ct = f.value;
			ctlen = f.valuelen < FB_FIELD_MAX ? f.valuelen : FB_FIELD_MAX;
		} else if (cte[0] == '\0' && fb_field_is(&f, "content-transfer-encoding")) {
			size_t l = f.valuelen, k = 0;
			const char *v = fb_trim(f.value, &l);

			while (k < l && k + 1 < sizeof(cte) && !isspace((unsigned char)v[k]) && v[k] != '(') {
				cte[k] = (char)tolower((unsigned char)v[k]);
				k++;
			}
			cte[k] = '\0';
		}
	}
	type[0] = '\0';
	if (ct != NULL)
		ct_type(ct, ctlen, type, sizeof(type));
	if (type[0] == '\0' || strchr(type, '/') == NULL)
		strcpy(type, deftype);
	if (strncmp(type, "multipart/", 10) == 0 && depth < FB_PARSE_MAX_DEPTH &&
	    m->entities < ENTITIES_MAX && ct_param(ct, ctlen, "boundary", b, sizeof(b))) {
		const char *sub = strcmp(type, "multipart/digest") == 0 ? "message/rfc822" : "text/plain";
		size_t bl = strlen(b);

		if (strcmp(type, "multipart/report") == 0 && m->report_type[0] == '\0' &&
		    ct_param(ct, ctlen, "report-type", m->report_type, sizeof(m->report_type)))
			for (char *c = m->report_type; *c; c++)
				*c = (char)tolower((unsigned char)*c);
		if (split(s + pos, n - pos, b, depth, sub, m))
			return;
		/* boundary='x': not a quote in MIME, but some senders mean one. */
		if (bl > 2 && b[0] == '\'' && b[bl - 1] == '\'') {
			b[bl - 1] = '\0';
			if (split(s + pos, n - pos, b + 1, depth, sub, m))
				return;
		}
	}
	add_leaf(m, type, cte, s, pos, s + pos, n - pos, depth);
}

void
fb_mime_walk(const char *msg, size_t len, struct fb_mime *m)
{
	memset(m, 0, sizeof(*m));
	walk(msg, len, 0, "text/plain", m);
}

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (unsigned char)tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

void
fb_decode(const struct fb_part *p, size_t max, struct buf *out)
{
	const unsigned char *s = (const unsigned char *)p->body;
	size_t n = p->bodylen, i, start = out->len;

	if (strcmp(p->cte, "base64") == 0) {
		unsigned acc = 0;
		int bits = 0;

		/* Anything outside the alphabet (line ends, junk) is skipped;
		 * '=' ends the data. */
		for (i = 0; i < n && out->len - start < max; i++) {
			int v = buf_b64_digit(s[i]);

			if (s[i] == '=')
				break;
			if (v < 0)
				continue;
			acc = (acc << 6) | (unsigned)v;
			bits += 6;
			if (bits >= 8) {
				bits -= 8;
				buf_putc(out, (char)((acc >> bits) & 0xff));
			}
		}
	} else if (strcmp(p->cte, "quoted-printable") == 0) {
		for (i = 0; i < n && out->len - start < max; i++) {
			if (s[i] == '=') {
				size_t j = i + 1;

				/* A soft line break: '=', blanks, the line end. */
				while (j < n && (s[j] == ' ' || s[j] == '\t'))
					j++;
				if (j < n && s[j] == '\r' && j + 1 < n && s[j + 1] == '\n') {
					i = j + 1;
					continue;
				}
				if (j < n && s[j] == '\n') {
					i = j;
					continue;
				}
				if (j == n) {
					i = j;
					continue;
				}
				if (i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
					buf_putc(out, (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2])));
					i += 2;
					continue;
				}
			}
			buf_putc(out, (char)s[i]);
		}
	} else {
		buf_append(out, s, n < max ? n : max);
	}
	if (out->data == NULL)
		buf_append(out, "", 0);	/* allocated and NUL-terminated */
	out->data[out->len] = '\0';
}
