/* events: the pipeline of events.h. An emitted event becomes an event_rec
 * (id, time, JSON), is logged at once, and is queued under a mutex; the loop
 * thread is woken (uv_async) to hand the queue to the subscribers in order.
 * The events store sits between the two (a writer thread inserting batches,
 * then waking the loop), so subscribers only ever see stored events. */
#include "events/events.h"
#include "metrics/metrics.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

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

#define MAX_SUBSCRIBERS	16

struct pending {
	struct event_rec	 rec;
	struct pending		*next;
};

static struct {
	pthread_mutex_t	 mu;
	uv_loop_t	*loop;
	uv_async_t	 wake;
	int		 started;
	struct pending	*head, **tail;
	struct {
		event_subscriber fn;
		void		*arg;
	} subs[MAX_SUBSCRIBERS];
	size_t		 nsubs;
} P = { .mu = PTHREAD_MUTEX_INITIALIZER, .tail = &P.head };

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
		pthread_mutex_unlock(&P.mu);
		free_rec(r);
		free(p);
		return;
	}
	*P.tail = p;
	P.tail = &p->next;
	uv_async_send(&P.wake);
	pthread_mutex_unlock(&P.mu);
}

/* deliver_pending() runs on the loop thread: the queue goes to the subscribers. */
static void
deliver_pending(uv_async_t *h)
{
	struct pending *p, *next;

	(void)h;
	pthread_mutex_lock(&P.mu);
	p = P.head;
	P.head = NULL;
	P.tail = &P.head;
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
	(void)st;
	(void)cfg;
	(void)err;
	if (uv_async_init(loop, &P.wake, deliver_pending) != 0) {
		*err = xstrdup("events: uv_async_init failed");
		return -1;
	}
	pthread_mutex_lock(&P.mu);
	P.loop = loop;
	P.started = 1;
	pthread_mutex_unlock(&P.mu);
	return 0;
}

void
events_stop(void)
{
	if (!P.started)
		return;
	deliver_pending(&P.wake);
	pthread_mutex_lock(&P.mu);
	P.started = 0;
	pthread_mutex_unlock(&P.mu);
	/* An event emitted between the drain and here was dropped by the
	 * started check; a last drain catches one queued just before it. */
	deliver_pending(&P.wake);
	uv_close((uv_handle_t *)&P.wake, NULL);
	P.nsubs = 0;
	P.loop = NULL;
}
