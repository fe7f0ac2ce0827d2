/* dkim_canon: DKIM canonicalization (RFC 6376 3.4). See dkim_canon.h.
 *
 * The body machine withholds what it cannot decide yet: a CR until it sees
 * whether an LF follows, a run of WSP (relaxed) until it sees whether the
 * line ends, and empty lines until it sees whether any content follows them
 * (trailing empty lines are dropped). Withheld empty lines are a counter, not
 * bytes, so a body of a million empty lines costs no memory. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dkim/dkim_canon.h"
#include "util/xalloc.h"

#define ISWSP(c)	((c) == ' ' || (c) == '\t')

static void
body_flush(struct dkim_canon_body *b)
{
	if (b->outlen > 0) {
		b->emit(b->arg, b->out, b->outlen);
		b->total += b->outlen;
		b->outlen = 0;
	}
}

static inline void
body_put(struct dkim_canon_body *b, unsigned char c)
{
	if (b->outlen == sizeof(b->out))
		body_flush(b);
	b->out[b->outlen++] = c;
}

/* body_content() emits one content byte of a line, after whatever was
 * withheld in front of it: empty lines, then (relaxed) one SP for a WSP run. */
static inline void
body_content(struct dkim_canon_body *b, unsigned char c)
{
	for (; b->blank > 0; b->blank--) {
		body_put(b, '\r');
		body_put(b, '\n');
	}
	if (b->wsp) {
		body_put(b, ' ');
		b->wsp = 0;
	}
	body_put(b, c);
	b->content = 1;
	b->any = 1;
}

static inline void
body_eol(struct dkim_canon_body *b)
{
	b->wsp = 0;		/* relaxed: WSP at the end of a line vanishes */
	if (b->content) {
		body_put(b, '\r');
		body_put(b, '\n');
		b->content = 0;
	} else {
		b->blank++;
	}
}

void
dkim_canon_body_init(struct dkim_canon_body *b, int mode, dkim_canon_emit_fn emit, void *arg)
{
	memset(b, 0, offsetof(struct dkim_canon_body, out));
	b->mode = mode;
	b->emit = emit;
	b->arg = arg;
}

void
dkim_canon_body_update(struct dkim_canon_body *b, const void *data, size_t n)
{
	const unsigned char *p = data;
	int relaxed = b->mode == DKIM_CANON_RELAXED;
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = p[i];

		if (b->cr) {
			b->cr = 0;
			if (c == '\n') {
				body_eol(b);
				continue;
			}
			body_content(b, '\r');	/* a bare CR is content */
		}
		if (c == '\r')
			b->cr = 1;
		else if (relaxed && ISWSP(c))
			b->wsp = 1;
		else
			body_content(b, c);
	}
}

unsigned long long
dkim_canon_body_final(struct dkim_canon_body *b)
{
	if (b->cr) {
		b->cr = 0;
		body_content(b, '\r');
	}
	b->wsp = 0;
	if (b->content) {
		/* a last line without CRLF gets one */
		body_put(b, '\r');
		body_put(b, '\n');
		b->content = 0;
	} else if (!b->any && b->mode == DKIM_CANON_SIMPLE) {
		/* simple: an empty body (or only empty lines) is one CRLF */
		body_put(b, '\r');
		body_put(b, '\n');
	}
	b->blank = 0;
	body_flush(b);
	return b->total;
}

/* relaxed_value() appends p[0..n) unfolded, WSP runs as one SP, without
 * leading or trailing WSP. */
static void
relaxed_value(const char *p, size_t n, struct buf *out)
{
	size_t i;
	int wsp = 0, started = 0;

	for (i = 0; i < n; i++) {
		char c = p[i];

		if (c == '\r' && i + 1 < n && p[i + 1] == '\n') {
			i++;		/* unfold: the CRLF of a continuation vanishes */
			continue;
		}
		if (ISWSP(c)) {
			wsp = 1;
			continue;
		}
		if (wsp && started)
			buf_putc(out, ' ');
		wsp = 0;
		started = 1;
		buf_putc(out, c);
	}
}

void
dkim_canon_header(int mode, const char *field, size_t len, struct buf *out)
{
	const char *colon;
	size_t namelen, i;
	int crlf = len >= 2 && field[len - 2] == '\r' && field[len - 1] == '\n';

	if (mode != DKIM_CANON_RELAXED) {
		buf_append(out, field, len);
		if (!crlf)
			buf_append(out, "\r\n", 2);
		return;
	}
	if (crlf)
		len -= 2;
	colon = memchr(field, ':', len);
	if (colon == NULL) {
		/* not a field at all; keep its bytes, compressed like a value */
		relaxed_value(field, len, out);
		buf_append(out, "\r\n", 2);
		return;
	}
	namelen = (size_t)(colon - field);
	while (namelen > 0 && (ISWSP(field[namelen - 1]) || field[namelen - 1] == '\n' ||
	    field[namelen - 1] == '\r'))
		namelen--;
	for (i = 0; i < namelen; i++) {
		char c = field[i];

		buf_putc(out, (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c);
	}
	buf_putc(out, ':');
	relaxed_value(colon + 1, len - (size_t)(colon - field) - 1, out);
	buf_append(out, "\r\n", 2);
}

/* line_end() returns the offset just past the CRLF that ends the line at
 * off, or len when the line runs to the end of the buffer. */
static size_t
line_end(const char *msg, size_t len, size_t off)
{
	const char *p = msg + off;
	size_t left = len - off;

	while (left >= 2) {
		const char *cr = memchr(p, '\r', left - 1);

		if (cr == NULL)
			break;
		if (cr[1] == '\n')
			return (size_t)(cr - msg) + 2;
		left -= (size_t)(cr - p) + 1;
		p = cr + 1;
	}
	return len;
}

static size_t
field_namelen(const char *p, size_t len)
{
	const char *colon;
	size_t n;

	/* the name ends at the colon of the first line */
	colon = memchr(p, ':', len);
	if (colon == NULL)
		return 0;
	if (memchr(p, '\n', (size_t)(colon - p)) != NULL)
		return 0;
	n = (size_t)(colon - p);
	while (n > 0 && ISWSP(p[n - 1]))
		n--;
	return n;
}

size_t
dkim_canon_fields(const char *msg, size_t len, struct dkim_field **fields, size_t *nfields)
{
	struct dkim_field *v = NULL;
	size_t n = 0, cap = 0, off = 0, end;

	while (off < len) {
		if (len - off >= 2 && msg[off] == '\r' && msg[off + 1] == '\n') {
			off += 2;	/* the empty line: the body starts after it */
			break;
		}
		end = line_end(msg, len, off);
		if (n > 0 && ISWSP(msg[off])) {
			v[n - 1].len += end - off;
		} else {
			if (n == cap) {
				cap = cap ? cap * 2 : 32;
				v = xrealloc(v, cap * sizeof(*v));
			}
			v[n].p = msg + off;
			v[n].len = end - off;
			v[n].namelen = 0;
			n++;
		}
		off = end;
	}
	for (size_t i = 0; i < n; i++)
		v[i].namelen = ISWSP(v[i].p[0]) ? 0 : field_namelen(v[i].p, v[i].len);
	*fields = v;
	*nfields = n;
	return off;
}
