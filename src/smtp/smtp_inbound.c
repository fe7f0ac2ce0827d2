/* smtp_inbound: what a session does differently on the inbound listener
 * (bounces and feedback reports, smtp_server_start_inbound()). The state
 * machine, the parsers and every defence of submission are the same; only
 * two steps change:
 *
 * - RCPT: the address goes to the listener's rcpt hook on a worker thread
 *   (it may ask the store whether a domain is registered); the session is
 *   busy meanwhile, so pipelined commands wait their turn. A refusal is 550
 *   5.7.1: the listener delivers to nobody else, so it cannot relay.
 * - The end of the message: size, bare CR or LF, NUL are refused as on
 *   submission; nothing is added or signed (a report is kept as it came);
 *   the store hook makes it durable and the 250 waits for that. */
#include "smtp/smtp_session_int.h"
#include "smtp/smtp_server.h"
#include "util/config.h"
#include "util/log.h"
#include "util/xalloc.h"

#include <stdlib.h>
#include <string.h>

uint64_t
smtp_session_max_size(const struct smtp_session *s)
{
	if (s->lc->inbound != NULL && s->lc->inbound->max_message_size)
		return s->lc->inbound->max_message_size;
	return s->cfg->max_message_size;
}

struct rcpt_check {
	uv_work_t		 req;
	struct smtp_session	*s;
	const struct smtp_inbound_ops *ops;
	char			*addr;
	char			*orcpt;
	unsigned		 notify;
	int			 ok;
};

static void
rcpt_work(uv_work_t *req)
{
	struct rcpt_check *rc = req->data;

	rc->ok = rc->ops->rcpt(rc->ops->ctx, rc->addr) == 0;
}

static void
rcpt_after(uv_work_t *req, int status)
{
	struct rcpt_check *rc = req->data;
	struct smtp_session *s = rc->s;

	s->busy--;
	if (!s->closing) {
		if (status == 0 && rc->ok && s->nrcpt < s->cfg->max_recipients) {
			struct spool_rcpt *r;
			s->rcpt = xrealloc(s->rcpt, (s->nrcpt + 1) * sizeof(*s->rcpt));
			r = &s->rcpt[s->nrcpt++];
			memset(r, 0, sizeof(*r));
			r->addr = rc->addr;
			r->orcpt = rc->orcpt;
			r->notify = rc->notify;
			r->state = SPOOL_RCPT_QUEUED;
			rc->addr = rc->orcpt = NULL;
			s->state = S_RCPT;
			smtp_session_reply(s, "250 2.1.5 Ok");
		} else if (status != 0) {
			smtp_session_reply(s, "451 4.3.0 Error: try again later");
		} else {
			/* The address is not logged in full at info level: it is
			 * whatever a stranger typed. */
			log_debug("smtp.inbound", "recipient refused from %s", s->ip);
			smtp_session_error(s, "550 5.7.1 <%s>: Recipient address rejected: "
			    "not a bounce or feedback address here (this host does not relay)", rc->addr);
		}
	}
	free(rc->addr);
	free(rc->orcpt);
	free(rc);
	if (smtp_session_released(s))
		return;
	smtp_session_process(s);
}

void
smtp_inbound_rcpt(struct smtp_session *s, const char *addr, unsigned notify, const char *orcpt)
{
	struct rcpt_check *rc = xcalloc(1, sizeof(*rc));

	rc->s = s;
	rc->ops = s->lc->inbound;
	rc->addr = xstrdup(addr);
	rc->orcpt = orcpt ? xstrdup(orcpt) : NULL;
	rc->notify = notify;
	rc->req.data = rc;
	s->busy++;
	if (uv_queue_work(s->lc->loop, &rc->req, rcpt_work, rcpt_after) != 0) {
		s->busy--;
		free(rc->addr);
		free(rc->orcpt);
		free(rc);
		smtp_session_reply(s, "451 4.3.0 Error: try again later");
	}
}

/* --- the end of a message ------------------------------------------------ */

struct store_wait {
	struct smtp_session	*s;
	uint64_t		 size;
};

static void
stored(int err, void *arg)
{
	struct store_wait *w = arg;
	struct smtp_session *s = w->s;

	s->busy--;
	if (err == 0) {
		s->messages++;
		smtp_session_reply(s, "250 2.0.0 Ok: report received");
	} else {
		smtp_session_reply(s, "451 4.3.0 Error: cannot store the report, try again later");
	}
	free(w);
	smtp_session_message_done(s);
}

static void
reject(struct smtp_session *s, const char *text)
{
	smtp_session_tx_reset(s);
	s->state = S_READY;
	smtp_session_error(s, "%s", text);
}

void
smtp_inbound_message_end(struct smtp_session *s)
{
	const struct smtp_inbound_ops *ops = s->lc->inbound;
	struct smtp_inbound_msg m;
	struct store_wait *w;
	const char **rcpt;

	if (s->data.size > smtp_session_max_size(s) || s->bdat_overflow) {
		reject(s, "552 5.3.4 Error: message too large");
		return;
	}
	if (s->data.bare) {
		reject(s, "550 5.6.11 Error: bare CR or LF in message");
		return;
	}
	if (s->data.nul) {
		reject(s, "554 5.6.0 Error: NUL byte in message");
		return;
	}
	/* Long lines are kept: reports quote whatever the original held, and
	 * nothing here sends them on. */
	rcpt = xcalloc(s->nrcpt ? s->nrcpt : 1, sizeof(*rcpt));
	for (size_t i = 0; i < s->nrcpt; i++)
		rcpt[i] = s->rcpt[i].addr;
	memset(&m, 0, sizeof(m));
	m.client = s->ip;
	m.helo = s->helo;
	m.mail_from = s->mail_from ? s->mail_from : "";
	m.rcpt = rcpt;
	m.nrcpt = s->nrcpt;
	m.data = s->msg.data ? s->msg.data : "";
	m.len = s->msg.len;
	w = xcalloc(1, sizeof(*w));
	w->s = s;
	w->size = s->msg.len;
	s->busy++;
	if (ops->store(ops->ctx, &m, stored, w) < 0) {
		s->busy--;
		free(w);
		smtp_session_reply(s, "451 4.3.0 Error: cannot store the report, try again later");
	}
	free(rcpt);
	smtp_session_tx_reset(s);
	s->state = S_READY;
}
