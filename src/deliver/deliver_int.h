/* deliver_int: what deliver.c (the engine) and deliver_outcome.c (what an
 * outcome does to the spool, the log and the return path) share. Private to
 * src/deliver. */
#ifndef HERMOD_DELIVER_INT_H
#define HERMOD_DELIVER_INT_H
#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include <openssl/ssl.h>

#include "deliver/deliver.h"
#include "deliver/smtp_client.h"
#include "spool/spool.h"
#include "util/buf.h"

#define DELIVER_IDLE_MS		2000	/* an idle session waits this long for more mail */
#define DELIVER_PACE_MS		10000	/* a session waits this long for the shaper's rate */

/* A session saying QUIT: it still counts against its destination's
 * connection limit (the receiver sees it) until it is gone. */
struct deliver_quit {
	struct smtp_client	*cl;
	char			 domain[256];
};

/* One outgoing connection (deliver_conn.c). */
struct conn {
	struct deliver		*d;
	struct conn		*prev, *next;
	struct sched_dest	*dest;
	char			 domain[256];
	const struct config_route *route;
	struct sched_item	*item;		/* the item in hand, or NULL */

	struct mx_query		*q;
	uv_getaddrinfo_t	*gai;
	struct mx_addr		*addrs;
	size_t			 naddr, addr_i;
	int			 no_tls;	/* retrying this address without STARTTLS */
	struct smtp_client_reply last_fail;

	struct smtp_client	*client;	/* the session, once ready */
	struct smtp_client	*opening;	/* a session being set up */
	char			 mx[256];	/* the host of the session */
	unsigned		 nmsgs;
	int			 idle;		/* session up, waiting for an item */
	int			 pacing;	/* session up, waiting for the shaper's rate */
	uv_timer_t		*idle_timer;

	/* the item in hand */
	size_t			*ridx;		/* pending recipient indices */
	size_t			 nridx, rdone;
	size_t			 batch;		/* recipients in the transaction in flight */
	const char		**rcpt;
	char			*mail_from;
	struct buf		 msg;
	int			 reading;	/* spool_read in flight: must not free */
	int			 gone;		/* freed when the read returns */
	uint64_t		 retry_at;
	struct smtp_client_msg	 m;
};

struct deliver {
	uv_loop_t		*loop;
	const struct config	*cfg;
	struct spool		*sp;
	struct sched		*sched;
	struct shape		*shape;		/* destination shaping (src/shape) */
	int			 metrics_hook;	/* its gauges at each scrape; -1: none */
	struct mx_resolver	*mx;
	SSL_CTX			*ssl;
	uv_timer_t		*wake;		/* the heap's next due time */
	uv_timer_t		*pump;		/* a pump on the next loop turn */
	uv_timer_t		*stop_timer;
	int			 pump_armed;
	struct conn		*conns;
	size_t			 nconns;
	int			 stopping;
	void			(*stop_done)(void *arg);
	void			*stop_arg;
	struct dsn_job		*dsn_jobs;	/* DSNs waiting for the original's bytes */
	const struct verp_key	*verp;		/* NULL: no VERP (deliver_set_verp) */
	struct deliver_quit	*quitting;	/* sessions saying QUIT, owned by nobody else */
	size_t			 nquitting, quitcap;
	/* account pauses (src/account): non-NULL reason = hold its mail */
	const char		*(*paused)(void *arg, const char *account);
	void			*paused_arg;
	struct suppress		*suppress;	/* suppression lists; NULL: none */
};

/* deliver_conn_new() opens a connection for dest and gives it the first
 * ready item. deliver_conn_wake() hands an idle one the next ready item.
 * deliver_conn_end() QUITs and frees it (an item in hand is retried now);
 * deliver_conn_cut() drops its session, lookup and item at once (orphan: the
 * scheduler is going away too); deliver_conn_free() frees it (later, when a
 * spool read is in flight); deliver_conn_release() frees the item's buffers. */
void	deliver_conn_new(struct deliver *d, struct sched_dest *dest);
void	deliver_conn_wake(struct conn *c);
void	deliver_conn_end(struct conn *c);
void	deliver_conn_cut(struct deliver *d, struct conn *c, int orphan);
void	deliver_conn_free(struct conn *c);
void	deliver_conn_release(struct conn *c);

/* deliver_pump_soon() asks for a scheduling pass on the next loop turn. */
void	deliver_pump_soon(struct deliver *d);

static inline int
deliver_rcpt_pending(const struct spool_rcpt *r)
{
	return r->state == SPOOL_RCPT_QUEUED || r->state == SPOOL_RCPT_DEFERRED;
}

/* deliver_outcome_orphan_jobs() detaches the DSN jobs still reading, so
 * their callbacks only free themselves (deliver_free()). */
void	deliver_outcome_orphan_jobs(struct deliver *d);

/* One recipient's outcome of an attempt. */
struct deliver_outcome {
	size_t				 idx;		/* recipient index in the envelope */
	struct smtp_client_reply	 reply;
};

/* deliver_outcomes() records the outcomes of one attempt of message id
 * (attempt counts, state, next attempt, events, DSNs). msg/len are the
 * message bytes when the caller has them (else NULL: read for a DSN when
 * needed). mx is the host that answered, or NULL. Returns the earliest next
 * attempt of a recipient left deferred, 0 when none is. */
uint64_t deliver_outcomes(struct deliver *d, const char *id, const struct deliver_outcome *o,
	    size_t n, const char *mx, const char *msg, size_t len);

/* deliver_retry_at() is when attempt number `attempts` (1 = the first
 * failure) should be followed up: delivery.retry with +-10% jitter, never
 * past the expiry. */
uint64_t deliver_retry_at(const struct config *cfg, uint32_t attempts, uint64_t queued_at,
	    uint64_t now);

/* deliver_outcome_suppressed() tells whether recipient idx of env is on
 * its account's suppression list now (memory only). deliver_outcome_drop()
 * marks the recipients idx[0..n) of message id dropped, each with a
 * `dropped` event (reason "suppressed"): a message queued before its
 * recipient was suppressed is never delivered to it. */
int	deliver_outcome_suppressed(struct deliver *d, const struct spool_env *env, size_t idx);
void	deliver_outcome_drop(struct deliver *d, const char *id, const size_t *idx, size_t n);

/* deliver_domain() is the domain of an address (after the last "@"), or "". */
const char *deliver_domain(const char *addr);

#endif
