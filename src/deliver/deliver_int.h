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

struct conn;

struct deliver {
	uv_loop_t		*loop;
	const struct config	*cfg;
	struct spool		*sp;
	struct sched		*sched;
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
	struct smtp_client	**quitting;	/* sessions saying QUIT, owned by nobody else */
	size_t			 nquitting, quitcap;
};

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

/* deliver_domain() is the domain of an address (after the last "@"), or "". */
const char *deliver_domain(const char *addr);

#endif
