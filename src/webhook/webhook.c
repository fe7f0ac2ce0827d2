/* webhook: the dispatcher. Every subscription reads the events store by
 * cursor and POSTs the events it wants to its endpoint, signed.
 *
 * DESIGN
 * Durability comes from the events store, not from memory: an event reaches
 * subscribers only once it is stored, and each subscription keeps a cursor
 * (webhooks.cursor: every event up to it is handled). The events pipeline's
 * callback only wakes us; we then read the store after the cursor in
 * windows of WH_WINDOW events. A window's events are tried at once (within
 * the connection limits); the cursor moves past the window, in the store,
 * only when every event of it is delivered, not wanted, given up, or
 * recorded in webhook_pending. A crash or a restart therefore re-reads at
 * most the unfinished window: delivery is at-least-once, and a receiver
 * dedupes by webhook-id (the event id, the same on every attempt).
 *
 * Retries: an event whose first attempt fails moves to webhook_pending with
 * its next attempt time (webhooks.retry, the last delay repeating) and its
 * body, so the cursor can move on and other messages proceed. Pending events
 * are picked up by a scan (store_webhook_pending_due) when due. An event is
 * given up once webhooks.max_lifetime has passed since it happened (logged,
 * counted).
 *
 * Order per message: an event of a message waits while an earlier event of
 * the same message is in flight or pending. In a window this is a scan for
 * an earlier item of the same message; against the store it is
 * store_webhook_pending_blocked() at read time (the event then goes to
 * webhook_pending behind the earlier one) and the NOT EXISTS in the due
 * scan. Every store write goes through one FIFO queue of work items run one
 * at a time on the thread pool, so a waiting event is never recorded before
 * the one it waits for.
 *
 * A dead endpoint: after WH_CIRCUIT_FAILS failures in a row, a
 * subscription's circuit opens: one attempt at a time (a probe), spaced by
 * the retry delays; new events stay in the events store, unread, so a long
 * outage costs neither memory nor a pending row per event. The first 2xx
 * closes the circuit and makes every pending event of the subscription due
 * at once, so a receiver that comes back gets its backlog promptly.
 *
 * Mail is never slowed: nothing here runs on the delivery path; the events
 * callback only raises a flag; curl runs on the loop without blocking
 * (webhook_curl.c); store work is one item at a time, so it never takes more
 * than one thread of the pool. Memory is bounded by WH_WINDOW events per
 * subscription and WH_SCAN_MAX pending rows per scan. */
#include "webhook/webhook.h"
#include "webhook/webhook_int.h"
#include "events/events.h"
#include "metrics/metrics.h"
#include "store/store.h"
#include "util/config.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <sodium.h>

#define WH_WINDOW		64	/* events read at once per subscription */
#define WH_SCAN_MAX		256	/* pending rows read at once */
#define WH_CIRCUIT_FAILS	3	/* failures in a row that open the circuit */
#define WH_RESCAN_MS		30000	/* a scan at least this often */
#define WH_RELOAD_MS		60000	/* subscriptions re-read at least this often */

/* An event in flight or waiting: in a subscription's window, or a pending
 * row being attempted. */
enum item_state { IT_WAIT, IT_FLIGHT, IT_PENDING_ADD, IT_PENDED, IT_DONE };

struct item {
	struct sub	*sub;
	int64_t		 seq;
	char		*event_id;
	char		*message_id;
	int64_t		 event_time;
	char		*body;
	size_t		 body_len;
	int		 attempts;	/* failed attempts so far */
	int		 blocked;	/* the store has a pending event of its message */
	int		 pending;	/* a webhook_pending row (not a window item) */
	enum item_state	 state;
	struct item	*next;		/* the subscription's pending items in flight */
};

struct sub {
	struct webhook	*wh;
	char		*id, *account, *url, *secret;
	uint32_t	 types;		/* 1 << enum event_type */
	int64_t		 cursor;	/* saved in the store */
	int64_t		 read_upto;	/* the window holds events up to here */
	int		 gone;		/* deleted or disabled: freed when refs is 0 */
	int		 seen;		/* reload bookkeeping */
	int		 refs;		/* work items and transfers using it */
	int		 fetching;
	int		 disabling;	/* 410 seen: the disable is on its way */
	struct item	*win;		/* the window, win_n items */
	size_t		 win_n;
	struct item	*flying;	/* pending rows in flight */
	unsigned	 inflight;	/* transfers, window and pending */
	int		 fails;		/* in a row */
	int64_t		 probe_at;	/* circuit open: the next probe, ms */
	struct sub	*next;
};

/* One unit of store work, run on the pool, then finished on the loop. */
struct job {
	uv_work_t	 w;
	struct webhook	*wh;
	struct sub	*sub;
	void		(*work)(struct job *j);
	void		(*after)(struct job *j);
	struct item	*item;
	int		 owns_item;	/* a pending row's item: freed with the job */
	int64_t		 a, b;		/* arguments */
	int		 rc;
	char		*err;
	/* results */
	struct store_event *ev;
	size_t		 nev;
	char		*blocked;	/* nev flags */
	struct store_webhook *subs;
	size_t		 nsubs;
	struct store_webhook_pending *rows;
	size_t		 nrows;
	struct job	*next;
};

struct webhook {
	uv_loop_t	*loop;
	const struct config *cfg;
	struct store	*st;
	struct wh_curl	*curl;
	struct sub	*subs;
	unsigned	 inflight;
	uv_async_t	 changed;
	uv_timer_t	 kick;		/* one pass after a burst of events */
	uv_timer_t	 scan_timer;
	uv_timer_t	 reload_timer;
	int64_t		 scan_at;	/* when scan_timer fires; 0: not armed */
	int		 scanning, rescan, backlog;
	int		 reloading, reload_again;
	struct job	*jobs, **jobs_tail;
	int		 job_running;
	int		 stopping;
	int		 open_handles;
	void		(*stop_done)(void *arg);
	void		*stop_arg;
};

/* The running dispatcher, for webhook_changed() and webhook_head_seq(). */
static pthread_mutex_t G_mu = PTHREAD_MUTEX_INITIALIZER;
static struct webhook *G_wh;
static _Atomic int64_t G_head;
static struct {
	_Atomic uint64_t delivered, failed, gave_up, refused, disabled;
} G_stats;

/* count() adds one to a G_stats counter and to its metric,
 * hermod_webhook_events_total{result} (docs/operations.md). */
#define COUNT(field)	count(&G_stats.field, #field)

static struct metrics_family *M_events;

static void
count(_Atomic uint64_t *c, const char *result)
{
	atomic_fetch_add(c, 1);
	if (M_events != NULL)
		metrics_inc(metrics_series(M_events, result));
}

/* metrics_init() registers the family with every result at 0, so a scrape
 * shows them before the first webhook. */
static void
metrics_init(void)
{
	static const char *const results[] = { "delivered", "failed", "refused", "gave_up",
		"disabled" };

	M_events = metrics_counter(NULL, "hermod_webhook_events_total",
	    "Webhook attempts and outcomes by result.", "result");
	for (size_t i = 0; i < sizeof results / sizeof results[0]; i++)
		(void)metrics_series(M_events, results[i]);
}

static void pump(struct sub *s);
static void pump_all(struct webhook *wh);
static void scan_request(struct webhook *wh, int64_t at);

static int64_t
now_ms(void)
{
	return (int64_t)time_now_ms();
}

/* ---- the store work queue ---- */

static void job_next(struct webhook *wh);
static void item_clear(struct item *it);
static void sub_unref(struct sub *s);

static void
job_work(uv_work_t *w)
{
	struct job *j = w->data;

	j->work(j);
}

static void
job_free(struct job *j)
{
	store_events_free(j->ev, j->nev);
	store_webhook_list_free(j->subs, j->nsubs);
	if (j->owns_item) {
		/* a pending row's item settles with its job */
		item_clear(j->item);
		free(j->item);
	}
	store_webhook_pending_free(j->rows, j->nrows);
	free(j->blocked);
	free(j->err);
	free(j);
}

static void
job_after(uv_work_t *w, int status)
{
	struct job *j = w->data;
	struct webhook *wh = j->wh;
	struct sub *s = j->sub;

	(void)status;
	wh->job_running = 0;
	if (j->rc < 0)
		log_error("webhook", "store: %s", j->err ? j->err : "failed");
	if (!wh->stopping && j->after != NULL)
		j->after(j);
	job_free(j);
	if (s != NULL)
		sub_unref(s);
	job_next(wh);
}

static void
job_next(struct webhook *wh)
{
	struct job *j;

	if (wh->job_running)
		return;
	if (wh->stopping) {
		/* queued work is dropped: the store still has what it needs */
		while ((j = wh->jobs) != NULL) {
			wh->jobs = j->next;
			if (j->sub != NULL)
				sub_unref(j->sub);
			job_free(j);
		}
		wh->jobs_tail = &wh->jobs;
		if (wh->open_handles == 0 && wh->stop_done != NULL) {
			void (*done)(void *) = wh->stop_done;
			wh->stop_done = NULL;
			done(wh->stop_arg);
		}
		return;
	}
	if ((j = wh->jobs) == NULL)
		return;
	wh->jobs = j->next;
	if (wh->jobs == NULL)
		wh->jobs_tail = &wh->jobs;
	wh->job_running = 1;
	j->w.data = j;
	if (uv_queue_work(wh->loop, &j->w, job_work, job_after) != 0) {
		j->work(j);	/* cannot happen on a live loop */
		job_after(&j->w, 0);
	}
}

static struct job *
job_new(struct webhook *wh, struct sub *s, void (*work)(struct job *), void (*after)(struct job *))
{
	struct job *j = xcalloc(1, sizeof *j);

	j->wh = wh;
	j->sub = s;
	j->work = work;
	j->after = after;
	if (s != NULL)
		s->refs++;
	return j;
}

static void
job_push(struct job *j)
{
	struct webhook *wh = j->wh;

	*wh->jobs_tail = j;
	wh->jobs_tail = &j->next;
	job_next(wh);
}

/* ---- subscriptions ---- */

static void
item_clear(struct item *it)
{
	free(it->event_id);
	free(it->message_id);
	free(it->body);
	memset(it, 0, sizeof *it);
}

static void
window_clear(struct sub *s)
{
	for (size_t i = 0; i < s->win_n; i++)
		item_clear(&s->win[i]);
	free(s->win);
	s->win = NULL;
	s->win_n = 0;
}

static void
sub_free(struct sub *s)
{
	struct sub **pp;

	for (pp = &s->wh->subs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	window_clear(s);
	free(s->id);
	free(s->account);
	free(s->url);
	if (s->secret != NULL) {
		sodium_memzero(s->secret, strlen(s->secret));
		free(s->secret);
	}
	free(s);
}

static void
sub_unref(struct sub *s)
{
	if (--s->refs == 0 && s->gone)
		sub_free(s);
}

static uint32_t
parse_types(const char *list)
{
	char *copy = xstrdup(list), *save = NULL, *t;
	uint32_t mask = 0;
	enum event_type e;

	for (t = strtok_r(copy, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save))
		if (event_type_parse(t, &e) == 0)
			mask |= 1u << e;
	free(copy);
	return mask;
}

static struct sub *
sub_find(struct webhook *wh, const char *id)
{
	struct sub *s;

	for (s = wh->subs; s != NULL; s = s->next)
		if (!s->gone && strcmp(s->id, id) == 0)
			return s;
	return NULL;
}

/* sub_gone() forgets a deleted or disabled subscription: its transfers end
 * unheard, its window is dropped (the store has the cursor). */
static void
sub_gone(struct sub *s)
{
	if (s->gone)
		return;
	s->gone = 1;
	sub_unref(s);		/* the list's reference */
}

static void
reload_work(struct job *j)
{
	j->rc = store_webhook_active(j->wh->st, &j->subs, &j->nsubs, &j->err);
}

static void
reload_after(struct job *j)
{
	struct webhook *wh = j->wh;
	struct sub *s;
	size_t i;

	wh->reloading = 0;
	if (j->rc == 0) {
		for (s = wh->subs; s != NULL; s = s->next)
			s->seen = 0;
		for (i = 0; i < j->nsubs; i++) {
			struct store_webhook *w = &j->subs[i];
			if ((s = sub_find(wh, w->id)) != NULL) {
				s->seen = 1;
				continue;
			}
			s = xcalloc(1, sizeof *s);
			s->wh = wh;
			s->id = xstrdup(w->id);
			s->account = xstrdup(w->account);
			s->url = xstrdup(w->url);
			s->secret = xstrdup(w->secret);
			s->types = parse_types(w->events);
			s->cursor = s->read_upto = w->cursor;
			s->seen = 1;
			s->refs = 1;	/* the list's reference, dropped by sub_gone() */
			s->next = wh->subs;
			wh->subs = s;
		}
		for (s = wh->subs; s != NULL; ) {
			struct sub *next = s->next;
			if (!s->seen && !s->gone) {
				log_info("webhook", "subscription %s stopped", s->id);
				sub_gone(s);
			}
			s = next;
		}
	}
	if (wh->reload_again) {
		wh->reload_again = 0;
		wh->reloading = 1;
		job_push(job_new(wh, NULL, reload_work, reload_after));
	}
	pump_all(wh);
	scan_request(wh, now_ms());
}

static void
reload(struct webhook *wh)
{
	if (wh->reloading) {
		wh->reload_again = 1;
		return;
	}
	wh->reloading = 1;
	job_push(job_new(wh, NULL, reload_work, reload_after));
}

/* ---- attempts ---- */

static uint64_t
retry_delay(const struct config *cfg, int failures)
{
	size_t i = failures < 1 ? 0 : (size_t)failures - 1;

	if (i >= cfg->n_wh_retry)
		i = cfg->n_wh_retry - 1;
	return cfg->wh_retry[i];
}

/* can_start() applies the connection limits and the circuit. */
static int
can_start(struct sub *s)
{
	struct webhook *wh = s->wh;

	if (wh->stopping || s->gone || wh->inflight >= wh->cfg->wh_max_connections ||
	    s->inflight >= wh->cfg->wh_max_connections_per_endpoint)
		return 0;
	if (s->fails >= WH_CIRCUIT_FAILS)
		return s->inflight == 0 && now_ms() >= s->probe_at;
	return 1;
}

static void on_posted(const struct wh_result *res, void *arg);

/* attempt() signs and sends one event. 0, or -1 when it could not start. */
static int
attempt(struct item *it)
{
	struct sub *s = it->sub;
	struct webhook *wh = s->wh;
	char sig[WEBHOOK_SIG_LEN + 1];
	int64_t ts = now_ms() / 1000;

	if (webhook_sign(s->secret, it->event_id, ts, it->body, it->body_len, sig) < 0) {
		log_error("webhook", "subscription %s: its secret is malformed", s->id);
		return -1;
	}
	if (wh_curl_post(wh->curl, s->url, it->event_id, ts, sig, it->body, it->body_len, on_posted,
	    it) < 0)
		return -1;
	it->state = IT_FLIGHT;
	s->inflight++;
	s->refs++;
	wh->inflight++;
	return 0;
}

/* give_up_due() tells whether an event is past webhooks.max_lifetime at
 * time t. */
static int
give_up_due(const struct webhook *wh, const struct item *it, int64_t t)
{
	return t > it->event_time + (int64_t)wh->cfg->wh_max_lifetime;
}

static void
log_gave_up(const struct item *it, const char *why)
{
	struct log_line *l = log_begin(LOG_WARN, "webhook");

	COUNT(gave_up);
	log_str(l, "msg", "event given up");
	log_str(l, "webhook", it->sub->id);
	log_str(l, "event", it->event_id);
	log_str(l, "message_id", it->message_id);
	log_int(l, "attempts", it->attempts);
	log_str(l, "reason", why);
	log_end(l);
}

/* ---- the window ---- */

static void pend_work(struct job *j);
static void pend_after(struct job *j);

/* pend() records a window item in webhook_pending (behind an earlier event
 * of its message, or after a failed first attempt). */
static void
pend(struct item *it, int64_t next_attempt)
{
	struct job *j = job_new(it->sub->wh, it->sub, pend_work, pend_after);

	it->state = IT_PENDING_ADD;
	j->item = it;
	j->a = next_attempt;
	job_push(j);
}

static void
pend_work(struct job *j)
{
	struct item *it = j->item;
	struct store_webhook_pending p = {
		.webhook = it->sub->id, .seq = it->seq, .event_id = it->event_id,
		.message_id = it->message_id, .event_time = it->event_time,
		.attempts = it->attempts, .next_attempt = j->a, .body = it->body,
	};

	j->rc = store_webhook_pending_add(j->wh->st, &p, &j->err);
}

static void
pend_after(struct job *j)
{
	struct item *it = j->item;

	if (j->sub->gone)
		return;
	if (j->rc != 0) {
		/* leave it in the window: the cursor stays before it, and the
		 * next pass tries again */
		it->state = IT_WAIT;
		return;
	}
	it->state = IT_PENDED;
	scan_request(j->wh, j->a);
	pump(j->sub);
}

static void save_work(struct job *j);
static void fetch_work(struct job *j);
static void fetch_after(struct job *j);

/* window_done() moves the cursor past a finished window. */
static void
window_done(struct sub *s)
{
	struct job *j;

	window_clear(s);
	if (s->read_upto > s->cursor) {
		j = job_new(s->wh, s, save_work, NULL);
		j->a = s->read_upto;
		s->cursor = s->read_upto;
		job_push(j);
	}
}

static void
save_work(struct job *j)
{
	j->rc = store_webhook_set_cursor(j->wh->st, j->sub->id, j->a, &j->err);
}

/* pump() moves a subscription on: starts what may start in its window,
 * closes a finished window, reads the next one. */
static void
pump(struct sub *s)
{
	struct webhook *wh = s->wh;
	size_t i, k, open = 0;
	int64_t t = now_ms();

	if (wh->stopping || s->gone)
		return;
	for (i = 0; i < s->win_n; i++) {
		struct item *it = &s->win[i], *pred = NULL;

		if (it->state == IT_DONE || it->state == IT_PENDED)
			continue;
		open++;
		if (it->state != IT_WAIT)
			continue;
		for (k = 0; it->message_id != NULL && k < i; k++)
			if (s->win[k].state != IT_DONE && s->win[k].message_id != NULL &&
			    strcmp(s->win[k].message_id, it->message_id) == 0)
				pred = &s->win[k];
		if (it->blocked || (pred != NULL && pred->state == IT_PENDED)) {
			pend(it, t);	/* waits behind the pending one */
			continue;
		}
		if (pred != NULL)
			continue;	/* behind an earlier one still in the window */
		if (give_up_due(wh, it, t)) {
			log_gave_up(it, "webhooks.max_lifetime passed before a first attempt");
			it->state = IT_DONE;
			open--;
			continue;
		}
		if (can_start(s) && attempt(it) < 0)
			pend(it, t + (int64_t)retry_delay(wh->cfg, 1));
	}
	if (open == 0 && s->win_n > 0)
		window_done(s);
	if (s->win_n == 0 && !s->fetching && s->read_upto < atomic_load(&G_head) &&
	    (s->fails < WH_CIRCUIT_FAILS || t >= s->probe_at)) {
		struct job *j = job_new(wh, s, fetch_work, fetch_after);
		s->fetching = 1;
		j->a = s->read_upto;
		job_push(j);
	}
}

static void
fetch_work(struct job *j)
{
	struct sub *s = j->sub;
	struct webhook *wh = j->wh;
	size_t i;

	/* head first: everything up to it is stored before this read */
	j->b = atomic_load(&G_head);
	j->rc = store_events_after(wh->st, j->a, s->account, WH_WINDOW, &j->ev, &j->nev, &j->err);
	if (j->rc != 0)
		return;
	j->blocked = xcalloc(j->nev + 1, 1);
	for (i = 0; i < j->nev; i++) {
		struct store_event *e = &j->ev[i];
		enum event_type t;
		if (event_type_parse(e->type, &t) < 0 || !(s->types & (1u << t)))
			continue;
		j->blocked[i] = 1;	/* wanted */
		if (e->message_id != NULL &&
		    store_webhook_pending_blocked(wh->st, s->id, e->message_id, NULL) == 0)
			j->blocked[i] = 2;
	}
}

static void
fetch_after(struct job *j)
{
	struct sub *s = j->sub;
	size_t i, n = 0;

	s->fetching = 0;
	if (s->gone || j->rc != 0)
		return;
	s->win = xcalloc(j->nev + 1, sizeof *s->win);
	for (i = 0; i < j->nev; i++) {
		struct store_event *e = &j->ev[i];
		struct item *it;
		if (!j->blocked[i])
			continue;
		it = &s->win[n++];
		it->sub = s;
		it->seq = e->seq;
		it->event_id = xstrdup(e->id);
		it->message_id = e->message_id ? xstrdup(e->message_id) : NULL;
		it->event_time = e->time;
		it->body = xstrdup(e->json);
		it->body_len = strlen(it->body);
		it->blocked = j->blocked[i] == 2;
		it->state = IT_WAIT;
	}
	s->win_n = n;
	if (j->nev == WH_WINDOW)
		s->read_upto = j->ev[j->nev - 1].seq;
	else
		s->read_upto = j->nev > 0 && j->ev[j->nev - 1].seq > j->b ? j->ev[j->nev - 1].seq : j->b;
	if (s->read_upto < j->a)
		s->read_upto = j->a;
	if (n == 0)
		window_done(s);		/* nothing wanted: only the cursor moves */
	pump(s);
}

/* ---- pending events ---- */

static void scan_work(struct job *j);
static void scan_after(struct job *j);

static void
on_scan_timer(uv_timer_t *t)
{
	struct webhook *wh = t->data;

	wh->scan_at = 0;
	if (wh->stopping)
		return;
	if (wh->scanning) {
		wh->rescan = 1;
		return;
	}
	wh->scanning = 1;
	job_push(job_new(wh, NULL, scan_work, scan_after));
}

/* scan_request() asks for a scan of pending events at time at (ms) or
 * soon after; requests coalesce into the earliest. */
static void
scan_request(struct webhook *wh, int64_t at)
{
	int64_t t = now_ms();

	if (wh->stopping)
		return;
	if (at < t)
		at = t;
	if (wh->scan_at != 0 && wh->scan_at <= at)
		return;
	wh->scan_at = at;
	uv_timer_start(&wh->scan_timer, on_scan_timer, (uint64_t)(at - t), 0);
}

static void
scan_work(struct job *j)
{
	int64_t next = 0;

	j->rc = store_webhook_pending_due(j->wh->st, now_ms(), WH_SCAN_MAX, &j->rows, &j->nrows,
	    &next, &j->err);
	j->b = next;
}

static int
flying(const struct sub *s, int64_t seq)
{
	const struct item *it;

	for (it = s->flying; it != NULL; it = it->next)
		if (it->seq == seq)
			return 1;
	return 0;
}

static void
unlink_flying(struct item *it)
{
	struct item **pp;

	for (pp = &it->sub->flying; *pp != NULL; pp = &(*pp)->next)
		if (*pp == it) {
			*pp = it->next;
			break;
		}
}

static void
scan_after(struct job *j)
{
	struct webhook *wh = j->wh;
	int64_t t = now_ms(), next = j->b;
	struct sub *s;
	size_t i;

	wh->scanning = 0;
	wh->backlog = 0;
	for (i = 0; j->rc == 0 && i < j->nrows; i++) {
		struct store_webhook_pending *p = &j->rows[i];
		struct item *it;

		if ((s = sub_find(wh, p->webhook)) == NULL || flying(s, p->seq))
			continue;
		if (!can_start(s)) {
			wh->backlog = 1;
			continue;
		}
		it = xcalloc(1, sizeof *it);
		it->sub = s;
		it->pending = 1;
		it->seq = p->seq;
		it->event_id = p->event_id;
		it->message_id = p->message_id;
		it->event_time = p->event_time;
		it->body = p->body;
		it->body_len = strlen(p->body);
		it->attempts = p->attempts;
		p->event_id = p->message_id = p->body = NULL;
		it->next = s->flying;
		s->flying = it;
		if (attempt(it) < 0) {
			unlink_flying(it);
			item_clear(it);
			free(it);
		}
	}
	/* an open circuit's next probe is a reason to look again */
	for (s = wh->subs; s != NULL; s = s->next)
		if (!s->gone && s->fails >= WH_CIRCUIT_FAILS && s->probe_at > t &&
		    (next == 0 || s->probe_at < next))
			next = s->probe_at;
	if (next == 0 || next > t + WH_RESCAN_MS)
		next = t + WH_RESCAN_MS;
	if (wh->rescan) {
		wh->rescan = 0;
		next = t;
	}
	scan_request(wh, next);
	pump_all(wh);		/* a circuit's probe time may have come */
}

static void retry_work(struct job *j);
static void done_work(struct job *j);
static void settle_after(struct job *j);
static void settle_scan_after(struct job *j);
static void wake_work(struct job *j);
static void disable_work(struct job *j);
static void disable_after(struct job *j);

/* after_pending_change() follows a pending row's deletion: the next event
 * of its message may be due now. */
static void
after_pending_change(struct job *j)
{
	scan_request(j->wh, now_ms());
}

/* ---- outcomes ---- */

static void
log_attempt(const struct item *it, const struct wh_result *res, enum log_level lvl,
    const char *msg)
{
	struct log_line *l = log_begin(lvl, "webhook");

	log_str(l, "msg", msg);
	log_str(l, "webhook", it->sub->id);
	log_str(l, "event", it->event_id);
	log_str(l, "message_id", it->message_id);
	log_int(l, "attempt", it->attempts + 1);
	log_int(l, "status", res->status);
	log_int(l, "ms", (int64_t)res->ms);
	if (res->refused) {
		log_str(l, "refused", res->refused_class);
	} else if (res->curl_code != 0) {
		log_str(l, "error", res->error);
	}
	log_end(l);
}

/* on_posted() runs when an attempt ends: success moves on, a failure is
 * recorded for a retry, 410 may disable the subscription. */
static void
on_posted(const struct wh_result *res, void *arg)
{
	struct item *it = arg;
	struct sub *s = it->sub;
	struct webhook *wh = s->wh;
	int64_t t = now_ms();
	int ok = res->curl_code == 0 && res->status >= 200 && res->status < 300;
	int gone = res->curl_code == 0 && res->status == 410 && wh->cfg->wh_disable_on_gone;
	struct job *j;

	wh->inflight--;
	s->inflight--;
	if (wh->backlog)
		scan_request(wh, t);
	if (s->gone) {
		if (it->pending) {
			unlink_flying(it);
			item_clear(it);
			free(it);
		}
		sub_unref(s);
		return;
	}
	if (ok) {
		COUNT(delivered);
		log_attempt(it, res, LOG_INFO, "event delivered");
		if (s->fails >= WH_CIRCUIT_FAILS) {
			/* back after an outage: the backlog is due now */
			log_info("webhook", "subscription %s answers again", s->id);
			j = job_new(wh, s, wake_work, after_pending_change);
			j->a = t;
			job_push(j);
		}
		s->fails = 0;
		s->probe_at = 0;
	} else if (gone && s->disabling) {
		/* another request in flight saw the 410 first */
	} else if (gone) {
		struct log_line *l = log_begin(LOG_WARN, "webhook");
		s->disabling = 1;
		log_str(l, "msg", "subscription disabled: the endpoint answered 410 Gone");
		log_str(l, "webhook", s->id);
		log_str(l, "account", s->account);
		log_end(l);
		COUNT(disabled);
		j = job_new(wh, s, disable_work, disable_after);
		job_push(j);
	} else {
		COUNT(failed);
		if (res->refused)
			COUNT(refused);
		log_attempt(it, res, LOG_WARN, res->refused ?
		    "event not sent: the SSRF guard refused the endpoint's address "
		    "(webhooks.allow_private_targets)" : "event delivery failed");
		s->fails++;
		if (s->fails >= WH_CIRCUIT_FAILS)
			s->probe_at = t + (int64_t)retry_delay(wh->cfg, s->fails - WH_CIRCUIT_FAILS + 1);
	}

	if (it->pending) {
		/* a webhook_pending row: it stays on the flying list (so a scan
		 * does not start it again) until the store has its new state */
		it->state = IT_PENDING_ADD;
		if (ok || gone) {
			j = job_new(wh, s, done_work, after_pending_change);
		} else {
			int64_t next;
			it->attempts++;
			next = t + (int64_t)retry_delay(wh->cfg, it->attempts);
			if (give_up_due(wh, it, next)) {
				log_gave_up(it, "webhooks.max_lifetime passed");
				j = job_new(wh, s, done_work, after_pending_change);
			} else {
				j = job_new(wh, s, retry_work, NULL);
				j->a = it->attempts;
				j->b = next;
				scan_request(wh, next);
			}
		}
		if (j->work == done_work)
			j->a = it->seq;
		j->item = it;	/* unlinked by settle_after, freed with the job */
		j->owns_item = 1;
		j->after = j->work == retry_work ? settle_after : settle_scan_after;
		job_push(j);
	} else if (ok || gone) {
		it->state = IT_DONE;
	} else {
		int64_t next;
		it->attempts = 1;
		next = t + (int64_t)retry_delay(wh->cfg, 1);
		if (give_up_due(wh, it, next)) {
			log_gave_up(it, "webhooks.max_lifetime passed");
			it->state = IT_DONE;
		} else {
			pend(it, next);
		}
	}
	pump_all(wh);
	sub_unref(s);
}

static void
retry_work(struct job *j)
{
	j->rc = store_webhook_pending_retry(j->wh->st, j->sub->id, j->item->seq, (int)j->a, j->b,
	    &j->err);
}

static void
done_work(struct job *j)
{
	j->rc = store_webhook_pending_done(j->wh->st, j->sub->id, j->a, &j->err);
}

/* settle_after(): the store has the pending row's new state; a scan may
 * pick it up again. */
static void
settle_after(struct job *j)
{
	unlink_flying(j->item);
}

static void
settle_scan_after(struct job *j)
{
	unlink_flying(j->item);
	after_pending_change(j);
}

static void
wake_work(struct job *j)
{
	j->rc = store_webhook_pending_wake(j->wh->st, j->sub->id, j->a, &j->err);
}

static void
disable_work(struct job *j)
{
	j->rc = store_webhook_disable(j->wh->st, j->sub->id, "the endpoint answered 410 Gone",
	    &j->err);
}

static void
disable_after(struct job *j)
{
	sub_gone(j->sub);
}

static void
pump_all(struct webhook *wh)
{
	struct sub *s, *next;

	for (s = wh->subs; s != NULL; s = next) {
		next = s->next;
		pump(s);
	}
}

/* ---- wake-ups ---- */

static void
on_kick(uv_timer_t *t)
{
	pump_all(t->data);
}

/* on_event() is the events pipeline's subscriber: the event is stored;
 * note how far the store goes and look soon (one pass per burst). */
static void
on_event(const struct event_rec *rec, void *arg)
{
	struct webhook *wh = arg;

	if (rec->seq > atomic_load(&G_head))
		atomic_store(&G_head, rec->seq);
	if (!wh->stopping && !uv_is_active((uv_handle_t *)&wh->kick))
		uv_timer_start(&wh->kick, on_kick, 0, 0);
}

static void
on_changed(uv_async_t *a)
{
	struct webhook *wh = a->data;

	if (!wh->stopping)
		reload(wh);
}

static void
on_reload_timer(uv_timer_t *t)
{
	struct webhook *wh = t->data;

	if (!wh->stopping)
		reload(wh);
}

void
webhook_changed(void)
{
	pthread_mutex_lock(&G_mu);
	if (G_wh != NULL)
		uv_async_send(&G_wh->changed);
	pthread_mutex_unlock(&G_mu);
}

int64_t
webhook_head_seq(void)
{
	return atomic_load(&G_head);
}

void
webhook_get_stats(struct webhook_stats *out)
{
	out->delivered = atomic_load(&G_stats.delivered);
	out->failed = atomic_load(&G_stats.failed);
	out->gave_up = atomic_load(&G_stats.gave_up);
	out->refused = atomic_load(&G_stats.refused);
	out->disabled = atomic_load(&G_stats.disabled);
}

/* find_head() finds the newest seq in the events store by bisection over
 * store_events_after(), the only read the events store offers: about 2 x 63
 * indexed lookups, once at start. */
static int
find_head(struct store *st, int64_t *head, char **err)
{
	struct store_event *ev;
	size_t n;
	int64_t lo = 0, hi = 1;

	for (;;) {		/* grow hi until nothing is after it */
		if (store_events_after(st, hi, NULL, 1, &ev, &n, err) != 0)
			return -1;
		store_events_free(ev, n);
		if (n == 0)
			break;
		lo = hi;
		if (hi > INT64_MAX / 2)
			break;
		hi *= 2;
	}
	/* invariant: an event after lo (or lo == 0), none after hi */
	while (hi - lo > 1) {
		int64_t mid = lo + (hi - lo) / 2;
		if (store_events_after(st, mid, NULL, 1, &ev, &n, err) != 0)
			return -1;
		store_events_free(ev, n);
		if (n > 0)
			lo = mid;
		else
			hi = mid;
	}
	if (lo == 0) {		/* is there any event at all? */
		if (store_events_after(st, 0, NULL, 1, &ev, &n, err) != 0)
			return -1;
		*head = n > 0 ? ev[0].seq : 0;
		store_events_free(ev, n);
		return 0;
	}
	*head = hi;
	return 0;
}

static void
wh_handle_closed(uv_handle_t *h)
{
	struct webhook *wh = h->data;

	if (--wh->open_handles == 0)
		job_next(wh);	/* reports when no store work is running */
}

static void
curl_closed(void *arg)
{
	struct webhook *wh = arg;

	wh->curl = NULL;
	if (--wh->open_handles == 0)
		job_next(wh);
}

int
webhook_start(uv_loop_t *loop, const struct config *cfg, struct store *st, struct webhook **out,
    char **err)
{
	struct webhook *wh;
	int64_t head = 0;

	*out = NULL;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		*err = xstrdup("webhooks: libcurl failed to initialise");
		return -1;
	}
	if (find_head(st, &head, err) < 0)
		return -1;
	atomic_store(&G_head, head);
	metrics_init();
	wh = xcalloc(1, sizeof *wh);
	wh->loop = loop;
	wh->cfg = cfg;
	wh->st = st;
	wh->jobs_tail = &wh->jobs;
	wh->curl = wh_curl_new(loop, cfg);
	uv_async_init(loop, &wh->changed, on_changed);
	uv_timer_init(loop, &wh->kick);
	uv_timer_init(loop, &wh->scan_timer);
	uv_timer_init(loop, &wh->reload_timer);
	wh->changed.data = wh->kick.data = wh->scan_timer.data = wh->reload_timer.data = wh;
	wh->open_handles = 5;	/* four handles and the transport */
	uv_timer_start(&wh->reload_timer, on_reload_timer, WH_RELOAD_MS, WH_RELOAD_MS);
	events_subscribe(on_event, wh);
	pthread_mutex_lock(&G_mu);
	G_wh = wh;
	pthread_mutex_unlock(&G_mu);
	reload(wh);
	*out = wh;
	return 0;
}

void
webhook_stop(struct webhook *wh, void (*done)(void *arg), void *arg)
{
	struct sub *s;

	if (wh == NULL || wh->stopping) {
		if (done != NULL)
			done(arg);
		return;
	}
	pthread_mutex_lock(&G_mu);
	G_wh = NULL;
	pthread_mutex_unlock(&G_mu);
	wh->stopping = 1;
	wh->stop_done = done;
	wh->stop_arg = arg;
	/* transfers in flight are abandoned: their events are still after the
	 * cursor or in webhook_pending, and are sent again after a restart */
	for (s = wh->subs; s != NULL; s = s->next) {
		struct item *it, *next;
		for (it = s->flying; it != NULL; it = next) {
			next = it->next;
			if (it->state == IT_FLIGHT) {	/* others belong to a job */
				item_clear(it);
				free(it);
			}
		}
		s->flying = NULL;
		s->refs -= (int)s->inflight;
		s->inflight = 0;
	}
	wh->inflight = 0;
	wh_curl_close(wh->curl, curl_closed, wh);
	uv_close((uv_handle_t *)&wh->changed, wh_handle_closed);
	uv_close((uv_handle_t *)&wh->kick, wh_handle_closed);
	uv_close((uv_handle_t *)&wh->scan_timer, wh_handle_closed);
	uv_close((uv_handle_t *)&wh->reload_timer, wh_handle_closed);
}

void
webhook_free(struct webhook *wh)
{
	if (wh == NULL)
		return;
	while (wh->subs != NULL)
		sub_free(wh->subs);
	free(wh);
}
