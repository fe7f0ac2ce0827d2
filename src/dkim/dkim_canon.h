/* dkim_canon: DKIM canonicalization (RFC 6376 3.4), pure and I/O free.
 *
 * The signer needs two things from a message: the header fields it signs, in
 * canonical form, and a hash of the canonical body. Headers are small and
 * bounded, so they are canonicalized a whole field at a time. Bodies can be
 * 25 MB, so the body canonicalizer is a push state machine: feed it chunks of
 * any size, it emits canonical bytes through a callback (the signer's
 * EVP_DigestUpdate), and the output never depends on where the chunks split.
 *
 * Lines end with CRLF only: a bare CR or a bare LF is an ordinary byte, as it
 * would be for a verifier that reads the same bytes off the wire. hermod's
 * SMTP server refuses bare line ends and its MIME builder writes CRLF, so in
 * practice every line it signs ends with CRLF. */
#ifndef HERMOD_DKIM_CANON_H
#define HERMOD_DKIM_CANON_H
#include <stddef.h>

#include "util/buf.h"

#define DKIM_CANON_SIMPLE	0
#define DKIM_CANON_RELAXED	1

/* The callback that receives canonical body bytes, in order. */
typedef void (*dkim_canon_emit_fn)(void *arg, const void *p, size_t n);

/* Body canonicalizer state. Zero-filled plus a mode is a valid start; use
 * dkim_canon_body_init(). Fields are private. */
struct dkim_canon_body {
	int		 mode;
	int		 cr;		/* a CR was the last byte seen, withheld */
	int		 wsp;		/* relaxed: a WSP run is pending, withheld */
	int		 content;	/* the current line has emitted content */
	int		 any;		/* anything was emitted at all */
	size_t		 blank;		/* empty lines withheld (trailing ones vanish) */
	unsigned long long total;	/* canonical bytes emitted so far */
	dkim_canon_emit_fn emit;
	void		*arg;
	size_t		 outlen;
	unsigned char	 out[2048];	/* staging, so the callback sees runs, not bytes */
};

/* dkim_canon_body_init() starts a body in mode (DKIM_CANON_SIMPLE or
 * DKIM_CANON_RELAXED); emit(arg, ...) will receive the canonical bytes. */
void	dkim_canon_body_init(struct dkim_canon_body *b, int mode, dkim_canon_emit_fn emit,
	    void *arg);
/* dkim_canon_body_update() feeds the next n bytes of the body. Never fails. */
void	dkim_canon_body_update(struct dkim_canon_body *b, const void *p, size_t n);
/* dkim_canon_body_final() ends the body: trailing empty lines are dropped, a
 * last line without CRLF gets one, an empty body becomes CRLF (simple) or
 * nothing (relaxed). Returns the number of canonical bytes emitted in all. */
unsigned long long dkim_canon_body_final(struct dkim_canon_body *b);

/* dkim_canon_header() appends the canonical form of one header field
 * ("Name: value", folded or not, with or without its final CRLF) to out,
 * ending with CRLF. Relaxed: lower-case name, unfold, WSP runs become one
 * SP, no WSP at the end of the value or around the colon. Simple: the field
 * as it is, with CRLF added if it lacked one. */
void	dkim_canon_header(int mode, const char *field, size_t len, struct buf *out);

/* One header field of a message, as found by dkim_canon_fields(). */
struct dkim_field {
	const char	*p;		/* start of the name */
	size_t		 len;		/* whole field, its final CRLF included if any */
	size_t		 namelen;	/* name without trailing WSP, up to the colon */
};

/* dkim_canon_fields() splits the header of msg (len bytes) into fields, up to
 * the empty line that ends it, and returns the offset of the body (len when
 * there is no body). *fields gets an allocated array of *nfields entries that
 * point into msg (caller frees the array). A line without a colon is kept as
 * a field with namelen 0 so that no byte is lost; it never matches a name.
 * Lines that start with WSP continue the previous field; continuation lines
 * before the first field are kept as a nameless field too. */
size_t	dkim_canon_fields(const char *msg, size_t len, struct dkim_field **fields,
	    size_t *nfields);

#endif
