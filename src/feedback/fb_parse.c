/* fb_parse: reads what comes back to hermod's bounce and feedback addresses
 * (see fb_parse.h). DESIGN: the MIME walker (fb_mime.c) lists the leaves of
 * the message once; the report is then read from the first leaf that
 * carries one: message/delivery-status or message/global-delivery-status
 * (RFC 3464, 6533), message/feedback-report (RFC 5965), with the returned
 * original from the message/rfc822 or text/rfc822-headers leaf that follows
 * it (when a message holds both kinds, the one its multipart/report
 * report-type names wins). A message with neither, or a DSN that names no
 * recipient, goes to the text readers (fb_text.c), which know the wording
 * of the mail systems that send no usable DSN. Field groups are
 * read leniently (comments, folds, types, odd case, blank lines that are not
 * quite blank) because the reports come from every MTA ever written; every
 * read is capped, so any input costs time linear in its size. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "feedback/fb_int.h"
#include "mime/mime_addr.h"
#include "util/xalloc.h"

struct fb_rcpt *
fb_rcpt_add(struct fb_report *r)
{
	struct fb_rcpt *p;

	if (r->nrcpt >= FB_PARSE_MAX_RCPTS)
		return NULL;
	r->rcpts = xrealloc(r->rcpts, (r->nrcpt + 1) * sizeof(*r->rcpts));
	p = &r->rcpts[r->nrcpt++];
	memset(p, 0, sizeof(*p));
	return p;
}

/* str_set() replaces *dst with the unfolded value (NULL when empty). */
static void
str_set(char **dst, const char *v, size_t n)
{
	struct buf b = { 0 };

	fb_unfold(v, n, &b);
	free(*dst);
	*dst = b.len ? buf_steal(&b, NULL) : NULL;
	buf_free(&b);
}

/* typed_set() sets *dst from a "type; host" field (Reporting-MTA: dns;
 * host): comments, the type and a final dot go, the name stays. */
static void
typed_set(char **dst, const char *v, size_t n)
{
	struct buf u = { 0 }, c = { 0 };
	const char *p, *semi;
	size_t len;

	fb_unfold(v, n, &u);
	fb_uncomment(u.data ? u.data : "", u.len, &c);
	len = c.len;
	p = fb_trim(c.data, &len);
	semi = memchr(p, ';', len);
	if (semi != NULL) {
		len -= (size_t)(semi + 1 - p);
		p = fb_trim(semi + 1, &len);
	}
	/* A host name may be written absolute ("mx.example."). */
	while (len > 0 && p[len - 1] == '.')
		len--;
	free(*dst);
	*dst = len ? xstrndup(p, len) : NULL;
	buf_free(&u);
	buf_free(&c);
}

/* token_set() sets *dst to the first word of the value, lower case. */
static void
token_set(char **dst, const char *v, size_t n)
{
	struct buf c = { 0 };
	const char *p;
	size_t len, k = 0;

	fb_uncomment(v, n, &c);
	len = c.len;
	p = fb_trim(c.data, &len);
	while (k < len && !isspace((unsigned char)p[k]) && p[k] != ';')
		k++;
	free(*dst);
	*dst = NULL;
	if (k > 0) {
		*dst = xstrndup(p, k);
		for (char *s = *dst; *s; s++)
			*s = (char)tolower((unsigned char)*s);
	}
	buf_free(&c);
}

/* diag_set() reads a Diagnostic-Code: "smtp; 550 5.1.1 text". The type goes;
 * the reply code and an enhanced status right after it are picked up. */
static void
diag_set(struct fb_rcpt *rc, const char *v, size_t n)
{
	struct buf u = { 0 };
	const char *p, *semi;
	size_t len, i;
	int smtp = 0, atom = 1;
	char st[16];

	fb_unfold(v, n, &u);
	len = u.len;
	p = fb_trim(u.data ? u.data : "", &len);
	semi = memchr(p, ';', len);
	if (semi != NULL) {
		for (i = 0; p + i < semi && atom; i++)
			if (!(isalnum((unsigned char)p[i]) || p[i] == '-' || p[i] == '.' || p[i] == '_' ||
			    p[i] == ' '))
				atom = 0;
		if (atom && semi > p) {
			smtp = semi - p >= 4 && strncasecmp(p, "smtp", 4) == 0;
			len -= (size_t)(semi + 1 - p);
			p = fb_trim(semi + 1, &len);
		}
	}
	free(rc->diagnostic);
	rc->diagnostic = len ? xstrndup(p, len) : NULL;
	if (rc->diagnostic != NULL)
		fb_reply_join(rc->diagnostic);
	/* The code must open the text ("smtp; 550 ..."); other types
	 * ("X-Postfix; ...", "X-Unix; ...") may carry one too. */
	if (len >= 3 && (p[0] == '2' || p[0] == '4' || p[0] == '5') && isdigit((unsigned char)p[1]) &&
	    isdigit((unsigned char)p[2]) && (len == 3 || p[3] == ' ' || p[3] == '-')) {
		rc->smtp_code = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
		if (rc->status[0] == '\0' && len > 4 && fb_enhanced(p + 4, len - 4, st))
			memcpy(rc->status, st, sizeof(st));
	} else if (smtp || rc->status[0] == '\0') {
		int code;

		/* Elsewhere in the text a number is a code only in an
		 * SMTP diagnostic ("smtp; host said: 550 ..."). */
		fb_smtp_scan(p, len, &code, st);
		if (smtp && code != 0 && rc->smtp_code == 0)
			rc->smtp_code = code;
		if (rc->status[0] == '\0' && st[0])
			memcpy(rc->status, st, sizeof(st));
	}
	buf_free(&u);
}

static void
status_set(struct fb_rcpt *rc, const char *v, size_t n)
{
	struct buf c = { 0 };
	const char *p;
	size_t len;
	char st[16];

	fb_uncomment(v, n, &c);
	len = c.len;
	p = fb_trim(c.data, &len);
	if (fb_enhanced(p, len, st) > 0)
		memcpy(rc->status, st, sizeof(st));
	buf_free(&c);
}

static void
rcpt_free(struct fb_rcpt *p)
{
	free(p->recipient);
	free(p->original_recipient);
	free(p->action);
	free(p->diagnostic);
	free(p->remote_mta);
	free(p->last_attempt);
	free(p->will_retry_until);
	memset(p, 0, sizeof(*p));
}

/* dsn_read() reads a delivery-status body: field groups separated by blank
 * lines. A group with Final- or Original-Recipient is a recipient; the
 * per-message fields are taken from whichever group has them. */
static void
dsn_read(const char *s, size_t n, struct fb_report *r)
{
	size_t pos = 0;

	/* Each turn reads one group and moves pos past it. */
	while (pos < n && r->nrcpt < FB_PARSE_MAX_RCPTS) {
		struct fb_rcpt rc = { 0 };
		struct fb_field f;
		char *final = NULL;

		while (fb_field_next(s, n, &pos, &f)) {
			if (fb_field_is(&f, "reporting-mta") && r->reporting_mta == NULL)
				typed_set(&r->reporting_mta, f.value, f.valuelen);
			else if (fb_field_is(&f, "original-envelope-id") && r->envelope_id == NULL)
				str_set(&r->envelope_id, f.value, f.valuelen);
			else if (fb_field_is(&f, "arrival-date") && r->arrival_date == NULL)
				str_set(&r->arrival_date, f.value, f.valuelen);
			else if (fb_field_is(&f, "final-recipient") && final == NULL)
				final = fb_addr(f.value, f.valuelen);
			else if (fb_field_is(&f, "original-recipient") && rc.original_recipient == NULL)
				rc.original_recipient = fb_addr(f.value, f.valuelen);
			else if (fb_field_is(&f, "action") && rc.action == NULL)
				token_set(&rc.action, f.value, f.valuelen);
			else if (fb_field_is(&f, "status"))
				status_set(&rc, f.value, f.valuelen);
			else if (fb_field_is(&f, "diagnostic-code") && rc.diagnostic == NULL)
				diag_set(&rc, f.value, f.valuelen);
			else if (fb_field_is(&f, "remote-mta") && rc.remote_mta == NULL)
				typed_set(&rc.remote_mta, f.value, f.valuelen);
			else if (fb_field_is(&f, "last-attempt-date") && rc.last_attempt == NULL)
				str_set(&rc.last_attempt, f.value, f.valuelen);
			else if (fb_field_is(&f, "will-retry-until") && rc.will_retry_until == NULL)
				str_set(&rc.will_retry_until, f.value, f.valuelen);
		}
		if (final != NULL || rc.original_recipient != NULL) {
			struct fb_rcpt *p;

			rc.recipient = final ? final : xstrdup(rc.original_recipient);
			final = NULL;
			if ((p = fb_rcpt_add(r)) != NULL) {
				*p = rc;
				continue;
			}
		}
		free(final);
		rcpt_free(&rc);
	}
}

/* arf_read() reads a message/feedback-report body (RFC 5965 3.1). */
static void
arf_read(const char *s, size_t n, struct fb_report *r)
{
	size_t pos = 0, groups = 0;
	struct fb_field f;

	r->incidents = 1;
	while (pos < n && groups++ < 16) {
		while (fb_field_next(s, n, &pos, &f)) {
			if (fb_field_is(&f, "feedback-type") && r->feedback_type == NULL)
				token_set(&r->feedback_type, f.value, f.valuelen);
			else if (fb_field_is(&f, "user-agent") && r->user_agent == NULL)
				str_set(&r->user_agent, f.value, f.valuelen);
			else if (fb_field_is(&f, "original-mail-from") && r->orig_return_path == NULL)
				r->orig_return_path = fb_addr(f.value, f.valuelen);
			else if (fb_field_is(&f, "original-rcpt-to") && r->orig_rcpt_to == NULL)
				r->orig_rcpt_to = fb_addr(f.value, f.valuelen);
			else if ((fb_field_is(&f, "arrival-date") || fb_field_is(&f, "received-date")) &&
			    r->arrival_date == NULL)
				str_set(&r->arrival_date, f.value, f.valuelen);
			else if (fb_field_is(&f, "reporting-mta") && r->reporting_mta == NULL)
				typed_set(&r->reporting_mta, f.value, f.valuelen);
			else if (fb_field_is(&f, "source-ip") && r->source_ip == NULL)
				token_set(&r->source_ip, f.value, f.valuelen);
			else if (fb_field_is(&f, "incidents")) {
				char *t = NULL;

				token_set(&t, f.value, f.valuelen);
				if (t != NULL && isdigit((unsigned char)t[0]) && strlen(t) < 10)
					r->incidents = (unsigned)strtoul(t, NULL, 10);
				free(t);
			}
		}
	}
}

/* msgid_set() keeps the Message-ID without comments, blanks and brackets. */
static void
msgid_set(char **dst, const char *v, size_t n)
{
	struct buf u = { 0 }, c = { 0 }, o = { 0 };
	size_t i;

	fb_unfold(v, n, &u);
	fb_uncomment(u.data ? u.data : "", u.len, &c);
	for (i = 0; i < c.len; i++)
		if (!isspace((unsigned char)c.data[i]) && c.data[i] != '<' && c.data[i] != '>')
			buf_putc(&o, c.data[i]);
	*dst = o.len ? buf_steal(&o, NULL) : NULL;
	buf_free(&u);
	buf_free(&c);
	buf_free(&o);
}

/* orig_read() takes the header block of the returned original at s. */
static void
orig_read(const char *s, size_t n, struct fb_report *r)
{
	struct fb_field f;
	size_t pos = 0, end = 0, nf = 0;

	if (n > FB_ORIG_MAX)
		n = FB_ORIG_MAX;
	/* A text bounce may quote the header with a blank line or two first. */
	while (pos < n && (s[pos] == '\r' || s[pos] == '\n'))
		pos++;
	s += pos;
	n -= pos;
	pos = 0;
	while (fb_field_next(s, n, &pos, &f)) {
		nf++;
		end = pos;
		if (fb_field_is(&f, "message-id") && r->orig_message_id == NULL)
			msgid_set(&r->orig_message_id, f.value, f.valuelen);
		else if (fb_field_is(&f, "return-path") && r->orig_return_path == NULL)
			r->orig_return_path = fb_addr(f.value, f.valuelen);
		else if (fb_field_is(&f, "from") && r->orig_from == NULL)
			str_set(&r->orig_from, f.value, f.valuelen);
		else if (fb_field_is(&f, "subject") && r->orig_subject == NULL)
			str_set(&r->orig_subject, f.value, f.valuelen);
		else if (fb_field_is(&f, "to") && r->kind == FB_ARF && r->orig_rcpt_to == NULL) {
			struct mime_addr_list l;
			const char *why;

			/* No Original-Rcpt-To (often redacted): the To: of the
			 * original, when it names one address. */
			if (mime_addr_parse(f.value, f.valuelen, 1, &l, &why) == 0) {
				if (l.n == 1)
					r->orig_rcpt_to = fb_addr(l.v[0].addr, strlen(l.v[0].addr));
				mime_addr_list_free(&l);
			}
		}
	}
	if (nf > 0 && r->orig_headers == NULL)
		r->orig_headers = xstrndup(s, end);
}

static int
is_report_part(const char *type, enum fb_kind *kind)
{
	if (strcmp(type, "message/delivery-status") == 0 ||
	    strcmp(type, "message/global-delivery-status") == 0) {
		*kind = FB_DSN;
		return 1;
	}
	if (strcmp(type, "message/feedback-report") == 0) {
		*kind = FB_ARF;
		return 1;
	}
	return 0;
}

static int
is_orig_part(const char *type)
{
	return strcmp(type, "message/rfc822") == 0 || strcmp(type, "message/global") == 0 ||
	    strcmp(type, "text/rfc822-headers") == 0 || strcmp(type, "message/global-headers") == 0 ||
	    strcmp(type, "message/rfc822-headers") == 0 || strcmp(type, "text/rfc822") == 0;
}

/* part_orig() reads the returned original from the first original-looking
 * leaf at or after index from. */
static void
part_orig(const struct fb_mime *m, size_t from, struct fb_report *r)
{
	for (size_t i = from; i < m->nparts; i++)
		if (is_orig_part(m->parts[i].type)) {
			struct buf d = { 0 };

			fb_decode(&m->parts[i], FB_ORIG_MAX, &d);
			orig_read(d.data, d.len, r);
			buf_free(&d);
			return;
		}
}

/* html_text() appends an HTML body as text: tags dropped, block tags and
 * <br> as line ends, the common entities decoded. Enough for the wording
 * the text readers look for when a bounce has no text/plain part. */
static void
html_text(const char *s, size_t n, struct buf *out)
{
	static const struct { const char *ent; char c; } ents[] = {
		{ "&nbsp;", ' ' }, { "&lt;", '<' }, { "&gt;", '>' }, { "&amp;", '&' },
		{ "&quot;", '"' }, { "&#39;", '\'' }, { "&#x27;", '\'' }, { "&apos;", '\'' },
	};
	size_t i, k;

	for (i = 0; i < n && out->len < FB_TEXT_MAX; i++) {
		if (s[i] == '<') {
			size_t j = i + 1;
			int block;

			while (j < n && s[j] == '/')
				j++;
			block = (n - j >= 2 && (strncasecmp(s + j, "br", 2) == 0 ||
			    strncasecmp(s + j, "p", 1) == 0 || strncasecmp(s + j, "div", 3) == 0 ||
			    strncasecmp(s + j, "tr", 2) == 0 || strncasecmp(s + j, "li", 2) == 0 ||
			    strncasecmp(s + j, "h", 1) == 0));
			while (j < n && s[j] != '>')
				j++;
			if (block)
				buf_putc(out, '\n');
			i = j;
			continue;
		}
		if (s[i] == '\n' || s[i] == '\r') {
			buf_putc(out, ' ');
			continue;
		}
		if (s[i] == '&') {
			for (k = 0; k < sizeof(ents) / sizeof(ents[0]); k++) {
				size_t el = strlen(ents[k].ent);

				if (n - i >= el && strncasecmp(s + i, ents[k].ent, el) == 0) {
					buf_putc(out, ents[k].c);
					i += el - 1;
					break;
				}
			}
			if (k < sizeof(ents) / sizeof(ents[0]))
				continue;
		}
		buf_putc(out, s[i]);
	}
}

/* bounce_text() gathers the text of the message for the text readers: the
 * text/plain leaves decoded, else the HTML ones as text; LF line ends. */
static void
bounce_text(const struct fb_mime *m, struct buf *out)
{
	struct buf raw = { 0 };
	size_t i, k;

	for (int html = 0; html < 2 && raw.len == 0; html++)
		for (i = 0; i < m->nparts && raw.len < FB_TEXT_MAX; i++) {
			const struct fb_part *p = &m->parts[i];

			if (!html && strcmp(p->type, "text/plain") == 0) {
				fb_decode(p, FB_TEXT_MAX - raw.len, &raw);
				buf_putc(&raw, '\n');
			} else if (html && strcmp(p->type, "text/html") == 0) {
				struct buf d = { 0 };

				fb_decode(p, FB_TEXT_MAX, &d);
				html_text(d.data, d.len, &raw);
				buf_putc(&raw, '\n');
				buf_free(&d);
			}
		}
	buf_reserve(out, raw.len + 1);
	for (k = 0; k < raw.len; k++) {
		char c = raw.data[k];

		if (c == '\r') {
			if (k + 1 < raw.len && raw.data[k + 1] == '\n')
				continue;
			c = '\n';
		}
		/* Room was reserved: no per-byte call on this hot path. */
		out->data[out->len++] = c == '\0' ? ' ' : c;
	}
	out->data[out->len] = '\0';
	buf_free(&raw);
}

/* text_read() tries the text readers; 0 when one recognised the message. */
static int
text_read(const char *msg, size_t len, const struct fb_mime *m, struct fb_report *r)
{
	struct buf subj = { 0 }, text = { 0 };
	const char *orig = NULL;
	size_t origlen = 0;
	int rc;

	fb_header_get(msg, len, "subject", &subj);
	bounce_text(m, &text);
	rc = fb_text_parse(subj.data ? subj.data : "", text.data, text.len, r, &orig, &origlen);
	if (rc == 0) {
		part_orig(m, 0, r);
		if (r->orig_headers == NULL && orig != NULL)
			orig_read(orig, origlen, r);
	}
	buf_free(&subj);
	buf_free(&text);
	return rc;
}

int
fb_parse(const char *msg, size_t len, struct fb_report *out)
{
	struct fb_mime *m;
	enum fb_kind kind = FB_NONE;
	size_t i, at = 0;
	int rc = 0, chosen_named = 0;

	memset(out, 0, sizeof(*out));
	if (msg == NULL)
		return -1;
	if (len > FB_PARSE_MAX_MSG)
		len = FB_PARSE_MAX_MSG;
	m = xmalloc(sizeof(*m));	/* fb_mime_walk() zeroes it */
	fb_mime_walk(msg, len, m);
	/* The report the multipart/report announces, else the first. */
	for (i = 0; i < m->nparts; i++) {
		enum fb_kind k;
		int named;

		if (!is_report_part(m->parts[i].type, &k))
			continue;
		named = k == FB_ARF ? strcmp(m->report_type, "feedback-report") == 0 :
		    strcmp(m->report_type, "delivery-status") == 0 ||
		    strcmp(m->report_type, "global-delivery-status") == 0;
		if (kind == FB_NONE || (named && !chosen_named)) {
			kind = k;
			at = i;
			chosen_named = named;
		}
	}
	if (kind != FB_NONE) {
		struct buf d = { 0 };

		out->kind = kind;
		out->format = kind == FB_DSN ? "rfc3464" : "rfc5965";
		fb_decode(&m->parts[at], FB_PARSE_MAX_MSG, &d);
		if (kind == FB_DSN)
			dsn_read(d.data, d.len, out);
		else
			arf_read(d.data, d.len, out);
		buf_free(&d);
		part_orig(m, at + 1, out);
		/* A DSN that names no recipient: its text may. */
		if (kind == FB_DSN && out->nrcpt == 0) {
			struct fb_report t;

			memset(&t, 0, sizeof(t));
			if (text_read(msg, len, m, &t) == 0) {
				out->rcpts = t.rcpts;
				out->nrcpt = t.nrcpt;
				t.rcpts = NULL;
				t.nrcpt = 0;
			}
			fb_report_free(&t);
		}
	} else if (text_read(msg, len, m, out) != 0) {
		fb_report_free(out);
		rc = -1;
	}
	free(m);
	return rc;
}

void
fb_report_free(struct fb_report *r)
{
	size_t i;

	for (i = 0; i < r->nrcpt; i++)
		rcpt_free(&r->rcpts[i]);
	free(r->rcpts);
	free(r->reporting_mta);
	free(r->envelope_id);
	free(r->arrival_date);
	free(r->orig_message_id);
	free(r->orig_return_path);
	free(r->orig_from);
	free(r->orig_subject);
	free(r->feedback_type);
	free(r->user_agent);
	free(r->source_ip);
	free(r->orig_rcpt_to);
	free(r->orig_headers);
	memset(r, 0, sizeof(*r));
}
