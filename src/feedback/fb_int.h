/* fb_int: what the files of the feedback parser share (fb_parse.c reads
 * the reports, fb_mime.c walks the MIME tree and decodes, fb_text.c reads
 * the plain-text bounces). Not for use outside src/feedback. */
#ifndef HERMOD_FB_INT_H
#define HERMOD_FB_INT_H
#include <stddef.h>

#include "feedback/fb_parse.h"
#include "util/buf.h"

#define FB_TEXT_MAX	(1u << 20)	/* octets of bounce text looked at */
#define FB_FIELD_MAX	8192		/* octets kept of one field's value */
#define FB_ORIG_MAX	(64u << 10)	/* octets kept of the original's header */

/* One line-oriented header field, still folded. */
struct fb_field {
	const char	*name;
	size_t		 namelen;
	const char	*value;
	size_t		 valuelen;
};

/* fb_field_next() reads the next field of the group of header-like lines
 * that starts at *pos (a message header, or one field group of a
 * delivery-status or feedback-report body). Returns 1 with *f set, or 0 at
 * the end of the group: a blank or all-blank line (*pos then points past
 * it) or the end of buf. Lines that are not fields are skipped. Always
 * advances *pos when it returns 1. */
int	fb_field_next(const char *buf, size_t len, size_t *pos, struct fb_field *f);

/* fb_field_is() says whether f is named name (case-insensitive). */
int	fb_field_is(const struct fb_field *f, const char *name);

/* fb_unfold() appends value unfolded: each line end and the blanks around
 * it become one space, NUL and other control bytes a space, ends trimmed;
 * at most FB_FIELD_MAX octets. */
void	fb_unfold(const char *v, size_t n, struct buf *out);

/* fb_uncomment() appends s without its RFC 5322 comments (nested, quoted
 * pairs honoured; quoted strings kept whole), each comment a space. */
void	fb_uncomment(const char *s, size_t n, struct buf *out);

/* fb_trim() returns s without leading and trailing blanks (*n updated). */
const char *fb_trim(const char *s, size_t *n);

/* A leaf of the MIME tree: the entity's header and its body, still in its
 * transfer encoding. */
struct fb_part {
	char		 type[80];	/* "type/subtype", lower case */
	char		 cte[32];	/* Content-Transfer-Encoding, lower case, or "" */
	const char	*hdr;
	size_t		 hdrlen;
	const char	*body;
	size_t		 bodylen;
	unsigned	 depth;		/* 0: the message itself */
};

struct fb_mime {
	struct fb_part	 parts[FB_PARSE_MAX_PARTS];	/* leaves in document order */
	size_t		 nparts;
	char		 report_type[40];	/* of the first multipart/report, lower case */
	unsigned	 entities;		/* entities visited, leaves and containers */
};

/* fb_mime_walk() lists the leaves of the message's MIME tree into *m
 * (zeroed first): multiparts are followed up to FB_PARSE_MAX_DEPTH deep and
 * FB_PARSE_MAX_PARTS leaves; message/rfc822 parts are leaves (the returned
 * original is not walked). A multipart without a usable boundary is a leaf
 * too. Linear in len per level. */
void	fb_mime_walk(const char *msg, size_t len, struct fb_mime *m);

/* fb_decode() appends the body of part p decoded from its transfer encoding
 * (base64, quoted-printable; anything else as it is), at most max octets. */
void	fb_decode(const struct fb_part *p, size_t max, struct buf *out);

/* fb_header_get() appends the unfolded value of the first field called name
 * of the header block hdr; returns 1 when there is one. */
int	fb_header_get(const char *hdr, size_t len, const char *name, struct buf *out);

/* fb_smtp_scan() finds an SMTP reply in free text: a code 2xx-5xx standing
 * alone as a word, followed by an enhanced status ("5.1.1") if any; failing
 * a code, a lone enhanced status. Sets *code (0 if none), status ("" if
 * none) and returns the offset where the reply starts, or n. */
size_t	fb_smtp_scan(const char *s, size_t n, int *code, char status[16]);

/* fb_enhanced() reads an enhanced status code at s ("5.1.1", class 2, 4 or
 * 5, then 1-3 and 1-3 digits) into status; returns its length or 0. */
size_t	fb_enhanced(const char *s, size_t n, char status[16]);

/* fb_reply_join() rewrites in place a multi-line SMTP reply whose lines
 * were joined with spaces ("550-5.1.1 a 550-5.1.1 b 550 5.1.1 c") as one
 * ("550 5.1.1 a b c"): the code and status that open each line go. A text
 * that does not open with a code is left alone. */
void	fb_reply_join(char *s);

/* fb_addr() returns a new string with the address in s: comments, an
 * address type ("rfc822;", "utf-8;" whose \x{...} escapes are decoded),
 * angle brackets and blanks removed, the domain lower-cased. NULL if empty. */
char   *fb_addr(const char *s, size_t n);

/* fb_text_parse() recognises a plain-text bounce (text, n octets, LF line
 * ends) given the message's Subject (may be ""), and fills r's
 * kind, format and recipients. *orig and *origlen are set to the returned
 * original's header block quoted in the text, if any. Returns 0 when it
 * recognised the text and found at least one recipient, else -1 (r then
 * has no recipients). */
int	fb_text_parse(const char *subject, const char *text, size_t n, struct fb_report *r,
	    const char **orig, size_t *origlen);

/* fb_rcpt_add() appends a zeroed recipient to r (NULL past FB_PARSE_MAX_RCPTS). */
struct fb_rcpt *fb_rcpt_add(struct fb_report *r);

#endif
