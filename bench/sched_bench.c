/* sched_bench: memory and time of the delivery scheduler with N queued
 * messages (one destination each among D domains), for the note on bytes
 * per queued message.  build/bench/sched_bench [N] [D] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <malloc.h>

#include "queue/sched.h"
#include "util/id.h"

static size_t
heap_bytes(void)
{
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
}

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
	size_t ndom = argc > 2 ? strtoul(argv[2], NULL, 10) : 1000;
	struct sched_limits lim = { .max_connections = 500, .max_connections_per_destination = 20 };
	struct sched *s;
	size_t before, after;
	char id[ID_LEN + 1], dom[64];
	double t0, t1, t2;

	before = heap_bytes();
	s = sched_new(&lim);
	t0 = now_s();
	for (size_t i = 0; i < n; i++) {
		id_new(id);
		snprintf(dom, sizeof(dom), "d%zu.example", i % ndom);
		/* half due later (heap), half ready now (FIFOs) */
		sched_add(s, id, dom, i % 2 ? 1000 + (uint64_t)(i * 7919 % 86400000) : 0, 0, 500);
	}
	t1 = now_s();
	after = heap_bytes();
	/* every deferred item comes due, one heap pop each */
	sched_due(s, UINT64_MAX - 1);
	t2 = now_s();
	printf("items=%zu domains=%zu bytes_per_item=%.1f (struct estimate %zu) add=%.0f ns/item "
	    "due=%.0f ns/item\n", n, ndom, (double)(after - before) / (double)n, sched_item_size(),
	    (t1 - t0) * 1e9 / (double)n, (t2 - t1) * 1e9 / (double)(n / 2));
	sched_free(s);
	return 0;
}
