/* Unit tests for metrics: the registry (series lookup, re-registration,
 * the cap on label sets, hooks), the text format (exact output, escaping,
 * number formatting, cumulative histogram buckets) and updates from several
 * threads at once (totals exact, racing inserts of the same label sets). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "metrics/metrics.h"
#include "util/buf.h"

static char *
render(struct metrics_registry *reg)
{
	struct buf b = { 0 };

	metrics_render(reg, &b);
	return buf_steal(&b, NULL);
}

static size_t
count_lines(const char *text, const char *prefix)
{
	size_t n = 0, plen = strlen(prefix);

	for (const char *p = text; p && *p; ) {
		if (strncmp(p, prefix, plen) == 0)
			n++;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return n;
}

static void
test_counter_text(void **state)
{
	struct metrics_registry *reg = metrics_registry_new();
	struct metrics_family *f, *g;
	char *t;

	(void)state;
	f = metrics_counter(reg, "hermod_things_total", "Things, with a \\ and\na new line.",
	    "kind,result");
	metrics_add(metrics_series(f, "b", "ok"), 3);
	metrics_inc(metrics_series(f, "a", "ok"));
	metrics_inc(metrics_series(f, "a", "ok"));
	metrics_inc(metrics_series(f, "q\"uo\\te\nnl", NULL));
	/* a label-less family renders 0 at once; a labelled one without
	 * series is left out */
	metrics_counter(reg, "hermod_empty_total", "Nothing yet.", NULL);
	metrics_counter(reg, "hermod_unused_total", "No series.", "x");
	/* same name, same shape: the same family */
	g = metrics_counter(reg, "hermod_things_total", "ignored", "kind,result");
	assert_ptr_equal(f, g);
	assert_ptr_equal(metrics_series(f, "a", "ok"), metrics_series(g, "a", "ok"));
	t = render(reg);
	assert_string_equal(t,
	    "# HELP hermod_things_total Things, with a \\\\ and\\na new line.\n"
	    "# TYPE hermod_things_total counter\n"
	    "hermod_things_total{kind=\"a\",result=\"ok\"} 2\n"
	    "hermod_things_total{kind=\"b\",result=\"ok\"} 3\n"
	    "hermod_things_total{kind=\"q\\\"uo\\\\te\\nnl\",result=\"\"} 1\n"
	    "# HELP hermod_empty_total Nothing yet.\n"
	    "# TYPE hermod_empty_total counter\n"
	    "hermod_empty_total 0\n");
	free(t);
	metrics_registry_free(reg);
}

static void
test_histogram_text(void **state)
{
	static const double bounds[] = { 0.1, 1, 10 };
	struct metrics_registry *reg = metrics_registry_new();
	struct metrics_family *f;
	struct metrics_series *s;
	char *t;

	(void)state;
	f = metrics_histogram(reg, "hermod_wait_seconds", "Waits.", "lane", bounds, 3);
	s = metrics_series(f, "x");
	metrics_observe(s, 0.05);
	metrics_observe(s, 0.1);	/* a bound is inclusive (le) */
	metrics_observe(s, 0.5);
	metrics_observe(s, 5);
	metrics_observe(s, 50);		/* only in +Inf */
	metrics_observe(s, NAN);	/* ignored */
	assert_true(metrics_value(s) == 5);
	t = render(reg);
	assert_string_equal(t,
	    "# HELP hermod_wait_seconds Waits.\n"
	    "# TYPE hermod_wait_seconds histogram\n"
	    "hermod_wait_seconds_bucket{lane=\"x\",le=\"0.1\"} 2\n"
	    "hermod_wait_seconds_bucket{lane=\"x\",le=\"1\"} 3\n"
	    "hermod_wait_seconds_bucket{lane=\"x\",le=\"10\"} 4\n"
	    "hermod_wait_seconds_bucket{lane=\"x\",le=\"+Inf\"} 5\n"
	    "hermod_wait_seconds_sum{lane=\"x\"} 55.65\n"
	    "hermod_wait_seconds_count{lane=\"x\"} 5\n");
	free(t);

	/* without labels: le alone; an empty histogram is all zeros */
	f = metrics_histogram(reg, "hermod_idle_seconds", "Idle.", NULL, bounds, 3);
	t = render(reg);
	assert_non_null(strstr(t, "hermod_idle_seconds_bucket{le=\"0.1\"} 0\n"
	    "hermod_idle_seconds_bucket{le=\"1\"} 0\n"
	    "hermod_idle_seconds_bucket{le=\"10\"} 0\n"
	    "hermod_idle_seconds_bucket{le=\"+Inf\"} 0\n"
	    "hermod_idle_seconds_sum 0\n"
	    "hermod_idle_seconds_count 0\n"));
	free(t);
	metrics_registry_free(reg);
}

static void
test_gauge_and_numbers(void **state)
{
	struct metrics_registry *reg = metrics_registry_new();
	struct metrics_family *f;
	struct metrics_series *s;
	char num[32], *t;

	(void)state;
	metrics_format_double(0.1, num);
	assert_string_equal(num, "0.1");
	metrics_format_double(42, num);
	assert_string_equal(num, "42");
	metrics_format_double(-3, num);
	assert_string_equal(num, "-3");
	metrics_format_double(1e-7, num);
	assert_string_equal(num, "1e-07");
	metrics_format_double(1.0 / 3, num);
	assert_true(strtod(num, NULL) == 1.0 / 3);	/* round trip */
	metrics_format_double(1e300, num);
	assert_true(strtod(num, NULL) == 1e300);
	metrics_format_double(INFINITY, num);
	assert_string_equal(num, "+Inf");
	metrics_format_double(-INFINITY, num);
	assert_string_equal(num, "-Inf");
	metrics_format_double(NAN, num);
	assert_string_equal(num, "NaN");

	f = metrics_gauge(reg, "hermod_level", "A level.", "state");
	s = metrics_series(f, "on");
	metrics_set(s, 10);
	metrics_gauge_add(s, -2.5);
	assert_true(metrics_value(s) == 7.5);
	metrics_set(metrics_series(f, "off"), -1);
	t = render(reg);
	assert_string_equal(t, "# HELP hermod_level A level.\n# TYPE hermod_level gauge\n"
	    "hermod_level{state=\"off\"} -1\nhermod_level{state=\"on\"} 7.5\n");
	free(t);
	metrics_registry_free(reg);
}

static void
test_long_values_cut(void **state)
{
	struct metrics_registry *reg = metrics_registry_new();
	struct metrics_family *f = metrics_counter(reg, "hermod_long_total", "Long.", "v");
	char v[400], w[400];

	(void)state;
	/* 'a' then two-byte characters: the cut must not split one */
	v[0] = 'a';
	for (size_t i = 1; i + 2 < sizeof(v); i += 2) {
		v[i] = (char)0xC3;
		v[i + 1] = (char)0xA9;
	}
	v[sizeof(v) - 1] = '\0';
	memcpy(w, v, sizeof(w));
	w[300] = 'Z';	/* differs past the cut: the same series */
	assert_ptr_equal(metrics_series(f, v), metrics_series(f, w));
	{
		char *t = render(reg), *q = strstr(t, "v=\"");
		size_t len;
		assert_non_null(q);
		len = (size_t)(strchr(q + 3, '"') - (q + 3));
		assert_true(len <= METRICS_MAX_VALUE);
		assert_int_equal(len % 2, 1);	/* 'a' + whole characters */
		free(t);
	}
	metrics_registry_free(reg);
}

static void
test_overflow(void **state)
{
	struct metrics_registry *reg = metrics_registry_new();
	struct metrics_family *f = metrics_counter(reg, "hermod_many_total", "Many.", "n");
	struct metrics_series *ov;
	char v[16], *t;

	(void)state;
	for (int i = 0; i < METRICS_MAX_SERIES + 10; i++) {
		snprintf(v, sizeof(v), "v%d", i);
		metrics_inc(metrics_series(f, v));
	}
	ov = metrics_series(f, "yet-another");
	assert_true(metrics_value(ov) == 10);
	t = render(reg);
	assert_int_equal(count_lines(t, "hermod_many_total{"), METRICS_MAX_SERIES + 1);
	assert_non_null(strstr(t, "hermod_many_total{n=\"overflow\"} 10\n"));
	free(t);
	metrics_registry_free(reg);
}

static int hook_calls;

static void
hook(void *arg, struct buf *extra)
{
	hook_calls++;
	metrics_set(metrics_series(arg), 99);
	buf_puts(extra, "# HELP hermod_own Own text.\n# TYPE hermod_own gauge\nhermod_own 1\n");
}

static void
test_hooks(void **state)
{
	struct metrics_registry *reg = metrics_registry_new();
	struct metrics_family *f = metrics_gauge(reg, "hermod_sampled", "Sampled.", NULL);
	int h;
	char *t;

	(void)state;
	h = metrics_hook_add(reg, hook, f);
	t = render(reg);
	assert_int_equal(hook_calls, 1);
	/* the hook ran before the families were rendered; its text comes last */
	assert_string_equal(t, "# HELP hermod_sampled Sampled.\n# TYPE hermod_sampled gauge\n"
	    "hermod_sampled 99\n# HELP hermod_own Own text.\n# TYPE hermod_own gauge\nhermod_own 1\n");
	free(t);
	metrics_hook_remove(reg, h);
	t = render(reg);
	assert_int_equal(hook_calls, 1);
	assert_null(strstr(t, "hermod_own"));
	free(t);
	metrics_registry_free(reg);
}

static int
aborts(void (*fn)(void))
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		/* quiet: the message goes to stderr, which the test does not need */
		if (freopen("/dev/null", "w", stderr) == NULL)
			_exit(2);
		fn();
		_exit(0);
	}
	waitpid(pid, &st, 0);
	return WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT;
}

static void bad_name(void) { metrics_counter(metrics_registry_new(), "hermod-bad", "x", NULL); }
static void bad_label(void) { metrics_counter(metrics_registry_new(), "hermod_x", "x", "a,__b"); }
static void le_label(void)
{
	static const double b[] = { 1 };
	metrics_histogram(metrics_registry_new(), "hermod_h", "x", "le", b, 1);
}
static void bad_bounds(void)
{
	static const double b[] = { 1, 1 };
	metrics_histogram(metrics_registry_new(), "hermod_h", "x", NULL, b, 2);
}
static void other_type(void)
{
	struct metrics_registry *reg = metrics_registry_new();
	metrics_counter(reg, "hermod_x_total", "x", "a");
	metrics_gauge(reg, "hermod_x_total", "x", "a");
}
static void other_labels(void)
{
	struct metrics_registry *reg = metrics_registry_new();
	metrics_counter(reg, "hermod_x_total", "x", "a");
	metrics_counter(reg, "hermod_x_total", "x", "b");
}

static void
test_misuse_aborts(void **state)
{
	(void)state;
	assert_true(aborts(bad_name));
	assert_true(aborts(bad_label));
	assert_true(aborts(le_label));
	assert_true(aborts(bad_bounds));
	assert_true(aborts(other_type));
	assert_true(aborts(other_labels));
}

/* ---- threads ---- */

#define NTHREADS	8
#define NITER		20000
#define NSETS		200

struct worker {
	struct metrics_family	*c, *h, *g;
	int			 id;
};

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	char v[16];

	for (int i = 0; i < NITER; i++) {
		/* every thread creates the same label sets in the same order:
		 * the inserts race, and each must end in one series */
		snprintf(v, sizeof(v), "s%d", i % NSETS);
		metrics_inc(metrics_series(w->c, v, i % 2 ? "odd" : "even"));
		metrics_observe(metrics_series(w->h), (double)(i % 4));
		metrics_gauge_add(metrics_series(w->g), 0.5);
	}
	return NULL;
}

static void
test_threads(void **state)
{
	static const double bounds[] = { 0.5, 1.5, 2.5 };
	struct metrics_registry *reg = metrics_registry_new();
	struct worker w[NTHREADS];
	pthread_t th[NTHREADS];
	uint64_t total = 0;
	char v[16], *t;

	(void)state;
	for (int i = 0; i < NTHREADS; i++) {
		w[i].c = metrics_counter(reg, "hermod_par_total", "Parallel.", "set,parity");
		w[i].h = metrics_histogram(reg, "hermod_par_seconds", "Parallel.", NULL, bounds, 3);
		w[i].g = metrics_gauge(reg, "hermod_par_level", "Parallel.", NULL);
		w[i].id = i;
		assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < NSETS; i++) {
		snprintf(v, sizeof(v), "s%d", i);
		total += (uint64_t)metrics_value(metrics_series(w[0].c, v, i % 2 ? "odd" : "even"));
	}
	assert_int_equal(total, (uint64_t)NTHREADS * NITER);
	assert_true(metrics_value(metrics_series(w[0].h)) == (double)NTHREADS * NITER);
	assert_true(metrics_value(metrics_series(w[0].g)) == 0.5 * NTHREADS * NITER);
	t = render(reg);
	assert_int_equal(count_lines(t, "hermod_par_total{"), NSETS);
	/* each value 0..3 a quarter of the time: buckets 1/4, 2/4, 3/4, all */
	snprintf(v, sizeof(v), "%d", NTHREADS * NITER / 4);
	{
		char want[256];
		snprintf(want, sizeof(want), "hermod_par_seconds_bucket{le=\"0.5\"} %d\n"
		    "hermod_par_seconds_bucket{le=\"1.5\"} %d\nhermod_par_seconds_bucket{le=\"2.5\"} %d\n"
		    "hermod_par_seconds_bucket{le=\"+Inf\"} %d\nhermod_par_seconds_sum %d\n",
		    NTHREADS * NITER / 4, NTHREADS * NITER / 2, NTHREADS * NITER * 3 / 4,
		    NTHREADS * NITER, NTHREADS * NITER / 4 * 6);
		assert_non_null(strstr(t, want));
	}
	free(t);
	metrics_registry_free(reg);
}

/* Scrapes while updates run: every rendering is consistent (+Inf equals
 * _count; the counter never goes back). */
struct scraper_arg {
	struct metrics_registry	*reg;
	atomic_int		*stop;
	int			 bad;
	atomic_int		 renders;
};

static void *
scraper_main(void *arg)
{
	struct scraper_arg *a = arg;
	unsigned long long last = 0;

	do {
		char *t = render(a->reg), *p;
		unsigned long long inf = 0, cnt = 0, c = 0;
		if ((p = strstr(t, "hermod_par_seconds_bucket{le=\"+Inf\"} ")) != NULL)
			inf = strtoull(p + strlen("hermod_par_seconds_bucket{le=\"+Inf\"} "), NULL, 10);
		if ((p = strstr(t, "hermod_par_seconds_count ")) != NULL)
			cnt = strtoull(p + strlen("hermod_par_seconds_count "), NULL, 10);
		if ((p = strstr(t, "hermod_par_total{set=\"s0\",parity=\"even\"} ")) != NULL)
			c = strtoull(strchr(p, '}') + 2, NULL, 10);
		if (inf != cnt || c < last)
			a->bad++;
		last = c;
		atomic_fetch_add(&a->renders, 1);
		free(t);
	} while (!atomic_load(a->stop));
	return NULL;
}

static void
test_scrape_while_updating(void **state)
{
	static const double bounds[] = { 0.5, 1.5, 2.5 };
	struct metrics_registry *reg = metrics_registry_new();
	struct worker w[4];
	pthread_t th[4], sc;
	atomic_int stop = 0;
	struct scraper_arg sa = { reg, &stop, 0, 0 };

	(void)state;
	for (int i = 0; i < 4; i++) {
		w[i].c = metrics_counter(reg, "hermod_par_total", "Parallel.", "set,parity");
		w[i].h = metrics_histogram(reg, "hermod_par_seconds", "Parallel.", NULL, bounds, 3);
		w[i].g = metrics_gauge(reg, "hermod_par_level", "Parallel.", NULL);
	}
	pthread_create(&sc, NULL, scraper_main, &sa);
	/* the updates start once the scraper runs, so the two overlap even
	 * on a loaded machine */
	while (atomic_load(&sa.renders) == 0)
		sched_yield();
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, worker_main, &w[i]);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	atomic_store(&stop, 1);
	pthread_join(sc, NULL);
	assert_true(atomic_load(&sa.renders) > 0);
	assert_int_equal(sa.bad, 0);
	metrics_registry_free(reg);
}

static void
test_hermod_families(void **state)
{
	struct buf b = { 0 };

	(void)state;
	assert_string_equal(metrics_smtp_result("quit"), "ok");
	assert_string_equal(metrics_smtp_result("disconnected"), "dropped");
	assert_string_equal(metrics_smtp_result("session-timeout"), "timeout");
	assert_string_equal(metrics_smtp_result("tls-error"), "tls_failed");
	assert_string_equal(metrics_smtp_result("pre-greeting-traffic"), "rejected");
	assert_string_equal(metrics_smtp_result("connection-limit"), "rejected");
	assert_string_equal(metrics_smtp_result("shutdown"), "shutdown");
	assert_string_equal(metrics_smtp_result("io-error"), "dropped");
	assert_string_equal(metrics_smtp_result("bare-newline"), "error");
	assert_string_equal(metrics_smtp_result(NULL), "error");

	metrics_hermod_init();
	metrics_event("delivered");
	metrics_smtp_session("submission", "quit");
	metrics_http_request("/v1/messages/{id}", 404);
	metrics_http_request(NULL, 404);
	metrics_delivery_seconds(0.3);
	metrics_render(NULL, &b);
	assert_non_null(strstr(b.data, "hermod_events_total{type=\"delivered\"} 1\n"));
	assert_non_null(strstr(b.data, "hermod_events_total{type=\"bounced\"} 0\n"));
	assert_non_null(strstr(b.data, "hermod_smtp_sessions_total{listener=\"submission\",result=\"ok\"} 1\n"));
	assert_non_null(strstr(b.data, "hermod_smtp_sessions_total{listener=\"inbound\",result=\"timeout\"} 0\n"));
	assert_non_null(strstr(b.data, "hermod_http_requests_total{route=\"/v1/messages/{id}\",code=\"404\"} 1\n"));
	assert_non_null(strstr(b.data, "hermod_http_requests_total{route=\"unmatched\",code=\"404\"} 1\n"));
	assert_non_null(strstr(b.data, "hermod_delivery_seconds_bucket{le=\"0.25\"} 0\n"));
	assert_non_null(strstr(b.data, "hermod_delivery_seconds_bucket{le=\"0.5\"} 1\n"));
	assert_non_null(strstr(b.data, "hermod_build_info{version=\""));
	assert_non_null(strstr(b.data, "# TYPE process_start_time_seconds gauge\n"));
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counter_text),
		cmocka_unit_test(test_histogram_text),
		cmocka_unit_test(test_gauge_and_numbers),
		cmocka_unit_test(test_long_values_cut),
		cmocka_unit_test(test_overflow),
		cmocka_unit_test(test_hooks),
		cmocka_unit_test(test_misuse_aborts),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_scrape_while_updating),
		cmocka_unit_test(test_hermod_families),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
