/* dsn: RFC 3464 delivery status notifications (multipart/report;
 * report-type=delivery-status), built from the envelope and the failure.
 * Pure: time and the unique token come from the caller.
 *
 * Loop safety is the caller's half of the contract: a DSN is submitted with
 * a null return path (MAIL FROM:<>) and without SPOOL_F_DSN, so a DSN that
 * fails is never answered by another DSN (RFC 3461 6.2, RFC 5321 4.5.5). */
#ifndef HERMOD_DSN_H
#define HERMOD_DSN_H
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* DSN_RELAYED: handed to a next hop that takes no DSN request (we never pass
 * one on), which is what NOTIFY=SUCCESS gets from us (RFC 3464 2.3.3). */
enum dsn_action { DSN_FAILED, DSN_DELAYED, DSN_DELIVERED, DSN_RELAYED };

struct dsn_rcpt {
	const char	*addr;		/* the final recipient */
	const char	*orcpt;		/* ORCPT as given ("rfc822;a@b"), or NULL */
	enum dsn_action	 action;
	const char	*status;	/* RFC 3463 "5.1.1" */
	const char	*remote_mta;	/* the MX that answered, or NULL */
	const char	*diagnostic;	/* the server's reply ("550 5.1.1 ..."), or NULL */
	uint64_t	 last_attempt;	/* ms since the epoch, 0 = none */
};

struct dsn_params {
	const char	*reporting_mta;	/* our host name */
	const char	*return_path;	/* the original MAIL FROM: the DSN goes there */
	const char	*envid;		/* ENVID, or NULL */
	int		 ret;		/* SPOOL_RET_*: FULL, HDRS, or NONE (full up to a cap) */
	uint64_t	 arrival;	/* when the message was queued, ms */
	uint64_t	 now;		/* ms */
	const char	*token;		/* unique (the queue id): Message-ID and boundary */
	const char	*msg;		/* the original message */
	size_t		 msglen;
};

/* dsn_wanted() tells whether a DSN is owed for a recipient: never to a null
 * return path, only for messages whose submitter asked for DSNs (flags has
 * SPOOL_F_DSN), and as NOTIFY says (0 = default: failures only). */
int	dsn_wanted(const char *return_path, unsigned flags, unsigned notify, enum dsn_action action);

/* dsn_build() appends the whole DSN message (headers and body, CRLF line
 * ends) to out. 0, or -1 when an argument cannot be placed in a header
 * (a CR or LF in the return path or host name). */
int	dsn_build(const struct dsn_params *p, const struct dsn_rcpt *r, size_t n, struct buf *out);

#endif
