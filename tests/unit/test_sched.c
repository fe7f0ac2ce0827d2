/* Unit tests for queue/sched: ready/deferred/held states, the heap order,
 * connection limits, round robin, the shaper seam, removal while active. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue/sched.h"

static struct sched *
mk(unsigned total, unsigned per)
{
	struct sched_limits lim = { .max_connections = total, .max_connections_per_destination = per };
	return sched_new(&lim);
}

static void
test_ready_and_limits(void **state)
{
	struct sched *s = mk(3, 2);
	struct sched_dest *d, *d2;
	struct sched_counts c;

	(void)state;
	sched_add(s, "A0000000000000000001", "X.example", 0, 0, 1000);
	sched_add(s, "A0000000000000000002", "x.example", 0, 0, 1000);
	sched_add(s, "A0000000000000000003", "x.example", 0, 0, 1000);
	sched_add(s, "A0000000000000000004", "y.example", 0, 0, 1000);
	sched_counts(s, &c);
	assert_int_equal(c.items, 4);
	assert_int_equal(c.ready, 4);
	assert_int_equal(c.dests, 2);
	d = sched_want_connection(s, 0);
	assert_non_null(d);
	assert_string_equal(sched_dest_domain(d), "x.example");
	sched_conn_open(s, d);
	struct sched_item *it = sched_take(s, d);
	assert_string_equal(sched_item_id(it), "A0000000000000000001");	/* FIFO */
	/* round robin: y next */
	d2 = sched_want_connection(s, 0);
	assert_string_equal(sched_dest_domain(d2), "y.example");
	sched_conn_open(s, d2);
	assert_non_null(sched_take(s, d2));
	d = sched_want_connection(s, 0);
	assert_string_equal(sched_dest_domain(d), "x.example");
	sched_conn_open(s, d);
	/* x at its limit of 2, y has nothing ready, and the global limit is 3 */
	assert_null(sched_want_connection(s, 0));
	sched_done(s, it, 0);
	sched_counts(s, &c);
	assert_int_equal(c.items, 3);
	assert_int_equal(c.connections, 3);
	sched_free(s);
}

static void
test_heap_order(void **state)
{
	struct sched *s = mk(10, 10);
	char id[32];
	uint64_t t[] = { 50, 10, 40, 30, 20, 60, 15 };
	struct sched_item *items[7];

	(void)state;
	for (int i = 0; i < 7; i++) {
		snprintf(id, sizeof(id), "B%019d", i);
		items[i] = sched_add(s, id, "h.example", t[i], 0, 5);
	}
	assert_int_equal(sched_next_due(s), 10);
	/* flush of one message moves it to ready */
	assert_int_equal(sched_flush(s, "B0000000000000000006", 5), 1);
	assert_int_equal(sched_next_due(s), 10);
	assert_int_equal(sched_due(s, 25), 2);	/* 10, 20 */
	assert_int_equal(sched_next_due(s), 30);
	sched_remove_message(s, "B0000000000000000003");	/* 30 */
	assert_int_equal(sched_next_due(s), 40);
	assert_int_equal(sched_due(s, 1000), 3);
	assert_int_equal(sched_next_due(s), UINT64_MAX);
	struct sched_dest *d = sched_want_connection(s, 0);
	sched_conn_open(s, d);
	assert_string_equal(sched_item_id(sched_take(s, d)), "B0000000000000000006");
	(void)items;
	sched_free(s);
}

static void
test_hold_release_remove_active(void **state)
{
	struct sched *s = mk(10, 10);
	struct sched_dest *d;
	struct sched_item *it;
	struct sched_counts c;

	(void)state;
	sched_add(s, "C0000000000000000001", "z.example", 0, 1, 0);	/* held */
	assert_null(sched_want_connection(s, 0));
	assert_int_equal(sched_release_message(s, "C0000000000000000001", 7), 1);
	d = sched_want_connection(s, 0);
	assert_non_null(d);
	sched_conn_open(s, d);
	it = sched_take(s, d);
	/* held while a connection has it: back to HELD, not to the heap */
	sched_hold_message(s, "C0000000000000000001");
	sched_done(s, it, 100);
	sched_counts(s, &c);
	assert_int_equal(c.held, 1);
	assert_int_equal(c.deferred, 0);
	sched_release_message(s, "C0000000000000000001", 8);
	it = sched_take(s, d);
	assert_non_null(it);
	/* removed while active: freed when it comes back */
	sched_remove_message(s, "C0000000000000000001");
	sched_done(s, it, 500);
	sched_conn_close(s, d);
	sched_counts(s, &c);
	assert_int_equal(c.items, 0);
	assert_int_equal(c.dests, 0);
	sched_free(s);
}

static uint64_t refuse_x(void *ctx, const char *domain, unsigned active, uint64_t now)
{
	(*(int *)ctx)++;
	return strcmp(domain, "x.example") != 0 ? 0 : now + 500;
}

static void
test_shaper_and_many(void **state)
{
	struct sched *s = mk(1000, 5);
	int asked = 0;
	struct shaper_ops ops = { .connect_wait = refuse_x, .ctx = &asked };
	char id[32];

	(void)state;
	sched_set_shaper(s, &ops);
	sched_add(s, "D0000000000000000001", "x.example", 0, 0, 0);
	assert_null(sched_want_connection(s, 0));
	assert_true(asked >= 1);
	sched_add(s, "D0000000000000000002", "y.example", 0, 0, 0);
	struct sched_dest *y = sched_want_connection(s, 0);
	assert_string_equal(sched_dest_domain(y), "y.example");
	sched_conn_open(s, y);
	assert_non_null(sched_take(s, y));
	/* x was parked until 500: not asked again before, and due then */
	asked = 0;
	assert_null(sched_want_connection(s, 10));
	assert_int_equal(asked, 0);
	assert_int_equal(sched_next_due(s), 500);
	sched_set_shaper(s, NULL);
	sched_due(s, 500);
	assert_string_equal(sched_dest_domain(sched_want_connection(s, 500)), "x.example");
	/* many items: the hash tables grow, the heap stays ordered */
	for (int i = 0; i < 100000; i++) {
		snprintf(id, sizeof(id), "E%019d", i);
		sched_add(s, id, i % 3 ? "big.example" : "other.example", 1000 + (uint64_t)((i * 7919) % 100000), 0, 0);
	}
	uint64_t last = 0;
	for (uint64_t t = 1000; t < 102000; t += 997) {
		assert_true(sched_next_due(s) >= last);
		last = sched_next_due(s) == UINT64_MAX ? last : sched_next_due(s);
		sched_due(s, t);
	}
	struct sched_counts c;
	sched_counts(s, &c);
	assert_int_equal(c.items, 100002);
	assert_int_equal(c.deferred, 0);
	assert_int_equal(sched_remove_message(s, "E0000000000000050000"), 1);
	assert_true(sched_item_size() < 160);
	sched_free(s);
}

/* A parked destination leaves the wanting list; sched_return() puts an
 * item back at the head; sched_unpark() ends a park at once. */
static void
test_park_return(void **state)
{
	struct sched *s = mk(10, 2);
	struct sched_dest *d;
	struct sched_item *it;
	struct sched_counts c;

	(void)state;
	sched_add(s, "F0000000000000000001", "p.example", 0, 0, 0);
	sched_add(s, "F0000000000000000002", "p.example", 0, 0, 0);
	d = sched_want_connection(s, 0);
	assert_non_null(d);
	sched_conn_open(s, d);
	it = sched_take(s, d);
	sched_return(s, it);
	assert_int_equal(sched_dest_ready(d), 2);
	assert_ptr_equal(sched_take(s, d), it);	/* back at the head */
	sched_return(s, it);
	sched_park(s, d, 1000);
	sched_counts(s, &c);
	assert_int_equal(c.parked, 1);
	assert_int_equal(sched_dest_parked(d), 1000);
	assert_null(sched_want_connection(s, 10));
	sched_park(s, d, 2000);		/* extends */
	assert_int_equal(sched_next_due(s), 2000);
	assert_ptr_equal(sched_dest_find(s, "P.Example"), d);
	sched_unpark(s, d);
	assert_int_equal(sched_dest_parked(d), 0);
	assert_ptr_equal(sched_want_connection(s, 10), d);
	sched_conn_close(s, d);
	sched_park(s, d, 3000);
	sched_remove_message(s, "F0000000000000000001");
	sched_remove_message(s, "F0000000000000000002");	/* frees the parked dest */
	sched_counts(s, &c);
	assert_int_equal(c.parked, 0);
	assert_int_equal(c.dests, 0);
	sched_free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ready_and_limits),
		cmocka_unit_test(test_heap_order),
		cmocka_unit_test(test_hold_release_remove_active),
		cmocka_unit_test(test_shaper_and_many),
		cmocka_unit_test(test_park_return),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
