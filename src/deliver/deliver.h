/* deliver: the delivery engine. Takes every queued recipient from the spool
 * (spool_foreach at start, spool_on_change afterwards), schedules it
 * (queue/sched.h), resolves its domain (deliver/mx.h) or route, talks SMTP
 * to the next hop (deliver/smtp_client.h) and records each outcome: the
 * recipient's state in the spool, an event line in the log, a DSN when one
 * is owed (deliver/dsn.h).
 *
 * Delivery is at-least-once: a recipient is marked delivered only after the
 * server's 250 to the final dot, and that mark is durable with the spool's
 * next group commit. A crash (or SIGKILL, or a connection lost after the dot
 * and before the reply) in between repeats the delivery on the next attempt;
 * the window is one round trip plus one group commit. */
#ifndef HERMOD_DELIVER_H
#define HERMOD_DELIVER_H
#include <uv.h>

#include "queue/sched.h"

struct config;
struct spool;
struct deliver;
struct suppress;

/* deliver_start() starts delivering what sp holds and whatever is queued
 * later; cfg and sp must outlive it. Registers the spool's change callback
 * and the queue-flush hook of the control socket. 0, or -1 with *err. */
int	deliver_start(uv_loop_t *loop, const struct config *cfg, struct spool *sp,
	    struct deliver **out, char **err);

/* deliver_stop() drains: no new connection or message starts; transactions
 * in flight finish (bounded: after 20 s they are cut, and their recipients
 * stay queued for the next start). done fires on the loop once nothing runs
 * (possibly before deliver_stop() returns). Then call deliver_free(). */
void	deliver_stop(struct deliver *d, void (*done)(void *arg), void *arg);
/* deliver_free() drops whatever still runs and frees everything; run the
 * loop afterwards so the handles close. */
void	deliver_free(struct deliver *d);

/* deliver_flush() makes message id (or every message, id NULL) due now;
 * held mail keeps waiting. The number of messages scheduled, or -ENOENT. */
int	deliver_flush(struct deliver *d, const char *id);

/* deliver_set_suppress() makes delivery drop, before the transaction, a
 * recipient whose address was suppressed after its message was queued. */
void	deliver_set_suppress(struct deliver *d, struct suppress *sp);
/* deliver_set_verp() turns VERP on (feedback/verp.h): each recipient then
 * goes in its own transaction, with its own signed return path on the
 * bounce domain; messages with the null return path keep it. key must
 * outlive d; NULL turns it off (the envelope sender as submitted). */
struct verp_key;
void	deliver_set_verp(struct deliver *d, const struct verp_key *key);
/* deliver_counts() reports the scheduler's item counts (one item is a
 * message's recipients at one domain): for metrics and `hermod queue`. */
void	deliver_counts(struct deliver *d, struct sched_counts *out);

/* deliver_set_shaper() plugs traffic shaping in (NULL: allow everything). */
void	deliver_set_shaper(struct deliver *d, const struct shaper_ops *ops);

/* Account pauses (the reputation breaker, src/account). paused(arg,
 * account) returns non-NULL while an account is paused: its mail is queued
 * held (in the scheduler only: the spool's admin hold flag is untouched).
 * deliver_hold_account() holds what is queued for account now (a
 * transaction in flight finishes); deliver_release_account() makes it due
 * now, except messages an admin holds. Loop thread. */
void	deliver_set_account_gate(struct deliver *d,
	    const char *(*paused)(void *arg, const char *account), void *arg);
size_t	deliver_hold_account(struct deliver *d, const char *account);
size_t	deliver_release_account(struct deliver *d, const char *account);

#endif
