/* shape_bucket: the token bucket of every shaping rate, in its GCRA form
 * (the generic cell rate algorithm): instead of a token count refilled by
 * a timer, one "theoretical arrival time" per bucket, so a bucket costs 16
 * bytes, no timer, and a decision is two comparisons. Burst is one event:
 * events are spaced by the interval, which is how receivers count. Times
 * are kept in microseconds so that 7/s is not rounded to 142 ms.
 *
 * An event may come up to a small tolerance before its time (a quarter of
 * the interval, at most SHAPE_BUCKET_SLACK_US): timers fire a millisecond or
 * two late, and without it one late event would push every later one back
 * and a queue of waiters timed on the schedule would each miss its turn.
 * The long-run rate is unchanged; the tolerance is never saved up. */
#include "shape/shape.h"

#define SHAPE_BUCKET_SLACK_US	10000

static uint64_t
slack(const struct shape_bucket *b, unsigned shift)
{
	uint64_t q = (b->interval_us << shift) / 4;

	return q < SHAPE_BUCKET_SLACK_US ? q : SHAPE_BUCKET_SLACK_US;
}

void
shape_bucket_set(struct shape_bucket *b, uint64_t count, uint64_t period_ms)
{
	b->tat_us = 0;
	if (count == 0 || period_ms == 0) {
		b->interval_us = 0;
		return;
	}
	b->interval_us = period_ms * 1000 / count;
	if (b->interval_us == 0)
		b->interval_us = 1;
}

uint64_t
shape_bucket_wait(struct shape_bucket *b, uint64_t now, unsigned shift)
{
	uint64_t now_us = now * 1000;

	uint64_t sl, ahead;

	if (b->interval_us == 0)
		return 0;
	if (shift > 16)
		shift = 16;
	sl = slack(b, shift);
	/* A take leaves the schedule at most one interval (and the slack)
	 * ahead of its time. Further ahead, the wall clock went back (or a
	 * halving ended): the schedule restarts from now, else the
	 * destination would wait for the size of the step. */
	ahead = (b->interval_us << shift) + sl;
	if (b->tat_us > now_us + ahead)
		b->tat_us = now_us + ahead;
	if (b->tat_us <= sl || b->tat_us - sl <= now_us)
		return 0;
	return (b->tat_us - sl + 999) / 1000;
}

void
shape_bucket_take(struct shape_bucket *b, uint64_t now, unsigned shift)
{
	uint64_t now_us = now * 1000;

	if (b->interval_us == 0)
		return;
	if (shift > 16)
		shift = 16;
	if (b->tat_us < now_us)
		b->tat_us = now_us;
	b->tat_us += b->interval_us << shift;
}
