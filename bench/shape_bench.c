/* shape_bench: the cost of one scheduling decision with destination shaping
 * on: D destinations (70% of them bound to one of 10 providers, the rest
 * their own; a fifth of the providers and of the lone domains suspended by
 * a backoff rule), N queued messages (half ready, half due over the next
 * hour), connection and message rates, connection limits. A simulated clock
 * advances 1 ms a step; each step does what the engine's pump does: the due
 * items and parks (sched_due), one sched_want_connection() (the shaper's
 * connect_wait inside, refused destinations parked), and for the granted
 * destination one sched_take(), send_wait() and the item done or returned.
 * Prints ns per decision (CPU time / steps), decisions that opened a
 * connection, and the bytes of the scheduler and shaper per message and
 * per destination.  build/bench/shape_bench [N] [D] [STEPS] */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "queue/sched.h"
#include "shape/shape.h"
#include "util/config.h"
#include "util/buf.h"
#include "util/id.h"

static size_t
heap_bytes(void)
{
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
}

static double
cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
	size_t ndom = argc > 2 ? strtoul(argv[2], NULL, 10) : 10000;
	size_t steps = argc > 3 ? strtoul(argv[3], NULL, 10) : 2000000;
	struct sched_limits lim = { .max_connections = 500, .max_connections_per_destination = 20 };
	struct config cfg;
	struct shape *sh;
	struct shaper_ops ops;
	struct sched *s;
	struct buf conf = { 0 };
	char *err = NULL, id[ID_LEN + 1], dom[64], mx[80];
	size_t h0, h1, h2, granted = 0, sent = 0, waited = 0;
	uint64_t now = 1800000000000ULL;
	double t0, t1;
	struct shaper_reply r = { .code = 421, .enhanced = "4.7.28", .text = "slow down", .mx = "mx" };

	/* the configuration: 10 providers, defaults per domain, one rule */
	buf_puts(&conf, "[shape *]\nmax_connections = 2\nconnection_rate = 5/s\nmessage_rate = 20/s\n"
	    "[backoff throttle]\nmatch = 4.7.28\nduration = 1h\n");
	for (int p = 0; p < 10; p++)
		buf_printf(&conf, "[provider p%d]\nmx_suffixes = .p%d.example\nmax_connections = 50\n"
		    "connection_rate = 100/s\nmax_messages_per_connection = 100\nmessage_rate = 500/s\n", p, p);
	config_defaults(&cfg, "/");
	if (config_parse(&cfg, "bench", conf.data, conf.len, &err) < 0 || shape_new(&cfg, NULL, &sh, &err) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	buf_free(&conf);
	shape_ops(sh, &ops);

	h0 = heap_bytes();
	s = sched_new(&lim);
	sched_set_shaper(s, &ops);
	for (size_t i = 0; i < n; i++) {
		id_new(id);
		snprintf(dom, sizeof(dom), "d%zu.example", i % ndom);
		sched_add(s, id, dom, i % 2 ? now + (uint64_t)(i * 7919 % 3600000) : 0, 0, now);
	}
	h1 = heap_bytes();
	for (size_t i = 0; i < ndom; i++) {
		snprintf(dom, sizeof(dom), "d%zu.example", i);
		if (i % 10 < 7)
			snprintf(mx, sizeof(mx), "mx.p%zu.example", i % 10);
		else
			snprintf(mx, sizeof(mx), "mx.%s", dom);
		shape_bind(sh, dom, mx, now);
		/* suspended: providers p0, p5 (a fifth) and a fifth of the lone domains */
		if ((i % 10 < 7 && i % 5 == 0) || (i % 10 >= 7 && i % 50 < 10))
			ops.on_result(sh, dom, &r, now);	/* logs at the first of each */
	}
	h2 = heap_bytes();

	t0 = cpu_s();
	for (size_t k = 0; k < steps; k++, now++) {
		struct sched_dest *d;
		struct sched_item *it;
		uint64_t until;

		sched_due(s, now);
		if ((d = sched_want_connection(s, now)) == NULL)
			continue;
		granted++;
		sched_conn_open(s, d);
		if ((it = sched_take(s, d)) != NULL) {
			if (ops.send_wait(sh, sched_dest_domain(d), sched_item_id(it), now, &until) == SHAPER_GO) {
				sched_done(s, it, 0);	/* delivered */
				sent++;
			} else {
				sched_return(s, it);
				sched_park(s, d, until);
				waited++;
			}
		}
		sched_conn_close(s, d);
		ops.conn_closed(sh, sched_dest_domain(d));
	}
	t1 = cpu_s();
	{
		struct sched_counts c;
		sched_counts(s, &c);
		printf("messages=%zu destinations=%zu steps=%zu: %.0f ns/decision (cpu), %.0f ns per granted "
		    "connection; %zu connections granted, %zu sent, %zu made to wait; at the end %zu parked "
		    "destinations, %zu ready\n", n, ndom, steps, (t1 - t0) * 1e9 / (double)steps,
		    granted ? (t1 - t0) * 1e9 / (double)granted : 0.0, granted, sent, waited, c.parked, c.ready);
		printf("memory: scheduler %.1f bytes/message (%.1f MB), shaper %.0f bytes/destination (%.1f MB)\n",
		    (double)(h1 - h0) / (double)n, (double)(h1 - h0) / 1e6,
		    (double)(h2 - h1) / (double)ndom, (double)(h2 - h1) / 1e6);
	}
	sched_free(s);
	shape_free(sh);
	config_free(&cfg);
	return 0;
}
