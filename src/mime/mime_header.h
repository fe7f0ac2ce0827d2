/* mime_header: a pure scanner of an RFC 5322 header block (STYLE 1). No I/O,
 * no allocation but the caller's buf. The SMTP server uses it to check what a
 * client sent (size of lines, folds, NUL, 8-bit, which fields are present)
 * and to read From:; the HTTP API and the message builder read fields with it.
 *
 * Lines end with CRLF; a bare LF is also taken as a line end (and flagged),
 * so the scanner can read messages kept with LF line ends. */
#ifndef HERMOD_MIME_HEADER_H
#define HERMOD_MIME_HEADER_H
#include <stddef.h>

#include "util/buf.h"

#define MIME_HEADER_LINE_MAX	998	/* octets without CRLF, RFC 5322 2.1.1 */

struct mime_header_info {
	size_t		 header_len;	/* octets of the header block with the blank line
					 * that ends it: the body starts there */
	int		 complete;	/* that blank line was found (else header_len = len) */
	unsigned	 nfields;	/* header fields */
	unsigned	 nlines;	/* physical lines */
	unsigned	 nfolded;	/* continuation lines */
	size_t		 longest;	/* longest line in octets, without its line end */
	int		 nul;		/* a NUL byte */
	int		 eightbit;	/* a byte over 0x7f */
	int		 bare;		/* a line end other than CRLF (bare LF or CR) */
	int		 malformed;	/* a line that is neither a field nor a continuation */
	unsigned	 n_from;	/* how many From:, Date:, Message-ID:, Sender: fields */
	unsigned	 n_date;
	unsigned	 n_message_id;
	unsigned	 n_sender;
};

/* One header field as it stands in the message (still folded). */
struct mime_field {
	const char	*name;		/* the field name, without the colon */
	size_t		 namelen;
	const char	*value;		/* after the colon, up to its last line end */
	size_t		 valuelen;
	int		 malformed;	/* not a field: name and value are not set */
};

/* mime_header_next() reads the field that starts at *pos in the header block
 * buf and advances *pos past it (continuation lines included). Returns 1 with
 * *f set, or 0 at the end of the header block (the blank line or the end of
 * buf; *pos then points at the body). A line with no colon, a bad field name
 * (RFC 5322 ftext: printable ASCII but ":"; blanks before the colon are obs
 * syntax, tolerated) or a continuation with no field before it comes back
 * with f->malformed set. */
int	mime_header_next(const char *buf, size_t len, size_t *pos, struct mime_field *f);

/* mime_header_scan() reads the whole header block of a message and fills
 * *info. Linear in len; no limit of its own, the caller caps the input. */
void	mime_header_scan(const char *buf, size_t len, struct mime_header_info *info);

/* mime_header_get() finds the first field named name (case-insensitive) and
 * appends its unfolded value to out (line ends before blanks removed as RFC
 * 5322 3.2.2 says, leading and trailing blanks dropped). Returns how many
 * fields of that name there are (0: none, out untouched). */
unsigned mime_header_get(const char *buf, size_t len, const char *name, struct buf *out);

/* mime_header_unfold() appends the unfolded, trimmed form of a raw value. */
void	mime_header_unfold(const char *value, size_t len, struct buf *out);

#endif
