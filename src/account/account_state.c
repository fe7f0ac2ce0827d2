/* account_state: accounts' limits, rolling rates and pause state in the
 * daemon (account_state.h).
 *
 * DESIGN
 * Everything here runs on the loop thread except the store calls, which go
 * to the thread pool (uv_queue_work) and report back. Accounts are few
 * (tenants, not recipients): a small chained hash by name holds one entry
 * per account, made on first sight (a refresh, a submission, an event).
 *
 * A refresh reads every account's row and applies limits at once. The pause
 * state it read may be older than a pause or resume this process made while
 * the read ran, so each entry remembers the change sequence of its last
 * local pause/resume and a refresh that started before it leaves the pause
 * state alone; a pause or resume made by another process (the CLI without a
 * daemon, another node) is picked up by the next refresh.
 *
 * The breaker: each delivered, bounced (hard) and complained event adds to
 * the account's window; after each the verdict is taken again. Crossing the
 * review threshold emits one reputation_warning until the rates fall back
 * under it; crossing the pause threshold pauses the account (once: a paused
 * account's mail is held, so its rates no longer move). */
#include "account/account_state.h"
#include "account/account_rep.h"
#include "events/events.h"
#include "metrics/metrics.h"
#include "store/store.h"
#include "util/config.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACCT_BUCKETS	64

struct acct {
	struct acct	*next;
	char		*name;
	int64_t		 set[ACCOUNT_WIN__COUNT];	/* the store's values; -1: default */
	struct account_limits lim;			/* effective */
	int		 paused;
	char		*reason;
	uint64_t	 paused_at;
	uint64_t	 change_seq;	/* a->seq at the last local pause/resume */
	struct account_rep rep;
	int		 warned;	/* a reputation_warning is out for this crossing */
};

struct account_state {
	uv_loop_t		*loop;
	const struct config	*cfg;
	struct store		*st;
	struct limiter		*lim;
	struct account_rep_policy policy;
	struct acct		*tab[ACCT_BUCKETS];
	uv_timer_t		*timer;
	int			 refreshing;
	int			 busy;		/* work items in flight */
	int			 closing;
	uint64_t		 seq;
	struct account_hold_hooks hooks;
	int			 metrics_hook;	/* -1: none */
	uint64_t		 started;	/* ms: events before this come from the store */
};

static unsigned
hash(const char *s)
{
	unsigned h = 2166136261u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h % ACCT_BUCKETS;
}

static void
effective(struct account_state *a, struct acct *e)
{
	const uint64_t def[ACCOUNT_WIN__COUNT] = { a->cfg->limit_per_second, a->cfg->limit_per_hour,
		a->cfg->limit_per_day };

	for (int w = 0; w < ACCOUNT_WIN__COUNT; w++)
		e->lim.per[w] = e->set[w] >= 0 ? (uint64_t)e->set[w] : def[w];
}

static struct acct *
find(struct account_state *a, const char *name, int create)
{
	unsigned h = hash(name);
	struct acct *e;

	for (e = a->tab[h]; e; e = e->next)
		if (strcmp(e->name, name) == 0)
			return e;
	if (!create)
		return NULL;
	e = xcalloc(1, sizeof(*e));
	e->name = xstrdup(name);
	for (int w = 0; w < ACCOUNT_WIN__COUNT; w++)
		e->set[w] = STORE_LIMIT_DEFAULT;
	effective(a, e);
	e->next = a->tab[h];
	a->tab[h] = e;
	return e;
}

static void
free_all(struct account_state *a)
{
	for (int i = 0; i < ACCT_BUCKETS; i++) {
		struct acct *e, *next;
		for (e = a->tab[i]; e; e = next) {
			next = e->next;
			free(e->name);
			free(e->reason);
			free(e);
		}
	}
	account_limit_free(a->lim);
	free(a);
}

/* ---- pause and resume in memory ---- */

static void
pause_local(struct account_state *a, struct acct *e, const char *reason, uint64_t at)
{
	if (e->paused)
		return;
	e->paused = 1;
	free(e->reason);
	e->reason = xstrdup(reason ? reason : "paused");
	e->paused_at = at;
	if (a->hooks.hold)
		a->hooks.hold(a->hooks.arg, e->name);
}

static void
resume_local(struct account_state *a, struct acct *e)
{
	if (!e->paused)
		return;
	e->paused = 0;
	free(e->reason);
	e->reason = NULL;
	e->paused_at = 0;
	e->warned = 0;
	account_rep_reset(&e->rep);
	if (a->hooks.release)
		a->hooks.release(a->hooks.arg, e->name);
}

/* apply() takes one row of the store. */
static void
apply(struct account_state *a, const struct store_account_settings *s, uint64_t started_seq)
{
	struct acct *e = find(a, s->account, 1);

	e->set[ACCOUNT_WIN_SECOND] = s->per_second;
	e->set[ACCOUNT_WIN_HOUR] = s->per_hour;
	e->set[ACCOUNT_WIN_DAY] = s->per_day;
	effective(a, e);
	if (e->change_seq > started_seq)
		return;		/* a local pause/resume is newer than this read */
	if (s->paused && !e->paused) {
		pause_local(a, e, s->pause_reason, (uint64_t)s->paused_at);
		log_info("account", "account %s is paused (%s)", e->name, e->reason);
	} else if (!s->paused && e->paused) {
		resume_local(a, e);
		log_info("account", "account %s was resumed", e->name);
	}
}

/* ---- asynchronous store work ---- */

enum job_kind { JOB_REFRESH, JOB_PAUSE, JOB_RESUME, JOB_REBUILD };

/* The rolling window of one account read back from the stored events
 * (JOB_REBUILD), merged into the live one on the loop. */
struct rebuilt {
	char			*account;
	struct account_rep	 rep;
};

struct job {
	uv_work_t		 req;
	struct account_state	*a;
	enum job_kind		 kind;
	char			*account;
	char			*reason;
	uint64_t		 seq;		/* a->seq when queued */
	uint64_t		 at;
	int			 rc;
	int			 was_paused;	/* resume: the store said paused */
	char			*err;
	struct store_account_settings *rows;
	size_t			 nrows;
	struct rebuilt		*rb;		/* JOB_REBUILD: one per account */
	size_t			 nrb;
	account_state_done	 done;
	void			*arg;
};

/* rebuild_one() counts account's delivered, hard-bounced and complained
 * events of the window before a->started into rb (worker). Paged through
 * store_events_query(): the first page by time, the next ones after the
 * last seq. */
static int
rebuild_one(struct account_state *a, struct rebuilt *rb, char **err)
{
	static const char *const types[] = { "delivered", "bounced", "complained" };
	static const enum account_rep_kind kinds[] = { ACCOUNT_REP_DELIVERED, ACCOUNT_REP_BOUNCED,
		ACCOUNT_REP_COMPLAINED };

	for (int t = 0; t < 3; t++) {
		struct store_event_query q = { .account = rb->account, .type = types[t],
			.after_seq = -1, .limit = STORE_EVENTS_MAX };
		int more = 1;

		q.since_time = a->started > a->policy.window_ms ?
		    (int64_t)(a->started - a->policy.window_ms) : 0;
		while (more) {
			struct store_event *v = NULL;
			size_t n = 0;

			if (store_events_query(a->st, &q, &v, &n, err) != 0)
				return -1;
			more = n == q.limit;
			for (size_t i = 0; i < n; i++) {
				if (v[i].time >= (int64_t)a->started) {
					more = 0;	/* the subscriber counts these */
					break;
				}
				if (kinds[t] == ACCOUNT_REP_BOUNCED) {
					/* hard bounces only (account_rep.h) */
					json_t *ev = json_loads(v[i].json ? v[i].json : "", 0, NULL);
					const char *cls = json_string_value(json_object_get(
					    json_object_get(ev, "bounce"), "class"));
					int hard = cls != NULL && strcmp(cls, "hard") == 0;
					json_decref(ev);
					if (!hard)
						continue;
				}
				account_rep_add(&rb->rep, &a->policy, kinds[t], (uint64_t)v[i].time);
			}
			if (n > 0) {
				q.after_seq = v[n - 1].seq;
				q.since_time = -1;
			}
			store_events_free(v, n);
		}
	}
	return 0;
}

static void
job_work(uv_work_t *req)
{
	struct job *j = req->data;
	struct account_state *a = j->a;

	switch (j->kind) {
	case JOB_REBUILD:
		j->rc = 0;
		for (size_t i = 0; i < j->nrb && j->rc == 0; i++)
			j->rc = rebuild_one(a, &j->rb[i], &j->err);
		break;
	case JOB_REFRESH:
		j->rc = store_account_settings_list(a->st, &j->rows, &j->nrows, &j->err);
		break;
	case JOB_PAUSE:
		j->rc = store_account_pause_set(a->st, j->account, 1, j->reason, &j->err);
		break;
	case JOB_RESUME: {
		struct store_account_settings s;
		j->rc = store_account_settings_get(a->st, j->account, &s, &j->err);
		if (j->rc == 0) {
			j->was_paused = s.paused;
			store_account_settings_clear(&s);
			j->rc = store_account_pause_set(a->st, j->account, 0, NULL, &j->err);
		}
		break;
	}
	}
}

/* rep_merge() adds the slots read from the store (all before the daemon
 * started) to the live window (all after): same epoch, the counts add up; a
 * live slot of a later epoch at the same place wins (the stored one is out
 * of the window by then). */
static void
rep_merge(struct account_rep *live, const struct account_rep *old)
{
	for (int i = 0; i < ACCOUNT_REP_SLOTS; i++) {
		struct account_rep_slot *l = &live->slot[i];
		const struct account_rep_slot *o = &old->slot[i];

		if (o->epoch == 0 || (l->epoch != 0 && l->epoch > o->epoch))
			continue;
		if (l->epoch == o->epoch) {
			l->delivered += o->delivered;
			l->bounced += o->bounced;
			l->complained += o->complained;
		} else {
			*l = *o;
		}
	}
}

static void emit(enum event_type type, const char *account, const char *reason,
    const char *extra);

static void
job_after(uv_work_t *req, int status)
{
	struct job *j = req->data;
	struct account_state *a = j->a;
	const char *msg = NULL;
	char *owned = NULL;
	int rc = j->rc;

	a->busy--;
	if (status != 0 && rc == 0) {
		rc = -1;
		msg = "cancelled";
	}
	if (a->closing) {
		rc = -1;
		msg = "shutting down";
		goto out;
	}
	switch (j->kind) {
	case JOB_REBUILD:
		if (rc != 0) {
			log_warn("account", "reading the reputation window from the events failed: %s "
			    "(the rates start empty)", j->err ? j->err : "?");
			break;
		}
		for (size_t i = 0; i < j->nrb; i++)
			rep_merge(&find(a, j->rb[i].account, 1)->rep, &j->rb[i].rep);
		log_info("account", "reputation window of %zu accounts read from the events", j->nrb);
		break;
	case JOB_REFRESH:
		a->refreshing = 0;
		if (rc == 0)
			for (size_t i = 0; i < j->nrows; i++)
				apply(a, &j->rows[i], j->seq);
		else
			log_error("account", "reading account settings failed: %s",
			    j->err ? j->err : msg ? msg : "?");
		break;
	case JOB_PAUSE:
		if (rc == STORE_NOTFOUND) {
			msg = owned = xasprintf("no such account: %s", j->account);
		} else if (rc != 0) {
			log_error("account", "account %s: recording the pause failed: %s (paused in "
			    "memory only)", j->account, j->err ? j->err : "?");
		} else {
			/* an account this process had not seen yet: pause it now */
			struct acct *e = find(a, j->account, 1);
			if (!e->paused) {
				e->change_seq = ++a->seq;
				pause_local(a, e, j->reason, time_now_ms());
				emit(EVENT_ACCOUNT_PAUSED, e->name, j->reason, NULL);
			}
		}
		break;
	case JOB_RESUME: {
		struct acct *e = find(a, j->account, rc == 0);
		if (rc == STORE_NOTFOUND) {
			msg = owned = xasprintf("no such account: %s", j->account);
			break;
		}
		if (rc != 0) {
			log_error("account", "account %s: resume failed: %s", j->account,
			    j->err ? j->err : "?");
			msg = "the store failed";
			break;
		}
		if (!e->paused && !j->was_paused) {
			rc = 1;
			msg = owned = xasprintf("account %s is not paused", j->account);
			break;
		}
		e->change_seq = ++a->seq;
		e->paused = 1;	/* whatever memory said, release what is held */
		resume_local(a, e);
		log_info("account", "account %s resumed by an administrator", j->account);
		emit(EVENT_ACCOUNT_RESUMED, j->account, "resumed by an administrator", NULL);
		break;
	}
	}
out:
	if (j->done)
		j->done(rc, msg ? msg : j->err, j->arg);
	free(owned);
	store_account_settings_free(j->rows, j->nrows);
	for (size_t i = 0; i < j->nrb; i++)
		free(j->rb[i].account);
	free(j->rb);
	free(j->account);
	free(j->reason);
	free(j->err);
	free(j);
}

static int
job_start(struct account_state *a, enum job_kind kind, const char *account, const char *reason,
    account_state_done done, void *arg)
{
	struct job *j = xcalloc(1, sizeof(*j));

	j->a = a;
	j->kind = kind;
	j->account = account ? xstrdup(account) : NULL;
	j->reason = reason ? xstrdup(reason) : NULL;
	j->seq = a->seq;
	j->done = done;
	j->arg = arg;
	j->req.data = j;
	if (uv_queue_work(a->loop, &j->req, job_work, job_after) != 0) {
		free(j->account);
		free(j->reason);
		free(j);
		return -1;
	}
	a->busy++;
	return 0;
}

static void
on_timer(uv_timer_t *t)
{
	struct account_state *a = t->data;

	if (!a->refreshing && job_start(a, JOB_REFRESH, NULL, NULL, NULL, NULL) == 0)
		a->refreshing = 1;
}

int
account_state_reload(struct account_state *a, account_state_done done, void *arg)
{
	/* a refresh of its own even when the timer's is in flight: that one
	 * may have read before the change the caller wants seen */
	return job_start(a, JOB_REFRESH, NULL, NULL, done, arg);
}

/* ---- events: emitted and received ---- */

static void
emit(enum event_type type, const char *account, const char *reason, const char *extra)
{
	struct event e = { .type = type, .account = account, .rcpt_index = -1, .reason = reason,
		.extra_json = extra };

	events_emit(&e);
}

static char *
rep_extra(struct account_state *a, const struct account_rep_totals *t,
    const struct account_rep_verdict *v)
{
	json_t *o = json_pack("{s:{s:f, s:f, s:I, s:I, s:I, s:I, s:I}}", "reputation",
	    "bounce_rate", t->bounce_rate, "complaint_rate", t->complaint_rate,
	    "sent", (json_int_t)t->sent, "delivered", (json_int_t)t->delivered,
	    "bounced", (json_int_t)t->bounced, "complained", (json_int_t)t->complained,
	    "window_seconds", (json_int_t)(a->policy.window_ms / 1000));
	json_t *r = json_object_get(o, "reputation");
	char *s;

	if (v->level != ACCOUNT_REP_OK) {
		json_object_set_new(r, "metric", json_string(v->metric));
		json_object_set_new(r, "threshold", json_real(v->threshold));
	}
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

static void
on_event(const struct event_rec *rec, void *arg)
{
	struct account_state *a = arg;
	const struct event *ev = &rec->ev;
	enum account_rep_kind kind;
	struct account_rep_totals t;
	struct account_rep_verdict v;
	struct acct *e;
	char reason[128], *extra;
	uint64_t now = time_now_ms();

	if (a->closing || ev->account == NULL || ev->account[0] == '\0')
		return;
	switch (rec->type) {
	case EVENT_DELIVERED:
		kind = ACCOUNT_REP_DELIVERED;
		break;
	case EVENT_BOUNCED:
		/* hard only: see account_rep.h */
		if (ev->bounce_class == NULL || strcmp(ev->bounce_class, "hard") != 0)
			return;
		kind = ACCOUNT_REP_BOUNCED;
		break;
	case EVENT_COMPLAINED:
		kind = ACCOUNT_REP_COMPLAINED;
		break;
	default:
		return;
	}
	e = find(a, ev->account, 1);
	account_rep_add(&e->rep, &a->policy, kind, now);
	account_rep_totals(&e->rep, &a->policy, now, &t);
	account_rep_judge(&t, &a->policy, &v);
	if (v.level == ACCOUNT_REP_OK) {
		e->warned = 0;
		return;
	}
	if (e->paused)
		return;
	account_rep_reason(&v, reason, sizeof(reason));
	if (v.level == ACCOUNT_REP_PAUSE && a->cfg->rep_pause) {
		extra = rep_extra(a, &t, &v);
		{
			struct log_line *l = log_begin(LOG_WARN, "account");
			log_str(l, "msg", "account paused by the reputation breaker");
			log_str(l, "account", e->name);
			log_str(l, "reason", reason);
			log_end(l);
		}
		e->change_seq = ++a->seq;
		pause_local(a, e, reason, now);
		emit(EVENT_ACCOUNT_PAUSED, e->name, reason, extra);
		free(extra);
		if (job_start(a, JOB_PAUSE, e->name, reason, NULL, NULL) < 0)
			log_error("account", "account %s: cannot record the pause", e->name);
		return;
	}
	if (e->warned)
		return;
	e->warned = 1;
	extra = rep_extra(a, &t, &v);
	log_warn("account", "account %s: reputation warning: %s", e->name, reason);
	emit(EVENT_REPUTATION_WARNING, e->name, reason, extra);
	free(extra);
}

/* ---- metrics ---- */

/* scrape() mirrors each account's pause state and rates into gauges at
 * every GET /metrics (loop thread). Account names are admin-made and few:
 * a bounded label set. */
static void
scrape(void *arg, struct buf *extra)
{
	struct account_state *a = arg;
	struct metrics_family *paused = metrics_gauge(NULL, "hermod_account_paused",
	    "1 while the account is paused (reputation breaker or an admin).", "account");
	struct metrics_family *bounce = metrics_gauge(NULL, "hermod_account_bounce_rate",
	    "Hard bounces / recipients sent over reputation.window.", "account");
	struct metrics_family *complaint = metrics_gauge(NULL, "hermod_account_complaint_rate",
	    "Complaints / recipients sent over reputation.window.", "account");
	uint64_t now = time_now_ms();

	(void)extra;
	for (int i = 0; i < ACCT_BUCKETS; i++)
		for (struct acct *e = a->tab[i]; e; e = e->next) {
			struct account_rep_totals t;
			account_rep_totals(&e->rep, &a->policy, now, &t);
			metrics_set(metrics_series(paused, e->name), e->paused ? 1 : 0);
			metrics_set(metrics_series(bounce, e->name), t.bounce_rate);
			metrics_set(metrics_series(complaint, e->name), t.complaint_rate);
		}
}

/* count_refusal() counts a submission refused by a limit. */
static void
count_refusal(const char *account, enum account_window w, uint64_t n)
{
	static struct metrics_family *f;

	if (f == NULL)
		f = metrics_counter(NULL, "hermod_account_limited_total",
		    "Recipients refused by an account limit (429, 451 4.7.1).", "account,window");
	metrics_add(metrics_series(f, account, account_window_name(w)), n);
}

/* ---- the interface ---- */

int
account_state_open(struct account_state **out, uv_loop_t *loop, const struct config *cfg,
    struct store *st, char **err)
{
	struct account_state *a = xcalloc(1, sizeof(*a));
	struct store_account_settings *rows = NULL;
	size_t n = 0;

	*out = NULL;
	a->loop = loop;
	a->cfg = cfg;
	a->st = st;
	a->lim = account_limit_mem();
	a->metrics_hook = -1;
	a->policy = (struct account_rep_policy){
		.window_ms = cfg->rep_window ? cfg->rep_window : 1,
		.min_sample = cfg->rep_min_sample,
		.bounce_review = cfg->rep_bounce_review,
		.bounce_pause = cfg->rep_bounce_pause,
		.complaint_review = cfg->rep_complaint_review,
		.complaint_pause = cfg->rep_complaint_pause,
	};
	if (store_account_settings_list(st, &rows, &n, err) != 0) {
		free_all(a);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		apply(a, &rows[i], 0);
	/* The rolling window of before the restart, from the stored events, on
	 * a worker once the loop runs; events from now on come through the
	 * subscriber. */
	a->started = time_now_ms();
	if (n > 0) {
		struct job *j = xcalloc(1, sizeof(*j));
		j->a = a;
		j->kind = JOB_REBUILD;
		j->rb = xcalloc(n, sizeof(*j->rb));
		j->nrb = n;
		for (size_t i = 0; i < n; i++)
			j->rb[i].account = xstrdup(rows[i].account);
		j->req.data = j;
		if (uv_queue_work(loop, &j->req, job_work, job_after) == 0) {
			a->busy++;
		} else {
			for (size_t i = 0; i < n; i++)
				free(j->rb[i].account);
			free(j->rb);
			free(j);
		}
	}
	store_account_settings_free(rows, n);
	events_subscribe(on_event, a);
	a->timer = xmalloc(sizeof(*a->timer));
	uv_timer_init(loop, a->timer);
	a->timer->data = a;
	if (cfg->limits_refresh > 0)
		uv_timer_start(a->timer, on_timer, cfg->limits_refresh, cfg->limits_refresh);
	a->metrics_hook = metrics_hook_add(NULL, scrape, a);
	*out = a;
	return 0;
}

static void
timer_closed(uv_handle_t *h)
{
	free(h);
}

void
account_state_close(struct account_state *a)
{
	if (a == NULL)
		return;
	a->closing = 1;
	if (a->metrics_hook >= 0)
		metrics_hook_remove(NULL, a->metrics_hook);
	a->metrics_hook = -1;
	uv_timer_stop(a->timer);
	uv_close((uv_handle_t *)a->timer, timer_closed);
	a->timer = NULL;
}

void
account_state_free(struct account_state *a)
{
	if (a != NULL)
		free_all(a);
}

void
account_state_set_hold_hooks(struct account_state *a, const struct account_hold_hooks *h)
{
	a->hooks = *h;
	/* accounts paused before the engine started: hold their mail now */
	for (int i = 0; i < ACCT_BUCKETS && h->hold; i++)
		for (struct acct *e = a->tab[i]; e; e = e->next)
			if (e->paused)
				h->hold(h->arg, e->name);
}

int
account_state_take(struct account_state *a, const char *account, uint64_t n,
    struct limiter_refusal *why)
{
	struct acct *e;

	if (a == NULL || account == NULL || account[0] == '\0' || n == 0)
		return 0;
	struct limiter_refusal r;

	e = find(a, account, 1);
	if (account_limit_take(a->lim, account, &e->lim, n, time_now_ms(), &r) == 0)
		return 0;
	count_refusal(account, r.window, n);
	if (why != NULL)
		*why = r;
	return 1;
}

void
account_state_give_back(struct account_state *a, const char *account, uint64_t n)
{
	struct acct *e;

	if (a == NULL || account == NULL || account[0] == '\0' || n == 0)
		return;
	if ((e = find(a, account, 0)) != NULL)
		account_limit_give_back(a->lim, account, &e->lim, n, time_now_ms());
}

const char *
account_state_pause_reason(struct account_state *a, const char *account)
{
	struct acct *e;

	if (a == NULL || account == NULL || (e = find(a, account, 0)) == NULL || !e->paused)
		return NULL;
	return e->reason;
}

void
account_state_set_limits(struct account_state *a, const char *account, int64_t per_second,
    int64_t per_hour, int64_t per_day)
{
	struct acct *e = find(a, account, 1);
	const int64_t v[ACCOUNT_WIN__COUNT] = { per_second, per_hour, per_day };

	for (int w = 0; w < ACCOUNT_WIN__COUNT; w++)
		if (v[w] != STORE_LIMIT_KEEP)
			e->set[w] = v[w];
	effective(a, e);
}

int
account_state_pause(struct account_state *a, const char *account, const char *reason,
    account_state_done done, void *arg)
{
	struct acct *e = find(a, account, 0);

	/* An unknown account may exist in the store (made since the last
	 * refresh): the store decides, the memory follows on success. */
	if (e != NULL && e->paused) {
		if (done)
			done(1, "the account is paused already", arg);
		return 0;
	}
	if (job_start(a, JOB_PAUSE, account, reason, done, arg) < 0)
		return -1;
	if (e != NULL) {
		e->change_seq = ++a->seq;
		pause_local(a, e, reason, time_now_ms());
		emit(EVENT_ACCOUNT_PAUSED, account, reason, NULL);
	}
	return 0;
}

int
account_state_resume(struct account_state *a, const char *account, account_state_done done,
    void *arg)
{
	return job_start(a, JOB_RESUME, account, NULL, done, arg);
}

json_t *
account_state_json(struct account_state *a, const char *account)
{
	struct acct *e = find(a, account, 1);
	struct limiter_usage u;
	struct account_rep_totals t;
	struct account_rep_verdict v;
	uint64_t now = time_now_ms();
	json_t *o, *lim, *usage, *rep, *thr;
	char when[40];

	account_limit_usage(a->lim, account, &e->lim, now, &u);
	account_rep_totals(&e->rep, &a->policy, now, &t);
	account_rep_judge(&t, &a->policy, &v);
	lim = json_object();
	usage = json_object();
	for (int w = 0; w < ACCOUNT_WIN__COUNT; w++) {
		char key[16];
		snprintf(key, sizeof(key), "per_%s", account_window_name((enum account_window)w));
		json_object_set_new(lim, key, json_integer((json_int_t)u.limit[w]));
		if (u.limit[w] == 0) {
			json_object_set_new(usage, account_window_name((enum account_window)w),
			    json_pack("{s:I, s:n, s:n, s:n}", "limit", (json_int_t)0, "used",
			    "remaining", "full_in_seconds"));
			continue;
		}
		json_object_set_new(usage, account_window_name((enum account_window)w),
		    json_pack("{s:I, s:I, s:I, s:f}", "limit", (json_int_t)u.limit[w],
		    "used", (json_int_t)u.used[w], "remaining", (json_int_t)u.remaining[w],
		    "full_in_seconds", (double)u.full_in_ms[w] / 1000.0));
	}
	thr = json_pack("{s:f, s:f, s:f, s:f}", "bounce_review", a->policy.bounce_review,
	    "bounce_pause", a->policy.bounce_pause, "complaint_review", a->policy.complaint_review,
	    "complaint_pause", a->policy.complaint_pause);
	rep = json_pack("{s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:I, s:o}",
	    "state", e->paused ? "paused" : v.level == ACCOUNT_REP_PAUSE ? "pause" :
	    v.level == ACCOUNT_REP_REVIEW ? "review" : "ok",
	    "paused", e->paused,
	    "sent", (json_int_t)t.sent, "delivered", (json_int_t)t.delivered,
	    "bounced", (json_int_t)t.bounced, "complained", (json_int_t)t.complained,
	    "min_sample", (json_int_t)a->policy.min_sample,
	    "bounce_rate", t.bounce_rate, "complaint_rate", t.complaint_rate,
	    "window_seconds", (json_int_t)(a->policy.window_ms / 1000), "thresholds", thr);
	json_object_set_new(rep, "judged", json_boolean(t.sent >= a->policy.min_sample));
	if (e->paused) {
		json_object_set_new(rep, "pause_reason", json_string(e->reason ? e->reason : ""));
		time_iso8601(e->paused_at, 0, when, sizeof(when));
		json_object_set_new(rep, "paused_at", json_string(when));
	}
	o = json_pack("{s:s, s:s, s:o, s:o, s:o}", "name", account, "counts", "recipients",
	    "limits", lim, "usage", usage, "reputation", rep);
	return o;
}

size_t
account_state_paused_count(struct account_state *a)
{
	size_t n = 0;

	for (int i = 0; i < ACCT_BUCKETS; i++)
		for (struct acct *e = a->tab[i]; e; e = e->next)
			n += e->paused != 0;
	return n;
}

void
account_state_foreach(struct account_state *a,
    void (*fn)(const char *account, int paused, double bounce_rate, double complaint_rate,
    void *arg), void *arg)
{
	uint64_t now = time_now_ms();

	for (int i = 0; i < ACCT_BUCKETS; i++)
		for (struct acct *e = a->tab[i]; e; e = e->next) {
			struct account_rep_totals t;
			account_rep_totals(&e->rep, &a->policy, now, &t);
			fn(e->name, e->paused, t.bounce_rate, t.complaint_rate, arg);
		}
}
