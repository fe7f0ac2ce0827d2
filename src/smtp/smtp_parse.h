/* smtp_parse: pure parsers for the SMTP server (STYLE 1). No I/O, no
 * allocation beyond what the caller passes; each has golden tests and a
 * libFuzzer harness.
 *
 *  - smtp_line_next() finds the next command line in a buffer;
 *  - smtp_cmd_parse() splits a command line into verb, path and parameters;
 *  - smtp_data_feed() decodes a DATA body: dot-unstuffing, end of data, and
 *    the smuggling checks (bare CR or LF anywhere is an error, so nothing but
 *    CRLF.CRLF ever ends a message). */
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

/* smtp_line_next() looks for one CRLF-terminated line at the start of buf. */
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
	const char	*arg;		/* the rest after the verb (HELO name, AUTH args, BDAT size) */
	/* MAIL FROM:<path> / RCPT TO:<path> */
	const char	*path;		/* without angle brackets; "" for <> */
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
 * (NULs inserted) and cmd points into it. Addresses are checked strictly
 * (RFC 5321 Mailbox, RFC 6531 when non-ASCII): dot-atom or quoted-string local
 * part, domain or address literal; no source routes beyond the syntax; nothing
 * a shell or a later parser could misread is accepted. */
enum smtp_cmd_rc smtp_cmd_parse(char *line, size_t len, struct smtp_cmd *cmd, const char **why);

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
 * bare CR or LF was seen (d->bare): the caller answers 5xx and must not
 * accept the message; it may keep feeding to find the real end. */
enum smtp_data_rc smtp_data_feed(struct smtp_data *d, const char *in, size_t len, size_t *consumed,
	    struct buf *out, uint64_t max);

#endif
