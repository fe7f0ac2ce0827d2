/* suppress_auto: the events that put an address on its account's list by
 * themselves (issue 6), as an events subscriber:
 *   bounced, class "hard"          -> hard_bounce, at once
 *   complained                     -> complaint, at once
 *   unsubscribed                   -> unsubscribe, at once
 *   bounced, class "soft", or deferred with a 4xx reply from the remote
 *                                  -> one soft bounce on record; soft_bounce
 *                                     once they kept coming (below)
 *   delivered                      -> the soft bounces on record are forgotten
 *
 * Soft bounces: an address is suppressed when it has at least
 * suppressions.soft_bounce_count of them, the first at least
 * suppressions.soft_bounce_span before the latest, with no quiet spell
 * longer than the span (a day at least) between two and no delivery in
 * between. A provider's warm-up
 * throttling (421, or a 550 that is really "slow down") lasts hours, and
 * counting alone would suppress every address it touched; requiring the
 * span means the address failed for days. Local failures (DNS, network)
 * are not counted: they say nothing about the address.
 *
 * Subscribers run on the loop thread, so every store write goes to a worker
 * (uv_queue_work); the set answers "already listed?" without the store.
 * Soft bounces come in bursts (a provider deferring thousands of messages
 * at once), so they are gathered and written in one transaction every
 * SUPPRESS_POLL_MS (or every SUPPRESS_SOFT_BATCH): one fsync a burst, not
 * one a deferral. */
#include "suppress/suppress_int.h"
#include "events/events.h"
#include "store/store.h"
#include "util/config.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

#include <stdlib.h>
#include <string.h>

#define SUPPRESS_SOFT_QUIET_MS	(24LL * 3600 * 1000)

#define SUPPRESS_SOFT_BATCH	512	/* flushed at once when this many wait */

enum job_kind { JOB_ADD, JOB_CLEAR };

struct job {
	uv_work_t		 req;
	struct suppress		*sp;
	enum job_kind		 kind;
	char			*account;
	char			*address;
	const char		*reason;
	char			*source;
};

static void
job_work(uv_work_t *req)
{
	struct job *j = req->data;
	struct suppress *sp = j->sp;
	char *err = NULL;
	int rc = 0;

	switch (j->kind) {
	case JOB_ADD:
		rc = suppress_add(sp, j->account, j->address, j->reason, j->source, "auto", &err);
		break;
	case JOB_CLEAR: {
		char *n = suppress_addr_normalize(j->address, NULL), *k;
		rc = store_suppress_soft_clear(sp->st, j->account, j->address, &err);
		if (n != NULL) {
			k = suppress_addr_key(n);
			suppress_set_remove(sp->soft, j->account, k);
			free(k);
			free(n);
		}
		break;
	}
	}
	if (rc < 0)
		log_error("suppress", "%s: automatic suppression of %s failed: %s", j->account,
		    j->address, err ? err : "?");
	free(err);
}

static void
job_after(uv_work_t *req, int status)
{
	struct job *j = req->data;

	(void)status;
	free(j->account);
	free(j->address);
	free(j->source);
	free(j);
}

static void
job_queue(struct suppress *sp, enum job_kind kind, const struct event_rec *rec,
    const char *reason)
{
	struct job *j = xcalloc(1, sizeof(*j));

	j->sp = sp;
	j->kind = kind;
	j->account = xstrdup(rec->ev.account);
	j->address = xstrdup(rec->ev.recipient);
	j->reason = reason;
	j->source = xstrdup(rec->ev.message_id ? rec->ev.message_id : rec->id);
	j->req.data = j;
	if (uv_queue_work(sp->loop, &j->req, job_work, job_after) != 0) {
		log_error("suppress", "%s: cannot queue the suppression of %s", j->account,
		    j->address);
		job_after(&j->req, 0);
	}
}

/* ---- soft bounces: gathered on the loop, written in batches ---- */

struct suppress_soft_item {
	char	*account;
	char	*address;
	char	*source;
};

struct soft_batch {
	uv_work_t			 req;
	struct suppress			*sp;
	struct suppress_soft_item	*v;
	size_t				 n;
};

static void
soft_items_free(struct suppress_soft_item *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].account);
		free(v[i].address);
		free(v[i].source);
	}
	free(v);
}

/* soft_work() records the batch in one transaction, then suppresses the
 * addresses that kept bouncing long enough. Worker thread. */
static void
soft_work(uv_work_t *req)
{
	struct soft_batch *b = req->data;
	struct suppress *sp = b->sp;
	struct store_soft_bounce *v = xcalloc(b->n, sizeof(*v));
	int64_t now = (int64_t)time_now_ms(), span = (int64_t)sp->cfg->soft_bounce_span;
	/* a record is forgotten after a quiet spell as long as the span, a
	 * day at least (retries can be hours apart) */
	int64_t gap = span > SUPPRESS_SOFT_QUIET_MS ? span : SUPPRESS_SOFT_QUIET_MS;
	char *err = NULL;

	for (size_t i = 0; i < b->n; i++) {
		v[i].account = b->v[i].account;
		v[i].address = b->v[i].address;
	}
	if (store_suppress_soft_many(sp->st, v, b->n, now, gap, &err) != 0) {
		log_error("suppress", "recording %zu soft bounces failed: %s", b->n, err ? err : "?");
		free(err);
		free(v);
		return;
	}
	for (size_t i = 0; i < b->n; i++) {
		if (v[i].rc != 0)
			continue;
		suppress_soft_loaded(v[i].account, v[i].address, sp);
		if (sp->cfg->soft_bounce_count > 0 &&
		    (uint64_t)v[i].count >= sp->cfg->soft_bounce_count && now - v[i].first >= span &&
		    suppress_add(sp, v[i].account, v[i].address, "soft_bounce", b->v[i].source, "auto",
		    &err) < 0) {
			log_error("suppress", "%s: suppressing %s failed: %s", v[i].account,
			    v[i].address, err ? err : "?");
			free(err);
			err = NULL;
		}
	}
	free(v);
}

static void
soft_after(uv_work_t *req, int status)
{
	struct soft_batch *b = req->data;

	(void)status;
	soft_items_free(b->v, b->n);
	free(b);
}

void
suppress_auto_flush(struct suppress *sp)
{
	struct soft_batch *b;

	if (sp->nsoft == 0 || sp->stopping)
		return;
	b = xcalloc(1, sizeof(*b));
	b->sp = sp;
	b->v = sp->soft_pending;
	b->n = sp->nsoft;
	sp->soft_pending = NULL;
	sp->nsoft = sp->softcap = 0;
	b->req.data = b;
	if (uv_queue_work(sp->loop, &b->req, soft_work, soft_after) != 0) {
		log_error("suppress", "cannot queue %zu soft bounces", b->n);
		soft_after(&b->req, 0);
	}
}

void
suppress_auto_free(struct suppress *sp)
{
	soft_items_free(sp->soft_pending, sp->nsoft);
	sp->soft_pending = NULL;
	sp->nsoft = sp->softcap = 0;
}

static void
soft_queue(struct suppress *sp, const struct event_rec *rec)
{
	struct suppress_soft_item *it;

	if (sp->nsoft == sp->softcap) {
		sp->softcap = sp->softcap ? sp->softcap * 2 : 16;
		sp->soft_pending = xrealloc(sp->soft_pending, sp->softcap * sizeof(*sp->soft_pending));
	}
	it = &sp->soft_pending[sp->nsoft++];
	it->account = xstrdup(rec->ev.account);
	it->address = xstrdup(rec->ev.recipient);
	it->source = xstrdup(rec->ev.message_id ? rec->ev.message_id : rec->id);
	if (sp->nsoft >= SUPPRESS_SOFT_BATCH)
		suppress_auto_flush(sp);
}

/* soft_known() tells whether the address has soft bounces on record. */
static int
soft_known(struct suppress *sp, const char *account, const char *addr)
{
	char *n = suppress_addr_normalize(addr, NULL), *k;
	int hit;

	if (n == NULL)
		return 0;
	k = suppress_addr_key(n);
	hit = suppress_set_has(sp->soft, account, k);
	free(k);
	free(n);
	return hit;
}

static void
on_event(const struct event_rec *rec, void *arg)
{
	struct suppress *sp = arg;
	const struct event *e = &rec->ev;
	const char *cls = e->bounce_class;

	if (e->account == NULL || e->recipient == NULL)
		return;
	switch (rec->type) {
	case EVENT_BOUNCED:
		if (cls != NULL && strcmp(cls, "hard") == 0) {
			if (!suppress_check(sp, e->account, e->recipient))
				job_queue(sp, JOB_ADD, rec, "hard_bounce");
		} else if (cls != NULL && strcmp(cls, "soft") == 0) {
			if (!suppress_check(sp, e->account, e->recipient))
				soft_queue(sp, rec);
		}
		break;
	case EVENT_DEFERRED:
		/* a reply from the remote server; a local failure has none */
		if (e->smtp_code >= 400 && e->smtp_code < 500 &&
		    !suppress_check(sp, e->account, e->recipient))
			soft_queue(sp, rec);
		break;
	case EVENT_COMPLAINED:
		if (!suppress_check(sp, e->account, e->recipient))
			job_queue(sp, JOB_ADD, rec, "complaint");
		break;
	case EVENT_UNSUBSCRIBED:
		if (!suppress_check(sp, e->account, e->recipient))
			job_queue(sp, JOB_ADD, rec, "unsubscribe");
		break;
	case EVENT_DELIVERED:
		if (soft_known(sp, e->account, e->recipient))
			job_queue(sp, JOB_CLEAR, rec, NULL);
		break;
	default:
		break;
	}
}

void
suppress_auto_subscribe(struct suppress *sp)
{
	events_subscribe(on_event, sp);
}
