/* events_bench: the rate of the events pipeline with its store, on disk:
 * T threads emit N events each (SPEC.md-sized: account, ids, recipient,
 * tags and metadata, an SMTP reply) as delivery does; the loop counts them
 * as the subscribers see them (stored). Prints events/s, the batches the
 * writer made (events per transaction), and, meanwhile, how long API-key-
 * style reads of the main store took (they must not wait for the writer).
 *
 *	make build/bench/events_bench && build/bench/events_bench [N] [T] [DIR]
 *
 * Default N = 100000 per thread, T = 2, DIR = a fresh directory in /tmp.
 *
 * Measured on the 2-core build machine (shared, load average ~12), N = 50000,
 * T = 2: 29,000-33,000 events/s with synchronous=NORMAL, ~31,000 with FULL
 * (the writer's batches fill to 1000, so one fsync per 1000 rows costs
 * little at saturation); delivery at full speed needs ~9,000/s. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "events/events.h"
#include "store/store.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

static size_t per_thread = 100000;
static size_t seen;
static struct store *st;
static volatile int done;

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
on_event(const struct event_rec *rec, void *arg)
{
	(void)rec;
	(void)arg;
	seen++;
}

static void *
emitter(void *arg)
{
	char msg[32], rcpt[64];
	size_t t = (size_t)arg;

	for (size_t i = 0; i < per_thread; i++) {
		snprintf(msg, sizeof msg, "M%02zu%08zu", t, i / 3);
		snprintf(rcpt, sizeof rcpt, "user%zu@d%zu.example", i, i % 50);
		struct event e = {
			.type = i % 2 ? EVENT_DELIVERED : EVENT_QUEUED,
			.account = "shop", .message_id = msg, .header_message_id = msg,
			.recipient = rcpt, .rcpt_index = (int)(i % 3),
			.meta_json = "{\"tags\":[\"receipt\"],\"metadata\":{\"order\":\"42\"}}",
			.attempt = 1, .mx = "mx1.example",
			.smtp_code = 250, .smtp_enhanced = "2.0.0", .smtp_text = "Ok: queued",
		};
		events_emit(&e);
	}
	return NULL;
}

/* reader(): an API-key-style lookup on the main store, timed, while the
 * writer inserts: the worst one shows whether events hold it up. */
static double worst_ms;
static size_t reads;
static void *
reader(void *arg)
{
	(void)arg;
	while (!done) {
		double t0 = now_s(), ms;
		store_account_exists(st, "shop", NULL);
		ms = (now_s() - t0) * 1000;
		if (ms > worst_ms)
			worst_ms = ms;
		reads++;
		usleep(1000);
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	size_t nthreads = 2, total;
	char dir[64] = "/tmp/hermod-evbench.XXXXXX", *url, *err = NULL;
	pthread_t th[16], rd;
	struct events_stats es;
	uv_loop_t loop;
	double t0, t1;

	if (argc > 1)
		per_thread = strtoul(argv[1], NULL, 10);
	if (argc > 2)
		nthreads = strtoul(argv[2], NULL, 10);
	if (nthreads < 1 || nthreads > 16)
		nthreads = 2;
	if (argc > 3)
		snprintf(dir, sizeof dir, "%s", argv[3]);
	else if (mkdtemp(dir) == NULL)
		return 1;
	log_set_level(LOG_WARN);	/* the event lines would dominate */
	url = xasprintf("sqlite:%s/hermod.db", dir);
	if (store_open(&st, url, &err) != 0 || store_account_create(st, "shop", NULL) < 0) {
		fprintf(stderr, "store: %s\n", err ? err : "?");
		return 1;
	}
	uv_loop_init(&loop);
	events_subscribe(on_event, NULL);
	if (events_start(&loop, st, NULL, &err) != 0) {
		fprintf(stderr, "events: %s\n", err);
		return 1;
	}
	total = per_thread * nthreads;
	pthread_create(&rd, NULL, reader, NULL);
	t0 = now_s();
	for (size_t i = 0; i < nthreads; i++)
		pthread_create(&th[i], NULL, emitter, (void *)i);
	while (seen < total)
		uv_run(&loop, UV_RUN_ONCE);
	t1 = now_s();
	for (size_t i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	done = 1;
	pthread_join(rd, NULL);
	events_get_stats(&es);
	events_stop();
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	printf("events_bench: %zu events from %zu threads, stored and delivered in %.2f s: "
	    "%.0f events/s; %llu transactions (%.0f events each); main-store reads meanwhile: "
	    "%zu, worst %.2f ms\n", total, nthreads, t1 - t0, total / (t1 - t0),
	    (unsigned long long)es.batches, es.batches ? (double)es.stored / es.batches : 0.0,
	    reads, worst_ms);
	store_close(st);
	if (argc <= 3) {
		char *cmd = xasprintf("rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", dir);
		free(cmd);
	}
	free(url);
	return 0;
}
