/* Unit tests for src/account: the token buckets of the account limits and
 * the in-memory limiter (time injected: no sleeps), and the rolling rates
 * of the reputation breaker. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "account/account_limit.h"
#include "account/account_rep.h"

#define T0	1800000000000ULL	/* some ms since the epoch */

static void
test_bucket_burst_and_refill(void **state)
{
	struct account_bucket b = { 0 };

	(void)state;
	account_limit_refill(&b, 10, 1000, T0);
	assert_int_equal(account_limit_tokens(&b), 10);		/* starts full */
	assert_int_equal(account_limit_wait_ms(&b, 10, 1000, 10), 0);
	b.milli -= 10 * 1000;
	assert_int_equal(account_limit_tokens(&b), 0);
	assert_int_equal(account_limit_wait_ms(&b, 10, 1000, 1), 100);	/* 10/s: one per 100 ms */
	account_limit_refill(&b, 10, 1000, T0 + 99);
	assert_int_equal(account_limit_tokens(&b), 0);
	account_limit_refill(&b, 10, 1000, T0 + 100);
	assert_int_equal(account_limit_tokens(&b), 1);
	account_limit_refill(&b, 10, 1000, T0 + 5000);
	assert_int_equal(account_limit_tokens(&b), 10);		/* never above the limit */
}

/* A slow refill asked every millisecond must not lose the fractions. */
static void
test_bucket_no_lost_fractions(void **state)
{
	struct account_bucket b = { 0 };
	uint64_t day = 86400 * 1000ULL;

	(void)state;
	account_limit_refill(&b, 1000, day, T0);
	b.milli = 0;
	for (uint64_t t = 1; t <= 86400; t++)		/* one refill a ms for 86.4 s */
		account_limit_refill(&b, 1000, day, T0 + t);
	/* 86.4 s of a 1000/day bucket: exactly 1 token (1000 milli) */
	assert_int_equal(b.milli, 1000);
}

static void
test_bucket_large_request(void **state)
{
	struct account_bucket b = { 0 };

	(void)state;
	account_limit_refill(&b, 5, 1000, T0);
	/* 8 recipients under a limit of 5: allowed on a full bucket only */
	assert_int_equal(account_limit_wait_ms(&b, 5, 1000, 8), 0);
	b.milli -= 2 * 1000;
	assert_int_equal(account_limit_wait_ms(&b, 5, 1000, 8), 400);	/* until full: 2 tokens */
}

static void
test_limiter_windows(void **state)
{
	struct limiter *l = account_limit_mem();
	struct account_limits lim = { { 100, 150, 0 } };
	struct limiter_refusal why;
	struct limiter_usage u;
	int ok = 0;

	(void)state;
	/* a burst of 120 single-recipient sends within one ms: the per-second
	 * bucket lets exactly 100 through */
	for (int i = 0; i < 120; i++)
		if (account_limit_take(l, "shop", &lim, 1, T0, &why) == 0)
			ok++;
	assert_int_equal(ok, 100);
	assert_int_equal(account_limit_take(l, "shop", &lim, 1, T0, &why), 1);
	assert_int_equal(why.window, ACCOUNT_WIN_SECOND);
	assert_int_equal(why.limit, 100);
	assert_int_equal(why.retry_ms, 10);
	/* another account has its own buckets */
	assert_int_equal(account_limit_take(l, "other", &lim, 1, T0, &why), 0);
	/* a second later: per second is full again, but the hour has 50 left */
	for (ok = 0; ok < 100 && account_limit_take(l, "shop", &lim, 1, T0 + 1000, &why) == 0; ok++)
		;
	assert_int_equal(ok, 50);
	assert_int_equal(why.window, ACCOUNT_WIN_HOUR);
	/* 150/h: one per 24 s, less the 1/24 token the second refilled */
	assert_in_range(why.retry_ms, 22900, 23100);
	account_limit_usage(l, "shop", &lim, T0 + 1000, &u);
	assert_int_equal(u.limit[ACCOUNT_WIN_HOUR], 150);
	assert_int_equal(u.used[ACCOUNT_WIN_HOUR], 150);
	assert_int_equal(u.remaining[ACCOUNT_WIN_HOUR], 0);
	assert_int_equal(u.remaining[ACCOUNT_WIN_SECOND], 50);
	assert_int_equal(u.limit[ACCOUNT_WIN_DAY], 0);
	/* give back: a refused spool write returns its recipients */
	account_limit_give_back(l, "shop", &lim, 3, T0 + 1000);
	account_limit_usage(l, "shop", &lim, T0 + 1000, &u);
	assert_int_equal(u.remaining[ACCOUNT_WIN_HOUR], 3);
	assert_int_equal(u.remaining[ACCOUNT_WIN_SECOND], 53);
	/* all or nothing: refused by the hour, the second keeps its tokens */
	assert_int_equal(account_limit_take(l, "shop", &lim, 5, T0 + 1000, &why), 1);
	account_limit_usage(l, "shop", &lim, T0 + 1000, &u);
	assert_int_equal(u.remaining[ACCOUNT_WIN_SECOND], 53);
	account_limit_free(l);
}

static void
test_limiter_unlimited_and_change(void **state)
{
	struct limiter *l = account_limit_mem();
	struct account_limits none = { { 0, 0, 0 } }, two = { { 2, 0, 0 } };
	struct limiter_refusal why;

	(void)state;
	for (int i = 0; i < 10000; i++)
		assert_int_equal(account_limit_take(l, "shop", &none, 1, T0, &why), 0);
	/* a limit set while running applies at the next take */
	assert_int_equal(account_limit_take(l, "shop", &two, 1, T0, &why), 0);
	assert_int_equal(account_limit_take(l, "shop", &two, 1, T0, &why), 0);
	assert_int_equal(account_limit_take(l, "shop", &two, 1, T0, &why), 1);
	assert_int_equal(why.retry_ms, 500);
	account_limit_free(l);
}

static const struct account_rep_policy policy = {
	.window_ms = 7 * 86400 * 1000ULL, .min_sample = 100,
	.bounce_review = 0.05, .bounce_pause = 0.10,
	.complaint_review = 0.001, .complaint_pause = 0.005,
};

static void
test_rep_rates_and_verdicts(void **state)
{
	struct account_rep r = { 0 };
	struct account_rep_totals t;
	struct account_rep_verdict v;
	char reason[80];

	(void)state;
	/* 12% hard bounces, but below the minimum sample: no verdict */
	for (int i = 0; i < 50; i++)
		account_rep_add(&r, &policy, i % 25 < 3 ? ACCOUNT_REP_BOUNCED : ACCOUNT_REP_DELIVERED,
		    T0 + (uint64_t)i);
	account_rep_totals(&r, &policy, T0 + 100, &t);
	assert_int_equal(t.sent, 50);
	assert_int_equal(t.bounced, 6);
	account_rep_judge(&t, &policy, &v);
	assert_int_equal(v.level, ACCOUNT_REP_OK);
	/* at the sample: 12 of 100 > 10%: pause */
	for (int i = 50; i < 100; i++)
		account_rep_add(&r, &policy, i % 25 < 3 ? ACCOUNT_REP_BOUNCED : ACCOUNT_REP_DELIVERED,
		    T0 + (uint64_t)i);
	account_rep_totals(&r, &policy, T0 + 100, &t);
	assert_int_equal(t.sent, 100);
	assert_int_equal(t.bounced, 12);
	account_rep_judge(&t, &policy, &v);
	assert_int_equal(v.level, ACCOUNT_REP_PAUSE);
	assert_string_equal(v.metric, "bounce");
	account_rep_reason(&v, reason, sizeof(reason));
	assert_string_equal(reason, "bounce rate 12.0% > 10%");
	/* 100 more delivered: 12/200 = 6%: review */
	for (int i = 0; i < 100; i++)
		account_rep_add(&r, &policy, ACCOUNT_REP_DELIVERED, T0 + 200);
	account_rep_totals(&r, &policy, T0 + 200, &t);
	account_rep_judge(&t, &policy, &v);
	assert_int_equal(v.level, ACCOUNT_REP_REVIEW);
	/* a complaint rate over 0.5% pauses too: 2 of 200 = 1% */
	account_rep_add(&r, &policy, ACCOUNT_REP_COMPLAINED, T0 + 300);
	account_rep_add(&r, &policy, ACCOUNT_REP_COMPLAINED, T0 + 300);
	account_rep_totals(&r, &policy, T0 + 300, &t);
	account_rep_judge(&t, &policy, &v);
	assert_int_equal(v.level, ACCOUNT_REP_PAUSE);
	assert_string_equal(v.metric, "complaint");
	account_rep_reason(&v, reason, sizeof(reason));
	assert_string_equal(reason, "complaint rate 1.0% > 0.5%");
	account_rep_reset(&r);
	account_rep_totals(&r, &policy, T0 + 300, &t);
	assert_int_equal(t.sent, 0);
}

/* The window rolls: outcomes older than it stop counting. */
static void
test_rep_window_rolls(void **state)
{
	struct account_rep r = { 0 };
	struct account_rep_totals t;
	uint64_t day = 86400 * 1000ULL;

	(void)state;
	for (int i = 0; i < 20; i++)
		account_rep_add(&r, &policy, ACCOUNT_REP_BOUNCED, T0);
	for (int i = 0; i < 80; i++)
		account_rep_add(&r, &policy, ACCOUNT_REP_DELIVERED, T0 + 3 * day);
	account_rep_totals(&r, &policy, T0 + 3 * day, &t);
	assert_int_equal(t.sent, 100);
	assert_int_equal(t.bounced, 20);
	/* eight days on: the bounces are out of the 7-day window */
	account_rep_totals(&r, &policy, T0 + 8 * day, &t);
	assert_int_equal(t.bounced, 0);
	assert_int_equal(t.delivered, 80);
	/* eleven days on: everything is */
	account_rep_totals(&r, &policy, T0 + 11 * day, &t);
	assert_int_equal(t.sent, 0);
	/* a slot reused after a full turn starts empty */
	account_rep_add(&r, &policy, ACCOUNT_REP_DELIVERED, T0 + 14 * day);
	account_rep_totals(&r, &policy, T0 + 14 * day, &t);
	assert_int_equal(t.sent, 1);
	assert_int_equal(t.bounced, 0);
}

/* A limit too large for milli-tokens (an API or CLI value up to 2^63)
 * must neither wrap into a refusal for ever nor divide by zero: 2^61 * 1000
 * is 0 modulo 2^64. Such a limit behaves as no practical limit. */
static void
test_limiter_huge_limit(void **state)
{
	struct limiter *l = account_limit_mem();
	struct account_limits lim = { { 1ULL << 61, 0, (1ULL << 62) + 7 } };
	struct limiter_refusal why = { 0 };
	struct limiter_usage u;

	(void)state;
	for (int i = 0; i < 100; i++)
		assert_int_equal(account_limit_take(l, "big", &lim, 1000, T0 + (uint64_t)i, &why), 0);
	account_limit_usage(l, "big", &lim, T0 + 100, &u);
	assert_true(u.remaining[0] > 0);
	assert_true(u.remaining[2] > 0);
	account_limit_free(l);
}

/* The cost of one take, printed for the report: 1000 accounts, three
 * windows limited, a million takes. */
static void
test_limiter_cost(void **state)
{
	struct limiter *l = account_limit_mem();
	struct account_limits lim = { { 1000000, 100000000, 1000000000 } };
	struct timespec a, b;
	char names[1000][16];
	int n = 1000000;

	(void)state;
	for (int i = 0; i < 1000; i++)
		snprintf(names[i], sizeof(names[i]), "acct%d", i);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < n; i++)
		(void)account_limit_take(l, names[i % 1000], &lim, 1, T0 + (uint64_t)(i / 1000), NULL);
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("# limiter: %.0f ns per take (1000 accounts, 3 windows)\n",
	    ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / n);
	account_limit_free(l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bucket_burst_and_refill),
		cmocka_unit_test(test_bucket_no_lost_fractions),
		cmocka_unit_test(test_bucket_large_request),
		cmocka_unit_test(test_limiter_windows),
		cmocka_unit_test(test_limiter_unlimited_and_change),
		cmocka_unit_test(test_rep_rates_and_verdicts),
		cmocka_unit_test(test_rep_window_rolls),
		cmocka_unit_test(test_limiter_huge_limit),
		cmocka_unit_test(test_limiter_cost),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
