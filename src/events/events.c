/* events: the pipeline of events.h. An emitted event becomes an event_rec
 * (id, time, JSON), is logged at once, and is queued under a mutex for the
 * writer thread, which stores it and hands it to the loop thread, where the
 * subscribers see it.
 *
 * DESIGN
 * emit (any thread) -> [mu: queue] -> writer thread: up to EVENTS_BATCH_MAX
 * events per store transaction, seq set -> [mu: stored list] -> uv_async ->
 * loop thread: subscribers, in emission order.
 *
 * One writer keeps the order: the queue is taken in order, stored in order
 * and handed over in order, so a subscriber sees seq increasing. Batching
 * is what makes the rate: while one transaction commits, the next batch
 * gathers, so the batch grows with the load and the cost per event falls
 * (bench/events_bench.c). The loop thread never touches SQLite.
 *
 * Retention runs on the same thread between batches: at most
 * EVENTS_PRUNE_MAX rows a step, one step per batch while there is more to
 * delete, so a month's backlog is deleted without ever holding inserts for
 * long. A store failure is retried a few times, then the batch goes to the
 * subscribers unstored (seq 0) with an error logged: suppressions, the
 * reputation counters and metrics still see them (webhooks, which read the
 * store, do not), and memory does not grow without bound behind a broken disk.
 *
 * events_stop() stops taking events, lets the writer store everything
 * queued, joins it, then runs the subscribers on what is left: nothing
 * emitted before the stop is lost. */
#include "events/events.h"
#include "metrics/metrics.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/config.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const type_names[EVENT__COUNT] = {
	[EVENT_QUEUED] = "queued",
	[EVENT_DELIVERED] = "delivered",
	[EVENT_DEFERRED] = "deferred",
	[EVENT_BOUNCED] = "bounced",
	[EVENT_EXPIRED] = "expired",
	[EVENT_DROPPED] = "dropped",
	[EVENT_COMPLAINED] = "complained",
	[EVENT_UNSUBSCRIBED] = "unsubscribed",
	[EVENT_OPENED] = "opened",
	[EVENT_CLICKED] = "clicked",
	[EVENT_SUPPRESSION_ADDED] = "suppression_added",
	[EVENT_SUPPRESSION_REMOVED] = "suppression_removed",
	[EVENT_REPUTATION_WARNING] = "reputation_warning",
	[EVENT_ACCOUNT_PAUSED] = "account_paused",
	[EVENT_ACCOUNT_RESUMED] = "account_resumed",
};

const char *
event_type_name(enum event_type t)
{
	return (unsigned)t < EVENT__COUNT ? type_names[t] : "unknown";
}

int
event_type_parse(const char *name, enum event_type *out)
{
	for (int t = 0; name != NULL && t < EVENT__COUNT; t++)
		if (strcmp(type_names[t], name) == 0) {
			*out = (enum event_type)t;
			return 0;
		}
	return -1;
}

#define MAX_SUBSCRIBERS		16
#define EVENTS_BATCH_MAX	1000	/* events per store transaction */
#define EVENTS_PRUNE_MAX	2000	/* rows per retention step */
#define EVENTS_STORE_TRIES	4	/* then a batch goes on unstored */

struct pending {
	struct event_rec	 rec;
	struct pending		*next;
};

static struct {
	pthread_mutex_t	 mu;
	pthread_cond_t	 cond;		/* the writer waits on it */
	uv_loop_t	*loop;
	uv_async_t	 wake;
	int		 started;	/* emitted events are queued */
	int		 stopping;	/* the writer drains, then exits */
	int		 running;	/* the writer thread exists */
	pthread_t	 thread;
	struct store	*st;
	uint64_t	 retention;	/* ms; 0: keep for ever */
	struct pending	*head, **tail;	/* emitted, not yet stored */
	struct pending	*done, **done_tail; /* stored, for the subscribers */
	struct events_stats stats;
	/* for events_wait_stored(): never reset, so a mark stays valid */
	pthread_cond_t	 handed_cond;	/* the writer finished a batch */
	uint64_t	 enq;		/* events ever queued */
	uint64_t	 handed;	/* of those, stored or given up by the writer */
	uint64_t	 bad;		/* events ever dropped or left unstored */
	struct {
		event_subscriber fn;
		void		*arg;
	} subs[MAX_SUBSCRIBERS];
	size_t		 nsubs;
} P = { .mu = PTHREAD_MUTEX_INITIALIZER, .handed_cond = PTHREAD_COND_INITIALIZER,
	.tail = &P.head, .done_tail = &P.done };

static char *
dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static void
copy_event(struct event *dst, const struct event *src)
{
	*dst = *src;
	dst->account = dup_or_null(src->account);
	dst->message_id = dup_or_null(src->message_id);
	dst->header_message_id = dup_or_null(src->header_message_id);
	dst->recipient = dup_or_null(src->recipient);
	dst->meta_json = dup_or_null(src->meta_json);
	dst->mx = dup_or_null(src->mx);
	dst->smtp_enhanced = dup_or_null(src->smtp_enhanced);
	dst->smtp_text = dup_or_null(src->smtp_text);
	dst->bounce_class = dup_or_null(src->bounce_class);
	dst->bounce_category = dup_or_null(src->bounce_category);
	dst->reason = dup_or_null(src->reason);
	dst->extra_json = dup_or_null(src->extra_json);
}

static void
free_rec(struct event_rec *r)
{
	struct event *e = &r->ev;

	free((char *)e->account);
	free((char *)e->message_id);
	free((char *)e->header_message_id);
	free((char *)e->recipient);
	free((char *)e->meta_json);
	free((char *)e->mx);
	free((char *)e->smtp_enhanced);
	free((char *)e->smtp_text);
	free((char *)e->bounce_class);
	free((char *)e->bounce_category);
	free((char *)e->reason);
	free((char *)e->extra_json);
	free(r->json);
}

static void
put_str(struct buf *b, const char *key, const char *val)
{
	buf_printf(b, ",\"%s\":", key);
	if (val)
		buf_json_str(b, val, strlen(val));
	else
		buf_puts(b, "null");
}

/* put_members() appends the members of a JSON object text (without its
 * braces) after a comma; nothing when obj is not an object or is empty. The
 * emitters build these texts themselves (jansson), so a plain trim is enough. */
static void
put_members(struct buf *b, const char *obj)
{
	size_t n;

	if (obj == NULL)
		return;
	while (*obj == ' ')
		obj++;
	n = strlen(obj);
	while (n > 0 && obj[n - 1] == ' ')
		n--;
	if (n < 3 || obj[0] != '{' || obj[n - 1] != '}')
		return;
	buf_putc(b, ',');
	buf_append(b, obj + 1, n - 2);
}

/* put_meta() copies the value of key ("tags", "metadata") out of the API's
 * meta_json, or dflt. */
static void
put_meta(struct buf *b, json_t *meta, const char *key, const char *dflt)
{
	json_t *v = meta ? json_object_get(meta, key) : NULL;
	char *s = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;

	buf_printf(b, ",\"%s\":%s", key, s ? s : dflt);
	free(s);
}

char *
event_rec_json(const struct event_rec *rec, size_t *len)
{
	const struct event *e = &rec->ev;
	struct buf b = { 0 };
	json_t *meta;
	char when[40];

	time_iso8601((uint64_t)rec->time, 0, when, sizeof(when));
	buf_printf(&b, "{\"id\":\"%s\",\"type\":\"%s\",\"time\":\"%s\"", rec->id,
	    event_type_name(rec->type), when);
	put_str(&b, "account", e->account);
	put_str(&b, "message_id", e->message_id);
	put_str(&b, "recipient", e->recipient);
	meta = e->meta_json ? json_loads(e->meta_json, 0, NULL) : NULL;
	put_meta(&b, meta, "tags", "[]");
	put_meta(&b, meta, "metadata", "{}");
	json_decref(meta);
	if (e->attempt)
		buf_printf(&b, ",\"attempt\":%u", e->attempt);
	if (e->mx)
		put_str(&b, "mx", e->mx);
	if (e->smtp_code) {
		buf_printf(&b, ",\"smtp\":{\"code\":%d", e->smtp_code);
		put_str(&b, "enhanced", e->smtp_enhanced && *e->smtp_enhanced ? e->smtp_enhanced : NULL);
		put_str(&b, "text", e->smtp_text ? e->smtp_text : "");
		buf_putc(&b, '}');
	}
	if (e->bounce_class) {
		buf_puts(&b, ",\"bounce\":{\"class\":");
		buf_json_str(&b, e->bounce_class, strlen(e->bounce_class));
		put_str(&b, "category", e->bounce_category);
		buf_putc(&b, '}');
	}
	if (e->reason)
		put_str(&b, "reason", e->reason);
	if (e->header_message_id)
		put_str(&b, "header_message_id", e->header_message_id);
	put_members(&b, e->extra_json);
	buf_putc(&b, '}');
	return buf_steal(&b, len);
}

void
events_emit(const struct event *e)
{
	struct pending *p = xcalloc(1, sizeof(*p));
	struct event_rec *r = &p->rec;
	struct log_line *l;

	id_new(r->id);
	r->type = e->type;
	r->time = (int64_t)time_now_ms();
	copy_event(&r->ev, e);
	r->json = event_rec_json(r, &r->json_len);
	/* counted before the log level can filter the line out */
	metrics_event(event_type_name(r->type));

	if ((l = log_begin(LOG_INFO, "event")) != NULL) {
		log_str(l, "msg", event_type_name(r->type));
		log_raw(l, "event", r->json);
		log_end(l);
	}

	pthread_mutex_lock(&P.mu);
	if (!P.started) {
		P.bad++;
		pthread_mutex_unlock(&P.mu);
		free_rec(r);
		free(p);
		return;
	}
	*P.tail = p;
	P.tail = &p->next;
	P.enq++;
	P.stats.emitted++;
	P.stats.queued++;
	pthread_cond_signal(&P.cond);
	pthread_mutex_unlock(&P.mu);
}

/* store_batch() inserts the n events starting at p (writer thread),
 * retrying a failing store a few times; on failure they keep seq 0. */
static void
store_batch(struct pending *p, size_t n)
{
	struct store_event *v = xcalloc(n, sizeof(*v));
	struct pending *q;
	char *err = NULL;
	size_t i;
	int tries, ok = 0;

	for (i = 0, q = p; i < n; i++, q = q->next) {
		struct event_rec *r = &q->rec;
		v[i].id = r->id;
		v[i].type = (char *)event_type_name(r->type);
		v[i].time = r->time;
		v[i].account = (char *)r->ev.account;
		v[i].message_id = (char *)r->ev.message_id;
		v[i].header_message_id = (char *)r->ev.header_message_id;
		v[i].recipient = (char *)r->ev.recipient;
		v[i].rcpt_index = r->ev.rcpt_index;
		v[i].json = r->json;
	}
	for (tries = 0; tries < EVENTS_STORE_TRIES && !ok; tries++) {
		if (store_events_insert(P.st, v, n, &err) == 0) {
			ok = 1;
			break;
		}
		log_error("events", "storing %zu events failed (try %d of %d): %s", n, tries + 1,
		    EVENTS_STORE_TRIES, err ? err : "?");
		free(err);
		err = NULL;
		if (tries + 1 < EVENTS_STORE_TRIES)
			usleep(50000u << tries);
	}
	for (i = 0, q = p; i < n; i++, q = q->next)
		q->rec.seq = ok ? v[i].seq : 0;
	free(v);
	pthread_mutex_lock(&P.mu);
	if (ok) {
		P.stats.stored += n;
		P.stats.batches++;
	} else {
		P.stats.store_failed += n;
		P.bad += n;
	}
	pthread_mutex_unlock(&P.mu);
}

/* prune_step() deletes one bounded step of expired events (writer thread);
 * 1 when there may be more. */
static int
prune_step(void)
{
	int64_t before = (int64_t)time_now_ms() - (int64_t)P.retention;
	size_t deleted = 0;
	char *err = NULL;

	if (store_events_prune(P.st, before, EVENTS_PRUNE_MAX, &deleted, &err) != 0) {
		log_error("events", "retention: %s", err ? err : "?");
		free(err);
		return 0;
	}
	if (deleted > 0) {
		pthread_mutex_lock(&P.mu);
		P.stats.pruned += deleted;
		pthread_mutex_unlock(&P.mu);
		log_debug("events", "retention: %zu events deleted", deleted);
	}
	return deleted == EVENTS_PRUNE_MAX;
}

/* prune_interval() is how often retention runs: a tenth of the retention,
 * between a second (tests use tiny retentions) and a minute. */
static uint64_t
prune_interval(void)
{
	uint64_t t = P.retention / 10;

	return t < 1000 ? 1000 : t > 60000 ? 60000 : t;
}

static void
deadline(struct timespec *ts, uint64_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += (time_t)(ms / 1000);
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* writer_main(): the writer thread (see DESIGN). */
static void *
writer_main(void *arg)
{
	uint64_t next_prune = time_mono_ms() + 1000;
	int prune_more = 0;

	(void)arg;
	pthread_mutex_lock(&P.mu);
	for (;;) {
		struct pending *batch, *last;
		size_t n = 0;
		int prune_due;

		while (P.head == NULL && !P.stopping && !prune_more) {
			struct timespec ts;
			uint64_t now = time_mono_ms();
			if (P.st != NULL && P.retention > 0 && now >= next_prune)
				break;
			deadline(&ts, P.st != NULL && P.retention > 0 ? next_prune - now : 60000);
			pthread_cond_timedwait(&P.cond, &P.mu, &ts);
		}
		if (P.head == NULL && P.stopping)
			break;
		batch = P.head;
		for (last = batch; last != NULL && ++n < EVENTS_BATCH_MAX; last = last->next)
			if (last->next == NULL)
				break;
		if (batch != NULL) {
			P.head = last->next;
			if (P.head == NULL)
				P.tail = &P.head;
			last->next = NULL;
			P.stats.queued -= n;
		} else {
			n = 0;
		}
		prune_due = P.st != NULL && P.retention > 0 && !P.stopping &&
		    (prune_more || time_mono_ms() >= next_prune);
		pthread_mutex_unlock(&P.mu);

		if (batch != NULL && P.st != NULL)
			store_batch(batch, n);
		if (prune_due) {
			prune_more = prune_step();
			next_prune = time_mono_ms() + prune_interval();
		}

		pthread_mutex_lock(&P.mu);
		if (batch != NULL) {
			*P.done_tail = batch;
			P.done_tail = &last->next;
			uv_async_send(&P.wake);
			P.handed += n;
			pthread_cond_broadcast(&P.handed_cond);
		}
	}
	pthread_mutex_unlock(&P.mu);
	return NULL;
}

/* deliver_pending() runs on the loop thread: the stored events go to the
 * subscribers. */
static void
deliver_pending(uv_async_t *h)
{
	struct pending *p, *next;

	(void)h;
	pthread_mutex_lock(&P.mu);
	p = P.done;
	P.done = NULL;
	P.done_tail = &P.done;
	pthread_mutex_unlock(&P.mu);
	for (; p; p = next) {
		next = p->next;
		for (size_t i = 0; i < P.nsubs; i++)
			P.subs[i].fn(&p->rec, P.subs[i].arg);
		free_rec(&p->rec);
		free(p);
	}
}

void
events_subscribe(event_subscriber fn, void *arg)
{
	if (P.nsubs == MAX_SUBSCRIBERS)
		log_fatal("events", "too many event subscribers");	/* a programming error */
	P.subs[P.nsubs].fn = fn;
	P.subs[P.nsubs].arg = arg;
	P.nsubs++;
}

int
events_start(uv_loop_t *loop, struct store *st, const struct config *cfg, char **err)
{
	pthread_condattr_t ca;
	int rc;

	if (P.running) {
		*err = xstrdup("events: already started");
		return -1;
	}
	if (uv_async_init(loop, &P.wake, deliver_pending) != 0) {
		*err = xstrdup("events: uv_async_init failed");
		return -1;
	}
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&P.cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_lock(&P.mu);
	P.loop = loop;
	P.st = st;
	P.retention = cfg != NULL ? cfg->events_retention : 30ULL * 86400 * 1000;
	P.stopping = 0;
	memset(&P.stats, 0, sizeof(P.stats));
	P.started = 1;
	pthread_mutex_unlock(&P.mu);
	if ((rc = pthread_create(&P.thread, NULL, writer_main, NULL)) != 0) {
		pthread_mutex_lock(&P.mu);
		P.started = 0;
		pthread_mutex_unlock(&P.mu);
		pthread_cond_destroy(&P.cond);
		uv_close((uv_handle_t *)&P.wake, NULL);
		*err = xasprintf("events: cannot start the writer thread: %s", strerror(rc));
		return -1;
	}
	P.running = 1;
	return 0;
}

void
events_stop(void)
{
	if (!P.running)
		return;
	pthread_mutex_lock(&P.mu);
	P.started = 0;		/* from now on an emitted event is logged only */
	P.stopping = 1;
	pthread_cond_signal(&P.cond);
	pthread_mutex_unlock(&P.mu);
	pthread_join(P.thread, NULL);	/* it stores everything queued first */
	P.running = 0;
	deliver_pending(&P.wake);
	pthread_cond_destroy(&P.cond);
	uv_close((uv_handle_t *)&P.wake, NULL);
	P.nsubs = 0;
	P.loop = NULL;
	P.st = NULL;
}

struct events_mark
events_mark(void)
{
	struct events_mark m;

	pthread_mutex_lock(&P.mu);
	m.bad = P.bad;
	pthread_mutex_unlock(&P.mu);
	return m;
}

int
events_wait_stored(const struct events_mark *m)
{
	uint64_t target;
	int rc;

	pthread_mutex_lock(&P.mu);
	/* Whatever is queued has a writer to handle it: events are queued
	 * only while it runs, and events_stop() lets it drain the queue. */
	target = P.enq;
	while (P.handed < target)
		pthread_cond_wait(&P.handed_cond, &P.mu);
	rc = P.bad != m->bad ? -1 : 0;
	pthread_mutex_unlock(&P.mu);
	return rc;
}

void
events_get_stats(struct events_stats *out)
{
	pthread_mutex_lock(&P.mu);
	*out = P.stats;
	pthread_mutex_unlock(&P.mu);
}
