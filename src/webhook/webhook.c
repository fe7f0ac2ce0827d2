/* webhook: the dispatcher. Every subscription reads the events store by
 * cursor and POSTs the events it wants to its endpoint, signed.
 *
 * DESIGN
 * Durability comes from the events store, not from memory: an event reaches
 * subscribers only once it is stored, and each subscription keeps a cursor
 * (webhooks.cursor: every event up to it is handled). The events pipeline's
 * callback only wakes us; we then read the store after the cursor into a
 * sliding window of at most about 2 x WH_WINDOW events. Its events are tried
 * at once (within the connection limits); new ones join at the back while
 * older ones are in flight, and the cursor moves, in the store, to just
 * before the first event that is not yet delivered, unwanted, given up or
 * recorded in webhook_pending. A crash or a restart therefore re-reads at
 * most the window: delivery is at-least-once, and a receiver dedupes by
 * webhook-id (the event id, the same on every attempt).
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
 * subscription and WH_SCAN_MAX pending rows per scan.
 *
 * Files: this one holds the dispatcher's life (start, stop, wake-ups), its
 * subscriptions and the queue of store work; webhook_flow.c moves events
 * (the windows, the pending scan, attempts and their outcomes). */
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

/* The running dispatcher, for webhook_changed() and webhook_head_seq(). */
static pthread_mutex_t G_mu = PTHREAD_MUTEX_INITIALIZER;
static struct webhook *G_wh;
static _Atomic int64_t G_head;
struct wh_stats wh_stats;

static struct metrics_family *M_events;

void
wh_count(_Atomic uint64_t *c, const char *result)
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

/* ---- the store work queue ---- */

static void job_next(struct webhook *wh);

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
		wh_item_clear(j->item);
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
		wh_sub_unref(s);
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
				wh_sub_unref(j->sub);
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

struct job *
wh_job_new(struct webhook *wh, struct sub *s, void (*work)(struct job *), void (*after)(struct job *))
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

void
wh_job_push(struct job *j)
{
	struct webhook *wh = j->wh;

	*wh->jobs_tail = j;
	wh->jobs_tail = &j->next;
	job_next(wh);
}

/* ---- subscriptions ---- */

void
wh_item_clear(struct item *it)
{
	free(it->event_id);
	free(it->message_id);
	free(it->body);
	memset(it, 0, sizeof *it);
}

void
wh_window_clear(struct sub *s)
{
	struct item *it;

	while ((it = s->win_head) != NULL) {
		s->win_head = it->wnext;
		wh_item_clear(it);
		free(it);
	}
	s->win_tail = &s->win_head;
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
	wh_window_clear(s);
	free(s->id);
	free(s->account);
	free(s->url);
	if (s->secret != NULL) {
		sodium_memzero(s->secret, strlen(s->secret));
		free(s->secret);
	}
	free(s);
}

void
wh_sub_unref(struct sub *s)
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

struct sub *
wh_sub_find(struct webhook *wh, const char *id)
{
	struct sub *s;

	for (s = wh->subs; s != NULL; s = s->next)
		if (!s->gone && strcmp(s->id, id) == 0)
			return s;
	return NULL;
}

/* wh_sub_gone() forgets a deleted or disabled subscription: its transfers end
 * unheard, its window is dropped (the store has the cursor). */
void
wh_sub_gone(struct sub *s)
{
	if (s->gone)
		return;
	s->gone = 1;
	wh_sub_unref(s);		/* the list's reference */
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
			if ((s = wh_sub_find(wh, w->id)) != NULL) {
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
			s->win_tail = &s->win_head;
			s->seen = 1;
			s->dirty = 1;	/* read what happened since its cursor */
			s->refs = 1;	/* the list's reference, dropped by wh_sub_gone() */
			s->next = wh->subs;
			wh->subs = s;
		}
		for (s = wh->subs; s != NULL; ) {
			struct sub *next = s->next;
			if (!s->seen && !s->gone) {
				log_info("webhook", "subscription %s stopped", s->id);
				wh_sub_gone(s);
			}
			s = next;
		}
	}
	if (wh->reload_again) {
		wh->reload_again = 0;
		wh->reloading = 1;
		wh_job_push(wh_job_new(wh, NULL, reload_work, reload_after));
	}
	wh_pump_all(wh);
	wh_scan_request(wh, wh_now_ms());
}

static void
reload(struct webhook *wh)
{
	if (wh->reloading) {
		wh->reload_again = 1;
		return;
	}
	wh->reloading = 1;
	wh_job_push(wh_job_new(wh, NULL, reload_work, reload_after));
}

/* ---- wake-ups ---- */

static void
on_kick(uv_timer_t *t)
{
	wh_pump_all(t->data);
}

/* on_event() is the events pipeline's subscriber: the event is stored;
 * note how far the store goes, mark the subscriptions that want it, and
 * look soon (one pass per burst). Only those read the store: a busy
 * account does not make every other subscription query it. */
static void
on_event(const struct event_rec *rec, void *arg)
{
	struct webhook *wh = arg;
	struct sub *s;
	int any = 0;

	if (rec->seq > atomic_load(&G_head))
		atomic_store(&G_head, rec->seq);
	if (wh->stopping || rec->ev.account == NULL || (unsigned)rec->type >= 32)
		return;
	for (s = wh->subs; s != NULL; s = s->next)
		if (!s->gone && (s->types & (1u << rec->type)) &&
		    strcmp(s->account, rec->ev.account) == 0)
			any = s->dirty = 1;
	if (any && !uv_is_active((uv_handle_t *)&wh->kick))
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
	out->delivered = atomic_load(&wh_stats.delivered);
	out->failed = atomic_load(&wh_stats.failed);
	out->gave_up = atomic_load(&wh_stats.gave_up);
	out->refused = atomic_load(&wh_stats.refused);
	out->disabled = atomic_load(&wh_stats.disabled);
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
				wh_item_clear(it);
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
