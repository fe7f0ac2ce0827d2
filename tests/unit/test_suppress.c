/* Unit tests for suppress/: address normalisation and matching keys, the
 * in-memory set (with its memory per entry measured), the store's
 * suppression rows and journal (SQLite in a temporary file, two
 * connections: the daemon's and the CLI's), and the automatic suppression
 * subscriber fed through the real event pipeline on a libuv loop: a
 * `complained` event (what the inbound helper emits) and a hard `bounced`
 * one suppress, soft bounces only after count and span, a delivery clears
 * them, every change is an audit event. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "golden.h"
#include "events/events.h"
#include "store/store.h"
#include "suppress/suppress.h"
#include "util/config.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

/* ---- normalisation ---- */

static void
expect_norm(const char *in, const char *want)
{
	const char *why = NULL;
	char *got = suppress_addr_normalize(in, &why);

	if (want == NULL) {
		if (got != NULL)
			fail_msg("%s: expected refusal, got %s", in, got);
		assert_non_null(why);
		return;
	}
	if (got == NULL)
		fail_msg("%s: refused: %s", in, why ? why : "?");
	assert_string_equal(got, want);
	free(got);
}

static void
test_normalize(void **state)
{
	(void)state;
	expect_norm("bob@example.com", "bob@example.com");
	expect_norm("Bob@EXAMPLE.Com", "Bob@example.com");	/* local part kept as given */
	expect_norm("  <Bob@Example.com.>  ", "Bob@example.com");
	expect_norm("bob@Bücher.example", "bob@xn--bcher-kva.example");
	expect_norm("bob@xn--bcher-kva.example", "bob@xn--bcher-kva.example");
	expect_norm("\"a b\"@example.com", "\"a b\"@example.com");
	expect_norm("\"x@y\"@example.com", "\"x@y\"@example.com");
	expect_norm("jörg@example.com", "jörg@example.com");	/* SMTPUTF8 local part */
	expect_norm("", NULL);
	expect_norm("bob", NULL);
	expect_norm("@example.com", NULL);
	expect_norm("bob@", NULL);
	expect_norm("a b@example.com", NULL);
	expect_norm("bob@exa mple.com", NULL);
	expect_norm("bob@[127.0.0.1]", NULL);
	expect_norm("bob\r\n@example.com", NULL);
	expect_norm("bob@localhost", NULL);	/* one label: not a mail domain */
	{
		char big[300];
		memset(big, 'a', 65);
		strcpy(big + 65, "@example.com");
		expect_norm(big, NULL);		/* local part over 64 */
	}
}

static void
test_key(void **state)
{
	char *k1, *k2, *n;

	(void)state;
	k1 = suppress_addr_key("Bob.Smith@example.com");
	assert_string_equal(k1, "bob.smith@example.com");
	n = suppress_addr_normalize("BOB.SMITH@EXAMPLE.COM", NULL);
	k2 = suppress_addr_key(n);
	assert_string_equal(k1, k2);
	free(k1);
	free(k2);
	free(n);
	/* non-ASCII letters are left alone */
	k1 = suppress_addr_key("JÖRG@example.com");
	assert_string_equal(k1, "jÖrg@example.com");
	free(k1);
	assert_true(suppress_reason_valid("hard_bounce"));
	assert_true(suppress_reason_valid("manual"));
	assert_false(suppress_reason_valid("spam"));
	assert_false(suppress_reason_valid(NULL));
}

/* golden_addr() renders what the list keeps for an address and its
 * matching key, or the refusal (tests/golden/suppress_addr). */
static void
golden_addr(const char *in, size_t len, struct buf *out)
{
	char *s = xstrndup(in, len), *n, *k;
	const char *why = NULL;

	if ((n = suppress_addr_normalize(s, &why)) == NULL) {
		buf_printf(out, "refused: %s", why);
	} else {
		k = suppress_addr_key(n);
		buf_puts(out, "address ");
		golden_escape(out, n, strlen(n));
		buf_puts(out, " key ");
		golden_escape(out, k, strlen(k));
		free(k);
		free(n);
	}
	free(s);
}

static void
test_golden(void **state)
{
	int failed = 0, n;

	(void)state;
	n = golden_run("tests/golden/suppress_addr", golden_addr, &failed);
	assert_true(n >= 10);
	assert_int_equal(failed, 0);
}

/* ---- the set ---- */

static void
test_set(void **state)
{
	struct suppress_set *s = suppress_set_new();
	char key[64];

	(void)state;
	assert_int_equal(suppress_set_add(s, "shop", "a@x.example"), 1);
	assert_int_equal(suppress_set_add(s, "shop", "a@x.example"), 0);
	assert_true(suppress_set_has(s, "shop", "a@x.example"));
	/* tenants are separate: the same address in another account is not listed */
	assert_false(suppress_set_has(s, "other", "a@x.example"));
	/* "sho" + "pa@..." must not collide with "shop" + "a@..." */
	assert_false(suppress_set_has(s, "sho", "pa@x.example"));
	assert_int_equal(suppress_set_count(s), 1);
	assert_int_equal(suppress_set_remove(s, "shop", "a@x.example"), 1);
	assert_int_equal(suppress_set_remove(s, "shop", "a@x.example"), 0);
	assert_false(suppress_set_has(s, "shop", "a@x.example"));
	/* growth keeps every entry findable */
	for (int i = 0; i < 5000; i++) {
		snprintf(key, sizeof key, "user%d@example.com", i);
		assert_int_equal(suppress_set_add(s, i % 2 ? "shop" : "other", key), 1);
	}
	assert_int_equal(suppress_set_count(s), 5000);
	for (int i = 0; i < 5000; i++) {
		snprintf(key, sizeof key, "user%d@example.com", i);
		assert_true(suppress_set_has(s, i % 2 ? "shop" : "other", key));
		assert_false(suppress_set_has(s, i % 2 ? "other" : "shop", key));
	}
	suppress_set_clear(s);
	assert_int_equal(suppress_set_count(s), 0);
	suppress_set_free(s);
}

/* test_set_memory() measures the heap a set of N typical addresses holds,
 * and lookups per second; prints both (the figures in docs/suppressions.md). */
static void
test_set_memory(void **state)
{
	enum { N = 200000 };
	struct mallinfo2 a, b;
	struct suppress_set *s;
	char key[80];
	uint64_t t0, t1;
	size_t hits = 0;

	(void)state;
	a = mallinfo2();
	s = suppress_set_new();
	for (int i = 0; i < N; i++) {
		/* about 32 characters, a typical address */
		snprintf(key, sizeof key, "firstname.lastname%06d@example.com", i);
		suppress_set_add(s, "shop", key);
	}
	b = mallinfo2();
	t0 = time_now_ms();
	for (int r = 0; r < 5; r++)
		for (int i = 0; i < N; i++) {
			snprintf(key, sizeof key, "firstname.lastname%06d@example.com", i);
			hits += (size_t)suppress_set_has(s, "shop", key);
		}
	t1 = time_now_ms();
	assert_int_equal(hits, 5 * N);
	printf("# suppress set: %d entries, %.1f bytes/entry (heap, incl. malloc overhead), "
	    "%.1f bytes/entry (counted), %.0f lookups/s\n", N,
	    (double)(b.uordblks - a.uordblks) / N, (double)suppress_set_bytes(s) / N,
	    t1 > t0 ? 5.0 * N * 1000.0 / (double)(t1 - t0) : 0.0);
	/* the documented bound: under 128 bytes an entry for such addresses */
	assert_true((b.uordblks - a.uordblks) / N < 128);
	/* the whole check a send path makes: normalise (IDNA), key, look up */
	{
		struct suppress_set *saved = s;
		char *nrm, *k;
		t0 = time_now_ms();
		for (int i = 0; i < N; i++) {
			snprintf(key, sizeof key, "FirstName.LastName%06d@Example.COM", i);
			nrm = suppress_addr_normalize(key, NULL);
			k = suppress_addr_key(nrm);
			hits += (size_t)suppress_set_has(saved, "shop", k);
			free(k);
			free(nrm);
		}
		t1 = time_now_ms();
		assert_int_equal(hits, 6 * N);
		printf("# suppress check (normalise + key + lookup): %.0f checks/s\n",
		    t1 > t0 ? (double)N * 1000.0 / (double)(t1 - t0) : 0.0);
	}
	suppress_set_free(s);
}

/* ---- the store ---- */

struct fixture {
	char		 dir[64];
	char		*url;
	struct store	*st;
	struct store	*cli;	/* a second connection, as the CLI would have */
};

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	char *err = NULL;

	snprintf(f->dir, sizeof(f->dir), "/tmp/hermod-suppress.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	f->url = xasprintf("sqlite:%s/hermod.db", f->dir);
	if (store_open(&f->st, f->url, &err) != 0 || store_open(&f->cli, f->url, &err) != 0) {
		fprintf(stderr, "store_open: %s\n", err);
		return -1;
	}
	if (store_account_create(f->st, "shop", NULL) != 0 ||
	    store_account_create(f->st, "other", NULL) != 0)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char *cmd;

	store_close(f->st);
	store_close(f->cli);
	cmd = xasprintf("rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(cmd);
	free(f->url);
	free(f);
	return 0;
}

static void
collect(const char *account, const char *address, void *arg)
{
	int *n = arg;

	(void)account;
	(void)address;
	(*n)++;
}

static void
test_store_rows(void **state)
{
	struct fixture *f = *state;
	struct store_suppression row, *v;
	struct store_suppress_change *c;
	size_t n;
	int64_t seq = -1;
	char *err = NULL;
	int count = 0;

	assert_int_equal(store_suppress_add(f->st, "shop", "Bob@Bücher.example", "hard_bounce",
	    "msg1", "auto", &row, &err), 0);
	assert_string_equal(row.address, "Bob@xn--bcher-kva.example");
	assert_string_equal(row.reason, "hard_bounce");
	assert_string_equal(row.source, "msg1");
	store_suppression_free(&row);
	/* the same address in any case is the same row; the first reason stays */
	assert_int_equal(store_suppress_add(f->st, "shop", "BOB@xn--bcher-kva.EXAMPLE", "manual",
	    NULL, "api", &row, NULL), STORE_EXISTS);
	assert_string_equal(row.reason, "hard_bounce");
	store_suppression_free(&row);
	/* another tenant has its own list */
	assert_int_equal(store_suppress_add(f->st, "other", "bob@bücher.example", "manual", NULL,
	    "api", NULL, NULL), 0);
	assert_int_equal(store_suppress_add(f->st, "nope", "a@b.example", "manual", NULL, "api",
	    NULL, NULL), STORE_NOTFOUND);
	assert_int_equal(store_suppress_add(f->st, "shop", "not an address", "manual", NULL, "api",
	    NULL, &err), -1);
	assert_non_null(strstr(err, "invalid address"));
	free(err);
	err = NULL;
	assert_int_equal(store_suppress_add(f->st, "shop", "a@b.example", "spam", NULL, "api",
	    NULL, &err), -1);
	free(err);
	err = NULL;

	/* paging: ids in order, filter by reason */
	assert_int_equal(store_suppress_add(f->cli, "shop", "c1@x.example", "complaint", NULL,
	    "cli", NULL, NULL), 0);
	assert_int_equal(store_suppress_add(f->st, "shop", "c2@x.example", "complaint", NULL,
	    "api", NULL, NULL), 0);
	assert_int_equal(store_suppress_list(f->st, "shop", NULL, 0, 2, &v, &n, NULL), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[1].address, "c1@x.example");
	{
		int64_t after = v[1].id;
		store_suppression_list_free(v, n);
		assert_int_equal(store_suppress_list(f->st, "shop", NULL, after, 2, &v, &n, NULL), 0);
		assert_int_equal(n, 1);
		assert_string_equal(v[0].address, "c2@x.example");
		store_suppression_list_free(v, n);
	}
	assert_int_equal(store_suppress_list(f->st, "shop", "complaint", 0, 10, &v, &n, NULL), 0);
	assert_int_equal(n, 2);
	store_suppression_list_free(v, n);
	assert_int_equal(store_suppress_list(f->st, "other", NULL, 0, 10, &v, &n, NULL), 0);
	assert_int_equal(n, 1);
	store_suppression_list_free(v, n);

	/* the whole list with the journal position */
	assert_int_equal(store_suppress_each(f->st, collect, &count, &seq, NULL), 0);
	assert_int_equal(count, 4);
	assert_int_equal(seq, 4);

	/* remove: any case; then not found */
	assert_int_equal(store_suppress_remove(f->cli, "shop", "bob@BÜCHER.example", "cli", &row,
	    NULL), 0);
	assert_string_equal(row.address, "Bob@xn--bcher-kva.example");
	store_suppression_free(&row);
	assert_int_equal(store_suppress_remove(f->st, "shop", "bob@bücher.example", "api", NULL,
	    NULL), STORE_NOTFOUND);
	assert_int_equal(store_suppress_get(f->st, "other", "BOB@bücher.example", &row, NULL), 0);
	store_suppression_free(&row);

	/* the journal: every change in order; the CLI's unannounced */
	assert_int_equal(store_suppress_changes(f->st, seq, 0, 100, &c, &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_false(c[0].add);
	assert_string_equal(c[0].who, "cli");
	assert_false(c[0].announced);
	store_suppress_changes_free(c, n);
	assert_int_equal(store_suppress_changes(f->st, 0, 1, 100, &c, &n, NULL), 0);
	assert_int_equal(n, 2);		/* c1 added and Bob removed, both by the CLI */
	assert_int_equal(store_suppress_announce(f->st, c[0].seq, NULL), 0);
	assert_int_equal(store_suppress_announce(f->st, c[1].seq, NULL), 0);
	store_suppress_changes_free(c, n);
	assert_int_equal(store_suppress_changes(f->st, 0, 1, 100, &c, &n, NULL), 0);
	assert_int_equal(n, 0);
	free(c);
	assert_int_equal(store_suppress_changes_expire(f->st, INT64_MAX, NULL), 0);
	assert_int_equal(store_suppress_changes(f->st, 0, 0, 100, &c, &n, NULL), 0);
	assert_int_equal(n, 0);
	free(c);
}

static void
test_store_soft(void **state)
{
	struct fixture *f = *state;
	int64_t count, first;
	int n = 0;

	assert_int_equal(store_suppress_soft(f->st, "shop", "s@x.example", 1000, 500, &count,
	    &first, NULL), 0);
	assert_int_equal(count, 1);
	assert_int_equal(first, 1000);
	assert_int_equal(store_suppress_soft(f->st, "shop", "S@x.example", 1400, 500, &count,
	    &first, NULL), 0);
	assert_int_equal(count, 2);
	assert_int_equal(first, 1000);
	/* a gap longer than allowed starts over */
	assert_int_equal(store_suppress_soft(f->st, "shop", "s@x.example", 2000, 500, &count,
	    &first, NULL), 0);
	assert_int_equal(count, 1);
	assert_int_equal(first, 2000);
	assert_int_equal(store_suppress_soft_each(f->st, collect, &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_suppress_soft_clear(f->st, "shop", "s@X.example", NULL), 0);
	assert_int_equal(store_suppress_soft_clear(f->st, "shop", "s@x.example", NULL),
	    STORE_NOTFOUND);
}

/* ---- the daemon's part: automatic suppression through the events ---- */

static struct {
	int	added, removed, dropped;
	char	last_reason[32];
	char	last_who[16];
} seen;

static void
watch(const struct event_rec *rec, void *arg)
{
	(void)arg;
	if (rec->type == EVENT_SUPPRESSION_ADDED) {
		seen.added++;
		snprintf(seen.last_reason, sizeof seen.last_reason, "%s", rec->ev.reason);
		{
			const char *w = strstr(rec->json, "\"who\":\"");
			snprintf(seen.last_who, sizeof seen.last_who, "%.*s", w ? 4 : 0, w ? w + 7 : "");
			char *q = strchr(seen.last_who, '"');
			if (q)
				*q = '\0';
		}
	} else if (rec->type == EVENT_SUPPRESSION_REMOVED) {
		seen.removed++;
	}
}

/* run_until() runs the loop until cond(arg) or about 5 s. */
static int
run_until(uv_loop_t *loop, int (*cond)(void *), void *arg)
{
	for (int i = 0; i < 500; i++) {
		uv_run(loop, UV_RUN_NOWAIT);
		if (cond(arg))
			return 1;
		usleep(10000);
	}
	return 0;
}

struct probe {
	struct suppress	*sp;
	const char	*account;
	const char	*addr;
	int		 added;
};

static int
is_listed(void *arg)
{
	struct probe *p = arg;
	return suppress_check(p->sp, p->account, p->addr);
}

static int
added_at_least(void *arg)
{
	struct probe *p = arg;
	return seen.added >= p->added;
}

static void
emit(enum event_type t, const char *addr, const char *cls, int code)
{
	struct event e = { .type = t, .account = "shop", .message_id = "m1", .recipient = addr,
		.rcpt_index = 0, .bounce_class = cls, .smtp_code = code };
	events_emit(&e);
}

static void
test_auto(void **state)
{
	struct fixture *f = *state;
	struct config cfg;
	struct suppress *sp = NULL;
	uv_loop_t loop;
	char *err = NULL;
	struct probe p;
	struct store_suppression row;

	memset(&seen, 0, sizeof seen);
	config_defaults(&cfg, f->dir);
	cfg.soft_bounce_count = 3;
	cfg.soft_bounce_span = 3600 * 1000;	/* an hour: not reached in this test */
	uv_loop_init(&loop);
	/* listed before the start: loaded */
	assert_int_equal(store_suppress_add(f->cli, "shop", "old@x.example", "manual", NULL, "cli",
	    NULL, NULL), 0);
	assert_int_equal(suppress_start(&loop, &cfg, f->st, &sp, &err), 0);
	events_subscribe(watch, NULL);
	assert_int_equal(events_start(&loop, f->st, &cfg, &err), 0);
	assert_true(suppress_check(sp, "shop", "OLD@x.example"));
	assert_false(suppress_check(sp, "other", "old@x.example"));
	/* the CLI's change made while "stopped" is announced at start */
	p = (struct probe){ sp, "shop", NULL, 1 };
	assert_true(run_until(&loop, added_at_least, &p));
	assert_string_equal(seen.last_who, "cli");

	/* a complaint (the inbound path's event) suppresses at once */
	emit(EVENT_COMPLAINED, "Carol@x.example", NULL, 0);
	p = (struct probe){ sp, "shop", "carol@X.example", 2 };
	assert_true(run_until(&loop, is_listed, &p));
	assert_true(run_until(&loop, added_at_least, &p));
	assert_string_equal(seen.last_reason, "complaint");
	assert_string_equal(seen.last_who, "auto");
	assert_int_equal(store_suppress_get(f->st, "shop", "carol@x.example", &row, NULL), 0);
	assert_string_equal(row.reason, "complaint");
	assert_string_equal(row.source, "m1");
	store_suppression_free(&row);
	assert_false(suppress_check(sp, "other", "carol@x.example"));

	/* a hard bounce suppresses; a soft one does not (yet) */
	emit(EVENT_BOUNCED, "hard@x.example", "hard", 550);
	p = (struct probe){ sp, "shop", "hard@x.example", 3 };
	assert_true(run_until(&loop, is_listed, &p));
	emit(EVENT_UNSUBSCRIBED, "unsub@x.example", NULL, 0);
	p = (struct probe){ sp, "shop", "unsub@x.example", 4 };
	assert_true(run_until(&loop, is_listed, &p));

	/* soft bounces: count reached within the hour: not suppressed */
	for (int i = 0; i < 4; i++) {
		emit(i % 2 ? EVENT_DEFERRED : EVENT_BOUNCED, "soft@x.example", i % 2 ? NULL : "soft",
		    i % 2 ? 421 : 552);
		uv_run(&loop, UV_RUN_NOWAIT);
	}
	for (int i = 0; i < 300; i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		usleep(10000);
	}
	assert_false(suppress_check(sp, "shop", "soft@x.example"));
	/* a delivery clears the soft bounces: the next soft one is the first again */
	emit(EVENT_DELIVERED, "soft@x.example", NULL, 250);
	for (int i = 0; i < 100; i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		usleep(5000);
	}
	assert_int_equal(store_suppress_soft_clear(f->st, "shop", "soft@x.example", NULL),
	    STORE_NOTFOUND);
	/* span reached (0 here): the count decides */
	cfg.soft_bounce_span = 0;
	for (int i = 0; i < 3; i++)
		emit(EVENT_DEFERRED, "soft@x.example", NULL, 451);
	p = (struct probe){ sp, "shop", "soft@x.example", 5 };
	assert_true(run_until(&loop, is_listed, &p));
	assert_int_equal(store_suppress_get(f->st, "shop", "soft@x.example", &row, NULL), 0);
	assert_string_equal(row.reason, "soft_bounce");
	store_suppression_free(&row);
	/* a local failure (no SMTP reply) is not a soft bounce */
	for (int i = 0; i < 5; i++)
		emit(EVENT_DEFERRED, "dns@x.example", NULL, 0);
	for (int i = 0; i < 100; i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		usleep(5000);
	}
	assert_false(suppress_check(sp, "shop", "dns@x.example"));

	/* another process (the CLI) removes: the poll applies it, announced */
	assert_int_equal(store_suppress_remove(f->cli, "shop", "carol@x.example", "cli", NULL,
	    NULL), 0);
	p = (struct probe){ sp, "shop", "carol@x.example", 0 };
	for (int i = 0; i < 300 && suppress_check(sp, "shop", "carol@x.example"); i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		usleep(10000);
	}
	assert_false(suppress_check(sp, "shop", "carol@x.example"));
	for (int i = 0; i < 50 && seen.removed == 0; i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		usleep(10000);
	}
	assert_int_equal(seen.removed, 1);

	suppress_stop(sp);
	events_stop();
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	suppress_free(sp);
	config_free(&cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normalize),
		cmocka_unit_test(test_key),
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_set),
		cmocka_unit_test(test_set_memory),
		cmocka_unit_test_setup_teardown(test_store_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_soft, setup, teardown),
		cmocka_unit_test_setup_teardown(test_auto, setup, teardown),
	};

	log_set_level(LOG_WARN);	/* the events' lines would drown the results */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
