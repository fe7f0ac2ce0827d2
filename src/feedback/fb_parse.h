/* fb_parse: the pure parser of what comes back to the bounce and feedback
 * addresses (STYLE 1): delivery status notifications (RFC 3464 inside an RFC
 * 6522 multipart/report, RFC 6533 message/global-delivery-status too), abuse
 * and complaint reports (ARF, RFC 5965), and the plain-text bounces of mail
 * systems that send no DSN (Exim, qmail, Postfix's text part alone, the big
 * providers' texts). The inbound listener hands it the whole message it
 * received and turns the answer into events; this file knows nothing of
 * sockets, the store or events.
 *
 * Everything in the answer is a NUL-terminated copy owned by the report:
 * unfolded, comments removed where the RFCs allow them, trimmed. Addresses
 * have no "rfc822;" type and no angle brackets; their domain is lower case. */
#ifndef HERMOD_FB_PARSE_H
#define HERMOD_FB_PARSE_H
#include <stddef.h>

#define FB_PARSE_MAX_MSG	(4u << 20)	/* octets read; the rest is ignored */
#define FB_PARSE_MAX_PARTS	64	/* MIME parts looked at in one message */
#define FB_PARSE_MAX_DEPTH	8	/* nested multiparts followed */
#define FB_PARSE_MAX_RCPTS	256	/* recipients kept from one report */

enum fb_kind { FB_NONE, FB_DSN, FB_ARF };

/* One per-recipient group of a DSN, or one recipient named by a text bounce. */
struct fb_rcpt {
	char	*recipient;	/* Final-Recipient, else Original-Recipient: the address
				 * without "rfc822;", domain lower-cased */
	char	*original_recipient; /* Original-Recipient or NULL */
	char	*action;	/* "failed" "delayed" "delivered" "relayed" "expanded",
				 * lower case, as the report says (may be NULL in a
				 * broken one); a text bounce: "failed" or "delayed" */
	char	 status[16];	/* enhanced status "5.1.1", "" if none */
	int	 smtp_code;	/* 550 from Diagnostic-Code "smtp; 550 ..." or the text,
				 * 0 if none */
	char	*diagnostic;	/* the diagnostic text without its "smtp;" type, unfolded,
				 * a multi-line reply joined ("550 5.1.1 a b"), or
				 * NULL; a text bounce: the server's reply, from its
				 * code on, when one is found */
	char	*remote_mta;	/* Remote-MTA host without "dns;", or NULL */
	char	*last_attempt;	/* Last-Attempt-Date or NULL */
	char	*will_retry_until; /* Will-Retry-Until or NULL */
};

struct fb_report {
	enum fb_kind	 kind;
	const char	*format;	/* static: "rfc3464", "rfc5965", or the source of a
					 * non-standard bounce: "gmail", "outlook", "yahoo",
					 * "exim", "qmail", "postfix-text" */
	struct fb_rcpt	*rcpts;		/* DSN and text bounces; an ARF report has none */
	size_t		 nrcpt;
	char		*reporting_mta;	/* Reporting-MTA without "dns;" (DSN), or the
					 * ARF Reporting-MTA */
	char		*envelope_id;	/* Original-Envelope-Id (DSN), as written */
	char		*arrival_date;	/* DSN Arrival-Date, or ARF Arrival-Date */
	char		*orig_message_id; /* Message-ID of the returned original (the
					 * message/rfc822 or text/rfc822-headers leaf, or
					 * the quoted headers of a text bounce), no <> */
	char		*orig_return_path; /* ARF Original-Mail-From, else the Return-Path
					 * of the returned original; no <>, NULL for <> */
	char		*orig_from;	/* From: of the returned original, as written */
	char		*orig_subject;	/* Subject: of the returned original, as written */
	/* ARF (RFC 5965 3.1) */
	char		*feedback_type;	/* "abuse" "fraud" "virus" "other" "not-spam"... */
	char		*user_agent;
	char		*source_ip;
	char		*orig_rcpt_to;	/* the first Original-Rcpt-To, no <>; when the
					 * report has none (providers often redact it),
					 * the To: of the original if it names one address */
	unsigned	 incidents;	/* Incidents, 1 when absent (ARF only) */
	/* The returned original's header block, raw (folded, CRLF or LF as it
	 * came), or NULL: the inbound listener looks for hermod's tracking header
	 * in it. A text bounce that quotes the original gets the quoted block. */
	char		*orig_headers;
};

/* fb_parse() parses one whole RFC 5322 message (header and body, CRLF or LF
 * line ends) of len octets. Returns 0 with *out filled when the message is a
 * DSN or an ARF report or a recognised non-standard bounce; -1 when it is
 * none of them (out->kind = FB_NONE and nothing to free, though calling
 * fb_report_free() is harmless). *out is zeroed first. Pure: no I/O, no
 * global state, bounded work (FB_PARSE_MAX_*, linear in len); any input,
 * however broken, gives one of the two answers. */
int	fb_parse(const char *msg, size_t len, struct fb_report *out);

/* fb_report_free() releases what fb_parse() allocated and zeroes *r. */
void	fb_report_free(struct fb_report *r);

#endif
