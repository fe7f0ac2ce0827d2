/* bounce: classify a delivery failure into a class (hard: the address is
 * bad, stop sending to it; soft: this attempt or message failed, the address
 * may be fine) and a category (SPEC.md Events "bounce"). Pure and
 * table-driven: no I/O, no allocation. */
#ifndef HERMOD_BOUNCE_H
#define HERMOD_BOUNCE_H
#include <stddef.h>

enum bounce_class { BOUNCE_SOFT, BOUNCE_HARD };

enum bounce_category {
	BOUNCE_BAD_MAILBOX,
	BOUNCE_BAD_DOMAIN,
	BOUNCE_INACTIVE_MAILBOX,
	BOUNCE_MAILBOX_FULL,
	BOUNCE_MESSAGE_TOO_LARGE,
	BOUNCE_SPAM_BLOCK,
	BOUNCE_SPAM_CONTENT,
	BOUNCE_POLICY,
	BOUNCE_RATE_LIMITED,
	BOUNCE_AUTH_FAILURE,	/* SPF, DKIM, DMARC; or SMTP AUTH at a relay */
	BOUNCE_DNS_FAILURE,
	BOUNCE_NETWORK,
	BOUNCE_TLS,
	BOUNCE_EXPIRED,
	BOUNCE_OTHER,
};

/* A failure that did not come as an SMTP reply from the remote server. */
enum bounce_local {
	BOUNCE_LOCAL_NONE,	/* code/enhanced/text are the server's reply */
	BOUNCE_LOCAL_NXDOMAIN,	/* the domain does not exist */
	BOUNCE_LOCAL_NULLMX,	/* RFC 7505 */
	BOUNCE_LOCAL_NOADDR,	/* no MX host has an address */
	BOUNCE_LOCAL_DNS,	/* SERVFAIL, DNS timeout */
	BOUNCE_LOCAL_NETWORK,	/* refused, reset, timeout, dropped connection */
	BOUNCE_LOCAL_TLS,	/* STARTTLS missing (policy required) or failed */
	BOUNCE_LOCAL_PROTOCOL,	/* a malformed or hostile reply */
	BOUNCE_LOCAL_EXPIRED,	/* max_lifetime passed */
	BOUNCE_LOCAL_MESSAGE,	/* the message itself cannot go (e.g. needs SMTPUTF8) */
};

struct bounce_info {
	enum bounce_class	 cls;
	enum bounce_category	 category;
};

/* bounce_classify() classifies a failure: code is the SMTP reply code (4xx
 * or 5xx; local failures carry the code hermod reports for them), enhanced
 * the RFC 3463 status ("5.1.1") or NULL, text the reply text (len bytes,
 * need not be NUL-terminated) or NULL. Order of evidence: the local kind,
 * then a specific enhanced code, then the text, then a generic enhanced code,
 * then the basic code. A 4xx is always soft. */
void	bounce_classify(int code, const char *enhanced, const char *text, size_t len,
	    enum bounce_local local, struct bounce_info *out);

const char *bounce_class_name(enum bounce_class c);	/* "hard", "soft" */
const char *bounce_category_name(enum bounce_category c); /* "bad-mailbox", ... */

#endif
