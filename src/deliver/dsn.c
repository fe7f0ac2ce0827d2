/* dsn: the RFC 3464 report. Three parts (RFC 6522): a human explanation, the
 * machine-readable message/delivery-status, and the original message
 * (message/rfc822) or its header (text/rfc822-headers) as RET asks. When an
 * address is not ASCII the RFC 6533 forms are used (utf-8 address types,
 * message/global-delivery-status), so the report stays well-formed. */
#include "deliver/dsn.h"
#include "spool/spool.h"
#include "util/timeutil.h"

#include <string.h>

/* Without RET, the original is returned whole up to this size, its header
 * alone beyond: a DSN should not bounce for being too big itself. */
#define DSN_FULL_MAX	(512 * 1024)

int
dsn_wanted(const char *return_path, unsigned flags, unsigned notify, enum dsn_action action)
{
	if (return_path == NULL || return_path[0] == '\0')
		return 0;
	if (!(flags & SPOOL_F_DSN))
		return 0;
	if (notify & SPOOL_NOTIFY_NEVER)
		return 0;
	switch (action) {
	case DSN_FAILED:
		return notify == 0 || (notify & SPOOL_NOTIFY_FAILURE);
	case DSN_DELAYED:
		return (notify & SPOOL_NOTIFY_DELAY) != 0;
	case DSN_DELIVERED:
	case DSN_RELAYED:
		return (notify & SPOOL_NOTIFY_SUCCESS) != 0;
	}
	return 0;
}

static int
has_crlf(const char *s)
{
	return s != NULL && strpbrk(s, "\r\n") != NULL;
}

static int
non_ascii(const char *s)
{
	for (; s && *s; s++)
		if ((unsigned char)*s >= 0x80)
			return 1;
	return 0;
}

/* put_clean() appends s with control characters turned into spaces: a
 * remote server's reply must not break the report's structure. */
static void
put_clean(struct buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		buf_putc(b, c < 0x20 || c == 0x7f ? ' ' : (char)c);
	}
}

static const char *
action_name(enum dsn_action a)
{
	switch (a) {
	case DSN_FAILED: return "failed";
	case DSN_DELAYED: return "delayed";
	case DSN_DELIVERED: return "delivered";
	case DSN_RELAYED: return "relayed";
	}
	return "failed";
}

/* header_end() is the length of the original's header block, blank line
 * included (the whole message when there is no body). */
static size_t
header_end(const char *m, size_t len)
{
	for (size_t i = 0; i + 3 < len; i++)
		if (m[i] == '\r' && m[i + 1] == '\n' && m[i + 2] == '\r' && m[i + 3] == '\n')
			return i + 2;
	return len;
}

int
dsn_build(const struct dsn_params *p, const struct dsn_rcpt *r, size_t n, struct buf *out)
{
	char date[64], arrival[64], when[64];
	int utf8 = non_ascii(p->return_path);
	int full;
	size_t hdrlen;

	if (has_crlf(p->return_path) || has_crlf(p->reporting_mta) || has_crlf(p->token) ||
	    p->return_path == NULL || p->return_path[0] == '\0')
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (has_crlf(r[i].addr) || has_crlf(r[i].orcpt) || has_crlf(r[i].status) ||
		    has_crlf(r[i].remote_mta))
			return -1;
		utf8 |= non_ascii(r[i].addr) | non_ascii(r[i].orcpt);
	}
	time_rfc5322(p->now, date, sizeof(date));
	time_rfc5322(p->arrival, arrival, sizeof(arrival));
	/* RET applies to failures; success and delay reports carry the header
	 * only unless RET=FULL asked for the whole (RFC 3461 4.3). */
	full = p->ret == SPOOL_RET_FULL || (p->ret == SPOOL_RET_NONE && p->msglen <= DSN_FULL_MAX &&
	    n && r[0].action == DSN_FAILED);
	hdrlen = header_end(p->msg, p->msglen);

	buf_printf(out, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n", p->reporting_mta);
	buf_printf(out, "To: <%s>\r\n", p->return_path);
	buf_printf(out, "Subject: %s\r\n", n && r[0].action == DSN_DELAYED ?
	    "Delayed Mail (still being retried)" : n && (r[0].action == DSN_DELIVERED ||
	    r[0].action == DSN_RELAYED) ? "Successful Mail Delivery Report" :
	    "Undelivered Mail Returned to Sender");
	buf_printf(out, "Date: %s\r\n", date);
	buf_printf(out, "Message-ID: <%s.dsn@%s>\r\n", p->token, p->reporting_mta);
	buf_puts(out, "Auto-Submitted: auto-replied\r\n");	/* RFC 3834 */
	buf_puts(out, "MIME-Version: 1.0\r\n");
	buf_printf(out, "Content-Type: multipart/report; report-type=delivery-status;\r\n"
	    "\tboundary=\"%s/%s\"\r\n\r\n", p->token, p->reporting_mta);
	buf_puts(out, "This is a MIME-encapsulated message.\r\n\r\n");

	/* 1. for people */
	buf_printf(out, "--%s/%s\r\n", p->token, p->reporting_mta);
	buf_puts(out, "Content-Description: Notification\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n\r\n");
	buf_printf(out, "This is the mail system at host %s.\r\n\r\n", p->reporting_mta);
	if (n && r[0].action == DSN_FAILED)
		buf_puts(out, "Your message could not be delivered to one or more recipients.\r\n"
		    "It is attached below.\r\n\r\n");
	else if (n && r[0].action == DSN_DELAYED)
		buf_puts(out, "Your message could not be delivered yet; delivery will be retried.\r\n\r\n");
	else if (n && r[0].action == DSN_RELAYED)
		buf_puts(out, "Your message was handed to the recipient's mail server, which\r\n"
		    "sends no further delivery notifications.\r\n\r\n");
	else
		buf_puts(out, "Your message was delivered.\r\n\r\n");
	for (size_t i = 0; i < n; i++) {
		buf_puts(out, "<");
		put_clean(out, r[i].addr);
		buf_puts(out, ">: ");
		if (r[i].remote_mta) {
			buf_puts(out, "host ");
			put_clean(out, r[i].remote_mta);
			buf_puts(out, " said: ");
		}
		put_clean(out, r[i].diagnostic ? r[i].diagnostic : r[i].status);
		buf_puts(out, "\r\n");
	}
	buf_puts(out, "\r\n");

	/* 2. for machines */
	buf_printf(out, "--%s/%s\r\n", p->token, p->reporting_mta);
	buf_printf(out, "Content-Description: Delivery report\r\n"
	    "Content-Type: message/%sdelivery-status\r\n\r\n", utf8 ? "global-" : "");
	buf_printf(out, "Reporting-MTA: dns; %s\r\n", p->reporting_mta);
	if (p->envid && p->envid[0]) {
		buf_puts(out, "Original-Envelope-Id: ");
		put_clean(out, p->envid);
		buf_puts(out, "\r\n");
	}
	buf_printf(out, "Arrival-Date: %s\r\n", arrival);
	for (size_t i = 0; i < n; i++) {
		buf_printf(out, "\r\nFinal-Recipient: %s; %s\r\n", non_ascii(r[i].addr) ? "utf-8" : "rfc822",
		    r[i].addr);
		if (r[i].orcpt && strchr(r[i].orcpt, ';'))
			buf_printf(out, "Original-Recipient: %s\r\n", r[i].orcpt);
		buf_printf(out, "Action: %s\r\n", action_name(r[i].action));
		buf_printf(out, "Status: %s\r\n", r[i].status ? r[i].status : "5.0.0");
		if (r[i].remote_mta)
			buf_printf(out, "Remote-MTA: dns; %s\r\n", r[i].remote_mta);
		if (r[i].diagnostic) {
			buf_puts(out, "Diagnostic-Code: smtp; ");
			put_clean(out, r[i].diagnostic);
			buf_puts(out, "\r\n");
		}
		if (r[i].last_attempt) {
			time_rfc5322(r[i].last_attempt, when, sizeof(when));
			buf_printf(out, "Last-Attempt-Date: %s\r\n", when);
		}
	}
	buf_puts(out, "\r\n");

	/* 3. the original */
	buf_printf(out, "--%s/%s\r\n", p->token, p->reporting_mta);
	if (full) {
		buf_printf(out, "Content-Description: Undelivered Message\r\n"
		    "Content-Type: message/%s\r\n\r\n", utf8 ? "global" : "rfc822");
		buf_append(out, p->msg, p->msglen);
	} else {
		buf_printf(out, "Content-Description: Undelivered Message Headers\r\n"
		    "Content-Type: %s\r\n\r\n", utf8 ? "message/global-headers" : "text/rfc822-headers");
		buf_append(out, p->msg, hdrlen);
	}
	if (out->len < 2 || out->data[out->len - 2] != '\r' || out->data[out->len - 1] != '\n')
		buf_puts(out, "\r\n");
	buf_printf(out, "\r\n--%s/%s--\r\n", p->token, p->reporting_mta);
	return 0;
}
