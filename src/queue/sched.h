/* sched: the delivery scheduler's data structure. Pure bookkeeping, no I/O
 * and no clock of its own: the delivery engine (deliver/deliver.c) feeds it
 * from the spool, asks it what to do next, and tells it what happened.
 *
 * An item is one (message, destination) pair: the recipients of one message
 * at one domain travel together. Destinations are recipient domains (later
 * issues may group them by MX provider: only sched_dest_key() changes). */
#ifndef HERMOD_SCHED_H
#define HERMOD_SCHED_H
#include <stddef.h>
#include <stdint.h>

#include "util/id.h"

struct sched;
struct sched_dest;
struct sched_item;

enum sched_state {
	SCHED_READY,		/* in its destination's ready queue */
	SCHED_DEFERRED,		/* in the heap, waiting for next_attempt */
	SCHED_HELD,		/* held by an admin: in neither */
	SCHED_ACTIVE,		/* taken by a connection */
};

struct sched_limits {
	unsigned	 max_connections;		/* global */
	unsigned	 max_connections_per_destination;
};

/* The traffic-shaping seam: every hook may be NULL (= allow). may_connect()
 * is asked before a new connection to a destination opens (active = open
 * connections there now), may_send() before each message is handed to a
 * connection, on_result() after each recipient outcome (code 0 for a local
 * failure without a reply). A destination refused by may_connect() is asked
 * again at the next pump. */
struct shaper_ops {
	int	(*may_connect)(void *ctx, const char *domain, unsigned active);
	int	(*may_send)(void *ctx, const char *domain, const char *id);
	void	(*on_result)(void *ctx, const char *domain, int code, int permanent);
	void	*ctx;
};

struct sched *sched_new(const struct sched_limits *lim);
/* sched_free() frees every item and destination. */
void	sched_free(struct sched *s);
void	sched_set_shaper(struct sched *s, const struct shaper_ops *ops);
const struct shaper_ops *sched_shaper(const struct sched *s);

/* sched_add() queues message id for domain (lower-cased copy), due at
 * next_attempt (ms; 0 or past = ready now), or held. Returns the item. */
struct sched_item *sched_add(struct sched *s, const char *id, const char *domain,
	    uint64_t next_attempt, int held, uint64_t now);

/* By message: remove (left the spool), hold, release (ready now), flush
 * (deferred items ready now; id NULL = every message). Items a connection
 * holds (ACTIVE) are marked: removed ones are dropped when they come back,
 * held ones go to HELD. Return the number of items touched. */
size_t	sched_remove_message(struct sched *s, const char *id);
size_t	sched_hold_message(struct sched *s, const char *id);
size_t	sched_release_message(struct sched *s, const char *id, uint64_t now);
size_t	sched_flush(struct sched *s, const char *id, uint64_t now);

/* sched_due() moves every deferred item due at or before now to its ready
 * queue: O(log n) each. sched_next_due() is the earliest next_attempt in the
 * heap, UINT64_MAX when empty. */
size_t	sched_due(struct sched *s, uint64_t now);
uint64_t sched_next_due(const struct sched *s);

/* sched_want_connection() returns a destination that has ready items, room
 * under both connection limits and the shaper's consent, or NULL. The caller
 * then opens a connection and calls sched_conn_open(). Round robin across
 * destinations; O(1) amortised. */
struct sched_dest *sched_want_connection(struct sched *s);
void	sched_conn_open(struct sched *s, struct sched_dest *d);
void	sched_conn_close(struct sched *s, struct sched_dest *d);

/* sched_take() hands the oldest ready item of d to a connection (ACTIVE),
 * or NULL when none is ready. */
struct sched_item *sched_take(struct sched *s, struct sched_dest *d);
/* sched_done() returns an ACTIVE item: retry_at 0 = finished (freed),
 * else deferred until retry_at. A removed item is freed either way, a held
 * one goes to HELD. */
void	sched_done(struct sched *s, struct sched_item *it, uint64_t retry_at);

const char *sched_item_id(const struct sched_item *it);
struct sched_dest *sched_item_dest(const struct sched_item *it);
int	sched_item_removed(const struct sched_item *it);
int	sched_item_held(const struct sched_item *it);
const char *sched_dest_domain(const struct sched_dest *d);
size_t	sched_dest_ready(const struct sched_dest *d);
unsigned sched_dest_active(const struct sched_dest *d);

struct sched_counts {
	size_t	 items, ready, deferred, held, active, dests;
	unsigned connections;
};
void	sched_counts(const struct sched *s, struct sched_counts *out);
/* sched_item_size() is the bytes one queued item costs (struct, hash and
 * heap slots), for the note on memory per queued message. */
size_t	sched_item_size(void);

#endif
