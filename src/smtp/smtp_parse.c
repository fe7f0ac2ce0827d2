/* smtp_parse: the pure parsers of the SMTP server: command lines, commands
 * with their paths and ESMTP parameters, the DATA body decoder, the BDAT
 * argument. No I/O and no allocation: everything works on the caller's bytes.
 *
 * DESIGN. Everything a client sends is hostile until proven otherwise, so
 * each parser accepts the strict grammar and nothing around it:
 *  - a line ends at CRLF only; a CR or LF on its own is reported, never
 *    guessed at (SMTP smuggling feeds on servers that guess);
 *  - a mailbox is RFC 5321 section 4.1.2 (RFC 6531 with UTF-8), checked in one
 *    recursive-descent pass that never looks back, so the length of the input
 *    bounds the work;
 *  - source routes (<@a,@b:user@d>) are accepted as syntax and stripped, as
 *    RFC 5321 section 4.1.1.3 asks ("MUST accept ... and SHOULD ignore");
 *  - <Postmaster> without a domain is refused: hermod has no local mailboxes;
 *  - general address literals ([tag:text]) are refused: none is registered
 *    beyond IPv6;
 *  - an empty local part ("") is refused although the grammar allows it.
 * The DATA decoder is a byte-at-a-time state machine with no lookahead, so it
 * gives the same answer however the input is split into chunks. */
#include "smtp/smtp_parse.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

/* ---- character classes ------------------------------------------------ */

static int
is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* atext of RFC 5322 section 3.2.3, the characters of a dot-atom local part. */
static int
is_atext(unsigned char c)
{
	return is_alpha(c) || is_digit(c) || (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

size_t
smtp_utf8_len(const unsigned char *s, size_t len)
{
	unsigned char c;
	uint32_t cp;
	size_t n, i;

	if (len == 0)
		return 0;
	c = s[0];
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
	} else
		return 0;	/* continuation byte, overlong lead, or past U+10FFFF */
	if (len < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;	/* overlong, surrogate, or out of range */
	return n;
}

/* ---- mailboxes ----------------------------------------------------------- */

struct mbscan {
	const unsigned char *s;
	size_t	 len;
	size_t	 pos;
	int	 allow_utf8;
	int	 utf8;		/* saw a non-ASCII character */
};

/* scan_utf8() takes one valid non-ASCII UTF-8 character if allowed. */
static int
scan_utf8(struct mbscan *m)
{
	size_t n;

	if (!m->allow_utf8 || m->pos >= m->len || m->s[m->pos] < 0x80)
		return 0;
	n = smtp_utf8_len(m->s + m->pos, m->len - m->pos);
	if (n < 2)
		return 0;
	m->pos += n;
	m->utf8 = 1;
	return 1;
}

/* scan_dot_atom() takes atext *( "." atext ) for a local part. */
static int
scan_dot_atom(struct mbscan *m)
{
	size_t start = m->pos;

	for (;;) {
		size_t atom = m->pos;

		while (m->pos < m->len) {
			if (is_atext(m->s[m->pos]))
				m->pos++;
			else if (!scan_utf8(m))
				break;
		}
		if (m->pos == atom)
			return 0;	/* empty atom: leading, trailing or double dot */
		if (m->pos < m->len && m->s[m->pos] == '.')
			m->pos++;
		else
			break;
	}
	return m->pos > start;
}

/* scan_quoted() takes an RFC 5321 Quoted-string: qtextSMTP is printable
 * ASCII but '"' and '\', quoted-pairSMTP is '\' and printable ASCII. */
static int
scan_quoted(struct mbscan *m)
{
	size_t start = m->pos;

	if (m->pos >= m->len || m->s[m->pos] != '"')
		return 0;
	m->pos++;
	while (m->pos < m->len) {
		unsigned char c = m->s[m->pos];

		if (c == '"') {
			m->pos++;
			return m->pos - start > 2;	/* "" names no one */
		}
		if (c == '\\') {
			if (m->pos + 1 >= m->len || m->s[m->pos + 1] < 32 || m->s[m->pos + 1] > 126)
				return 0;
			m->pos += 2;
		} else if (c >= 32 && c <= 126)
			m->pos++;
		else if (!scan_utf8(m))
			return 0;	/* CR, LF, NUL, controls, bad UTF-8 */
	}
	return 0;			/* unbalanced quote */
}

/* scan_domain() takes sub-domain *( "." sub-domain ): letters, digits and
 * inner hyphens (U-labels with UTF-8), labels of 1..63 octets, the whole at
 * most SMTP_DOMAIN_MAX. No trailing dot. */
static int
scan_domain(struct mbscan *m)
{
	size_t start = m->pos;

	for (;;) {
		size_t label = m->pos;

		while (m->pos < m->len) {
			unsigned char c = m->s[m->pos];

			if (is_alpha(c) || is_digit(c) || c == '-')
				m->pos++;
			else if (!scan_utf8(m))
				break;
		}
		if (m->pos == label || m->pos - label > 63 || m->s[label] == '-' ||
		    m->s[m->pos - 1] == '-')
			return 0;
		if (m->pos < m->len && m->s[m->pos] == '.')
			m->pos++;
		else
			break;
	}
	return m->pos - start <= SMTP_DOMAIN_MAX;
}

/* ipv4_valid() checks strict dotted-quad: four decimal numbers 0..255, no
 * leading zeros (which some stacks read as octal). */
static int
ipv4_valid(const unsigned char *s, size_t len)
{
	size_t i = 0;
	int part;

	for (part = 0; part < 4; part++) {
		size_t start = i;
		unsigned v = 0;

		if (part > 0) {
			if (i >= len || s[i] != '.')
				return 0;
			start = ++i;
		}
		while (i < len && is_digit(s[i]) && i - start < 3)
			v = v * 10 + (s[i++] - '0');
		if (i == start || v > 255 || (i - start > 1 && s[start] == '0'))
			return 0;
	}
	return i == len;
}

/* scan_literal() takes "[" IPv4 "]" or "[IPv6:" address "]". */
static int
scan_literal(struct mbscan *m)
{
	size_t start = m->pos, end;
	char tmp[64];
	unsigned char v6[16];

	if (m->pos >= m->len || m->s[m->pos] != '[')
		return 0;
	for (end = start + 1; end < m->len && m->s[end] != ']'; end++)
		if (m->s[end] == '[' || m->s[end] == '\\' || m->s[end] < 33 || m->s[end] > 126)
			return 0;
	if (end >= m->len)
		return 0;			/* unbalanced bracket */
	start++;
	if (end - start > 5 && strncasecmp((const char *)m->s + start, "IPv6:", 5) == 0) {
		size_t n = end - start - 5;

		if (n >= sizeof(tmp))
			return 0;
		memcpy(tmp, m->s + start + 5, n);
		tmp[n] = '\0';
		if (inet_pton(AF_INET6, tmp, v6) != 1)
			return 0;
	} else if (!ipv4_valid(m->s + start, end - start))
		return 0;
	m->pos = end + 1;
	return 1;
}

/* scan_mailbox() takes Local-part "@" ( Domain / address-literal ). */
static int
scan_mailbox(struct mbscan *m)
{
	size_t start = m->pos;

	if (m->pos < m->len && m->s[m->pos] == '"') {
		if (!scan_quoted(m))
			return 0;
	} else if (!scan_dot_atom(m))
		return 0;
	if (m->pos - start > SMTP_LOCAL_MAX)
		return 0;
	if (m->pos >= m->len || m->s[m->pos] != '@')
		return 0;
	m->pos++;
	if (m->pos < m->len && m->s[m->pos] == '[')
		return scan_literal(m);
	return scan_domain(m);
}

int
smtp_mailbox_valid(const char *s, size_t len, int allow_utf8)
{
	struct mbscan m = { (const unsigned char *)s, len, 0, allow_utf8, 0 };

	if (len > SMTP_PATH_MAX - 2 || !scan_mailbox(&m) || m.pos != len)
		return 0;
	return m.utf8 ? 2 : 1;
}

const char *
smtp_mailbox_domain(const char *mailbox)
{
	const char *at = strrchr(mailbox, '@');

	return at ? at + 1 : NULL;
}

/* ---- lines --------------------------------------------------------------- */

enum smtp_line_rc
smtp_line_next(const char *buf, size_t len, size_t *linelen, size_t *consumed)
{
	size_t i;

	*linelen = 0;
	*consumed = 0;
	for (i = 0; i < len; i++) {
		if (buf[i] == '\n') {
			*linelen = i;
			*consumed = i + 1;
			return SMTP_LINE_BARE;
		}
		if (buf[i] == '\r') {
			if (i + 1 == len)
				return SMTP_LINE_PARTIAL;
			*linelen = i;
			if (buf[i + 1] == '\n') {
				*consumed = i + 2;
				return SMTP_LINE_OK;
			}
			*consumed = i + 1;
			return SMTP_LINE_BARE;
		}
		if (i >= SMTP_LINE_MAX - 2)
			break;		/* 999th octet of text: no room for CRLF */
	}
	if (i < len) {
		/* Too long: hand back every leading byte that holds no CR or LF, so
		 * the caller never splits a CRLF and never buffers the line. */
		while (i < len && buf[i] != '\r' && buf[i] != '\n')
			i++;
		*consumed = i;
		*linelen = i;
		return SMTP_LINE_TOOLONG;
	}
	return SMTP_LINE_PARTIAL;
}

/* ---- commands ------------------------------------------------------------ */

enum arg_kind {
	ARG_NONE,		/* nothing may follow the verb */
	ARG_OPT,		/* free text may follow */
	ARG_REQ,		/* free text must follow */
	ARG_MAIL,		/* FROM:<path> params */
	ARG_RCPT,		/* TO:<path> params */
};

static const struct {
	const char	*name;
	enum smtp_verb	 verb;
	enum arg_kind	 arg;
} smtp_cmd_table[] = {
	{ "EHLO",	SMTP_CMD_EHLO,		ARG_REQ },
	{ "HELO",	SMTP_CMD_HELO,		ARG_REQ },
	{ "MAIL",	SMTP_CMD_MAIL,		ARG_MAIL },
	{ "RCPT",	SMTP_CMD_RCPT,		ARG_RCPT },
	{ "DATA",	SMTP_CMD_DATA,		ARG_NONE },
	{ "BDAT",	SMTP_CMD_BDAT,		ARG_REQ },
	{ "RSET",	SMTP_CMD_RSET,		ARG_NONE },
	{ "NOOP",	SMTP_CMD_NOOP,		ARG_OPT },
	{ "QUIT",	SMTP_CMD_QUIT,		ARG_NONE },
	{ "VRFY",	SMTP_CMD_VRFY,		ARG_REQ },
	{ "EXPN",	SMTP_CMD_EXPN,		ARG_REQ },
	{ "HELP",	SMTP_CMD_HELP,		ARG_OPT },
	{ "STARTTLS",	SMTP_CMD_STARTTLS,	ARG_NONE },
	{ "AUTH",	SMTP_CMD_AUTH,		ARG_REQ },
};

/* is_keyword() checks esmtp-keyword: (ALPHA / DIGIT) *(ALPHA / DIGIT / "-"). */
static int
is_keyword(const unsigned char *s, size_t n)
{
	size_t i;

	if (n == 0 || !(is_alpha(s[0]) || is_digit(s[0])))
		return 0;
	for (i = 1; i < n; i++)
		if (!(is_alpha(s[i]) || is_digit(s[i]) || s[i] == '-'))
			return 0;
	return 1;
}

/* is_value() checks esmtp-value: printable ASCII but "=" and SP (RFC 5321),
 * or valid UTF-8 (RFC 6531 section 3.3). */
static int
is_value(const unsigned char *s, size_t n)
{
	size_t i = 0;

	if (n == 0)
		return 0;
	while (i < n) {
		if (s[i] >= 33 && s[i] <= 126 && s[i] != '=')
			i++;
		else if (s[i] >= 0x80) {
			size_t k = smtp_utf8_len(s + i, n - i);

			if (k < 2)
				return 0;
			i += k;
		} else
			return 0;
	}
	return 1;
}

/* parse_params() splits "key[=value] key[=value]..." (already past the path
 * and its separating space) in place. */
static enum smtp_cmd_rc
parse_params(char *p, char *end, struct smtp_cmd *cmd, const char **why)
{
	while (p < end) {
		char *tok = p, *eq, *tend;
		size_t i;

		while (p < end && *p != ' ')
			p++;
		tend = p;
		while (p < end && *p == ' ')
			p++;
		if (tend == tok)
			continue;
		if (cmd->nparams == SMTP_PARAMS_MAX) {
			*why = "too many parameters";
			return SMTP_CMD_EPARAM;
		}
		eq = memchr(tok, '=', tend - tok);
		if (!is_keyword((unsigned char *)tok, (eq ? eq : tend) - tok)) {
			*why = "bad parameter keyword";
			return SMTP_CMD_EPARAM;
		}
		if (eq && !is_value((unsigned char *)eq + 1, tend - eq - 1)) {
			*why = "bad parameter value";
			return SMTP_CMD_EPARAM;
		}
		*tend = '\0';
		if (eq)
			*eq = '\0';
		for (i = 0; i < cmd->nparams; i++)
			if (strcasecmp(cmd->params[i].key, tok) == 0) {
				*why = "duplicate parameter";
				return SMTP_CMD_EPARAM;
			}
		cmd->params[cmd->nparams].key = tok;
		cmd->params[cmd->nparams].value = eq ? eq + 1 : NULL;
		cmd->nparams++;
	}
	return SMTP_CMD_OK;
}

/* parse_path() parses "<" [ A-d-l ":" ] Mailbox ">" or "<>" at p, sets
 * cmd->path (NUL-terminated in place) and returns where the path ends. */
static char *
parse_path(char *p, char *end, int allow_empty, struct smtp_cmd *cmd, const char **why)
{
	struct mbscan m = { (const unsigned char *)p, end - p, 0, 1, 0 };
	size_t mstart;

	if (m.len == 0 || p[0] != '<') {
		*why = "path must be in angle brackets";
		return NULL;
	}
	m.pos = 1;
	if (m.len >= 2 && p[1] == '>') {
		if (!allow_empty) {
			*why = "empty path";
			return NULL;
		}
		p[1] = '\0';
		cmd->path = p + 1;
		return p + 2;
	}
	/* A-d-l = At-domain *( "," At-domain ): accepted, then ignored. */
	if (p[1] == '@') {
		for (;;) {
			m.pos++;	/* the "@" */
			if (!scan_domain(&m))
				goto bad;
			if (m.pos < m.len && p[m.pos] == ',' && m.pos + 1 < m.len && p[m.pos + 1] == '@') {
				m.pos++;
				continue;
			}
			if (m.pos < m.len && p[m.pos] == ':') {
				m.pos++;
				break;
			}
			goto bad;
		}
	}
	mstart = m.pos;
	m.utf8 = 0;	/* the route is gone: only the mailbox counts */
	if (!scan_mailbox(&m))
		goto bad;
	if (m.pos >= m.len || p[m.pos] != '>')
		goto bad;
	if (m.pos + 1 > SMTP_PATH_MAX) {
		*why = "path too long";
		return NULL;
	}
	p[m.pos] = '\0';
	cmd->path = p + mstart;
	cmd->path_utf8 = m.utf8;
	return p + m.pos + 1;
bad:
	*why = "bad address syntax";
	return NULL;
}

/* parse_mailrcpt() parses "FROM:" / "TO:", the path and the parameters. */
static enum smtp_cmd_rc
parse_mailrcpt(char *p, char *end, struct smtp_cmd *cmd, int mail, const char **why)
{
	const char *kw = mail ? "FROM:" : "TO:";
	size_t kwlen = strlen(kw);
	char *q;

	if ((size_t)(end - p) < kwlen || strncasecmp(p, kw, kwlen) != 0) {
		*why = mail ? "Syntax: MAIL FROM:<address>" : "Syntax: RCPT TO:<address>";
		return SMTP_CMD_ESYNTAX;
	}
	p += kwlen;
	while (p < end && *p == ' ')	/* "FROM: <a@b>", as Postfix tolerates */
		p++;
	q = parse_path(p, end, mail, cmd, why);
	if (q == NULL)
		return SMTP_CMD_EPATH;
	if (q < end && *q != ' ') {
		*why = "junk after address";
		return SMTP_CMD_EPATH;
	}
	return parse_params(q, end, cmd, why);
}

enum smtp_cmd_rc
smtp_cmd_parse(char *line, size_t len, struct smtp_cmd *cmd, const char **why)
{
	char *end = line + len, *p, *verb_end;
	size_t i, vlen;
	int kind = -1;

	memset(cmd, 0, sizeof(*cmd));
	cmd->arg = "";
	*why = "";
	for (verb_end = line; verb_end < end && *verb_end != ' '; verb_end++)
		;
	vlen = verb_end - line;
	for (i = 0; i < sizeof(smtp_cmd_table) / sizeof(smtp_cmd_table[0]); i++)
		if (strlen(smtp_cmd_table[i].name) == vlen &&
		    strncasecmp(smtp_cmd_table[i].name, line, vlen) == 0) {
			cmd->verb = smtp_cmd_table[i].verb;
			kind = smtp_cmd_table[i].arg;
			break;
		}
	/* Controls (NUL, CR, LF, ESC...) have no business in a command line;
	 * refusing them here keeps them out of every later consumer. */
	for (i = 0; i < len; i++) {
		unsigned char c = line[i];

		if ((c < 32 && c != '\t') || c == 127) {
			*why = "control character in command";
			return kind == ARG_MAIL || kind == ARG_RCPT ? SMTP_CMD_EPARAM : SMTP_CMD_ESYNTAX;
		}
	}
	if (kind < 0) {
		*why = "command unrecognized";
		return SMTP_CMD_ESYNTAX;
	}
	/* Trailing blanks are a common client quirk and carry no meaning. */
	while (end > line && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*end = '\0';
	if (verb_end > end)
		verb_end = end;
	p = verb_end;
	while (p < end && *p == ' ')
		p++;
	*verb_end = '\0';
	cmd->arg = p;
	switch (kind) {
	case ARG_NONE:
		if (p < end) {
			*why = "no parameters allowed";
			return SMTP_CMD_ESYNTAX;
		}
		return SMTP_CMD_OK;
	case ARG_OPT:
		return SMTP_CMD_OK;
	case ARG_REQ:
		if (p == end) {
			*why = "parameter required";
			return SMTP_CMD_ESYNTAX;
		}
		return SMTP_CMD_OK;
	case ARG_MAIL:
		return parse_mailrcpt(p, end, cmd, 1, why);
	default:
		return parse_mailrcpt(p, end, cmd, 0, why);
	}
}

const struct smtp_param *
smtp_cmd_param(const struct smtp_cmd *cmd, const char *key)
{
	size_t i;

	for (i = 0; i < cmd->nparams; i++)
		if (strcasecmp(cmd->params[i].key, key) == 0)
			return &cmd->params[i];
	return NULL;
}

int
smtp_bdat_parse_arg(const char *arg, uint64_t *size, int *last)
{
	const char *p = arg;
	uint64_t v = 0;

	*size = 0;
	*last = 0;
	if (!is_digit(*p))
		return -1;
	for (; is_digit(*p); p++) {
		unsigned d = *p - '0';

		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (*p == ' ') {
		while (*p == ' ')
			p++;
		if (strcasecmp(p, "LAST") != 0)
			return -1;
		*last = 1;
	} else if (*p != '\0')
		return -1;
	*size = v;
	return 0;
}

/* ---- DATA ---------------------------------------------------------------- */

enum data_state {
	D_BOL,		/* at the beginning of a line (also the initial state) */
	D_TEXT,		/* inside a line */
	D_CR,		/* a CR inside a line, an LF must follow */
	D_DOT,		/* "." at the beginning of a line */
	D_DOTCR,	/* ".\r" at the beginning of a line, LF ends the message */
	D_DONE,
};

/* data_emit() appends decoded bytes while out stays within max; the size
 * counts on regardless so the caller can answer 552 with the real figure. */
static void
data_emit(struct smtp_data *d, struct buf *out, const char *p, size_t n, uint64_t max)
{
	d->size += n;
	if (d->bare || n == 0 || out->len >= max)
		return;
	if (n > max - out->len)
		n = max - out->len;
	buf_append(out, p, n);
}

enum smtp_data_rc
smtp_data_feed(struct smtp_data *d, const char *in, size_t len, size_t *consumed,
    struct buf *out, uint64_t max)
{
	size_t i, run = 0;	/* in[run..i) are decoded bytes not yet emitted */
	int err = 0;

	if (d->state == D_DONE) {
		*consumed = 0;
		return SMTP_DATA_DONE;
	}
	for (i = 0; i < len; i++) {
		unsigned char c;

		if (d->state == D_TEXT) {
			/* Fast path: a run of bytes that cannot change the state. */
			size_t j = i;

			while (j < len && (unsigned char)in[j] > '\r')
				j++;
			d->linelen += j - i;
			if (d->linelen > SMTP_LINE_MAX - 2)
				d->longline = 1;
			i = j;
			if (i == len)
				break;
		}
		c = in[i];
		if (c == 0)
			d->nul = 1;
		switch (d->state) {
		case D_BOL:
			if (c == '.') {
				/* Unstuffing or the end: the dot is never data. */
				data_emit(d, out, in + run, i - run, max);
				run = i + 1;
				d->linelen = 1;
				d->state = D_DOT;
				continue;
			}
			d->state = D_TEXT;
			/* FALLTHROUGH */
		case D_TEXT:
		text:
			if (c == '\r')
				d->state = D_CR;
			else if (c == '\n')
				err = 1;		/* bare LF */
			else if (++d->linelen > SMTP_LINE_MAX - 2)
				d->longline = 1;
			break;
		case D_CR:
			if (c == '\n') {
				d->state = D_BOL;
				d->linelen = 0;
				break;
			}
			err = 1;			/* bare CR; c starts afresh */
			d->state = D_TEXT;
			goto text;
		case D_DOT:
			if (c == '\r') {
				/* Maybe the end: hold the CR back until the LF. */
				d->state = D_DOTCR;
				run = i + 1;
				break;
			}
			d->state = D_TEXT;
			goto text;
		case D_DOTCR:
			if (c == '\n') {
				d->state = D_DONE;
				*consumed = i + 1;
				return SMTP_DATA_DONE;
			}
			/* ".\r" then not LF: a bare CR. The held CR was data. */
			err = 1;
			data_emit(d, out, "\r", 1, max);
			d->state = D_TEXT;
			goto text;
		}
		if (err && !d->bare) {
			data_emit(d, out, in + run, i + 1 - run, max);
			d->bare = 1;
			*consumed = i + 1;
			return SMTP_DATA_ERROR;
		}
		err = 0;
	}
	data_emit(d, out, in + run, i - run, max);
	*consumed = len;
	return SMTP_DATA_MORE;
}
