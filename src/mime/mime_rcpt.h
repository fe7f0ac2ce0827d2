/* mime_rcpt: a pure scanner of a message's header section for what
 * `sendmail -t` needs: the addresses in To, Cc and Bcc, the From address,
 * where the header section ends, and where the Bcc fields are (they are cut
 * before the message leaves). No I/O, no allocation beyond the result;
 * golden tests in tests/golden/mime_rcpt/, fuzzed by fuzz_mime_rcpt.
 *
 * It is a thin layer over the shared parsers: mime_header_next() walks the
 * fields and mime_addr_parse() reads the address lists (display names,
 * comments, groups; each address passes smtp_mailbox_valid()). */
#ifndef HERMOD_MIME_RCPT_H
#define HERMOD_MIME_RCPT_H
#include <stddef.h>

#define MIME_RCPT_MAX		1000	/* addresses kept */
#define MIME_RCPT_HEADER_MAX	(256 * 1024)	/* header section scanned at most */

struct mime_rcpt_span {
	size_t	off, len;		/* a whole field, CRLF/LF and folded lines included */
};

struct mime_rcpt {
	size_t	 header_end;		/* offset of the first body byte (after the blank line),
					 * or len when the message has no body */
	char	*from;			/* From: address (first), or NULL */
	char	**rcpt;			/* To, Cc, Bcc addresses, in order; NULL-ended */
	size_t	 nrcpt;
	struct mime_rcpt_span *bcc;	/* Bcc fields */
	size_t	 nbcc;
	int	 has_date, has_message_id;
};

/* mime_rcpt_scan() scans msg. 0, or -1 with *why (static text) and, when an
 * address is at fault, *bad (allocated copy) set: a header line without a
 * colon, a header section over MIME_RCPT_HEADER_MAX, an address that does not
 * parse. The result is freed with mime_rcpt_free() in both cases. */
int	mime_rcpt_scan(const char *msg, size_t len, struct mime_rcpt *out, const char **why,
	    char **bad);
void	mime_rcpt_free(struct mime_rcpt *r);

/* mime_addr_list_each() splits one field body (unfolded or not) into
 * addresses and calls fn for each addr-spec (without angle brackets,
 * comments or display name). Returns 0, or -1 at the first element that
 * does not parse (fn returned non-zero, or syntax) with *bad set. */
int	mime_addr_list_each(const char *s, size_t n, int (*fn)(const char *addr, void *arg),
	    void *arg, char **bad);

#endif
