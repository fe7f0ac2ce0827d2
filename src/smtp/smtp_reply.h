/* smtp_reply: the pure SMTP reply parser of the delivery client (STYLE 1).
 * No I/O: the client hands in what it read, gets whole replies back.
 *
 *  - smtp_reply_parse() assembles one reply, single- or multi-line, from a
 *    byte stream and caps what a hostile server can make us hold;
 *  - smtp_reply_ehlo() turns the lines of an EHLO reply into flags. */
#ifndef HERMOD_SMTP_REPLY_H
#define HERMOD_SMTP_REPLY_H
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define SMTP_REPLY_LINE_MAX	512	/* octets with CRLF, RFC 5321 4.5.3.1.5 */
#define SMTP_REPLY_LINES_MAX	100	/* lines in one reply */
#define SMTP_REPLY_TOTAL_MAX	65536	/* octets in one reply */

/* Zero-fill to start; smtp_reply_free() when done. Private but for its size. */
struct smtp_reply_state {
	int		 code;		/* of the reply being assembled, 0 before its first line */
	unsigned	 nlines;
	size_t		 total;
	int		 done;		/* the last call returned a whole reply */
	char		 status[16];	/* enhanced status code of the first line */
	struct buf	 text;
};

struct smtp_reply {
	int		 code;		/* 200..599 */
	char		 status[16];	/* enhanced status code "5.1.1", or "" (RFC 3463) */
	const char	*text;		/* the lines' texts joined by "\n", without codes;
					 * NUL-terminated, valid until the next call */
	size_t		 textlen;
	unsigned	 nlines;
};

enum smtp_reply_rc {
	SMTP_REPLY_MORE,	/* no whole reply yet: keep the unconsumed bytes, read more */
	SMTP_REPLY_DONE,	/* *out holds a reply; bytes after *consumed are the next one */
	SMTP_REPLY_ERROR,	/* not SMTP or over a cap: drop the connection (*consumed
				 * stops before the offending line) */
};

/* smtp_reply_parse() reads reply lines from buf and returns DONE with *out
 * filled when the last line of a reply ("250 ..." or "250") is in. Lines are
 * consumed as they come (*consumed), so the caller keeps at most one partial
 * line (< SMTP_REPLY_LINE_MAX) between calls. Each line is three digits (2..5,
 * 0..5, 0..9), then "-" (more lines follow), " " or the end of the line, then
 * text; every line of a reply has the same code. ERROR on any other line, on a
 * line over SMTP_REPLY_LINE_MAX octets, or on a reply of more than
 * SMTP_REPLY_LINES_MAX lines or SMTP_REPLY_TOTAL_MAX octets.
 * A bare LF ends a line like CRLF (a trailing CR is dropped): replies carry no
 * message boundaries to smuggle, and refusing them would only lose mail from
 * sloppy servers. Control characters left in the text (CR, NUL, ...) are
 * replaced by "?" so the text can go into logs and bounce messages as is.
 * The enhanced status code is taken from the first line when it is there and
 * its class matches the reply code, and removed from every line's text. */
enum smtp_reply_rc smtp_reply_parse(struct smtp_reply_state *st, const char *buf, size_t len,
	    size_t *consumed, struct smtp_reply *out);

/* smtp_reply_free() releases the state's memory; it can be reused zeroed. */
void	smtp_reply_free(struct smtp_reply_state *st);

#define SMTP_EXT_PIPELINING		0x0001
#define SMTP_EXT_SIZE			0x0002
#define SMTP_EXT_8BITMIME		0x0004
#define SMTP_EXT_SMTPUTF8		0x0008
#define SMTP_EXT_STARTTLS		0x0010
#define SMTP_EXT_CHUNKING		0x0020
#define SMTP_EXT_DSN			0x0040
#define SMTP_EXT_ENHANCEDSTATUSCODES	0x0080
#define SMTP_EXT_AUTH			0x0100
#define SMTP_EXT_BINARYMIME		0x0200
#define SMTP_EXT_REQUIRETLS		0x0400

#define SMTP_AUTH_PLAIN		0x01
#define SMTP_AUTH_LOGIN		0x02
#define SMTP_AUTH_CRAM_MD5	0x04
#define SMTP_AUTH_XOAUTH2	0x08
#define SMTP_AUTH_SCRAM_SHA_256	0x10

struct smtp_ehlo {
	unsigned	 ext;		/* SMTP_EXT_* */
	unsigned	 auth;		/* SMTP_AUTH_* offered */
	uint64_t	 size;		/* SIZE limit; 0 when none was given */
};

/* smtp_reply_ehlo() reads the text of a 250 EHLO reply (out->text: the first
 * line is the server's greeting and is skipped) and sets *e. Keywords are
 * case-insensitive; unknown ones are ignored; "AUTH=..." (pre-RFC 4954
 * servers) counts as AUTH. A SIZE value that is not all digits, or overflows,
 * counts as no limit given. */
void	smtp_reply_ehlo(const char *text, size_t len, struct smtp_ehlo *e);

#endif
