/* mime_rcpt: header scanning and address lists for `sendmail -t` (see
 * mime_rcpt.h). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mime/mime_rcpt.h"
#include "smtp/smtp_parse.h"
#include "util/buf.h"
#include "util/xalloc.h"

static int
finish_elem(struct buf *plain, struct buf *angle, int had_angle,
    int (*fn)(const char *addr, void *arg), void *arg, char **bad)
{
	struct buf *a = had_angle ? angle : plain;
	size_t b = 0, e = a->len;

	while (b < e && (a->data[b] == ' ' || a->data[b] == '\t'))
		b++;
	while (e > b && (a->data[e - 1] == ' ' || a->data[e - 1] == '\t'))
		e--;
	if (e == b) {
		if (had_angle) {	/* "<>" is no recipient */
			*bad = xstrdup("<>");
			return -1;
		}
		return 0;		/* an empty element: "a, , b" or an empty group */
	}
	{
		char *addr = xstrndup(a->data + b, e - b);
		int rc = 0;
		if (smtp_mailbox_valid(addr, strlen(addr), 1) == 0 || fn(addr, arg) != 0) {
			*bad = addr;
			return -1;
		}
		free(addr);
		return rc;
	}
}

int
mime_addr_list_each(const char *s, size_t n, int (*fn)(const char *addr, void *arg),
    void *arg, char **bad)
{
	struct buf plain = { 0 }, angle = { 0 };
	size_t i;
	int quoted = 0, comment = 0, in_angle = 0, had_angle = 0, rc = -1;

	*bad = NULL;
	for (i = 0; i <= n; i++) {
		char c = i < n ? s[i] : '\0';
		struct buf *cur = in_angle ? &angle : &plain;

		if (i < n && (c == '\r' || c == '\n'))
			continue;			/* folding */
		if (i < n && c == '\0')
			goto out;
		if (quoted) {
			if (i == n)
				goto out;
			buf_putc(cur, c);
			if (c == '\\' && i + 1 < n)
				buf_putc(cur, s[++i]);
			else if (c == '"')
				quoted = 0;
			continue;
		}
		if (comment) {
			if (i == n)
				goto out;
			if (c == '\\' && i + 1 < n)
				i++;
			else if (c == '(')
				comment++;
			else if (c == ')')
				comment--;
			continue;
		}
		if (i == n || (!in_angle && (c == ',' || c == ';'))) {
			if (in_angle)
				goto out;
			if (finish_elem(&plain, &angle, had_angle, fn, arg, bad) < 0)
				goto out;
			buf_reset(&plain);
			buf_reset(&angle);
			had_angle = 0;
			continue;
		}
		switch (c) {
		case '"':
			quoted = 1;
			buf_putc(cur, c);
			break;
		case '(':
			comment = 1;
			break;
		case '<':
			if (in_angle || had_angle)
				goto out;
			in_angle = had_angle = 1;
			break;
		case '>':
			if (!in_angle)
				goto out;
			in_angle = 0;
			break;
		case ':':
			if (in_angle) {
				buf_putc(cur, c);	/* route syntax: refused by the mailbox check */
			} else if (!had_angle) {
				buf_reset(&plain);	/* a group's display name */
			} else {
				goto out;
			}
			break;
		case ' ':
		case '\t':
			/* Outside angle brackets whitespace separates display-name
			 * words; an addr-spec holds none outside quotes, so it is
			 * dropped (obsolete FWS around dots included). */
			if (in_angle)
				buf_putc(cur, c);
			break;
		default:
			if (!in_angle && had_angle)
				goto out;		/* text after "<...>" */
			buf_putc(cur, c);
			break;
		}
	}
	rc = 0;
out:
	if (rc < 0 && *bad == NULL)
		*bad = xstrndup(s, n > 200 ? 200 : n);
	buf_free(&plain);
	buf_free(&angle);
	return rc;
}

struct collect {
	struct mime_rcpt *r;
	int		 from;
};

static int
collect(const char *addr, void *arg)
{
	struct collect *c = arg;
	struct mime_rcpt *r = c->r;
	size_t i;

	if (c->from) {
		if (r->from == NULL)
			r->from = xstrdup(addr);
		return 0;
	}
	for (i = 0; i < r->nrcpt; i++)
		if (strcasecmp(r->rcpt[i], addr) == 0)
			return 0;
	if (r->nrcpt >= MIME_RCPT_MAX)
		return -1;
	r->rcpt = xrealloc(r->rcpt, (r->nrcpt + 2) * sizeof *r->rcpt);
	r->rcpt[r->nrcpt++] = xstrdup(addr);
	r->rcpt[r->nrcpt] = NULL;
	return 0;
}

/* line_end() returns the offset after the line starting at off (its LF
 * included), and the length without CR LF in *content. */
static size_t
line_end(const char *m, size_t len, size_t off, size_t *content)
{
	const char *lf = memchr(m + off, '\n', len - off);
	size_t e = lf ? (size_t)(lf - m) : len;

	*content = e - off;
	if (*content > 0 && m[e - 1] == '\r')
		(*content)--;
	return lf ? e + 1 : len;
}

int
mime_rcpt_scan(const char *msg, size_t len, struct mime_rcpt *out, const char **why, char **bad)
{
	size_t off = 0, content, next;

	memset(out, 0, sizeof *out);
	*bad = NULL;
	*why = NULL;
	/* An mbox "From " line some programs write first is not a header. */
	if (len >= 5 && memcmp(msg, "From ", 5) == 0)
		off = line_end(msg, len, 0, &content);
	while (off < len) {
		size_t start = off, namelen, i, fend;
		const char *colon;
		struct buf val = { 0 };

		if (off > MIME_RCPT_HEADER_MAX) {
			*why = "header section too large";
			return -1;
		}
		next = line_end(msg, len, off, &content);
		if (content == 0) {		/* the blank line */
			out->header_end = next;
			return 0;
		}
		if (msg[off] == ' ' || msg[off] == '\t') {
			*why = "a continuation line without a header field";
			return -1;
		}
		colon = memchr(msg + off, ':', content);
		if (colon == NULL) {
			*why = "a header line without a colon";
			return -1;
		}
		namelen = (size_t)(colon - (msg + off));
		while (namelen > 0 && (msg[off + namelen - 1] == ' ' || msg[off + namelen - 1] == '\t'))
			namelen--;
		for (i = 0; i < namelen; i++) {
			unsigned char ch = (unsigned char)msg[off + i];
			if (ch < 33 || ch > 126) {
				*why = "a bad header field name";
				return -1;
			}
		}
		if (namelen == 0) {
			*why = "a bad header field name";
			return -1;
		}
		/* the field body: rest of the line plus continuation lines */
		buf_append(&val, colon + 1, off + content - (size_t)(colon - msg) - 1);
		fend = next;
		while (fend < len && (msg[fend] == ' ' || msg[fend] == '\t')) {
			size_t c2, n2 = line_end(msg, len, fend, &c2);
			buf_append(&val, msg + fend, c2);
			fend = n2;
		}
#define IS(name) (namelen == sizeof(name) - 1 && strncasecmp(msg + start, name, namelen) == 0)
		if (IS("To") || IS("Cc") || IS("Bcc") || IS("From")) {
			struct collect c = { out, IS("From") };
			if (mime_addr_list_each(val.data ? val.data : "", val.len, collect, &c, bad) < 0) {
				*why = IS("From") ? "a bad From: address" : "a bad recipient address";
				buf_free(&val);
				return -1;
			}
			if (IS("Bcc")) {
				out->bcc = xrealloc(out->bcc, (out->nbcc + 1) * sizeof *out->bcc);
				out->bcc[out->nbcc].off = start;
				out->bcc[out->nbcc++].len = fend - start;
			}
		} else if (IS("Date")) {
			out->has_date = 1;
		} else if (IS("Message-ID")) {
			out->has_message_id = 1;
		}
#undef IS
		buf_free(&val);
		off = fend;
	}
	out->header_end = len;		/* headers only, no body */
	return 0;
}

void
mime_rcpt_free(struct mime_rcpt *r)
{
	size_t i;

	for (i = 0; i < r->nrcpt; i++)
		free(r->rcpt[i]);
	free(r->rcpt);
	free(r->from);
	free(r->bcc);
	memset(r, 0, sizeof *r);
}
