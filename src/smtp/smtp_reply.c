/* smtp_reply: the pure SMTP reply parser of the delivery client, and the
 * reader of EHLO extensions. A remote server is as untrusted as a client:
 * every line, every reply is capped, codes must be well-formed and agree
 * across the lines of a reply, and what goes into text is printable. */
#include "smtp/smtp_reply.h"

#include <string.h>
#include <strings.h>

static int
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* status_len() returns the length of an RFC 3463 enhanced status code of
 * class cls at the start of s ("5.1.1", "4.7.0"...), followed by SP or the
 * end of s, or 0 when there is none. */
static size_t
status_len(const char *s, size_t n, int cls)
{
	size_t i = 0, k;
	int part;

	if (n < 5 || s[0] != '0' + cls || s[1] != '.')
		return 0;
	i = 2;
	for (part = 0; part < 2; part++) {
		if (part == 1) {
			if (i >= n || s[i] != '.')
				return 0;
			i++;
		}
		for (k = 0; i < n && is_digit(s[i]) && k < 3; k++)
			i++;
		if (k == 0 || (i < n && is_digit(s[i])))
			return 0;
	}
	if (i < n && s[i] != ' ')
		return 0;
	return i;
}

/* append_text() adds one line's text, control bytes replaced: the text ends
 * up in logs, events and bounce messages. */
static void
append_text(struct buf *b, const char *s, size_t n)
{
	size_t i;

	buf_reserve(b, n);
	for (i = 0; i < n; i++) {
		unsigned char c = s[i];

		b->data[b->len++] = (c < 32 && c != '\t') || c == 127 ? '?' : (char)c;
	}
	b->data[b->len] = '\0';
}

enum smtp_reply_rc
smtp_reply_parse(struct smtp_reply_state *st, const char *buf, size_t len, size_t *consumed,
    struct smtp_reply *out)
{
	size_t pos = 0;

	memset(out, 0, sizeof(*out));
	*consumed = 0;
	if (st->done) {
		st->code = 0;
		st->nlines = 0;
		st->total = 0;
		st->done = 0;
		st->status[0] = '\0';
		buf_reset(&st->text);
	}
	while (pos < len) {
		const char *p = buf + pos, *lf, *text;
		size_t n = len - pos, linelen, end, textlen, sl;
		int code;

		lf = memchr(p, '\n', n < SMTP_REPLY_LINE_MAX ? n : SMTP_REPLY_LINE_MAX);
		if (lf == NULL) {
			if (n >= SMTP_REPLY_LINE_MAX)
				goto fail;	/* line too long */
			break;
		}
		linelen = lf - p + 1;
		end = lf - p;
		if (end > 0 && p[end - 1] == '\r')
			end--;
		if (end < 3 || p[0] < '2' || p[0] > '5' || p[1] < '0' || p[1] > '5' || !is_digit(p[2]))
			goto fail;
		if (end > 3 && p[3] != ' ' && p[3] != '-')
			goto fail;
		code = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
		if (st->code != 0 && code != st->code)
			goto fail;
		st->code = code;
		st->total += linelen;
		if (++st->nlines > SMTP_REPLY_LINES_MAX || st->total > SMTP_REPLY_TOTAL_MAX)
			goto fail;
		text = end > 3 ? p + 4 : p + end;
		textlen = end > 3 ? end - 4 : 0;
		if (st->nlines == 1 && (sl = status_len(text, textlen, code / 100)) > 0 &&
		    sl < sizeof(st->status)) {
			memcpy(st->status, text, sl);
			st->status[sl] = '\0';
		}
		/* Drop the status code from each line that repeats it. */
		sl = strlen(st->status);
		if (sl > 0 && textlen >= sl && memcmp(text, st->status, sl) == 0 &&
		    (textlen == sl || text[sl] == ' ')) {
			text += textlen == sl ? sl : sl + 1;
			textlen -= textlen == sl ? sl : sl + 1;
		}
		if (st->nlines > 1)
			buf_putc(&st->text, '\n');
		append_text(&st->text, text, textlen);
		pos += linelen;
		if (end == 3 || p[3] == ' ') {
			st->done = 1;
			out->code = st->code;
			memcpy(out->status, st->status, sizeof(out->status));
			if (st->text.data == NULL)
				buf_reserve(&st->text, 1);
			out->text = st->text.data;
			out->textlen = st->text.len;
			out->nlines = st->nlines;
			*consumed = pos;
			return SMTP_REPLY_DONE;
		}
	}
	*consumed = pos;
	return SMTP_REPLY_MORE;
fail:
	/* *consumed stops before the offending line, for the log. */
	*consumed = pos;
	return SMTP_REPLY_ERROR;
}

void
smtp_reply_free(struct smtp_reply_state *st)
{
	buf_free(&st->text);
	memset(st, 0, sizeof(*st));
}

static const struct {
	const char	*name;
	unsigned	 flag;
} ehlo_table[] = {
	{ "PIPELINING",			SMTP_EXT_PIPELINING },
	{ "SIZE",			SMTP_EXT_SIZE },
	{ "8BITMIME",			SMTP_EXT_8BITMIME },
	{ "SMTPUTF8",			SMTP_EXT_SMTPUTF8 },
	{ "STARTTLS",			SMTP_EXT_STARTTLS },
	{ "CHUNKING",			SMTP_EXT_CHUNKING },
	{ "DSN",			SMTP_EXT_DSN },
	{ "ENHANCEDSTATUSCODES",	SMTP_EXT_ENHANCEDSTATUSCODES },
	{ "AUTH",			SMTP_EXT_AUTH },
	{ "BINARYMIME",			SMTP_EXT_BINARYMIME },
	{ "REQUIRETLS",			SMTP_EXT_REQUIRETLS },
};

static const struct {
	const char	*name;
	unsigned	 flag;
} auth_table[] = {
	{ "PLAIN",		SMTP_AUTH_PLAIN },
	{ "LOGIN",		SMTP_AUTH_LOGIN },
	{ "CRAM-MD5",		SMTP_AUTH_CRAM_MD5 },
	{ "XOAUTH2",		SMTP_AUTH_XOAUTH2 },
	{ "SCRAM-SHA-256",	SMTP_AUTH_SCRAM_SHA_256 },
};

/* word_is() compares the n bytes at s with the NUL-terminated name. */
static int
word_is(const char *s, size_t n, const char *name)
{
	return strlen(name) == n && strncasecmp(s, name, n) == 0;
}

/* ehlo_line() reads one extension line: keyword, then parameters. */
static void
ehlo_line(const char *s, size_t n, struct smtp_ehlo *e)
{
	size_t kw = 0, i, j;
	unsigned flag = 0;

	while (kw < n && s[kw] != ' ' && s[kw] != '=')
		kw++;
	for (i = 0; i < sizeof(ehlo_table) / sizeof(ehlo_table[0]); i++)
		if (word_is(s, kw, ehlo_table[i].name))
			flag = ehlo_table[i].flag;
	if (flag == 0)
		return;
	e->ext |= flag;
	i = kw < n ? kw + 1 : n;
	if (flag == SMTP_EXT_SIZE) {
		uint64_t v = 0;

		for (j = i; j < n && is_digit(s[j]); j++) {
			if (v > (UINT64_MAX - (s[j] - '0')) / 10)
				return;
			v = v * 10 + (s[j] - '0');
		}
		if (j > i && j == n)
			e->size = v;
	} else if (flag == SMTP_EXT_AUTH) {
		while (i < n) {
			size_t w = i;

			while (w < n && s[w] != ' ')
				w++;
			for (j = 0; j < sizeof(auth_table) / sizeof(auth_table[0]); j++)
				if (word_is(s + i, w - i, auth_table[j].name))
					e->auth |= auth_table[j].flag;
			i = w + 1;
		}
	}
}

void
smtp_reply_ehlo(const char *text, size_t len, struct smtp_ehlo *e)
{
	const char *p = text, *end = text + len, *nl;

	memset(e, 0, sizeof(*e));
	nl = memchr(p, '\n', len);
	if (nl == NULL)
		return;		/* the greeting line only: no extensions */
	p = nl + 1;
	while (p < end) {
		nl = memchr(p, '\n', end - p);
		if (nl == NULL)
			nl = end;
		ehlo_line(p, nl - p, e);
		p = nl + 1;
	}
}
