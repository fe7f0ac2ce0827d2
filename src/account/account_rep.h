/* account_rep: an account's rolling bounce and complaint rates, the input
 * of the reputation breaker (issue 7). Pure bookkeeping with the time passed
 * in: no clock, no I/O, no allocation.
 *
 * The window is a duration (reputation.window, default 7 days) cut into
 * ACCOUNT_REP_SLOTS slots; an outcome lands in the slot of its time and a
 * slot older than the window is emptied when its turn comes again, so the
 * rates cover the last window give or take one slot (window / 56: three
 * hours of a week).
 *
 *   sent            delivered + hard-bounced recipients
 *   bounce rate     hard bounces / sent
 *   complaint rate  complaints / sent
 *
 * Only hard bounces count (the address is bad: what receivers hold against
 * a sender, and what SES's bounce rate counts); a soft bounce (mailbox full,
 * greylisting, a rate limit) says nothing about the list. Nothing is judged
 * until sent reaches min_sample: two bounces out of ten are noise. */
#ifndef HERMOD_ACCOUNT_REP_H
#define HERMOD_ACCOUNT_REP_H
#include <stddef.h>
#include <stdint.h>

#define ACCOUNT_REP_SLOTS	56

enum account_rep_kind { ACCOUNT_REP_DELIVERED, ACCOUNT_REP_BOUNCED, ACCOUNT_REP_COMPLAINED };

struct account_rep_slot {
	uint64_t	 epoch;		/* time / slot length; 0: empty */
	uint32_t	 delivered, bounced, complained;
};

/* Zero-filled to start. */
struct account_rep {
	struct account_rep_slot slot[ACCOUNT_REP_SLOTS];
};

/* The breaker's settings (config [reputation]). Rates are fractions. */
struct account_rep_policy {
	uint64_t	 window_ms;
	uint64_t	 min_sample;
	double		 bounce_review, bounce_pause;
	double		 complaint_review, complaint_pause;
};

struct account_rep_totals {
	uint64_t	 delivered, bounced, complained, sent;
	double		 bounce_rate, complaint_rate;	/* 0 when sent is 0 */
};

enum account_rep_level { ACCOUNT_REP_OK, ACCOUNT_REP_REVIEW, ACCOUNT_REP_PAUSE };

/* A verdict: the level and, when not OK, the rate that reached it. */
struct account_rep_verdict {
	enum account_rep_level level;
	const char	*metric;	/* "bounce" or "complaint" */
	double		 rate, threshold;
};

/* account_rep_add() counts one outcome at now (ms). */
void	account_rep_add(struct account_rep *r, const struct account_rep_policy *p,
	    enum account_rep_kind kind, uint64_t now);
/* account_rep_totals() sums the slots inside the window ending at now. */
void	account_rep_totals(const struct account_rep *r, const struct account_rep_policy *p,
	    uint64_t now, struct account_rep_totals *out);
/* account_rep_judge() compares the totals with the policy: PAUSE when a
 * rate is over its pause threshold, REVIEW over its review threshold (the
 * pause level first, bounces before complaints), OK otherwise or below
 * min_sample. A threshold of 0 is off. */
void	account_rep_judge(const struct account_rep_totals *t, const struct account_rep_policy *p,
	    struct account_rep_verdict *out);
/* account_rep_reason() writes the verdict for people: "bounce rate 12.0% >
 * 10%". */
void	account_rep_reason(const struct account_rep_verdict *v, char *out, size_t len);
/* account_rep_reset() empties the window (an admin resumed the account: the
 * old bounces must not pause it again at once). */
void	account_rep_reset(struct account_rep *r);

#endif
