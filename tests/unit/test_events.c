/* Unit tests for the events: the store (insert, every query filter, cursor
 * paging without gaps or duplicates, the lookups feedback uses, retention,
 * stats, the separate file and its survival across reopen), the JSON shape
 * of an event, and the pipeline (events_emit -> writer thread -> store ->
 * subscribers on the loop, in order, drained by events_stop). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "events/events.h"
#include "http/http_events.h"
#include "spool/spool.h"
#include "store/store.h"
#include "util/config.h"
#include "util/id.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

struct fixture {
	char		 dir[64];
	char		*path;
	struct store	*st;
};

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	char *url, *err = NULL;

	snprintf(f->dir, sizeof(f->dir), "/tmp/hermod-events.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	f->path = xasprintf("%s/hermod.db", f->dir);
	url = xasprintf("sqlite:%s", f->path);
	if (store_open(&f->st, url, &err) != 0) {
		fprintf(stderr, "store_open: %s\n", err);
		return -1;
	}
	free(url);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char *cmd;

	store_close(f->st);
	cmd = xasprintf("rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", f->dir);
	free(cmd);
	free(f->path);
	free(f);
	return 0;
}

/* add() inserts one event; returns its seq. */
static int64_t
add(struct store *st, const char *type, int64_t time, const char *account, const char *msg,
    const char *hdr, const char *rcpt, int idx, const char *json)
{
	static int n;
	char id[32];
	struct store_event e = { 0 };

	snprintf(id, sizeof id, "ev%06d", n++);
	e.id = id;
	e.type = (char *)type;
	e.time = time;
	e.account = (char *)account;
	e.message_id = (char *)msg;
	e.header_message_id = (char *)hdr;
	e.recipient = (char *)rcpt;
	e.rcpt_index = idx;
	e.json = (char *)(json ? json : "{\"tags\":[]}");
	assert_int_equal(store_events_insert(st, &e, 1, NULL), 0);
	assert_true(e.seq > 0);
	return e.seq;
}

static void
test_insert_batch_and_after(void **state)
{
	struct fixture *f = *state;
	struct store_event v[3] = { 0 }, *out = NULL;
	size_t n = 0;
	char *err = NULL;
	struct stat sb;
	char *evpath;

	for (int i = 0; i < 3; i++) {
		v[i].id = xasprintf("id%d", i);
		v[i].type = "queued";
		v[i].time = 1000 + i;
		v[i].account = i == 1 ? "other" : "shop";
		v[i].recipient = "a@x.example";
		v[i].rcpt_index = i;
		v[i].json = "{}";
	}
	assert_int_equal(store_events_insert(f->st, v, 3, &err), 0);
	assert_true(v[0].seq < v[1].seq && v[1].seq < v[2].seq);
	for (int i = 0; i < 3; i++)
		free(v[i].id);

	/* a required field missing is refused, nothing inserted */
	{
		struct store_event bad = { .type = "queued", .json = "{}" };
		assert_int_equal(store_events_insert(f->st, &bad, 1, &err), -1);
		free(err);
		err = NULL;
	}
	assert_int_equal(store_events_after(f->st, 0, NULL, 10, &out, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_string_equal(out[1].account, "other");
	assert_int_equal(out[2].rcpt_index, 2);
	store_events_free(out, n);
	assert_int_equal(store_events_after(f->st, v[0].seq, "shop", 10, &out, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(out[0].seq, v[2].seq);
	store_events_free(out, n);

	/* a file of its own beside the store, private */
	evpath = xasprintf("%s/hermod-events.db", f->dir);
	assert_int_equal(stat(evpath, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	free(evpath);
}

static void
test_query_filters(void **state)
{
	struct fixture *f = *state;
	struct store_event_query q = { .account = "shop", .after_seq = 0, .since_time = -1,
		.limit = 100 };
	struct store_event *out = NULL;
	size_t n = 0;

	add(f->st, "queued", 1000, "shop", "M1", "h1@x", "a@x.example", 0, NULL);
	add(f->st, "queued", 1001, "shop", "M1", "h1@x", "b@y.example", 1, NULL);
	add(f->st, "delivered", 2000, "shop", "M1", "h1@x", "a@x.example", 0, NULL);
	add(f->st, "bounced", 3000, "shop", "M1", "h1@x", "b@y.example", 1, NULL);
	add(f->st, "queued", 3500, "evil", "M2", "h2@x", "a@x.example", 0, NULL);
	add(f->st, "queued", 4000, "shop", "M3", "h3@x", "a@x.example", 0, NULL);

	assert_int_equal(store_events_query(f->st, &q, &out, &n, NULL), 0);
	assert_int_equal(n, 5);		/* never another account's */
	for (size_t i = 0; i < n; i++)
		assert_string_equal(out[i].account, "shop");
	store_events_free(out, n);

	q.type = "queued";
	assert_int_equal(store_events_query(f->st, &q, &out, &n, NULL), 0);
	assert_int_equal(n, 3);
	store_events_free(out, n);

	q.type = NULL;
	q.recipient = "b@y.example";
	assert_int_equal(store_events_query(f->st, &q, &out, &n, NULL), 0);
	assert_int_equal(n, 2);
	assert_string_equal(out[1].type, "bounced");
	store_events_free(out, n);

	q.recipient = NULL;
	q.message_id = "M1";
	assert_int_equal(store_events_query(f->st, &q, &out, &n, NULL), 0);
	assert_int_equal(n, 4);
	store_events_free(out, n);
	q.message_id = "M2";		/* evil's message: not shop's */
	assert_int_equal(store_events_query(f->st, &q, &out, &n, NULL), 0);
	assert_int_equal(n, 0);
	store_events_free(out, n);
	q.message_id = NULL;
	q.header_message_id = "h3@x";
	assert_int_equal(store_events_query(f->st, &q, &out, &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_string_equal(out[0].message_id, "M3");
	store_events_free(out, n);

	/* since a time: from the first event at or after it */
	q.header_message_id = NULL;
	q.after_seq = -1;
	q.since_time = 2500;
	assert_int_equal(store_events_query(f->st, &q, &out, &n, NULL), 0);
	assert_int_equal(n, 2);
	assert_string_equal(out[0].type, "bounced");
	assert_int_equal(out[1].time, 4000);
	store_events_free(out, n);
	q.since_time = 9000;
	assert_int_equal(store_events_query(f->st, &q, &out, &n, NULL), 0);
	assert_int_equal(n, 0);
	store_events_free(out, n);

	/* neither: the latest limit events, still oldest first */
	q.since_time = -1;
	q.limit = 2;
	assert_int_equal(store_events_query(f->st, &q, &out, &n, NULL), 0);
	assert_int_equal(n, 2);
	assert_int_equal(out[0].time, 3000);
	assert_int_equal(out[1].time, 4000);
	store_events_free(out, n);

	/* limits and the account are enforced by the store too */
	q.limit = 0;
	assert_int_equal(store_events_query(f->st, &q, &out, &n, NULL), -1);
	q.limit = STORE_EVENTS_MAX + 1;
	assert_int_equal(store_events_query(f->st, &q, &out, &n, NULL), -1);
	q.limit = 1;
	q.account = NULL;
	assert_int_equal(store_events_query(f->st, &q, &out, &n, NULL), -1);
}

static void
test_cursor_paging(void **state)
{
	struct fixture *f = *state;
	struct store_event_query q = { .account = "shop", .after_seq = 0, .since_time = -1,
		.limit = 7 };
	struct store_event *out = NULL;
	int64_t seqs[100], last = -1;
	size_t n, seen = 0, pages = 0;

	for (int i = 0; i < 100; i++) {
		seqs[i] = add(f->st, "delivered", 1000 + i, "shop", "M", NULL, "a@x.example", i,
		    NULL);
		if (i % 3 == 0)
			add(f->st, "delivered", 1000 + i, "other", "N", NULL, "z@x.example", i, NULL);
	}
	for (;;) {
		assert_int_equal(store_events_query(f->st, &q, &out, &n, NULL), 0);
		if (n == 0)
			break;
		for (size_t i = 0; i < n; i++) {
			assert_true(out[i].seq > last);		/* increasing: no duplicate */
			assert_int_equal(out[i].seq, seqs[seen]);	/* no gap */
			last = out[i].seq;
			seen++;
		}
		q.after_seq = out[n - 1].seq;
		store_events_free(out, n);
		assert_true(++pages < 100);
	}
	store_events_free(out, n);
	assert_int_equal(seen, 100);
	assert_int_equal(pages, 15);
}

static void
test_lookups(void **state)
{
	struct fixture *f = *state;
	char *a = NULL, *b = NULL;

	add(f->st, "queued", 1000, "shop", "MSG1", "abc@shop.example", "a@x.example", 0, NULL);
	add(f->st, "queued", 1000, "shop", "MSG1", "abc@shop.example", "b@x.example", 1, NULL);
	assert_int_equal(store_event_recipient(f->st, "MSG1", 1, &a, &b, NULL), 0);
	assert_string_equal(a, "shop");
	assert_string_equal(b, "b@x.example");
	free(a);
	free(b);
	assert_int_equal(store_event_recipient(f->st, "MSG1", 2, &a, &b, NULL), STORE_NOTFOUND);
	assert_int_equal(store_event_recipient(f->st, "NOPE", 0, &a, &b, NULL), STORE_NOTFOUND);
	assert_int_equal(store_event_find_message(f->st, "abc@shop.example", &a, &b, NULL), 0);
	assert_string_equal(a, "MSG1");
	assert_string_equal(b, "shop");
	free(a);
	free(b);
	/* angle brackets as a header carries them are accepted */
	assert_int_equal(store_event_find_message(f->st, "<abc@shop.example>", &a, &b, NULL), 0);
	free(a);
	free(b);
	assert_int_equal(store_event_find_message(f->st, "zzz@x", &a, &b, NULL), STORE_NOTFOUND);
}

static void
test_retention(void **state)
{
	struct fixture *f = *state;
	struct store_event *out = NULL;
	size_t n = 0, deleted = 0, total = 0;
	int64_t last;

	for (int i = 0; i < 50; i++)
		add(f->st, "delivered", 1000 + i, "shop", "M", NULL, "a@x.example", i, NULL);
	last = add(f->st, "delivered", 5000, "shop", "M", NULL, "a@x.example", 50, NULL);
	/* bounded steps: 20 at most each */
	do {
		assert_int_equal(store_events_prune(f->st, 2000, 20, &deleted, NULL), 0);
		assert_true(deleted <= 20);
		total += deleted;
	} while (deleted == 20);
	assert_int_equal(total, 50);
	assert_int_equal(store_events_after(f->st, 0, NULL, 100, &out, &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_int_equal(out[0].time, 5000);
	store_events_free(out, n);
	/* everything gone: seq still goes on (client cursors stay valid) */
	assert_int_equal(store_events_prune(f->st, 9000, 20, &deleted, NULL), 0);
	assert_int_equal(deleted, 1);
	assert_true(add(f->st, "queued", 9500, "shop", "M", NULL, "a@x.example", 0, NULL) > last);
}

static int64_t
count_of(struct store_event_count *v, size_t n, const char *key, const char *type)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].key, key) == 0 && strcmp(v[i].type, type) == 0)
			return v[i].count;
	return 0;
}

static void
test_stats(void **state)
{
	struct fixture *f = *state;
	struct store_event_count *v = NULL;
	size_t n = 0;
	const int64_t day = 86400000;
	const char *tags = "{\"tags\":[\"receipt\",\"eu\"]}";

	add(f->st, "queued", day + 10, "shop", "M", NULL, "a@X.example", 0, tags);
	add(f->st, "delivered", day + 20, "shop", "M", NULL, "a@X.example", 0, tags);
	add(f->st, "queued", 2 * day + 10, "shop", "N", NULL, "\"q@r\"@y.example", 0, NULL);
	add(f->st, "bounced", 2 * day + 20, "shop", "N", NULL, "\"q@r\"@y.example", 0,
	    "{\"tags\":[\"eu\"]}");
	add(f->st, "queued", 2 * day + 30, "evil", "O", NULL, "a@x.example", 0, tags);

	assert_int_equal(store_events_stats(f->st, "shop", 0, 3 * day, NULL, &v, &n, NULL), 0);
	assert_int_equal(count_of(v, n, "", "queued"), 2);
	assert_int_equal(count_of(v, n, "", "delivered"), 1);
	assert_int_equal(count_of(v, n, "", "bounced"), 1);
	store_event_counts_free(v, n);

	assert_int_equal(store_events_stats(f->st, "shop", 0, 3 * day, "day", &v, &n, NULL), 0);
	assert_int_equal(count_of(v, n, "1970-01-02", "queued"), 1);
	assert_int_equal(count_of(v, n, "1970-01-03", "bounced"), 1);
	store_event_counts_free(v, n);

	assert_int_equal(store_events_stats(f->st, "shop", 0, 3 * day, "domain", &v, &n, NULL),
	    0);
	assert_int_equal(count_of(v, n, "x.example", "delivered"), 1);
	assert_int_equal(count_of(v, n, "y.example", "queued"), 1);	/* after the last @ */
	store_event_counts_free(v, n);

	assert_int_equal(store_events_stats(f->st, "shop", 0, 3 * day, "tag", &v, &n, NULL), 0);
	assert_int_equal(count_of(v, n, "receipt", "queued"), 1);
	assert_int_equal(count_of(v, n, "eu", "queued"), 1);
	assert_int_equal(count_of(v, n, "eu", "bounced"), 1);
	assert_int_equal(count_of(v, n, "eu", "delivered"), 1);
	store_event_counts_free(v, n);

	/* the range: [from, to) */
	assert_int_equal(store_events_stats(f->st, "shop", day + 20, 2 * day + 20, NULL, &v, &n,
	    NULL), 0);
	assert_int_equal(count_of(v, n, "", "delivered"), 1);
	assert_int_equal(count_of(v, n, "", "queued"), 1);
	assert_int_equal(count_of(v, n, "", "bounced"), 0);
	store_event_counts_free(v, n);
	assert_int_equal(store_events_stats(f->st, "shop", 0, 1, "week", &v, &n, NULL), -1);
}

static void
test_reopen(void **state)
{
	struct fixture *f = *state;
	struct store_event *out = NULL;
	size_t n = 0;
	char *url = xasprintf("sqlite:%s", f->path);
	int64_t s1 = add(f->st, "queued", 1, "shop", "M", NULL, "a@x.example", 0, NULL);

	store_close(f->st);
	assert_int_equal(store_open(&f->st, url, NULL), 0);
	free(url);
	assert_int_equal(store_events_after(f->st, 0, "shop", 10, &out, &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_int_equal(out[0].seq, s1);
	store_events_free(out, n);
}

/* ":memory:" shares one connection between writer and readers */
static void
test_memory_store(void **state)
{
	struct store *st = NULL;
	struct store_event_query q = { .account = "shop", .after_seq = 0, .since_time = -1,
		.limit = 10 };
	struct store_event *out = NULL;
	size_t n = 0;

	(void)state;
	assert_int_equal(store_open(&st, "sqlite::memory:", NULL), 0);
	add(st, "queued", 1, "shop", "M", NULL, "a@x.example", 0, NULL);
	add(st, "delivered", 2, "shop", "M", NULL, "a@x.example", 0, NULL);
	assert_int_equal(store_events_query(st, &q, &out, &n, NULL), 0);
	assert_int_equal(n, 2);
	store_events_free(out, n);
	store_close(st);
}

static void
test_json_shape(void **state)
{
	struct event_rec rec = { .seq = 0, .type = EVENT_BOUNCED, .time = 1795716000000LL };
	json_t *o, *x;
	size_t len;
	char *s;

	(void)state;
	id_new(rec.id);
	rec.ev.account = "shop";
	rec.ev.message_id = "MSG";
	rec.ev.recipient = "a@x.example";
	rec.ev.meta_json = "{\"tags\":[\"receipt\"],\"metadata\":{\"order\":\"42\"}}";
	rec.ev.attempt = 3;
	rec.ev.mx = "mx1.x.example";
	rec.ev.smtp_code = 550;
	rec.ev.smtp_enhanced = "5.1.1";
	rec.ev.smtp_text = "No such user";
	rec.ev.bounce_class = "hard";
	rec.ev.bounce_category = "bad-mailbox";
	s = event_rec_json(&rec, &len);
	assert_int_equal(strlen(s), len);
	o = json_loads(s, 0, NULL);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "type")), "bounced");
	assert_string_equal(json_string_value(json_object_get(o, "time")), "2026-11-26T18:00:00Z");
	assert_string_equal(json_string_value(json_object_get(o, "account")), "shop");
	assert_string_equal(json_string_value(json_object_get(o, "recipient")), "a@x.example");
	assert_string_equal(json_string_value(json_array_get(json_object_get(o, "tags"), 0)),
	    "receipt");
	assert_string_equal(json_string_value(json_object_get(json_object_get(o, "metadata"),
	    "order")), "42");
	assert_int_equal(json_integer_value(json_object_get(o, "attempt")), 3);
	x = json_object_get(o, "smtp");
	assert_int_equal(json_integer_value(json_object_get(x, "code")), 550);
	assert_string_equal(json_string_value(json_object_get(x, "enhanced")), "5.1.1");
	x = json_object_get(o, "bounce");
	assert_string_equal(json_string_value(json_object_get(x, "class")), "hard");
	assert_string_equal(json_string_value(json_object_get(x, "category")), "bad-mailbox");
	json_decref(o);
	free(s);
}

static void
test_parse_time(void **state)
{
	int64_t ms;

	(void)state;
	assert_int_equal(http_events_parse_time("2026-11-26T18:00:00Z", &ms), 0);
	assert_int_equal(ms, 1795716000000LL);
	assert_int_equal(http_events_parse_time("2026-11-26T19:00:00+01:00", &ms), 0);
	assert_int_equal(ms, 1795716000000LL);
	assert_int_equal(http_events_parse_time("2026-11-26T18:00:00.250Z", &ms), 0);
	assert_int_equal(ms, 1795716000250LL);
	assert_int_equal(http_events_parse_time("2026-11-26", &ms), 0);
	assert_int_equal(ms, 1795651200000LL);
	assert_int_equal(http_events_parse_time("1795716000", &ms), 0);
	assert_int_equal(ms, 1795716000000LL);
	assert_int_equal(http_events_parse_time("2026-11-26T18:00:00", &ms), -1);
	assert_int_equal(http_events_parse_time("2026-13-26", &ms), -1);
	assert_int_equal(http_events_parse_time("yesterday", &ms), -1);
	assert_int_equal(http_events_parse_time("2026-11-26T18:00Zjunk", &ms), -1);
}

/* ---- the pipeline ---- */

struct seen {
	int64_t	 last_seq;
	size_t	 n;
	int	 in_order;
	int	 stored;
};

static void
on_event(const struct event_rec *rec, void *arg)
{
	struct seen *s = arg;

	if (rec->seq <= s->last_seq)
		s->in_order = 0;
	if (rec->seq == 0)
		s->stored = 0;
	s->last_seq = rec->seq;
	s->n++;
}

static void
test_pipeline(void **state)
{
	struct fixture *f = *state;
	struct seen s = { .in_order = 1, .stored = 1 };
	struct events_stats es;
	struct store_event *out = NULL;
	struct spool_rcpt rc[3] = {
		{ .addr = "a@x.example", .state = SPOOL_RCPT_QUEUED },
		{ .addr = "b@x.example", .state = SPOOL_RCPT_DROPPED },
		{ .addr = "c@x.example", .state = SPOOL_RCPT_QUEUED },
	};
	struct spool_env env = { .id = "MSGQ", .account = "shop", .message_id = "q@shop.example",
		.meta_json = "{\"tags\":[\"t1\"]}", .nrcpt = 3, .rcpt = rc };
	uv_loop_t loop;
	char *err = NULL;
	size_t n = 0;
	const size_t N = 2500;		/* more than one batch */

	uv_loop_init(&loop);
	events_subscribe(on_event, &s);
	assert_int_equal(events_start(&loop, f->st, NULL, &err), 0);
	for (size_t i = 0; i < N; i++) {
		struct event e = { .type = EVENT_DELIVERED, .account = "shop", .message_id = "M",
			.recipient = "a@x.example", .rcpt_index = (int)i };
		events_emit(&e);
	}
	events_emit_queued(&env);	/* two: b was dropped */
	for (int i = 0; i < 500 && s.n < N + 2; i++)
		uv_run(&loop, UV_RUN_NOWAIT), usleep(10000);
	assert_int_equal(s.n, N + 2);
	assert_true(s.in_order);
	assert_true(s.stored);
	events_get_stats(&es);
	assert_int_equal(es.stored, N + 2);
	assert_true(es.batches >= 3);	/* EVENTS_BATCH_MAX is 1000 */

	/* emitted just before stop: stored and delivered by events_stop() */
	for (int i = 0; i < 10; i++) {
		struct event e = { .type = EVENT_DEFERRED, .account = "shop", .rcpt_index = -1 };
		events_emit(&e);
	}
	events_stop();
	assert_int_equal(s.n, N + 12);
	/* after the stop: logged only */
	{
		struct event e = { .type = EVENT_OPENED, .account = "shop", .rcpt_index = -1 };
		events_emit(&e);
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	assert_int_equal(store_events_after(f->st, 0, "shop", 5000, &out, &n, NULL), 0);
	assert_int_equal(n, N + 12);
	assert_string_equal(out[N].type, "queued");
	assert_string_equal(out[N].recipient, "a@x.example");
	assert_string_equal(out[N].header_message_id, "q@shop.example");
	assert_int_equal(out[N + 1].rcpt_index, 2);
	assert_non_null(strstr(out[N + 1].json, "\"tags\":[\"t1\"]"));
	store_events_free(out, n);
}

/* retention on the writer thread: a tiny retention deletes old events */
static void
test_pipeline_retention(void **state)
{
	struct fixture *f = *state;
	struct config cfg;
	struct events_stats es;
	uv_loop_t loop;
	char *err = NULL;
	struct store_event *out = NULL;
	size_t n = 0;

	config_defaults(&cfg, "/tmp");
	cfg.events_retention = 500;
	add(f->st, "queued", (int64_t)time_now_ms() - 60000, "shop", "OLD", NULL, "a@x", 0, NULL);
	uv_loop_init(&loop);
	assert_int_equal(events_start(&loop, f->st, &cfg, &err), 0);
	for (int i = 0; i < 300; i++) {
		events_get_stats(&es);
		if (es.pruned > 0)
			break;
		usleep(10000);
	}
	events_stop();
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	assert_int_equal(es.pruned, 1);
	assert_int_equal(store_events_after(f->st, 0, NULL, 10, &out, &n, NULL), 0);
	assert_int_equal(n, 0);
	store_events_free(out, n);
	config_free(&cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_insert_batch_and_after, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_filters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cursor_paging, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lookups, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retention, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
		cmocka_unit_test(test_memory_store),
		cmocka_unit_test(test_json_shape),
		cmocka_unit_test(test_parse_time),
		cmocka_unit_test_setup_teardown(test_pipeline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipeline_retention, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
