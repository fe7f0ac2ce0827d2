/* webhook_flow: how events move through the dispatcher (webhook.c's DESIGN
 * block says why it works this way): a subscription's window of events read
 * from the events store, the scan of pending events that are due, the
 * attempts (signed, sent through webhook_curl.c) and what their outcomes do
 * to the store: a delivered event is done, a failed one is recorded for a
 * retry or given up, a 410 disables the subscription. Loop thread only;
 * store work goes through the dispatcher's queue (wh_job_push). */
#include "webhook/webhook.h"
#include "webhook/webhook_int.h"
#include "events/events.h"
#include "store/store.h"
#include "util/config.h"
#include "util/log.h"
#include "util/xalloc.h"

#include <stdlib.h>
#include <string.h>

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
		return s->inflight == 0 && wh_now_ms() >= s->probe_at;
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
	int64_t ts = wh_now_ms() / 1000;

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

	WH_COUNT(gave_up);
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
	struct job *j = wh_job_new(it->sub->wh, it->sub, pend_work, pend_after);

	it->state = IT_PENDING_ADD;
	j->item = it;
	j->a = next_attempt;
	wh_job_push(j);
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
	wh_scan_request(j->wh, j->a);
	wh_pump(j->sub);
}

static void save_work(struct job *j);
static void save_after(struct job *j);
static void fetch_work(struct job *j);
static void fetch_after(struct job *j);

/* save_cursor() writes the cursor, one write at a time per subscription
 * (a move during a write is saved after it). */
static void
save_cursor(struct sub *s)
{
	struct job *j;

	if (s->saving) {
		s->save_again = 1;
		return;
	}
	s->saving = 1;
	j = wh_job_new(s->wh, s, save_work, save_after);
	j->a = s->cursor;
	wh_job_push(j);
}

static void
save_work(struct job *j)
{
	j->rc = store_webhook_set_cursor(j->wh->st, j->sub->id, j->a, &j->err);
}

static void
save_after(struct job *j)
{
	struct sub *s = j->sub;

	s->saving = 0;
	if (s->save_again && !s->gone) {
		s->save_again = 0;
		save_cursor(s);
	}
}

/* window_advance() drops the window's finished front (delivered, given up,
 * or recorded in webhook_pending) and moves the cursor to just before the
 * first unfinished event, or to all that was read. The window slides: new
 * events join at the back while old ones are in flight, so a slow endpoint
 * still gets webhooks.max_connections_per_endpoint requests at once. */
static void
window_advance(struct sub *s)
{
	struct item *it;
	int64_t to;

	while ((it = s->win_head) != NULL && (it->state == IT_DONE || it->state == IT_PENDED)) {
		s->win_head = it->wnext;
		if (s->win_head == NULL)
			s->win_tail = &s->win_head;
		s->win_n--;
		wh_item_clear(it);
		free(it);
	}
	to = s->win_head != NULL ? s->win_head->seq - 1 : s->read_upto;
	if (to > s->cursor) {
		s->cursor = to;
		save_cursor(s);
	}
}

/* wh_pump() moves a subscription on: starts what may start in its window,
 * slides the window, reads more events. */
void
wh_pump(struct sub *s)
{
	struct webhook *wh = s->wh;
	struct item *it, *p;
	int64_t t = wh_now_ms();

	if (wh->stopping || s->gone)
		return;
	for (it = s->win_head; it != NULL; it = it->wnext) {
		struct item *pred = NULL;

		if (it->state != IT_WAIT)
			continue;
		for (p = s->win_head; it->message_id != NULL && p != it; p = p->wnext)
			if (p->state != IT_DONE && p->message_id != NULL &&
			    strcmp(p->message_id, it->message_id) == 0)
				pred = p;
		if (it->blocked || (pred != NULL && pred->state == IT_PENDED)) {
			pend(it, t);	/* waits behind the pending one */
			continue;
		}
		if (pred != NULL)
			continue;	/* behind an earlier one still in the window */
		if (give_up_due(wh, it, t)) {
			log_gave_up(it, "webhooks.max_lifetime passed before a first attempt");
			it->state = IT_DONE;
			continue;
		}
		if (can_start(s) && attempt(it) < 0)
			pend(it, t + (int64_t)retry_delay(wh->cfg, 1));
	}
	window_advance(s);
	/* A pending row of a message is always visible to a later read: the
	 * row's write and the read go through the one store queue in order, and
	 * an item leaves the window only once its row is written. */
	if (s->win_n < WH_WINDOW && !s->fetching && (s->dirty || s->more) &&
	    (s->fails < WH_CIRCUIT_FAILS || t >= s->probe_at)) {
		struct job *j = wh_job_new(wh, s, fetch_work, fetch_after);
		s->fetching = 1;
		s->dirty = 0;	/* what is stored from now on marks it again */
		j->a = s->read_upto;
		wh_job_push(j);
	}
}

static void
fetch_work(struct job *j)
{
	struct sub *s = j->sub;
	struct webhook *wh = j->wh;
	size_t i;

	/* head first: everything up to it is stored before this read */
	j->b = webhook_head_seq();
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
	size_t i;

	s->fetching = 0;
	if (s->gone)
		return;
	if (j->rc != 0 || j->a != s->read_upto) {
		s->dirty = 1;	/* read again at the next pass */
		return;
	}
	s->more = j->nev == WH_WINDOW;
	for (i = 0; i < j->nev; i++) {
		struct store_event *e = &j->ev[i];
		struct item *it;
		if (!j->blocked[i])
			continue;
		it = xcalloc(1, sizeof *it);
		it->sub = s;
		it->seq = e->seq;
		it->event_id = xstrdup(e->id);
		it->message_id = e->message_id ? xstrdup(e->message_id) : NULL;
		it->event_time = e->time;
		it->body = xstrdup(e->json);
		it->body_len = strlen(it->body);
		it->blocked = j->blocked[i] == 2;
		it->state = IT_WAIT;
		*s->win_tail = it;
		s->win_tail = &it->wnext;
		s->win_n++;
	}
	if (j->nev == WH_WINDOW)
		s->read_upto = j->ev[j->nev - 1].seq;
	else
		s->read_upto = j->nev > 0 && j->ev[j->nev - 1].seq > j->b ? j->ev[j->nev - 1].seq : j->b;
	if (s->read_upto < j->a)
		s->read_upto = j->a;
	wh_pump(s);
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
	wh_job_push(wh_job_new(wh, NULL, scan_work, scan_after));
}

/* wh_scan_request() asks for a scan of pending events at time at (ms) or
 * soon after; requests coalesce into the earliest. */
void
wh_scan_request(struct webhook *wh, int64_t at)
{
	int64_t t = wh_now_ms();

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

	j->rc = store_webhook_pending_due(j->wh->st, wh_now_ms(), WH_SCAN_MAX, &j->rows, &j->nrows,
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
	int64_t t = wh_now_ms(), next = j->b;
	struct sub *s;
	size_t i;

	wh->scanning = 0;
	wh->backlog = 0;
	for (i = 0; j->rc == 0 && i < j->nrows; i++) {
		struct store_webhook_pending *p = &j->rows[i];
		struct item *it;

		if ((s = wh_sub_find(wh, p->webhook)) == NULL || flying(s, p->seq))
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
			wh_item_clear(it);
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
	wh_scan_request(wh, next);
	wh_pump_all(wh);		/* a circuit's probe time may have come */
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
	wh_scan_request(j->wh, wh_now_ms());
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
	int64_t t = wh_now_ms();
	int ok = res->curl_code == 0 && res->status >= 200 && res->status < 300;
	int gone = res->curl_code == 0 && res->status == 410 && wh->cfg->wh_disable_on_gone;
	struct job *j;

	wh->inflight--;
	s->inflight--;
	if (wh->backlog)
		wh_scan_request(wh, t);
	if (s->gone) {
		if (it->pending) {
			unlink_flying(it);
			wh_item_clear(it);
			free(it);
		}
		wh_sub_unref(s);
		return;
	}
	if (ok) {
		WH_COUNT(delivered);
		log_attempt(it, res, LOG_INFO, "event delivered");
		if (s->fails >= WH_CIRCUIT_FAILS) {
			/* back after an outage: the backlog is due now */
			log_info("webhook", "subscription %s answers again", s->id);
			j = wh_job_new(wh, s, wake_work, after_pending_change);
			j->a = t;
			wh_job_push(j);
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
		WH_COUNT(disabled);
		j = wh_job_new(wh, s, disable_work, disable_after);
		wh_job_push(j);
	} else {
		WH_COUNT(failed);
		if (res->refused)
			WH_COUNT(refused);
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
			j = wh_job_new(wh, s, done_work, after_pending_change);
		} else {
			int64_t next;
			it->attempts++;
			next = t + (int64_t)retry_delay(wh->cfg, it->attempts);
			if (give_up_due(wh, it, next)) {
				log_gave_up(it, "webhooks.max_lifetime passed");
				j = wh_job_new(wh, s, done_work, after_pending_change);
			} else {
				j = wh_job_new(wh, s, retry_work, NULL);
				j->a = it->attempts;
				j->b = next;
				wh_scan_request(wh, next);
			}
		}
		if (j->work == done_work)
			j->a = it->seq;
		j->item = it;	/* unlinked by settle_after, freed with the job */
		j->owns_item = 1;
		j->after = j->work == retry_work ? settle_after : settle_scan_after;
		wh_job_push(j);
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
	wh_pump_all(wh);
	wh_sub_unref(s);
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
	wh_sub_gone(j->sub);
}

void
wh_pump_all(struct webhook *wh)
{
	struct sub *s, *next;

	for (s = wh->subs; s != NULL; s = next) {
		next = s->next;
		wh_pump(s);
	}
}
