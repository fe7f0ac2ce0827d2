/* deliver_outcome: what one attempt's results do. For each recipient:
 * 2xx delivered; 5xx bounced; 4xx or a local failure deferred with the next
 * attempt from delivery.retry, or expired once delivery.max_lifetime has
 * passed. Each change is written to the spool (spool_set_rcpt), logged as one
 * event in SPEC.md's shape, reported to the shaper, and, for bounced and
 * expired recipients of SMTP-submitted mail with a return path, answered by
 * an RFC 3464 DSN submitted to the spool with a null return path.
 *
 * A DSN needs the original message. When the caller has no copy, the bytes
 * are read (spool_read) before the final states are written, because the
 * last final state removes the message from the spool. */
#include "deliver/deliver_int.h"
#include "deliver/bounce.h"
#include "deliver/dsn.h"
#include "events/events.h"
#include "metrics/metrics.h"
#include "queue/sched.h"
#include "spool/spool.h"
#include "suppress/suppress.h"
#include "util/buf.h"
#include "util/config.h"
#include "util/id.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *
deliver_domain(const char *addr)
{
	const char *at = addr ? strrchr(addr, '@') : NULL;

	return at ? at + 1 : "";
}

uint64_t
deliver_retry_at(const struct config *cfg, uint32_t attempts, uint64_t queued_at, uint64_t now)
{
	uint64_t delay, expire = queued_at + cfg->max_lifetime, at;
	size_t i;
	uint32_t rnd;

	if (cfg->n_retry == 0)
		delay = 60000;
	else {
		i = attempts == 0 ? 0 : attempts - 1;
		if (i >= cfg->n_retry)
			i = cfg->n_retry - 1;
		delay = cfg->retry[i];
	}
	/* +-10% jitter: messages deferred together do not come back together. */
	id_random_bytes(&rnd, sizeof(rnd));
	if (delay >= 10)
		delay = delay - delay / 10 + (uint64_t)rnd % (delay / 5 + 1);
	at = now + (delay ? delay : 1);
	/* The last attempt happens at the expiry, not after it. */
	if (at > expire && expire > now)
		at = expire;
	return at;
}

static enum event_type
event_type_of(enum spool_rcpt_state st)
{
	switch (st) {
	case SPOOL_RCPT_DELIVERED: return EVENT_DELIVERED;
	case SPOOL_RCPT_BOUNCED: return EVENT_BOUNCED;
	case SPOOL_RCPT_EXPIRED: return EVENT_EXPIRED;
	default: return EVENT_DEFERRED;
	}
}

/* emit_event() reports one recipient's outcome (SPEC.md Events). */
static void
emit_event(const struct spool_env *env, const char *rcpt, size_t idx, enum spool_rcpt_state st,
    uint32_t attempt, const char *mx, const struct smtp_client_reply *r,
    const struct bounce_info *bi)
{
	struct event e = {
		.type = event_type_of(st),
		.account = env->account,
		.message_id = env->id,
		.header_message_id = env->message_id,
		.recipient = rcpt,
		.rcpt_index = (int)idx,
		.meta_json = env->meta_json,
		.attempt = attempt,
		.mx = mx,
	};

	if (r && r->code) {
		e.smtp_code = r->code;
		e.smtp_enhanced = r->enhanced;
		e.smtp_text = r->text;
	} else if (r && r->text[0]) {
		e.reason = r->text;	/* a local failure: no reply, a sentence */
	}
	if (bi) {
		e.bounce_class = bounce_class_name(bi->cls);
		e.bounce_category = bounce_category_name(bi->category);
	}
	events_emit(&e);
}

/* --- DSNs ----------------------------------------------------------------- */

struct dsn_rec {
	size_t				 idx;
	struct spool_rcpt		 r;		/* the new state, strings owned */
	struct smtp_client_reply	 reply;
	int				 want_dsn;
	enum dsn_action			 action;
};

struct dsn_job {
	struct deliver		*d;		/* NULL once orphaned */
	struct dsn_job		*prev, *next;
	char			 id[ID_LEN + 1];
	char			*mx;
	struct dsn_rec		*recs;
	size_t			 n;
};

static void
dsn_committed(int err, const char *id, void *arg)
{
	(void)arg;	/* may outlive the engine: touches nothing of it */
	if (err)
		log_error("deliver", "DSN %s could not be queued: %s", id ? id : "?", strerror(-err));
}

/* send_dsn() builds the DSN for the records that want one and submits it. */
static void
send_dsn_action(struct deliver *d, const struct spool_env *env, const struct dsn_rec *recs, size_t n,
    const char *mx, const char *msg, size_t len, enum dsn_action action)
{
	struct dsn_rcpt *dr = xcalloc(n, sizeof(*dr));
	char (*status)[16] = xcalloc(n, sizeof(*status));
	char **diag = xcalloc(n, sizeof(*diag));
	struct dsn_params p;
	struct spool_env e;
	struct spool_rcpt rcpt;
	struct buf out = { 0 };
	char token[ID_LEN + 1], *mid;
	size_t k = 0;
	uint64_t now = time_now_ms();

	for (size_t i = 0; i < n; i++) {
		const struct smtp_client_reply *r = &recs[i].reply;
		if (!recs[i].want_dsn || recs[i].action != action)
			continue;
		snprintf(status[k], sizeof(status[k]), "%s", r->enhanced[0] ? r->enhanced :
		    recs[i].r.state == SPOOL_RCPT_EXPIRED ? "4.4.7" : r->code >= 500 ? "5.0.0" :
		    r->code >= 400 || r->code == 0 ? "4.0.0" : "2.0.0");
		if (recs[i].r.state == SPOOL_RCPT_EXPIRED)
			status[k][0] = '5';	/* a failed action carries a 5.x.x status */
		if (r->code)
			diag[k] = xasprintf("%d %s%s%s", r->code, r->enhanced, r->enhanced[0] ? " " : "", r->text);
		dr[k].addr = recs[i].r.addr;
		dr[k].orcpt = recs[i].r.orcpt;
		dr[k].action = action;
		dr[k].status = status[k];
		dr[k].remote_mta = r->local == BOUNCE_LOCAL_NONE ? mx : NULL;
		dr[k].diagnostic = diag[k];
		dr[k].last_attempt = now;
		k++;
	}
	if (k == 0)
		goto out;
	id_new(token);
	memset(&p, 0, sizeof(p));
	p.reporting_mta = d->cfg->hostname && d->cfg->hostname[0] ? d->cfg->hostname : "localhost";
	p.return_path = env->mail_from;
	p.envid = env->envid;
	p.ret = env->ret;
	p.arrival = env->queued_at;
	p.now = now;
	p.token = token;
	p.msg = msg ? msg : "";
	p.msglen = msg ? len : 0;
	if (dsn_build(&p, dr, k, &out) < 0) {
		log_warn("deliver", "no DSN for %s: unusable return path", env->id);
		goto out;
	}
	/* The DSN goes out with a null return path and no DSN request of its
	 * own: if it fails, nothing answers it (RFC 3461 6.2). */
	memset(&e, 0, sizeof(e));
	memset(&rcpt, 0, sizeof(rcpt));
	mid = xasprintf("%s.dsn@%s", token, p.reporting_mta);
	e.account = env->account;
	e.mail_from = "";
	e.message_id = mid;
	e.client = "dsn";
	e.flags = env->flags & (SPOOL_F_8BITMIME | SPOOL_F_SMTPUTF8);
	e.size = out.len;
	rcpt.addr = env->mail_from;
	rcpt.state = SPOOL_RCPT_QUEUED;
	e.nrcpt = 1;
	e.rcpt = &rcpt;
	if (spool_submit(d->sp, &e, out.data, out.len, dsn_committed, NULL) < 0)
		log_error("deliver", "DSN for %s could not be submitted", env->id);
	{
		struct log_line *l = log_begin(LOG_INFO, "deliver");
		log_str(l, "msg", "DSN queued");
		log_str(l, "queue_id", env->id);
		log_str(l, "to", env->mail_from);
		log_int(l, "recipients", (int64_t)k);
		log_end(l);
	}
	free(mid);
out:
	buf_free(&out);
	for (size_t i = 0; i < n; i++)
		free(diag[i]);
	free(diag);
	free(status);
	free(dr);
}

/* send_dsn() sends one DSN per kind of action the records want. */
static void
send_dsn(struct deliver *d, const struct spool_env *env, const struct dsn_rec *recs, size_t n,
    const char *mx, const char *msg, size_t len)
{
	static const enum dsn_action kinds[] = { DSN_FAILED, DSN_DELAYED, DSN_RELAYED };

	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
		for (size_t i = 0; i < n; i++)
			if (recs[i].want_dsn && recs[i].action == kinds[k]) {
				send_dsn_action(d, env, recs, n, mx, msg, len, kinds[k]);
				break;
			}
}

/* apply() writes the new states to the spool, the final ones last. */
static void
apply(struct deliver *d, const char *id, struct dsn_rec *recs, size_t n)
{
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < n; i++) {
			int final = recs[i].r.state != SPOOL_RCPT_DEFERRED;
			if (final != pass)
				continue;
			if (spool_set_rcpt(d->sp, id, recs[i].idx, &recs[i].r, NULL, NULL) < 0)
				break;	/* gone (deleted by an admin meanwhile) */
		}
}

static void
recs_free(struct dsn_rec *recs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(recs[i].r.addr);
		free(recs[i].r.orcpt);
		free(recs[i].r.last_reply);
	}
	free(recs);
}

static void
dsn_read_done(int err, const char *id, const char *msg, size_t len, void *arg)
{
	struct dsn_job *j = arg;
	struct deliver *d = j->d;
	const struct spool_env *env = d ? spool_get(d->sp, j->id) : NULL;

	(void)id;
	if (env != NULL) {
		if (err)
			log_warn("deliver", "DSN for %s without the original: %s", j->id, strerror(-err));
		send_dsn(d, env, j->recs, j->n, j->mx, err ? NULL : msg, err ? 0 : len);
		apply(d, j->id, j->recs, j->n);
	}
	if (d) {
		if (j->prev)
			j->prev->next = j->next;
		else
			d->dsn_jobs = j->next;
		if (j->next)
			j->next->prev = j->prev;
	}
	recs_free(j->recs, j->n);
	free(j->mx);
	free(j);
}

uint64_t
deliver_outcomes(struct deliver *d, const char *id, const struct deliver_outcome *o, size_t n,
    const char *mx, const char *msg, size_t len)
{
	const struct spool_env *env = spool_get(d->sp, id);
	const struct shaper_ops *sh = sched_shaper(d->sched);
	struct dsn_rec *recs;
	uint64_t now = time_now_ms(), next = 0, expire;
	int dsn = 0;

	if (env == NULL || n == 0)
		return 0;
	expire = env->queued_at + d->cfg->max_lifetime;
	recs = xcalloc(n, sizeof(*recs));
	for (size_t i = 0; i < n; i++) {
		const struct smtp_client_reply *r = &o[i].reply;
		const struct spool_rcpt *cur;
		struct dsn_rec *rec = &recs[i];
		struct bounce_info bi;
		int has_bi = 0;

		if (o[i].idx >= env->nrcpt)
			continue;
		cur = &env->rcpt[o[i].idx];
		rec->idx = o[i].idx;
		rec->reply = *r;
		rec->r = *cur;
		rec->r.addr = xstrdup(cur->addr);
		rec->r.orcpt = cur->orcpt ? xstrdup(cur->orcpt) : NULL;
		rec->r.attempts = cur->attempts + 1;
		rec->r.last_reply = r->code ? xasprintf("%d %s%s%s", r->code, r->enhanced,
		    r->enhanced[0] ? " " : "", r->text) : xstrdup(r->text);
		rec->r.next_attempt = 0;
		if (r->code >= 200 && r->code < 300) {
			rec->r.state = SPOOL_RCPT_DELIVERED;
		} else if (r->code >= 500) {
			rec->r.state = SPOOL_RCPT_BOUNCED;
			bounce_classify(r->code, r->enhanced, r->text, strlen(r->text), r->local, &bi);
			has_bi = 1;
		} else if (now >= expire) {
			rec->r.state = SPOOL_RCPT_EXPIRED;
			bounce_classify(r->code ? r->code : 451, r->enhanced, r->text, strlen(r->text),
			    BOUNCE_LOCAL_EXPIRED, &bi);
			has_bi = 1;
		} else {
			rec->r.state = SPOOL_RCPT_DEFERRED;
			rec->r.next_attempt = deliver_retry_at(d->cfg, rec->r.attempts, env->queued_at, now);
			if (next == 0 || rec->r.next_attempt < next)
				next = rec->r.next_attempt;
		}
		/* NOTIFY: FAILURE (the default) for bounced and expired,
		 * SUCCESS for delivered (reported as relayed: the next hop
		 * gets no DSN request), DELAY once, at the first deferral. */
		if (has_bi)
			rec->action = DSN_FAILED;
		else if (rec->r.state == SPOOL_RCPT_DELIVERED)
			rec->action = DSN_RELAYED;
		else
			rec->action = DSN_DELAYED;
		if ((has_bi || rec->r.state == SPOOL_RCPT_DELIVERED || rec->r.attempts == 1) &&
		    dsn_wanted(env->mail_from, env->flags, cur->notify, rec->action)) {
			rec->want_dsn = 1;
			dsn = 1;
		}
		emit_event(env, cur->addr, o[i].idx, rec->r.state, rec->r.attempts, mx,
		    r, has_bi ? &bi : NULL);
		metrics_delivery_attempt(event_type_name(event_type_of(rec->r.state)));
		if (rec->r.state == SPOOL_RCPT_DELIVERED)
			metrics_delivery_seconds(now > env->queued_at ?
			    (double)(now - env->queued_at) / 1000.0 : 0.0);
		if (sh->on_result) {
			struct shaper_reply sr = {
				.code = r->code, .enhanced = r->enhanced, .text = r->text, .mx = mx,
				.permanent = rec->r.state == SPOOL_RCPT_BOUNCED,
			};
			sh->on_result(sh->ctx, deliver_domain(cur->addr), &sr, now);
		}
	}
	if (dsn && msg == NULL) {
		struct dsn_job *j = xcalloc(1, sizeof(*j));
		j->d = d;
		memcpy(j->id, id, ID_LEN + 1);
		j->mx = mx ? xstrdup(mx) : NULL;
		j->recs = recs;
		j->n = n;
		if (spool_read(d->sp, id, dsn_read_done, j) == 0) {
			j->next = d->dsn_jobs;
			if (d->dsn_jobs)
				d->dsn_jobs->prev = j;
			d->dsn_jobs = j;
			return next;
		}
		free(j->mx);
		free(j);
		send_dsn(d, env, recs, n, mx, NULL, 0);
	} else if (dsn) {
		send_dsn(d, env, recs, n, mx, msg, len);
	}
	apply(d, id, recs, n);
	recs_free(recs, n);
	return next;
}

void
deliver_outcome_orphan_jobs(struct deliver *d)
{
	for (struct dsn_job *j = d->dsn_jobs; j; j = j->next)
		j->d = NULL;
	d->dsn_jobs = NULL;
}

void
deliver_set_suppress(struct deliver *d, struct suppress *sp)
{
	d->suppress = sp;
}

int
deliver_outcome_suppressed(struct deliver *d, const struct spool_env *env, size_t idx)
{
	/* A null return path is a DSN to the account's own sender, not a
	 * recipient of its mailings: never held back by its list. */
	if (d->suppress == NULL || env->mail_from == NULL || env->mail_from[0] == '\0')
		return 0;
	return suppress_check(d->suppress, env->account, env->rcpt[idx].addr);
}

void
deliver_outcome_drop(struct deliver *d, const char *id, const size_t *idx, size_t n)
{
	const struct spool_env *env = spool_get(d->sp, id);
	struct spool_rcpt *r;
	char qid[ID_LEN + 1];

	if (env == NULL || n == 0)
		return;
	snprintf(qid, sizeof(qid), "%s", id);	/* id may live in the envelope */
	r = xcalloc(n, sizeof(*r));
	for (size_t i = 0; i < n; i++) {
		const struct spool_rcpt *cur = &env->rcpt[idx[i]];
		r[i] = *cur;
		r[i].addr = NULL;
		r[i].orcpt = NULL;
		r[i].state = SPOOL_RCPT_DROPPED;
		r[i].next_attempt = 0;
		r[i].last_reply = xstrdup("dropped: the address is on the account's suppression list");
		suppress_drop_event(env->account, env->id, env->message_id, cur->addr, (int)idx[i],
		    env->meta_json);
		log_info("deliver", "%s: recipient %zu dropped: suppressed", qid, idx[i]);
	}
	/* The envelope may go away with the last final state: nothing of it
	 * is read from here on. */
	for (size_t i = 0; i < n; i++)
		if (spool_set_rcpt(d->sp, qid, idx[i], &r[i], NULL, NULL) < 0)
			break;
	for (size_t i = 0; i < n; i++)
		free(r[i].last_reply);
	free(r);
}

