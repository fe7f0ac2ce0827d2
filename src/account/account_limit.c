/* account_limit: token buckets for the account limits and the in-memory
 * limiter (account_limit.h says what is counted and why).
 *
 * Refills lose nothing: elapsed ms * limit * 1000 / window gives whole
 * milli-tokens and the remainder of the division is kept for the next
 * refill, so a per_day limit of 1000 (0.0116 milli-tokens a ms) refills
 * right however often it is asked. */
#include "account/account_limit.h"
#include "util/xalloc.h"

#include <stdlib.h>
#include <string.h>

static const uint64_t window_ms[ACCOUNT_WIN__COUNT] = { 1000, 3600 * 1000, 86400 * 1000 };
static const char *const window_names[ACCOUNT_WIN__COUNT] = { "second", "hour", "day" };

uint64_t
account_window_ms(enum account_window w)
{
	return window_ms[w];
}

const char *
account_window_name(enum account_window w)
{
	return window_names[w];
}

/* ---- one bucket ---- */

/* clamp() cuts a limit to ACCOUNT_LIMIT_MAX: above it, limit * 1000 would
 * wrap (to a negative cap refusing for ever, or to 0, a division by zero). */
static uint64_t
clamp(uint64_t limit)
{
	return limit > ACCOUNT_LIMIT_MAX ? ACCOUNT_LIMIT_MAX : limit;
}

static void
clamp_all(const struct account_limits *in, struct account_limits *out)
{
	for (int w = 0; w < ACCOUNT_WIN__COUNT; w++)
		out->per[w] = clamp(in->per[w]);
}

void
account_limit_refill(struct account_bucket *b, uint64_t limit, uint64_t win, uint64_t now)
{
	int64_t cap;
	unsigned __int128 num;

	limit = clamp(limit);
	cap = (int64_t)(limit * 1000);

	if (b->last == 0 || b->limit == 0) {
		b->milli = cap;
		b->last = now;
		b->limit = limit;
		b->rem = 0;
		return;
	}
	if (limit != b->limit) {
		b->limit = limit;
		b->rem = 0;
	}
	if (now <= b->last) {
		if (b->milli > cap)
			b->milli = cap;
		return;
	}
	if (now - b->last >= win) {
		b->milli = cap;
		b->last = now;
		b->rem = 0;
		return;
	}
	/* milli-tokens = elapsed * limit * 1000 / win, in 128 bits (limit may
	 * be large), the remainder kept for the next refill */
	num = (unsigned __int128)(now - b->last) * limit * 1000 + b->rem;
	b->last = now;
	b->milli += (int64_t)(num / win);
	b->rem = (uint64_t)(num % win);
	if (b->milli >= cap) {
		b->milli = cap;
		b->rem = 0;
	}
}

uint64_t
account_limit_wait_ms(const struct account_bucket *b, uint64_t limit, uint64_t win, uint64_t n)
{
	int64_t need, deficit;

	if (limit == 0)
		return 0;
	limit = clamp(limit);
	need = (int64_t)((n < limit ? n : limit) * 1000);
	deficit = need - b->milli;
	if (deficit <= 0)
		return 0;
	return (uint64_t)(((unsigned __int128)deficit * win + limit * 1000 - 1) / (limit * 1000));
}

uint64_t
account_limit_tokens(const struct account_bucket *b)
{
	return b->milli > 0 ? (uint64_t)b->milli / 1000 : 0;
}

/* ---- the in-memory limiter ---- */

#define MEM_BUCKETS	256

struct mem_entry {
	struct mem_entry *next;
	char		*account;
	struct account_bucket	 b[ACCOUNT_WIN__COUNT];
};

struct mem_limiter {
	struct mem_entry *tab[MEM_BUCKETS];
};

static unsigned
hash(const char *s)
{
	unsigned h = 2166136261u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h % MEM_BUCKETS;
}

static struct mem_entry *
mem_find(struct mem_limiter *m, const char *account, int create)
{
	unsigned h = hash(account);
	struct mem_entry *e;

	for (e = m->tab[h]; e; e = e->next)
		if (strcmp(e->account, account) == 0)
			return e;
	if (!create)
		return NULL;
	e = xcalloc(1, sizeof(*e));
	e->account = xstrdup(account);
	e->next = m->tab[h];
	m->tab[h] = e;
	return e;
}

static void
mem_refill(struct mem_entry *e, const struct account_limits *lim, uint64_t now)
{
	for (int w = 0; w < ACCOUNT_WIN__COUNT; w++)
		if (lim->per[w] > 0)
			account_limit_refill(&e->b[w], lim->per[w], window_ms[w], now);
}

static int
mem_take(void *impl, const char *account, const struct account_limits *asked, uint64_t n,
    uint64_t now, struct limiter_refusal *why)
{
	struct account_limits cl, *lim = &cl;
	struct mem_entry *e;
	uint64_t worst = 0;
	int w, short_w = -1;

	clamp_all(asked, &cl);
	if (lim->per[0] == 0 && lim->per[1] == 0 && lim->per[2] == 0)
		return 0;
	e = mem_find(impl, account, 1);
	mem_refill(e, lim, now);
	for (w = 0; w < ACCOUNT_WIN__COUNT; w++) {
		uint64_t t;
		if (lim->per[w] == 0)
			continue;
		t = account_limit_wait_ms(&e->b[w], lim->per[w], window_ms[w], n);
		if (t > worst) {
			worst = t;
			short_w = w;
		}
	}
	if (short_w >= 0) {
		if (why != NULL) {
			why->window = (enum account_window)short_w;
			why->limit = lim->per[short_w];
			why->retry_ms = worst;
		}
		return 1;
	}
	for (w = 0; w < ACCOUNT_WIN__COUNT; w++)
		if (lim->per[w] > 0)
			e->b[w].milli -= (int64_t)(n * 1000);
	return 0;
}

static void
mem_give_back(void *impl, const char *account, const struct account_limits *asked, uint64_t n,
    uint64_t now)
{
	struct mem_entry *e = mem_find(impl, account, 0);
	struct account_limits cl, *lim = &cl;

	clamp_all(asked, &cl);
	if (e == NULL)
		return;
	mem_refill(e, lim, now);
	for (int w = 0; w < ACCOUNT_WIN__COUNT; w++) {
		if (lim->per[w] == 0)
			continue;
		e->b[w].milli += (int64_t)(n * 1000);
		if (e->b[w].milli > (int64_t)(lim->per[w] * 1000))
			e->b[w].milli = (int64_t)(lim->per[w] * 1000);
	}
}

static void
mem_usage(void *impl, const char *account, const struct account_limits *asked, uint64_t now,
    struct limiter_usage *out)
{
	struct mem_entry *e = mem_find(impl, account, 0);
	struct account_limits cl, *lim = &cl;

	clamp_all(asked, &cl);
	memset(out, 0, sizeof(*out));
	if (e != NULL)
		mem_refill(e, lim, now);
	for (int w = 0; w < ACCOUNT_WIN__COUNT; w++) {
		uint64_t lm = lim->per[w];
		out->limit[w] = lm;
		if (lm == 0)
			continue;
		if (e == NULL || e->b[w].last == 0) {
			out->remaining[w] = lm;
			continue;
		}
		out->remaining[w] = account_limit_tokens(&e->b[w]);
		/* used: what is missing from a full bucket, rounded up (debt counts) */
		out->used[w] = (uint64_t)(((int64_t)(lm * 1000) - e->b[w].milli + 999) / 1000);
		out->full_in_ms[w] = account_limit_wait_ms(&e->b[w], lm, window_ms[w], lm);
	}
}

static void
mem_forget(void *impl, const char *account)
{
	struct mem_limiter *m = impl;
	struct mem_entry **pp = &m->tab[hash(account)], *e;

	for (; (e = *pp) != NULL; pp = &e->next)
		if (strcmp(e->account, account) == 0) {
			*pp = e->next;
			free(e->account);
			free(e);
			return;
		}
}

static void
mem_free(void *impl)
{
	struct mem_limiter *m = impl;

	for (int i = 0; i < MEM_BUCKETS; i++) {
		struct mem_entry *e, *next;
		for (e = m->tab[i]; e; e = next) {
			next = e->next;
			free(e->account);
			free(e);
		}
	}
	free(m);
}

static const struct limiter_ops mem_ops = {
	.name = "memory",
	.take = mem_take,
	.give_back = mem_give_back,
	.usage = mem_usage,
	.forget = mem_forget,
	.free = mem_free,
};

struct limiter *
account_limit_mem(void)
{
	struct limiter *l = xcalloc(1, sizeof(*l));

	l->ops = &mem_ops;
	l->impl = xcalloc(1, sizeof(struct mem_limiter));
	return l;
}

void
account_limit_free(struct limiter *l)
{
	if (l == NULL)
		return;
	l->ops->free(l->impl);
	free(l);
}

int
account_limit_take(struct limiter *l, const char *account, const struct account_limits *lim,
    uint64_t n, uint64_t now, struct limiter_refusal *why)
{
	return l->ops->take(l->impl, account, lim, n, now, why);
}

void
account_limit_give_back(struct limiter *l, const char *account, const struct account_limits *lim,
    uint64_t n, uint64_t now)
{
	l->ops->give_back(l->impl, account, lim, n, now);
}

void
account_limit_usage(struct limiter *l, const char *account, const struct account_limits *lim,
    uint64_t now, struct limiter_usage *out)
{
	l->ops->usage(l->impl, account, lim, now, out);
}
