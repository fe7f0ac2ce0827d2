/* mime_build: writes a MIME message from a struct mime_msg (see mime_build.h
 * for the structure and why we do not use GMime).
 *
 * Header lines go through a small folding writer (struct hdrw) that knows
 * the current column and folds before a token that would pass 78 octets.
 * Boundaries are "=_hm_<token>_<kind>": "=_" can occur neither in
 * quoted-printable (where "=" is always followed by two hex digits or a line
 * end) nor in base64, so no body can contain a delimiter line. */
#include <ctype.h>
#include <idn2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mime/mime_build.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

/* The folding header writer. */
struct hdrw {
	struct buf	*out;
	size_t		 col;
	int		 first;		/* no token written after "Name:" yet */
};

static void
hw_begin(struct hdrw *w, struct buf *out, const char *name)
{
	w->out = out;
	buf_puts(out, name);
	buf_putc(out, ':');
	w->col = strlen(name) + 1;
	w->first = 1;
}

/* hw_token() writes a separating space (or a fold) and the token. Empty
 * tokens never cause a fold: a folded line must not be whitespace only. */
static void
hw_token(struct hdrw *w, const char *s, size_t n)
{
	if (n > 0 && w->col + 1 + n > MIME_LINE_PREFERRED && w->col > 1 && !(w->first && w->col < 12)) {
		buf_puts(w->out, "\r\n ");
		w->col = 1;
	} else {
		buf_putc(w->out, ' ');
		w->col++;
	}
	buf_append(w->out, s, n);
	w->col += n;
	w->first = 0;
}

/* hw_append() glues text to the last token (a comma, a parameter). */
static void
hw_append(struct hdrw *w, const char *s)
{
	buf_puts(w->out, s);
	w->col += strlen(s);
}

static void
hw_end(struct hdrw *w)
{
	buf_puts(w->out, "\r\n");
}

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void
b64_chunk(struct buf *out, const unsigned char *p, size_t n)
{
	size_t i;
	char *w;

	buf_reserve(out, n / 3 * 4 + 8);
	w = out->data + out->len;
	for (i = 0; i + 2 < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
		*w++ = b64chars[v >> 18];
		*w++ = b64chars[(v >> 12) & 63];
		*w++ = b64chars[(v >> 6) & 63];
		*w++ = b64chars[v & 63];
	}
	out->len = (size_t)(w - out->data);
	*w = '\0';
	if (n - i == 1) {
		unsigned v = (unsigned)p[i] << 16;
		char q[4] = { b64chars[v >> 18], b64chars[(v >> 12) & 63], '=', '=' };
		buf_append(out, q, 4);
	} else if (n - i == 2) {
		unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8;
		char q[4] = { b64chars[v >> 18], b64chars[(v >> 12) & 63], b64chars[(v >> 6) & 63], '=' };
		buf_append(out, q, 4);
	}
}

void
mime_base64_encode(struct buf *out, const unsigned char *p, size_t n)
{
	size_t off = 0;

	/* 57 input bytes make one 76-character line. */
	buf_reserve(out, (n / 57 + 1) * 78 + 8);
	while (off < n) {
		size_t k = n - off < 57 ? n - off : 57;
		if (off > 0)
			buf_puts(out, "\r\n");
		b64_chunk(out, p + off, k);
		off += k;
	}
}

/* utf8_cut() returns the largest prefix length <= max that does not split a
 * UTF-8 sequence (continuation bytes are 10xxxxxx). */
static size_t
utf8_cut(const unsigned char *p, size_t n, size_t max)
{
	size_t k;

	if (n <= max)
		return n;
	k = max;
	while (k > 0 && (p[k] & 0xc0) == 0x80)
		k--;
	return k > 0 ? k : max;
}

/* hw_encoded() writes s as RFC 2047 B encoded words, each at most 75
 * octets, sized to fill the current line first. */
static void
hw_encoded(struct hdrw *w, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t off = 0;
	struct buf tok = { 0 };

	while (off < n) {
		size_t room = MIME_LINE_PREFERRED > w->col + 1 + 12 ? MIME_LINE_PREFERRED - w->col - 1 - 12 : 0;
		size_t bytes = room / 4 * 3;
		size_t k;

		if (bytes > 45)
			bytes = 45;
		if (bytes < 9)
			bytes = 45;	/* hw_token() will fold first */
		k = utf8_cut(p + off, n - off, bytes);
		buf_reset(&tok);
		buf_puts(&tok, "=?UTF-8?B?");
		b64_chunk(&tok, p + off, k);
		buf_puts(&tok, "?=");
		hw_token(w, tok.data, tok.len);
		off += k;
	}
	buf_free(&tok);
}

static int
is_ascii_print(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

static int
has_8bit(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return 1;
	return 0;
}

/* Plain text can be written as is when it is printable ASCII, holds nothing
 * a decoder would take for an encoded word, and no word is too long. */
static int
plain_ok(const char *s)
{
	size_t run = 0;

	if (!is_ascii_print(s) || strstr(s, "=?") != NULL)
		return 0;
	for (; *s; s++) {
		run = *s == ' ' ? 0 : run + 1;
		if (run > MIME_LINE_MAX - 80)
			return 0;
	}
	return 1;
}

static void
hw_plain_words(struct hdrw *w, const char *s)
{
	for (;;) {
		const char *sp = strchr(s, ' ');
		size_t n = sp ? (size_t)(sp - s) : strlen(s);
		hw_token(w, s, n);
		if (!sp)
			break;
		s = sp + 1;
	}
}

void
mime_header_unstructured(struct buf *out, const char *name, const char *value)
{
	struct hdrw w;

	hw_begin(&w, out, name);
	if (plain_ok(value))
		hw_plain_words(&w, value);
	else
		hw_encoded(&w, value, strlen(value));
	hw_end(&w);
}

static int
is_atext(int c)
{
	return isalnum(c) || (c && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* hw_phrase() writes a display name: atoms as they are, quoted when they
 * hold specials, encoded words when not ASCII. */
static void
hw_phrase(struct hdrw *w, const char *name)
{
	const char *p;
	int atoms = 1;
	struct buf q = { 0 };

	if (!plain_ok(name)) {
		hw_encoded(w, name, strlen(name));
		return;
	}
	for (p = name; *p; p++)
		if (!is_atext((unsigned char)*p) && *p != ' ')
			atoms = 0;
	if (atoms && name[0] != ' ' && strstr(name, "  ") == NULL && name[strlen(name) - 1] != ' ') {
		hw_plain_words(w, name);
		return;
	}
	buf_putc(&q, '"');
	for (p = name; *p; p++) {
		if (*p == '"' || *p == '\\')
			buf_putc(&q, '\\');
		buf_putc(&q, *p);
	}
	buf_putc(&q, '"');
	hw_token(w, q.data, q.len);
	buf_free(&q);
}

int
mime_domain_to_ascii(const char *domain, char *out, size_t outlen)
{
	char *a = NULL;
	size_t i, n;

	if (domain[0] == '[') {		/* address literal: as is */
		n = strlen(domain);
		if (n + 1 > outlen)
			return -1;
		memcpy(out, domain, n + 1);
		return 0;
	}
	if (has_8bit(domain)) {
		if (idn2_to_ascii_8z(domain, &a, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL) != IDN2_OK)
			return -1;
	} else {
		a = xstrdup(domain);
	}
	n = strlen(a);
	if (n == 0 || n + 1 > outlen) {
		free(a);
		return -1;
	}
	for (i = 0; i <= n; i++)
		out[i] = (char)tolower((unsigned char)a[i]);
	free(a);
	return 0;
}

/* addr_ascii_domain() gives the address with its domain as an A-label. */
static int
addr_ascii_domain(const char *email, struct buf *out, unsigned *flags)
{
	const char *at = strrchr(email, '@');
	char dom[256];

	if (at == NULL || at == email || mime_domain_to_ascii(at + 1, dom, sizeof dom) < 0)
		return -1;
	buf_append(out, email, (size_t)(at - email));
	buf_putc(out, '@');
	buf_puts(out, dom);
	if (has_8bit(out->data))
		*flags |= MIME_F_SMTPUTF8;
	return 0;
}

static int
hw_mailbox(struct hdrw *w, const struct mime_mailbox *a, int last, unsigned *flags)
{
	struct buf e = { 0 };

	if (a->name != NULL && a->name[0] != '\0') {
		hw_phrase(w, a->name);
		buf_putc(&e, '<');
	}
	if (addr_ascii_domain(a->email, &e, flags) < 0) {
		buf_free(&e);
		return -1;
	}
	if (a->name != NULL && a->name[0] != '\0')
		buf_putc(&e, '>');
	if (!last)
		buf_putc(&e, ',');
	hw_token(w, e.data, e.len);
	buf_free(&e);
	return 0;
}

static int
write_addr_header(struct buf *out, const char *name, const struct mime_mailbox *v, size_t n,
    unsigned *flags, const char *field, char **why)
{
	struct hdrw w;
	size_t i;

	hw_begin(&w, out, name);
	for (i = 0; i < n; i++) {
		if (hw_mailbox(&w, &v[i], i + 1 == n, flags) < 0) {
			*why = n > 1 || strcmp(field, "from") != 0 ? xasprintf("%s[%zu]", field, i) :
			    xstrdup(field);
			return -1;
		}
	}
	hw_end(&w);
	return 0;
}

void
mime_qp_encode(struct buf *out, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i = 0, col = 0;
	char *w;

	/* At most 3 octets an input byte, plus a 3-octet soft break per 24
	 * input bytes: reserve once and write in place (this is the hot loop
	 * of a batch). */
	buf_reserve(out, n * 4 + 16);
	w = out->data + out->len;
	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		char tok[3];
		size_t tl;
		int eol;

		/* A line break in any convention becomes CRLF. */
		if (c == '\r' || c == '\n') {
			i += (c == '\r' && i + 1 < n && s[i + 1] == '\n') ? 2 : 1;
			*w++ = '\r';
			*w++ = '\n';
			col = 0;
			continue;
		}
		eol = i + 1 == n || s[i + 1] == '\r' || s[i + 1] == '\n';
		if ((c >= 33 && c <= 126 && c != '=' && !(c == '.' && col == 0)) ||
		    ((c == ' ' || c == '\t') && !eol)) {
			tok[0] = (char)c;
			tl = 1;
		} else {
			tok[0] = '=';
			tok[1] = hex[c >> 4];
			tok[2] = hex[c & 15];
			tl = 3;
		}
		/* Soft break so no line passes 76 octets, "=" included. */
		if (col + tl > 75 && !(eol && col + tl <= 76)) {
			*w++ = '=';
			*w++ = '\r';
			*w++ = '\n';
			col = 0;
			if (tok[0] == '.') {	/* a dot now starts a line */
				tok[0] = '=';
				tok[1] = '2';
				tok[2] = 'E';
				tl = 3;
			}
		}
		memcpy(w, tok, tl);
		w += tl;
		col += tl;
		i++;
	}
	out->len = (size_t)(w - out->data);
	*w = '\0';
}

int
mime_header_name_valid(const char *name)
{
	size_t n = strlen(name);
	const char *p;

	if (n == 0 || n > 76)
		return 0;
	for (p = name; *p; p++)
		if ((unsigned char)*p < 33 || (unsigned char)*p > 126 || *p == ':')
			return 0;
	return 1;
}

int
mime_header_owned(const char *name)
{
	static const char *const owned[] = {
		"From", "Sender", "To", "Cc", "Bcc", "Reply-To", "Subject", "Date", "Message-ID",
		"MIME-Version", "DKIM-Signature", "ARC-Seal", "ARC-Message-Signature",
		"ARC-Authentication-Results", "Authentication-Results", "Received",
		"Return-Path", "Delivered-To", "In-Reply-To-Hermod", "Resent-From", "Resent-To",
		"Resent-Cc", "Resent-Bcc", "Resent-Date", "Resent-Message-ID", "Resent-Sender",
		"Content-Transfer-Encoding", NULL,
	};
	size_t i;

	if (strncasecmp(name, "Content-", 8) == 0)
		return 1;
	for (i = 0; owned[i]; i++)
		if (strcasecmp(name, owned[i]) == 0)
			return 1;
	return 0;
}

static int
is_token_char(int c)
{
	return c > 32 && c < 127 && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

int
mime_content_type_valid(const char *ct)
{
	const char *p = ct;
	size_t n;

	for (n = 0; is_token_char((unsigned char)*p); p++, n++)
		;
	if (n == 0 || *p != '/')
		return 0;
	for (p++, n = 0; is_token_char((unsigned char)*p); p++, n++)
		;
	return n > 0 && *p == '\0' && p - ct <= 127;
}

static int
dot_atom_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || s[0] == '.' || s[n - 1] == '.')
		return 0;
	for (i = 0; i < n; i++) {
		if (s[i] == '.' ? s[i + 1] == '.' : !is_atext((unsigned char)s[i]))
			return 0;
	}
	return 1;
}

int
mime_content_id_valid(const char *cid)
{
	const char *at = strchr(cid, '@');
	size_t n = strlen(cid);

	if (n == 0 || n > 250)
		return 0;
	if (at == NULL)
		return dot_atom_ok(cid, n);
	return dot_atom_ok(cid, (size_t)(at - cid)) && dot_atom_ok(at + 1, strlen(at + 1));
}

/* The part tree. */
enum node_kind { NODE_TEXT, NODE_HTML, NODE_PART, NODE_MULTI };

struct node {
	enum node_kind	 kind;
	const struct mime_part *part;
	const char	*subtype;	/* NODE_MULTI: alternative, related, mixed */
	const char	*related_type;	/* multipart/related: the root's type */
	struct node	*kids;
	size_t		 nkids;
};

/* Writes a filename parameter: quoted when ASCII, RFC 2231 otherwise. */
static void
hw_filename(struct hdrw *w, const char *param, const char *filename)
{
	static const char hex[] = "0123456789ABCDEF";
	struct buf t = { 0 };
	const unsigned char *p;

	buf_puts(&t, param);
	if (is_ascii_print(filename)) {
		buf_puts(&t, "=\"");
		for (p = (const unsigned char *)filename; *p; p++) {
			if (*p == '"' || *p == '\\')
				buf_putc(&t, '\\');
			buf_putc(&t, (char)*p);
		}
		buf_putc(&t, '"');
	} else {
		buf_puts(&t, "*=UTF-8''");
		for (p = (const unsigned char *)filename; *p; p++) {
			if (isalnum(*p) || strchr("!#$&+-.^_`|~", *p) != NULL) {
				buf_putc(&t, (char)*p);
			} else {
				buf_putc(&t, '%');
				buf_putc(&t, hex[*p >> 4]);
				buf_putc(&t, hex[*p & 15]);
			}
		}
	}
	hw_append(w, ";");
	hw_token(w, t.data, t.len);
	buf_free(&t);
}

static void
write_entity(struct buf *out, const struct node *n, const char *token, int depth)
{
	struct hdrw w;
	size_t i;

	switch (n->kind) {
	case NODE_TEXT:
	case NODE_HTML: {
		const char *body = n->kind == NODE_TEXT ? n->part->filename : n->part->content_type;
		buf_puts(out, n->kind == NODE_TEXT ? "Content-Type: text/plain; charset=utf-8\r\n" :
		    "Content-Type: text/html; charset=utf-8\r\n");
		buf_puts(out, "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
		mime_qp_encode(out, body, strlen(body));
		break;
	}
	case NODE_PART: {
		const struct mime_part *p = n->part;
		hw_begin(&w, out, "Content-Type");
		hw_token(&w, p->content_type, strlen(p->content_type));
		if (p->filename != NULL)
			hw_filename(&w, "name", p->filename);
		hw_end(&w);
		hw_begin(&w, out, "Content-Disposition");
		hw_token(&w, p->content_id ? "inline" : "attachment", p->content_id ? 6 : 10);
		if (p->filename != NULL)
			hw_filename(&w, "filename", p->filename);
		hw_end(&w);
		if (p->content_id != NULL)
			buf_printf(out, "Content-ID: <%s>\r\n", p->content_id);
		buf_puts(out, "Content-Transfer-Encoding: base64\r\n\r\n");
		mime_base64_encode(out, p->data, p->len);
		break;
	}
	case NODE_MULTI: {
		char boundary[96];
		snprintf(boundary, sizeof boundary, "=_hm_%.40s_%c%d", token, n->subtype[0], depth);
		buf_printf(out, "Content-Type: multipart/%s;\r\n", n->subtype);
		if (n->related_type != NULL)
			buf_printf(out, " type=\"%s\";\r\n", n->related_type);
		buf_printf(out, " boundary=\"%s\"\r\n\r\n", boundary);
		for (i = 0; i < n->nkids; i++) {
			buf_printf(out, "%s--%s\r\n", i ? "\r\n" : "", boundary);
			write_entity(out, &n->kids[i], token, depth + 1);
		}
		buf_printf(out, "\r\n--%s--\r\n", boundary);
		break;
	}
	}
}

int
mime_build(const struct mime_msg *m, struct buf *out, unsigned *flags, char **why)
{
	char date[64];
	struct mime_part textp = { 0 }, htmlp = { 0 };
	struct node leaves[2], alt = { 0 }, rel = { 0 }, mix = { 0 };
	struct node *relkids = NULL, *mixkids = NULL, *body;
	size_t nleaves = 0, ninline = 0, i, k;
	int rc = -1;

	*flags = 0;
	*why = NULL;
	if (m->text == NULL && m->html == NULL) {
		*why = xstrdup("text");
		return -1;
	}
	if (m->prefix != NULL)
		buf_puts(out, m->prefix);
	time_rfc5322(m->date_ms, date, sizeof date);
	buf_printf(out, "Date: %s\r\n", date);
	if (write_addr_header(out, "From", &m->from, 1, flags, "from", why) < 0)
		return -1;
	if (m->nreply_to > 0 &&
	    write_addr_header(out, "Reply-To", m->reply_to, m->nreply_to, flags, "reply_to", why) < 0)
		return -1;
	if (m->nto > 0 && write_addr_header(out, "To", m->to, m->nto, flags, "to", why) < 0)
		return -1;
	if (m->ncc > 0 && write_addr_header(out, "Cc", m->cc, m->ncc, flags, "cc", why) < 0)
		return -1;
	if (m->nto == 0 && m->ncc == 0)
		buf_puts(out, "To: undisclosed-recipients:;\r\n");
	if (m->subject != NULL && m->subject[0] != '\0') {
		if (strchr(m->subject, '\r') || strchr(m->subject, '\n')) {
			*why = xstrdup("subject");
			return -1;
		}
		mime_header_unstructured(out, "Subject", m->subject);
	}
	buf_printf(out, "Message-ID: <%s>\r\n", m->message_id);
	buf_puts(out, "MIME-Version: 1.0\r\n");
	for (i = 0; i < m->nheaders; i++) {
		const struct mime_header *h = &m->headers[i];
		if (!mime_header_name_valid(h->name) || mime_header_owned(h->name) ||
		    strchr(h->value, '\r') || strchr(h->value, '\n')) {
			*why = xasprintf("headers.%s", h->name);
			return -1;
		}
		mime_header_unstructured(out, h->name, h->value);
	}

	/* The tree: text parts are carried in a mime_part (filename = text). */
	if (m->text != NULL) {
		textp.filename = m->text;
		leaves[nleaves++] = (struct node){ .kind = NODE_TEXT, .part = &textp };
	}
	if (m->html != NULL) {
		htmlp.content_type = m->html;
		leaves[nleaves++] = (struct node){ .kind = NODE_HTML, .part = &htmlp };
	}
	if (nleaves == 2) {
		alt = (struct node){ .kind = NODE_MULTI, .subtype = "alternative", .kids = leaves,
		    .nkids = 2 };
		body = &alt;
	} else {
		body = &leaves[0];
	}
	for (i = 0; i < m->nparts; i++)
		if (m->parts[i].content_id != NULL)
			ninline++;
	if (ninline > 0) {
		relkids = xcalloc(ninline + 1, sizeof *relkids);
		relkids[0] = *body;
		for (i = 0, k = 1; i < m->nparts; i++)
			if (m->parts[i].content_id != NULL)
				relkids[k++] = (struct node){ .kind = NODE_PART, .part = &m->parts[i] };
		rel = (struct node){ .kind = NODE_MULTI, .subtype = "related", .kids = relkids,
		    .nkids = ninline + 1,
		    .related_type = body == &alt ? "multipart/alternative" :
		    body->kind == NODE_HTML ? "text/html" : "text/plain" };
		body = &rel;
	}
	if (m->nparts > ninline) {
		mixkids = xcalloc(m->nparts - ninline + 1, sizeof *mixkids);
		mixkids[0] = *body;
		for (i = 0, k = 1; i < m->nparts; i++)
			if (m->parts[i].content_id == NULL)
				mixkids[k++] = (struct node){ .kind = NODE_PART, .part = &m->parts[i] };
		mix = (struct node){ .kind = NODE_MULTI, .subtype = "mixed", .kids = mixkids,
		    .nkids = k };
		body = &mix;
	}
	for (i = 0; i < m->nparts; i++) {
		if (!mime_content_type_valid(m->parts[i].content_type) ||
		    (m->parts[i].content_id && !mime_content_id_valid(m->parts[i].content_id)) ||
		    (m->parts[i].filename && (strchr(m->parts[i].filename, '\r') ||
		    strchr(m->parts[i].filename, '\n')))) {
			*why = xasprintf("attachments[%zu]", i);
			goto out;
		}
	}
	write_entity(out, body, m->boundary_token, 0);
	if (out->len < 2 || memcmp(out->data + out->len - 2, "\r\n", 2) != 0)
		buf_puts(out, "\r\n");
	rc = 0;
out:
	free(relkids);
	free(mixkids);
	return rc;
}
