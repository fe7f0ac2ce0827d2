/* smtp_parse: pure parsers for the SMTP server (STYLE 1). No I/O, no
 * allocation beyond what the caller passes; each has golden tests and a
 * libFuzzer harness.
 *
 *  - smtp_line_next() finds the next command line in a buffer;
 *  - smtp_cmd_parse() splits a command line into verb, path and parameters;
 *  - smtp_data_feed() decodes a DATA body: dot-unstuffing, end of data, and
 *    the smuggling checks (bare CR or LF anywhere is an error, so nothing but
 *    CRLF.CRLF ever ends a message);
 *  - smtp_mailbox_valid() checks an address, for the HTTP API and MIME;
 *  - smtp_bdat_parse_arg() parses the BDAT argument;
 *  - smtp_utf8_len() checks one UTF-8 character (shared with mime_addr). */
#ifndef HERMOD_SMTP_PARSE_H
#define HERMOD_SMTP_PARSE_H
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define SMTP_LINE_MAX		1000	/* octets with CRLF, RFC 5321 4.5.3.1.4 */
#define SMTP_PATH_MAX		256	/* RFC 5321 4.5.3.1.3 */
#define SMTP_LOCAL_MAX		64
#define SMTP_DOMAIN_MAX		255
#define SMTP_PARAMS_MAX		16

enum smtp_line_rc {
	SMTP_LINE_OK,		/* *linelen bytes (without CRLF), *consumed with it */
	SMTP_LINE_PARTIAL,	/* no complete line yet (and not too long) */
	SMTP_LINE_TOOLONG,	/* over SMTP_LINE_MAX: *consumed bytes are to be dropped,
				 * and the caller discards until the next CRLF */
	SMTP_LINE_BARE,		/* a bare CR or LF: *consumed bytes include it */
};

/* smtp_line_next() looks for one CRLF-terminated line at the start of buf.
 * OK: a line of *linelen bytes, *consumed = *linelen + 2.
 * BARE: a CR not followed by LF, or an LF not preceded by CR ("\r\r\n" is a
 * bare CR then a CRLF); *linelen is its offset, *consumed ends right after it.
 * TOOLONG: no CRLF within SMTP_LINE_MAX octets; *consumed (>= 999) bytes hold
 * no CR or LF: drop them, answer 500 5.5.2 once the line ends, and until then
 * treat whatever the next call returns (OK, BARE or TOOLONG again) as the rest
 * of that line. Memory stays bounded by SMTP_LINE_MAX. */
enum smtp_line_rc smtp_line_next(const char *buf, size_t len, size_t *linelen, size_t *consumed);

enum smtp_verb {
	SMTP_CMD_UNKNOWN, SMTP_CMD_HELO, SMTP_CMD_EHLO, SMTP_CMD_MAIL, SMTP_CMD_RCPT,
	SMTP_CMD_DATA, SMTP_CMD_BDAT, SMTP_CMD_RSET, SMTP_CMD_NOOP, SMTP_CMD_QUIT,
	SMTP_CMD_VRFY, SMTP_CMD_EXPN, SMTP_CMD_HELP, SMTP_CMD_STARTTLS, SMTP_CMD_AUTH,
};

struct smtp_param {
	const char	*key;	/* points into the caller's line copy, NUL-terminated */
	const char	*value;	/* NULL when the parameter has no "=" */
};

struct smtp_cmd {
	enum smtp_verb	 verb;
	const char	*arg;		/* the rest after the verb (HELO name, AUTH args, BDAT size);
					 * for MAIL and RCPT cut short by the NULs: use path, params */
	/* MAIL FROM:<path> / RCPT TO:<path> */
	const char	*path;		/* without angle brackets; "" for <>; NULL for other verbs */
	int		 path_utf8;	/* path has non-ASCII (needs SMTPUTF8) */
	size_t		 nparams;
	struct smtp_param params[SMTP_PARAMS_MAX];
};

enum smtp_cmd_rc {
	SMTP_CMD_OK,
	SMTP_CMD_ESYNTAX,	/* 500 5.5.2 / 501 5.5.4: *why says what */
	SMTP_CMD_EPATH,		/* 501 5.1.3 (MAIL: 5.1.7) bad address */
	SMTP_CMD_EPARAM,	/* 501 5.5.4 bad ESMTP parameter (CR, LF, NUL, junk) */
};

/* smtp_cmd_parse() parses one line (no CRLF). line is modified in place
 * (NULs inserted, line[len] too: it must be writable, as in a struct buf or
 * a slice of the input followed by its CRLF) and cmd points into it. Verbs
 * are case-insensitive; trailing blanks are ignored; any control character
 * (NUL, CR, LF, ...) but TAB refuses the line (EPARAM for MAIL and RCPT).
 * DATA, RSET, QUIT, STARTTLS take no argument; HELO, EHLO, VRFY, EXPN, AUTH,
 * BDAT need one (cmd->arg, not checked further); NOOP and HELP may have one.
 * MAIL FROM:<path> and RCPT TO:<path> (a space after the colon tolerated):
 * <> only for MAIL; a source route is accepted and stripped; <Postmaster>
 * without a domain is refused; the path is at most SMTP_PATH_MAX octets with
 * its brackets. Parameters: esmtp-keyword, optional "=" esmtp-value (printable
 * ASCII but "=", or UTF-8), at most SMTP_PARAMS_MAX, no keyword twice. Addresses are checked strictly
 * (RFC 5321 Mailbox, RFC 6531 when non-ASCII): dot-atom or quoted-string local
 * part, domain or address literal; no source routes beyond the syntax; nothing
 * a shell or a later parser could misread is accepted. */
enum smtp_cmd_rc smtp_cmd_parse(char *line, size_t len, struct smtp_cmd *cmd, const char **why);

/* smtp_cmd_param() returns the parameter named key (case-insensitive) of a
 * parsed MAIL or RCPT command, or NULL. */
const struct smtp_param *smtp_cmd_param(const struct smtp_cmd *cmd, const char *key);

/* smtp_mailbox_valid() checks that s (len bytes, no brackets) is exactly one
 * RFC 5321 Mailbox: dot-atom or quoted-string local part of 1..64 octets,
 * "@", a domain of LDH labels (1..63 octets, at most 255) or an address
 * literal [1.2.3.4] / [IPv6:...]. With allow_utf8, non-ASCII (valid UTF-8
 * only) is allowed as RFC 6531 does. Returns 0 when invalid, 1 when valid
 * ASCII, 2 when valid with non-ASCII characters. */
int	smtp_mailbox_valid(const char *s, size_t len, int allow_utf8);

/* smtp_mailbox_domain() returns the domain part of a valid mailbox (after the
 * last "@", which a domain never contains), or NULL when there is none. */
const char *smtp_mailbox_domain(const char *mailbox);

/* smtp_utf8_len() returns the length (1..4) of the valid UTF-8 character at
 * the start of s, or 0 when it is not one (overlong, surrogate, truncated). */
size_t	smtp_utf8_len(const unsigned char *s, size_t len);

/* smtp_bdat_parse_arg() parses a BDAT argument (cmd->arg): "SIZE" or
 * "SIZE LAST", SIZE decimal digits only, without overflow of uint64_t.
 * Returns 0 and sets *size and *last, or -1 on any other text. */
int	smtp_bdat_parse_arg(const char *arg, uint64_t *size, int *last);

/* DATA decoding. Zero-fill the state to start. */
struct smtp_data {
	int		 state;		/* private */
	uint64_t	 size;		/* decoded bytes so far */
	int		 bare;		/* saw a bare CR or LF (smuggling) */
	int		 nul;		/* saw a NUL byte */
	int		 longline;	/* saw a line over 1000 octets */
	size_t		 linelen;	/* private */
};

enum smtp_data_rc { SMTP_DATA_MORE, SMTP_DATA_DONE, SMTP_DATA_ERROR };

/* smtp_data_feed() consumes bytes of a DATA body from in, appends the decoded
 * (dot-unstuffed, CRLF-preserving) message to out unless out->len would pass
 * max (then it keeps counting in d->size but stops appending), and sets
 * *consumed. DONE when CRLF.CRLF was seen: *consumed stops right after it, so
 * pipelined commands that follow stay in the caller's buffer. ERROR when a
 * bare CR or LF was seen (d->bare): *consumed stops right after the byte
 * that showed it, the caller answers 5xx and must not accept the message. It
 * may keep feeding to find the real end: ERROR comes only once, then MORE
 * until DONE at the next CRLF.CRLF, with nothing more appended to out.
 * d->nul flags a NUL byte (kept in the output, never an end of data),
 * d->longline a line over SMTP_LINE_MAX octets with its CRLF. The answers are
 * the same however the input is split into calls. */
enum smtp_data_rc smtp_data_feed(struct smtp_data *d, const char *in, size_t len, size_t *consumed,
	    struct buf *out, uint64_t max);

#endif
