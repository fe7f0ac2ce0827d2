/* mime_build: builds an RFC 5322 / MIME message from a structured request
 * (the HTTP API's JSON, already validated). Pure: no I/O, no clock, no
 * randomness of its own; the caller passes the date, the Message-ID and a
 * random token for the boundaries, so the same input always gives the same
 * bytes (golden tests rely on it).
 *
 * Structure chosen from what is present:
 *
 *	mixed( related( alternative(text, html), inline... ), attachment... )
 *
 * where each wrapper appears only when it has more than one child.
 * Text parts are quoted-printable (lines <= 76), attachments base64 (lines of
 * 76). Non-ASCII display names and subjects become RFC 2047 encoded words
 * (UTF-8, B), folded so lines stay within 78 octets; domains are turned into
 * IDNA A-labels; a non-ASCII local part stays UTF-8 (RFC 6532) and makes the
 * message need SMTPUTF8.
 *
 * Why our own builder rather than GMime: we need only the writing side, with
 * exact control over folding, boundaries and encodings, and no GObject
 * runtime in the daemon; the builder is ~700 lines and fully testable. */
#ifndef HERMOD_MIME_BUILD_H
#define HERMOD_MIME_BUILD_H
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define MIME_LINE_PREFERRED	78
#define MIME_LINE_MAX		998

struct mime_mailbox {
	const char	*name;		/* display name (UTF-8) or NULL */
	const char	*email;		/* addr-spec, UTF-8 allowed */
};

struct mime_part {
	const char	*filename;	/* UTF-8, or NULL */
	const char	*content_type;	/* "type/subtype", checked with mime_content_type_valid() */
	const unsigned char *data;
	size_t		 len;
	const char	*content_id;	/* inline part (multipart/related) when set */
};

struct mime_header {
	const char	*name;
	const char	*value;		/* UTF-8; no CR or LF */
};

struct mime_msg {
	struct mime_mailbox from;
	const struct mime_mailbox *reply_to;	/* nreply_to of them */
	size_t		 nreply_to;
	const struct mime_mailbox *to;
	size_t		 nto;
	const struct mime_mailbox *cc;
	size_t		 ncc;
	const char	*subject;	/* UTF-8 or NULL */
	const char	*text;		/* UTF-8 or NULL */
	const char	*html;		/* UTF-8 or NULL; one of text/html is needed */
	const struct mime_part *parts;
	size_t		 nparts;
	const struct mime_header *headers;	/* custom headers */
	size_t		 nheaders;
	/* Supplied by the caller so the builder stays deterministic. */
	const char	*message_id;	/* without angle brackets */
	uint64_t	 date_ms;
	const char	*boundary_token;	/* random, [A-Za-z0-9], e.g. 24 chars */
	const char	*prefix;	/* raw header lines to put first (Received:), CRLF-ended, or NULL */
};

/* Result flags. */
#define MIME_F_SMTPUTF8	0x01	/* a header holds a UTF-8 address */

/* mime_build() appends the message (CRLF line ends) to out and sets *flags
 * (MIME_F_*). 0, or -1 with *why naming the offending input ("from",
 * "to[1]", "headers.X-Foo") when something cannot be encoded (an address
 * whose domain is not valid IDNA, a header with CR or LF...); the caller
 * validates first, so -1 means a gap in that validation. */
int	mime_build(const struct mime_msg *m, struct buf *out, unsigned *flags, char **why);

/* mime_header_name_valid(): RFC 5322 field-name (printable ASCII but ':'),
 * at most 76 octets. */
int	mime_header_name_valid(const char *name);
/* mime_header_owned() tells whether hermod writes this header itself, so an
 * API caller may not set it (From, To, Subject, Date, Message-ID, Content-*,
 * MIME-Version, DKIM-Signature, Received, Return-Path, ...). Case-insensitive. */
int	mime_header_owned(const char *name);
/* mime_content_type_valid(): "type/subtype" of RFC 2045 tokens, no parameters. */
int	mime_content_type_valid(const char *ct);
/* mime_content_id_valid(): what may go inside <> of a Content-ID (dot-atom
 * text "@" dot-atom text, or a plain dot-atom), at most 250 octets. */
int	mime_content_id_valid(const char *cid);
/* mime_domain_to_ascii() converts a domain to its IDNA A-label form (lower
 * case) into out (size outlen). 0 or -1 when it is not a valid IDN. */
int	mime_domain_to_ascii(const char *domain, char *out, size_t outlen);

/* Encoders, exported for tests and for other builders (DSNs). Each appends. */
void	mime_qp_encode(struct buf *out, const char *s, size_t n);
void	mime_base64_encode(struct buf *out, const unsigned char *p, size_t n);
/* mime_header_encoded() writes "Name: value" for an unstructured value,
 * plain and folded when it is printable ASCII, RFC 2047 encoded words
 * otherwise, ending with CRLF. */
void	mime_header_unstructured(struct buf *out, const char *name, const char *value);

#endif
