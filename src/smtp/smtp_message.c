/* smtp_message: a message's bytes and its end. DATA is decoded by the pure
 * smtp_data_feed() (dot-unstuffing, CRLF.CRLF only); BDAT chunks are taken
 * by count and checked for bare CR or LF as they come, since a next hop may
 * speak DATA. At the end the message is checked (size, NUL, line length,
 * header lines, one From: on a domain of the account), gets its Received:
 * trace and a Message-ID and Date when missing, is DKIM-signed on the thread
 * pool and handed to the spool; the 250 is sent from the spool's callback,
 * once the message is durable. */
#include "smtp/smtp_session_int.h"
#include "dkim/dkim_keys.h"
#include "events/events.h"
#include "metrics/metrics.h"
#include "mime/mime_addr.h"
#include "mime/mime_header.h"
#include "net/io.h"
#include "util/config.h"
#include "util/id.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct commit {
	struct smtp_session	*s;
	uint64_t		 size;
	size_t			 nrcpt;
	char			*message_id;
};

static void
commit_done(int err, const char *id, void *arg)
{
	struct commit *cm = arg;
	struct smtp_session *s = cm->s;

	s->busy--;
	if (err == 0) {
		struct log_line *l = log_begin(LOG_INFO, "smtp.accept");
		log_str(l, "queue_id", id);
		log_str(l, "message_id", cm->message_id);
		log_str(l, "account", s->account);
		log_str(l, "client", s->ip);
		log_int(l, "size", (int64_t)cm->size);
		log_int(l, "recipients", (int64_t)cm->nrcpt);
		log_end(l);
		s->messages++;
		s->recipients += cm->nrcpt;
		/* durable now: one queued event per recipient (events.h) */
		events_emit_queued(spool_get(s->lc->spool, id));
		metrics_accepted("smtp", cm->nrcpt);
		smtp_session_reply(s, "250 2.0.0 Ok: queued as %s", id);
	} else {
		log_error("smtp.accept", "spool write failed: %s", strerror(-err));
		smtp_session_reply(s, "451 4.3.0 Error: queue file write error, try again later");
	}
	free(cm->message_id);
	free(cm);
	smtp_session_message_done(s);
}

/* message_reject() answers a refused message and resets the transaction. */
static void
message_reject(struct smtp_session *s, const char *fmt, const char *arg)
{
	smtp_session_tx_reset(s);
	s->state = S_READY;
	smtp_session_error(s, fmt, arg);
}

/* message_commit() hands the finished message (s->msg) to the spool; the
 * reply waits for the commit. */
static void
message_commit(struct smtp_session *s)
{
	struct spool_env env;
	struct commit *cm;
	int rc;

	memset(&env, 0, sizeof(env));
	env.account = s->account;
	env.mail_from = s->mail_from;
	env.envid = s->envid;
	env.ret = s->ret;
	env.flags = s->flags | SPOOL_F_DSN;
	env.message_id = s->msgid;
	env.client = s->ip;
	env.size = s->msg.len;
	env.nrcpt = s->nrcpt;
	env.rcpt = s->rcpt;

	cm = xcalloc(1, sizeof(*cm));
	cm->s = s;
	cm->size = s->msg.len;
	cm->nrcpt = s->nrcpt;
	cm->message_id = s->msgid;
	s->msgid = NULL;
	s->limit_taken = 0;	/* the recipients are spent: the message is going in */
	s->busy++;
	rc = spool_submit(s->lc->spool, &env, s->msg.data, s->msg.len, commit_done, cm);
	smtp_session_tx_reset(s);
	s->state = S_READY;
	if (rc < 0) {
		s->busy--;
		free(cm->message_id);
		free(cm);
		log_error("smtp.accept", "spool submit failed: %s", strerror(-rc));
		smtp_session_reply(s, "451 4.3.0 Error: queue file write error, try again later");
	}
}

/* DKIM signing on the thread pool. The session is busy meanwhile, so its
 * transaction (s->msg) stays put. */
struct sign_work {
	uv_work_t		 req;
	struct smtp_session	*s;
	struct dkim_keyring	*ring;
	int			 rc;
	char			*err;
};

static void
sign_work(uv_work_t *req)
{
	struct sign_work *w = req->data;

	/* Signs s->msg in place; the session is busy, nothing else touches it. */
	w->rc = dkim_keyring_sign_message(w->ring, &w->s->msg, (long long)time(NULL), &w->err);
}

static void
sign_after(uv_work_t *req, int status)
{
	struct sign_work *w = req->data;
	struct smtp_session *s = w->s;

	s->busy--;
	if (s->closing) {
		smtp_session_tx_reset(s);
	} else if (status != 0 || w->rc < 0) {
		log_error("dkim", "signing failed: %s", w->err ? w->err : "cancelled");
		smtp_session_tx_reset(s);
		s->state = S_READY;
		smtp_session_reply(s, "451 4.3.0 Error: DKIM signing failed, try again later");
	} else
		message_commit(s);	/* signed, or DKIM_KEYS_NOKEY: unsigned */
	free(w->err);
	free(w);
	if (smtp_session_released(s))
		return;
	smtp_session_process(s);
}

/* message_end() checks the complete message, adds the trace and missing
 * headers, and hands it to the spool; the reply waits for the commit. */
static void
message_end(struct smtp_session *s)
{
	struct mime_header_info hi;
	struct buf out;
	char date[64], idbuf[ID_LEN + 1], *msgid = NULL;
	const char *proto;

	if (s->lc->inbound != NULL) {
		smtp_inbound_message_end(s);
		return;
	}
	if (s->data.size > s->cfg->max_message_size || s->bdat_overflow) {
		message_reject(s, "552 5.3.4 Error: message too large (%s)", "max_message_size");
		return;
	}
	if (s->data.bare) {
		message_reject(s, "550 5.6.11 Error: bare CR or LF in message%s", "");
		return;
	}
	if (s->data.nul) {
		message_reject(s, "554 5.6.0 Error: NUL byte in message%s", "");
		return;
	}
	if (s->data.longline) {
		message_reject(s, "500 5.5.6 Error: line too long in message (1000 octets at most)%s", "");
		return;
	}
	mime_header_scan(s->msg.data ? s->msg.data : "", s->msg.len, &hi);
	if (hi.nlines > SMTP_HEADER_MAX_LINES) {
		message_reject(s, "552 5.6.0 Error: too many header lines (%s at most)", SMTP_HEADER_MAX_LINES_STR);
		return;
	}
	if (hi.n_from != 1 || hi.n_date > 1 || hi.n_message_id > 1 || hi.n_sender > 1) {
		message_reject(s, "550 5.6.0 Error: a message needs one From: and at most one Date:, "
		    "Message-ID: and Sender:%s", "");
		return;
	}
	/* Every From: address must be on a domain of the account (DMARC
	 * alignment starts here: nobody sends as a domain they don't own). */
	{
		struct buf from;
		struct mime_addr_list al;
		const char *why = NULL;
		int ok;

		buf_init(&from);
		mime_header_get(s->msg.data, hi.header_len, "From", &from);
		ok = mime_addr_parse(from.data ? from.data : "", from.len, 1, &al, &why) == 0 && al.n > 0;
		for (size_t i = 0; ok && i < al.n; i++)
			if (al.v[i].addr == NULL || !smtp_session_domain_allowed(s, al.v[i].addr))
				ok = 0;
		mime_addr_list_free(&al);
		buf_free(&from);
		if (!ok) {
			message_reject(s, "550 5.7.1 Error: From: is not an address on a domain of account %s",
			    s->account);
			return;
		}
	}
	/* Build: Received + missing Message-ID/Date + the message. */
	buf_init(&out);
	proto = io_tls_active(s->io) ? (s->authenticated ? "ESMTPSA" : "ESMTPS") :
	    (s->authenticated ? "ESMTPA" : (s->esmtp ? "ESMTP" : "SMTP"));
	time_rfc5322(time_now_ms(), date, sizeof(date));
	buf_printf(&out, "Received: from %s ([%s])\r\n\tby %s (hermod) with %s", s->helo ? s->helo : "unknown",
	    s->ip, s->cfg->hostname, proto);
	if (io_tls_info(s->io))
		buf_printf(&out, "\r\n\t(%s)", io_tls_info(s->io));
	if (s->nrcpt == 1 && strlen(s->rcpt[0].addr) < 200 && !(s->flags & SPOOL_F_SMTPUTF8))
		buf_printf(&out, "\r\n\tfor <%s>", s->rcpt[0].addr);
	buf_printf(&out, ";\r\n\t%s\r\n", date);
	if (hi.n_message_id == 0) {
		id_new(idbuf);
		msgid = xasprintf("%s@%s", idbuf, s->cfg->hostname);
		buf_printf(&out, "Message-ID: <%s>\r\n", msgid);
	} else {
		struct buf v;
		buf_init(&v);
		if (mime_header_get(s->msg.data, hi.header_len, "Message-ID", &v) > 0 && v.data) {
			char *lt = strchr(v.data, '<'), *gt = lt ? strchr(lt, '>') : NULL;
			if (lt && gt && gt - lt < 990)
				msgid = xstrndup(lt + 1, (size_t)(gt - lt - 1));
		}
		buf_free(&v);
	}
	if (hi.n_date == 0)
		buf_printf(&out, "Date: %s\r\n", date);
	buf_append(&out, s->msg.data ? s->msg.data : "", s->msg.len);

	/* Sign once, before the spool (not per recipient or attempt), on a
	 * worker: an RSA signature costs about a millisecond. */
	buf_free(&s->msg);
	s->msg = out;
	s->msgid = msgid;
	if (s->lc->keyring == NULL) {
		message_commit(s);
		return;
	}
	{
		struct sign_work *w = xcalloc(1, sizeof(*w));
		w->s = s;
		w->ring = s->lc->keyring;
		w->req.data = w;
		s->busy++;
		if (uv_queue_work(s->lc->loop, &w->req, sign_work, sign_after) != 0) {
			s->busy--;
			free(w);
			message_commit(s);
		}
	}
}

/* ------------------------------------------------------------------ */
/* Input                                                               */

/* smtp_message_data() feeds DATA bytes; returns 0 to go on, -1 to stop processing. */
int
smtp_message_data(struct smtp_session *s, struct buf *in)
{
	size_t used = 0;
	enum smtp_data_rc rc;

	rc = smtp_data_feed(&s->data, in->data, in->len, &used, &s->msg, smtp_session_max_size(s));
	buf_consume(in, used);
	if (rc == SMTP_DATA_ERROR) {
		/* A bare CR or LF: a smuggling attempt or a broken client. Nothing
		 * after it can be trusted to be a command: refuse and close. */
		smtp_session_reply(s, "521 5.5.2 %s Error: bare CR or LF in message (SMTP smuggling?)", s->cfg->hostname);
		smtp_session_close(s, "bare-newline");
		return -1;
	}
	if (rc == SMTP_DATA_DONE) {
		message_end(s);
		return 0;
	}
	return -1;	/* need more */
}

int
smtp_message_bdat(struct smtp_session *s, struct buf *in)
{
	size_t n = in->len < s->bdat_left ? in->len : (size_t)s->bdat_left;
	uint64_t total;

	if (n == 0 && s->bdat_left > 0)
		return -1;
	total = s->data.size + n;
	if (total > smtp_session_max_size(s))
		s->bdat_overflow = 1;
	else {
		/* BDAT is counted, not dot-stuffed, but a bare CR or LF must not
		 * reach a next hop that speaks DATA: check as we go. */
		for (size_t i = 0; i < n; i++) {
			char ch = in->data[i];
			char prev = i > 0 ? in->data[i - 1] : (s->msg.len ? s->msg.data[s->msg.len - 1] : 0);
			if (ch == '\n' && prev != '\r')
				s->data.bare = 1;
			if (prev == '\r' && ch != '\n' && (i > 0 || s->msg.len))
				s->data.bare = 1;
			if (ch == '\0')
				s->data.nul = 1;
		}
		buf_append(&s->msg, in->data, n);
	}
	s->data.size = total;
	buf_consume(in, n);
	s->bdat_left -= n;
	if (s->bdat_left > 0)
		return -1;
	if (!s->bdat_last) {
		s->state = S_RCPT;
		smtp_session_reply(s, "250 2.0.0 %llu octets received", (unsigned long long)n);
		return 0;
	}
	if (s->msg.len > 0 && s->msg.data[s->msg.len - 1] == '\r')
		s->data.bare = 1;
	if (s->msg.len > 0 && s->msg.data[s->msg.len - 1] != '\n') {
		/* RFC 3030: the message must end with CRLF; add it. */
		buf_puts(&s->msg, "\r\n");
	}
	/* Long lines in BDAT content. */
	{
		size_t run = 0;
		for (size_t i = 0; i < s->msg.len; i++) {
			if (s->msg.data[i] == '\n')
				run = 0;
			else if (++run > 999)
				s->data.longline = 1;
		}
	}
	message_end(s);
	return 0;
}

