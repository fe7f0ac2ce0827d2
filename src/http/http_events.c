/* http_events: the API's reading side of events (SPEC.md "Events"):
 * GET /v1/events (filtered, cursor-paged, newest last), GET /v1/messages/{id}
 * (the message, each recipient's state, its events: from the spool while it
 * is queued, from the events store once it has left) and GET /v1/stats
 * (counts of each event type, by day, recipient domain or tag).
 *
 * Every store query runs in the route's work() on a worker thread; only the
 * spool lookup of GET /v1/messages/{id} runs in done() on the loop, where
 * the spool lives. Every query is bound to the key's account, so a tenant
 * never sees another's events, and an unknown id is a 404 whether it does
 * not exist or belongs to someone else. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "events/events.h"
#include "http/http_events.h"
#include "http/http_internal.h"
#include "spool/spool.h"
#include "store/store.h"
#include "util/id.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

#define HTTP_EVENTS_DEFAULT_LIMIT	100
#define HTTP_STATS_DEFAULT_SPAN		(30LL * 86400 * 1000)	/* from = to - this */

/* The types counted in every stats group, zero or not (SPEC.md's list). */
static const enum event_type stats_types[] = {
	EVENT_QUEUED, EVENT_DELIVERED, EVENT_DEFERRED, EVENT_BOUNCED, EVENT_EXPIRED,
	EVENT_DROPPED, EVENT_COMPLAINED, EVENT_UNSUBSCRIBED, EVENT_OPENED, EVENT_CLICKED,
};

static const char *
arg(struct http_req *r, const char *name)
{
	/* The connection is suspended while work() runs: MHD does not touch
	 * its arguments meanwhile. */
	const char *v = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);

	return v != NULL && v[0] != '\0' ? v : NULL;
}

static int
digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return 0;
	return n > 0;
}

static int
num(const char *s, size_t n)
{
	int v = 0;

	for (size_t i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

int
http_events_parse_time(const char *s, int64_t *ms)
{
	struct tm tm = { 0 };
	size_t len = strlen(s), i;
	int64_t frac = 0, off = 0;
	time_t t;

	if (digits(s, len)) {		/* Unix seconds */
		if (len > 12)
			return -1;
		*ms = (int64_t)strtoll(s, NULL, 10) * 1000;
		return 0;
	}
	/* RFC 3339: YYYY-MM-DD, optionally THH:MM[:SS[.fff]] and Z or +hh:mm */
	if (len < 10 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' ||
	    !digits(s + 8, 2))
		return -1;
	tm.tm_year = num(s, 4) - 1900;
	tm.tm_mon = num(s + 5, 2) - 1;
	tm.tm_mday = num(s + 8, 2);
	i = 10;
	if (i < len) {
		if ((s[i] != 'T' && s[i] != 't' && s[i] != ' ') || len < i + 6 ||
		    !digits(s + i + 1, 2) || s[i + 3] != ':' || !digits(s + i + 4, 2))
			return -1;
		tm.tm_hour = num(s + i + 1, 2);
		tm.tm_min = num(s + i + 4, 2);
		i += 6;
		if (i < len && s[i] == ':') {
			if (!digits(s + i + 1, 2))
				return -1;
			tm.tm_sec = num(s + i + 1, 2);
			i += 3;
			if (i < len && s[i] == '.') {
				int scale = 100;
				for (i++; i < len && isdigit((unsigned char)s[i]); i++, scale /= 10)
					frac += scale > 0 ? (s[i] - '0') * scale : 0;
			}
		}
		if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
			i++;
		} else if (i < len && (s[i] == '+' || s[i] == '-')) {
			if (len != i + 6 || !digits(s + i + 1, 2) || s[i + 3] != ':' ||
			    !digits(s + i + 4, 2))
				return -1;
			off = (num(s + i + 1, 2) * 60 + num(s + i + 4, 2)) * 60000LL;
			if (s[i] == '+')
				off = -off;
			i += 6;
		} else {
			return -1;	/* a time needs its zone */
		}
		if (i != len)
			return -1;
	}
	if (tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
	    tm.tm_min > 59 || tm.tm_sec > 60)
		return -1;
	if ((t = timegm(&tm)) == (time_t)-1)
		return -1;
	*ms = (int64_t)t * 1000 + frac + off;
	return *ms >= 0 ? 0 : -1;
}

/* event_array() parses the stored JSON of v[0..n) into an array of n. */
static json_t *
event_array(const struct store_event *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++) {
		json_t *o = json_loads(v[i].json, 0, NULL);
		/* never short of one: callers index the array like v */
		if (o == NULL)
			o = json_pack("{s:s, s:s}", "id", v[i].id, "type", v[i].type);
		json_array_append_new(a, o);
	}
	return a;
}

static void
store_failed(struct http_req *r, const char *what, char *err)
{
	log_error("http", "%s failed: %s", what, err ? err : "?");
	free(err);
	http_req_problem(r, 503, "unavailable", "Service Unavailable", "the events store failed",
	    NULL);
}

/* message_filter() sets q's message filter: hermod's id, or else a
 * Message-ID header (angle brackets optional). */
static void
message_filter(struct store_event_query *q, const char *m, char **hdr)
{
	size_t n = strlen(m);

	if (id_valid(m)) {
		q->message_id = m;
	} else if (n >= 2 && m[0] == '<' && m[n - 1] == '>') {
		*hdr = xasprintf("%.*s", (int)(n - 2), m + 1);
		q->header_message_id = *hdr;
	} else {
		q->header_message_id = m;
	}
}

void
http_events_list(struct http_req *r)
{
	const char *type = arg(r, "type"), *rcpt = arg(r, "recipient"), *msg = arg(r, "message");
	const char *since = arg(r, "since"), *limit = arg(r, "limit");
	struct store_event_query q = { .account = r->account, .after_seq = -1, .since_time = -1,
		.limit = HTTP_EVENTS_DEFAULT_LIMIT };
	struct http_errors e = { 0 };
	struct store_event *v = NULL;
	enum event_type t;
	char *hdr = NULL, *err = NULL, *next;
	size_t n = 0;

	if (type != NULL) {
		if (event_type_parse(type, &t) < 0)
			http_errors_add(&e, "type", "unknown event type \"%s\"", type);
		q.type = type;
	}
	if (limit != NULL) {
		char *end;
		long x = strtol(limit, &end, 10);
		if (*end != '\0' || x < 1 || x > STORE_EVENTS_MAX)
			http_errors_add(&e, "limit", "an integer from 1 to %d", STORE_EVENTS_MAX);
		else
			q.limit = (size_t)x;
	}
	if (since != NULL) {
		if (since[0] == 'c' && digits(since + 1, strlen(since + 1)) && strlen(since) < 20)
			q.after_seq = strtoll(since + 1, NULL, 10);
		else if (http_events_parse_time(since, &q.since_time) < 0)
			http_errors_add(&e, "since", "a cursor from \"next\", an RFC 3339 time "
			    "(2026-11-26T18:00:00Z) or Unix seconds");
	}
	q.recipient = rcpt;
	if (msg != NULL)
		message_filter(&q, msg, &hdr);
	if (http_errors_count(&e) > 0) {
		http_req_problem(r, 422, "invalid-request", "Invalid request", NULL, &e);
		free(hdr);
		return;
	}
	if (store_events_query(r->srv->st, &q, &v, &n, &err) != 0) {
		store_failed(r, "events query", err);
		free(hdr);
		return;
	}
	/* next: after the last event returned; with none, where this page
	 * started, so polling with it sees what comes later. */
	if (n > 0)
		next = xasprintf("c%lld", (long long)v[n - 1].seq);
	else if (q.after_seq >= 0)
		next = xasprintf("c%lld", (long long)q.after_seq);
	else if (q.since_time >= 0)
		next = xstrdup(since);
	else
		next = xstrdup("c0");
	http_req_answer(r, 200, json_pack("{s:o, s:s}", "events", event_array(v, n), "next", next));
	free(next);
	free(hdr);
	store_events_free(v, n);
}

/* ---- GET /v1/messages/{id} ---- */

static int
is_delivery_type(const char *t)
{
	static const char *const d[] = { "queued", "deferred", "delivered", "bounced",
		"expired", "dropped", NULL };

	for (size_t i = 0; d[i]; i++)
		if (strcmp(d[i], t) == 0)
			return 1;
	return 0;
}

/* recipients_from_events() rebuilds each recipient's state from the
 * message's events (oldest first, evs their parsed JSON): its state is the
 * type of its last delivery event (queued ... dropped), last_event the type
 * of its last event of any kind (a complaint after delivery). */
#define HTTP_MSG_MAX_RCPT	100000	/* a sanity cap on a stored index */
#define HTTP_MSG_MAX_EVENTS	20000	/* events read for one message */
static json_t *
recipients_from_events(const struct store_event *v, size_t n, json_t *evs)
{
	json_t **by = NULL, *out = json_array(), *x;
	size_t i, nby = 0;

	for (i = 0; i < n; i++) {
		json_t *ev = json_array_get(evs, i), *smtp;
		size_t k;
		if (v[i].recipient == NULL || v[i].rcpt_index < 0 ||
		    v[i].rcpt_index >= HTTP_MSG_MAX_RCPT)
			continue;
		k = (size_t)v[i].rcpt_index;
		if (k >= nby) {
			by = xrealloc(by, (k + 1) * sizeof(*by));
			memset(by + nby, 0, (k + 1 - nby) * sizeof(*by));
			nby = k + 1;
		}
		if ((x = by[k]) == NULL)
			x = by[k] = json_pack("{s:s, s:s, s:i, s:n, s:n}", "email", v[i].recipient,
			    "state", "queued", "attempts", 0, "last_reply", "last_event");
		json_object_set_new(x, "last_event", json_string(v[i].type));
		if (!is_delivery_type(v[i].type))
			continue;
		json_object_set_new(x, "state", json_string(v[i].type));
		if (json_integer_value(json_object_get(ev, "attempt")) >
		    json_integer_value(json_object_get(x, "attempts")))
			json_object_set(x, "attempts", json_object_get(ev, "attempt"));
		if ((smtp = json_object_get(ev, "smtp")) != NULL) {
			const char *enh = json_string_value(json_object_get(smtp, "enhanced"));
			const char *text = json_string_value(json_object_get(smtp, "text"));
			char *reply = xasprintf("%lld%s%s %s",
			    (long long)json_integer_value(json_object_get(smtp, "code")),
			    enh ? " " : "", enh ? enh : "", text ? text : "");
			json_object_set_new(x, "last_reply", json_string(reply));
			free(reply);
		} else if (json_is_string(json_object_get(ev, "reason"))) {
			json_object_set(x, "last_reply", json_object_get(ev, "reason"));
		}
	}
	for (i = 0; i < nby; i++)
		if (by[i] != NULL)
			json_array_append_new(out, by[i]);
	free(by);
	return out;
}

/* http_message_get_work() reads the message's events (worker); the answer
 * is assembled in http_message_get() on the loop. r->json carries
 * {"events": [...], "recipients": [...], "queued_at": ms} between the two. */
void
http_message_get_work(struct http_req *r)
{
	struct store_event_query q = { .account = r->account, .message_id = r->param,
		.after_seq = 0, .since_time = -1, .limit = STORE_EVENTS_MAX };
	struct store_event *v = NULL;
	char *err = NULL;
	size_t n = 0;
	json_t *evs;

	if (!id_valid(r->param)) {
		http_req_problem(r, 404, "not-found", "Not Found",
		    "no message with this id in your account", NULL);
		return;
	}
	/* page through: a message with many recipients retried many times has
	 * more events than one query returns */
	for (;;) {
		struct store_event *page = NULL;
		size_t k = 0;
		if (store_events_query(r->srv->st, &q, &page, &k, &err) != 0) {
			store_events_free(v, n);
			store_failed(r, "message events", err);
			return;
		}
		if (k > 0) {
			v = xrealloc(v, (n + k) * sizeof(*v));
			memcpy(v + n, page, k * sizeof(*v));
			n += k;
			q.after_seq = page[k - 1].seq;
		}
		free(page);
		if (k < q.limit || n >= HTTP_MSG_MAX_EVENTS)
			break;
	}
	evs = event_array(v, n);
	r->json = json_pack("{s:o, s:o, s:I}", "events", evs, "recipients",
	    recipients_from_events(v, n, evs), "queued_at", (json_int_t)(n > 0 ? v[0].time : 0));
	if (n > 0 && v[0].header_message_id != NULL)
		json_object_set_new(r->json, "message_id", json_string(v[0].header_message_id));
	store_events_free(v, n);
}

static json_t *
spool_recipients(const struct spool_env *env, json_t *from_events)
{
	json_t *rc = json_array();
	char t[40];

	for (size_t i = 0; i < env->nrcpt; i++) {
		const struct spool_rcpt *p = &env->rcpt[i];
		json_t *x = json_pack("{s:s, s:s, s:I}", "email", p->addr, "state",
		    spool_rcpt_state_name(p->state), "attempts", (json_int_t)p->attempts);
		json_t *ev = NULL, *y;
		size_t k;
		if (p->next_attempt) {
			time_iso8601(p->next_attempt, 0, t, sizeof t);
			json_object_set_new(x, "next_attempt", json_string(t));
		} else {
			json_object_set_new(x, "next_attempt", json_null());
		}
		json_object_set_new(x, "last_reply", p->last_reply ? json_string(p->last_reply) :
		    json_null());
		json_array_foreach(from_events, k, y)
			if (strcmp(json_string_value(json_object_get(y, "email")), p->addr) == 0)
				ev = y;
		json_object_set(x, "last_event", ev ? json_object_get(ev, "last_event") : json_null());
		json_array_append_new(rc, x);
	}
	return rc;
}

void
http_message_get(struct http_req *r)
{
	const struct spool_env *env = spool_get(r->srv->sp, r->param);
	json_t *o, *evs = json_object_get(r->json, "events");
	json_t *from_ev = json_object_get(r->json, "recipients");
	char t[40];

	if (env != NULL && (env->account == NULL || strcmp(env->account, r->account) != 0))
		env = NULL;
	if (env == NULL && json_array_size(evs) == 0) {
		http_req_problem(r, 404, "not-found", "Not Found",
		    "no message with this id in your account", NULL);
		http_req_finish(r);
		return;
	}
	o = json_object();
	json_object_set_new(o, "id", json_string(r->param));
	json_object_set_new(o, "account", json_string(r->account));
	if (env != NULL) {
		/* queued: the spool knows each recipient's state now */
		json_object_set_new(o, "message_id", env->message_id ?
		    json_string(env->message_id) : json_null());
		json_object_set_new(o, "from", json_string(env->mail_from));
		json_object_set_new(o, "in_queue", json_true());
		json_object_set_new(o, "recipients", spool_recipients(env, from_ev));
		json_object_set_new(o, "size", json_integer((json_int_t)env->size));
		time_iso8601(env->queued_at, 0, t, sizeof t);
	} else {
		/* gone from the spool (every recipient final): its events tell */
		json_t *mid = json_object_get(r->json, "message_id");
		json_object_set(o, "message_id", mid ? mid : json_null());
		json_object_set_new(o, "in_queue", json_false());
		json_object_set(o, "recipients", from_ev);
		time_iso8601((uint64_t)json_integer_value(json_object_get(r->json, "queued_at")), 0,
		    t, sizeof t);
	}
	json_object_set_new(o, "queued_at", json_string(t));
	json_object_set(o, "events", evs ? evs : json_array());
	http_req_answer(r, 200, o);
	http_req_finish(r);
}

/* ---- GET /v1/stats ---- */

static json_t *
zero_counts(void)
{
	json_t *c = json_object();

	for (size_t i = 0; i < sizeof(stats_types) / sizeof(stats_types[0]); i++)
		json_object_set_new(c, event_type_name(stats_types[i]), json_integer(0));
	return c;
}

void
http_stats(struct http_req *r)
{
	const char *from_s = arg(r, "from"), *to_s = arg(r, "to"), *group = arg(r, "group_by");
	struct http_errors e = { 0 };
	struct store_event_count *v = NULL, *tot = NULL;
	int64_t from = -1, to = (int64_t)time_now_ms() + 1;
	size_t n = 0, ntot = 0, i;
	char *err = NULL, a[40], b[40];
	json_t *o, *totals, *groups = NULL, *cur = NULL;
	const char *cur_key = NULL;

	if (to_s != NULL && http_events_parse_time(to_s, &to) < 0)
		http_errors_add(&e, "to", "an RFC 3339 time (2026-11-26T18:00:00Z), a date "
		    "(2026-11-26) or Unix seconds");
	if (from_s != NULL && http_events_parse_time(from_s, &from) < 0)
		http_errors_add(&e, "from", "an RFC 3339 time (2026-11-26T18:00:00Z), a date "
		    "(2026-11-26) or Unix seconds");
	if (from_s == NULL)
		from = to - HTTP_STATS_DEFAULT_SPAN < 0 ? 0 : to - HTTP_STATS_DEFAULT_SPAN;
	if (http_errors_count(&e) == 0 && from >= to)
		http_errors_add(&e, "from", "must be before to");
	if (group != NULL && strcmp(group, "day") != 0 && strcmp(group, "domain") != 0 &&
	    strcmp(group, "tag") != 0)
		http_errors_add(&e, "group_by", "one of day, domain, tag");
	if (http_errors_count(&e) > 0) {
		http_req_problem(r, 422, "invalid-request", "Invalid request", NULL, &e);
		return;
	}
	if (store_events_stats(r->srv->st, r->account, from, to, NULL, &tot, &ntot, &err) != 0 ||
	    (group != NULL &&
	    store_events_stats(r->srv->st, r->account, from, to, group, &v, &n, &err) != 0)) {
		store_event_counts_free(tot, ntot);
		store_failed(r, "stats", err);
		return;
	}
	totals = zero_counts();
	for (i = 0; i < ntot; i++)
		json_object_set_new(totals, tot[i].type, json_integer(tot[i].count));
	if (group != NULL) {
		groups = json_array();
		for (i = 0; i < n; i++) {
			if (cur_key == NULL || strcmp(cur_key, v[i].key) != 0) {
				cur = zero_counts();
				cur_key = v[i].key;
				json_array_append_new(groups, json_pack("{s:s, s:o}", "key", cur_key,
				    "counts", cur));
			}
			json_object_set_new(cur, v[i].type, json_integer(v[i].count));
		}
	}
	time_iso8601((uint64_t)from, from % 1000 != 0, a, sizeof a);
	time_iso8601((uint64_t)to, to % 1000 != 0, b, sizeof b);
	o = json_pack("{s:s, s:s, s:o}", "from", a, "to", b, "totals", totals);
	json_object_set_new(o, "group_by", group ? json_string(group) : json_null());
	if (groups != NULL)
		json_object_set_new(o, "groups", groups);
	http_req_answer(r, 200, o);
	store_event_counts_free(v, n);
	store_event_counts_free(tot, ntot);
}
