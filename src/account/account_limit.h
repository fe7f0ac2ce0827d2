/* account_limit: an account's bulk sending limits (issue 7): recipients per
 * second, per hour and per day, each a token bucket.
 *
 * What is counted: a recipient, as the managed APIs count (SES "maximum
 * send rate", Postmark, SendGrid): a message to 30 recipients takes 30
 * tokens, so a limit means the same whether mail goes as one message to
 * many or many messages to one.
 *
 * A window's bucket holds at most its limit and refills continuously at
 * limit / window (per_hour = 3600: one token a second, up to 3600 saved).
 * A take needs enough tokens in every window at once and takes from all or
 * none. A message with more recipients than a bucket can hold is let
 * through when that bucket is full (the bucket goes into debt), so a limit
 * smaller than max_recipients never blocks a message forever.
 *
 * The limits live behind struct limiter_ops so that the state can be shared
 * across nodes: account_limit_mem() is the in-memory implementation used
 * now (one node); a Redis-backed limiter (its own issue) fills in the same
 * table and every caller stays as it is. Pure bookkeeping: no clock of its
 * own (now is passed in, in ms), no I/O; the in-memory implementation is
 * for one thread (hermod calls it on the loop thread). */
#ifndef HERMOD_ACCOUNT_LIMIT_H
#define HERMOD_ACCOUNT_LIMIT_H
#include <stddef.h>
#include <stdint.h>

enum account_window { ACCOUNT_WIN_SECOND, ACCOUNT_WIN_HOUR, ACCOUNT_WIN_DAY, ACCOUNT_WIN__COUNT };

/* The largest limit counted as such: milli-tokens are limit * 1000 in 64
 * bits, so a larger value (the API and the CLI take any int64) is cut to
 * this, which no sender reaches in a window anyway. */
#define ACCOUNT_LIMIT_MAX	1000000000000ULL

/* The limits of one account, recipients per window; 0 = unlimited. */
struct account_limits {
	uint64_t	 per[ACCOUNT_WIN__COUNT];
};

/* account_window_ms() is the window's length; account_window_name() its
 * name ("second", "hour", "day"). */
uint64_t	 account_window_ms(enum account_window w);
const char	*account_window_name(enum account_window w);

/* One token bucket. Zero-filled: empty of history, treated as full at the
 * first use. Tokens are kept in thousandths so refills are exact integers. */
struct account_bucket {
	int64_t		 milli;		/* tokens * 1000; may be negative (debt) */
	uint64_t	 last;		/* ms of the last refill; 0 = never used */
	uint64_t	 limit;		/* the limit it was last refilled for */
	uint64_t	 rem;		/* refill remainder: (ms * limit * 1000) mod window */
};

/* account_limit_refill() brings b up to now for limit per window_ms (a
 * changed limit rescales nothing: tokens above the new limit are cut). */
void	account_limit_refill(struct account_bucket *b, uint64_t limit, uint64_t window_ms,
	    uint64_t now);
/* account_limit_wait_ms() is how long until b (refilled) can give n
 * tokens: 0 when it can now. A request larger than limit waits for a full
 * bucket. */
uint64_t account_limit_wait_ms(const struct account_bucket *b, uint64_t limit,
	    uint64_t window_ms, uint64_t n);
/* account_limit_tokens() is the whole tokens in b now (after a refill), >= 0. */
uint64_t account_limit_tokens(const struct account_bucket *b);

/* Why a take was refused: the window that is short and how long until the
 * take would succeed (the longest wait over the windows). */
struct limiter_refusal {
	enum account_window window;
	uint64_t	 limit;
	uint64_t	 retry_ms;
};

/* Usage of one account now, per window. */
struct limiter_usage {
	uint64_t	 limit[ACCOUNT_WIN__COUNT];	/* 0: unlimited */
	uint64_t	 used[ACCOUNT_WIN__COUNT];	/* limit - remaining (tokens not yet refilled) */
	uint64_t	 remaining[ACCOUNT_WIN__COUNT];
	uint64_t	 full_in_ms[ACCOUNT_WIN__COUNT]; /* until the bucket is full again */
};

/* The limiter interface. Every function gets the account's limits with the
 * call (the limiter keeps counts, not configuration), so a shared backend
 * never needs the store.
 *
 * take() takes n tokens for account from every limited window, or none: 0
 * when taken, 1 when refused (*why filled). give_back() returns n tokens a
 * take got for work that then did not happen (a spool write failed, an SMTP
 * transaction was abandoned). usage() reports the counts. forget() drops an
 * account's state (deleted account). */
struct limiter_ops {
	const char *name;
	int	(*take)(void *impl, const char *account, const struct account_limits *lim,
		    uint64_t n, uint64_t now, struct limiter_refusal *why);
	void	(*give_back)(void *impl, const char *account, const struct account_limits *lim,
		    uint64_t n, uint64_t now);
	void	(*usage)(void *impl, const char *account, const struct account_limits *lim,
		    uint64_t now, struct limiter_usage *out);
	void	(*forget)(void *impl, const char *account);
	void	(*free)(void *impl);
};

/* A limiter: the table and its state. */
struct limiter {
	const struct limiter_ops *ops;
	void		*impl;
};

/* account_limit_mem() makes the in-memory limiter (one node, one thread). */
struct limiter *account_limit_mem(void);
/* account_limit_free() frees a limiter of any kind; NULL is a no-op. */
void	account_limit_free(struct limiter *l);

/* Shorthands for l->ops->... */
int	account_limit_take(struct limiter *l, const char *account, const struct account_limits *lim,
	    uint64_t n, uint64_t now, struct limiter_refusal *why);
void	account_limit_give_back(struct limiter *l, const char *account,
	    const struct account_limits *lim, uint64_t n, uint64_t now);
void	account_limit_usage(struct limiter *l, const char *account, const struct account_limits *lim,
	    uint64_t now, struct limiter_usage *out);

#endif
