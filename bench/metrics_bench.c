/* metrics_bench: what an update costs on the hot path, and what a scrape
 * costs to render.
 *
 *	build/bench/metrics_bench [ITERATIONS] [THREADS]
 *
 * Cases, ns per update (wall time / updates, all threads together):
 *   cached	metrics_inc() on a series pointer kept by the caller
 *   lookup	metrics_series(f, "submission", "ok") then metrics_inc(): the
 *		lock-free lookup every call (hash + probe + compare)
 *   observe	metrics_observe() on a 15-bucket histogram
 * then the time to render a registry of 20 families x 50 series. With
 * THREADS > 1 every thread hits the same series: the worst case for the
 * cache line the atomic lives on. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "metrics/metrics.h"
#include "util/buf.h"

static long iters = 5000000;
static struct metrics_family *fam, *hist;
static struct metrics_series *cached;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *
run_cached(void *arg)
{
	(void)arg;
	for (long i = 0; i < iters; i++)
		metrics_inc(cached);
	return NULL;
}

static void *
run_lookup(void *arg)
{
	(void)arg;
	for (long i = 0; i < iters; i++)
		metrics_inc(metrics_series(fam, "submission", "ok"));
	return NULL;
}

static void *
run_observe(void *arg)
{
	struct metrics_series *s = metrics_series(hist);

	(void)arg;
	for (long i = 0; i < iters; i++)
		metrics_observe(s, (double)(i % 1000) / 100.0);
	return NULL;
}

static void
bench(const char *name, void *(*fn)(void *), int threads)
{
	pthread_t th[64];
	double t0 = now(), dt;

	for (int i = 0; i < threads; i++)
		pthread_create(&th[i], NULL, fn, NULL);
	for (int i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	dt = now() - t0;
	printf("%-8s %d thread(s): %6.1f ns/update (%ld updates)\n", name, threads,
	    dt * 1e9 / ((double)iters * threads), iters * threads);
}

int
main(int argc, char **argv)
{
	static const double bounds[] = { 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900,
		3600, 14400, 86400 };
	struct metrics_registry *reg = metrics_registry_new();
	int threads = 1;
	double t0;
	struct buf b = { 0 };
	char name[64], v[16];
	int rounds = 100;

	if (argc > 1)
		iters = atol(argv[1]);
	if (argc > 2)
		threads = atoi(argv[2]);
	if (threads < 1 || threads > 64)
		threads = 1;
	fam = metrics_counter(reg, "hermod_bench_total", "Bench.", "listener,result");
	hist = metrics_histogram(reg, "hermod_bench_seconds", "Bench.", NULL, bounds, 15);
	cached = metrics_series(fam, "submission", "ok");
	for (int t = 1; t <= threads; t = t == threads ? t + 1 : threads) {
		bench("cached", run_cached, t);
		bench("lookup", run_lookup, t);
		bench("observe", run_observe, t);
	}
	for (int f = 0; f < 20; f++) {
		struct metrics_family *x;
		snprintf(name, sizeof(name), "hermod_bench%d_total", f);
		x = metrics_counter(reg, name, "Bench.", "n");
		for (int s = 0; s < 50; s++) {
			snprintf(v, sizeof(v), "v%d", s);
			metrics_add(metrics_series(x, v), (uint64_t)s);
		}
	}
	t0 = now();
	for (int i = 0; i < rounds; i++) {
		buf_reset(&b);
		metrics_render(reg, &b);
	}
	printf("render   1000 series + 1 histogram: %.1f us per scrape, %zu bytes\n",
	    (now() - t0) * 1e6 / rounds, b.len);
	buf_free(&b);
	metrics_registry_free(reg);
	return 0;
}
