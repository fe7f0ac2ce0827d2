/* sched: the delivery scheduler's data structure. Pure bookkeeping, no I/O
 * and no clock of its own: the delivery engine (deliver/deliver.c) feeds it
 * from the spool, asks it what to do next, and tells it what happened.
 *
 * An item is one (message, destination) pair: the recipients of one message
 * at one domain travel together. Destinations are recipient domains: a
 * connection speaks to one domain's MX. Grouping by MX provider happens in
 * the shaper (src/shape), which keeps its limits, rates and suspensions
 * under the provider once the domain's MX is known, and parks every domain
 * of a provider that must wait. */
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

/* The traffic-shaping seam (src/shape implements it); every hook may be
 * NULL (= allow). Times are ms, as time_now_ms().
 *
 * connect_wait() is asked before a new connection to a destination opens
 * (active = open connections there now): 0 lets it open (and counts it:
 * the engine calls conn_closed() once the connection is really gone, after
 * its QUIT), else it is the time before which
 * asking again is pointless; the scheduler parks the destination until
 * then (O(log n), so refused destinations cost nothing per decision).
 * send_wait() is asked before each message is handed to a connection:
 * SHAPER_GO, SHAPER_WAIT_DEST (the destination must wait until *until: the
 * message goes back to the head of its queue, not an attempt; a session may
 * stay open and pace itself), SHAPER_SUSPENDED (the same, but the session
 * closes: the receiver asked us to go away) or
 * SHAPER_WAIT_ITEM (this message alone waits until *until, e.g. a warm-up
 * cap; not an attempt either). on_result() sees each recipient outcome (code
 * 0 for a local failure without a reply). max_messages() caps the messages
 * of one connection (0 = no cap of the shaper's). */
enum shaper_verdict {
	SHAPER_GO,
	SHAPER_WAIT_DEST,
	SHAPER_SUSPENDED,
	SHAPER_WAIT_ITEM,
};

struct shaper_reply {
	int		 code;		/* 0: local failure */
	const char	*enhanced;	/* "" when none */
	const char	*text;
	const char	*mx;		/* the host that answered, or NULL */
	int		 permanent;	/* the recipient bounced */
};

struct shaper_ops {
	uint64_t (*connect_wait)(void *ctx, const char *domain, unsigned active, uint64_t now);
	enum shaper_verdict (*send_wait)(void *ctx, const char *domain, const char *id, uint64_t now,
	    uint64_t *until);
	void	(*on_result)(void *ctx, const char *domain, const struct shaper_reply *r, uint64_t now);
	void	(*conn_closed)(void *ctx, const char *domain);
	unsigned (*max_messages)(void *ctx, const char *domain);
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
 * queue, and unparks the destinations whose park time has come: O(log n)
 * each. sched_next_due() is the earliest of both, UINT64_MAX when none. */
size_t	sched_due(struct sched *s, uint64_t now);
uint64_t sched_next_due(const struct sched *s);

/* sched_want_connection() returns a destination that has ready items, room
 * under both connection limits and the shaper's consent (connect_wait), or
 * NULL. The caller then opens a connection and calls sched_conn_open().
 * Round robin across destinations; a destination the shaper refuses is
 * parked until the time it gave. O(1) amortised plus O(log n) a refusal. */
struct sched_dest *sched_want_connection(struct sched *s, uint64_t now);
/* sched_wanting() tells whether some unparked destination wants a
 * connection now (O(1)). */
int	sched_wanting(const struct sched *s);
void	sched_conn_open(struct sched *s, struct sched_dest *d);
void	sched_conn_close(struct sched *s, struct sched_dest *d);

/* sched_park() keeps d from getting new connections until `until` (a later
 * time only extends it); sched_unpark() ends a park now (the shaper learnt
 * something, e.g. the domain's provider). sched_dest_find() is the
 * destination of domain, or NULL. sched_dest_parked() is its park time or 0. */
void	sched_park(struct sched *s, struct sched_dest *d, uint64_t until);
void	sched_unpark(struct sched *s, struct sched_dest *d);
struct sched_dest *sched_dest_find(struct sched *s, const char *domain);
uint64_t sched_dest_parked(const struct sched_dest *d);

/* sched_take() hands the oldest ready item of d to a connection (ACTIVE),
 * or NULL when none is ready. */
struct sched_item *sched_take(struct sched *s, struct sched_dest *d);
/* sched_return() puts an ACTIVE item back at the head of its queue, as if
 * never taken (the shaper made the destination wait). */
void	sched_return(struct sched *s, struct sched_item *it);
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
	size_t	 items, ready, deferred, held, active, dests, parked;
	unsigned connections;
};
void	sched_counts(const struct sched *s, struct sched_counts *out);
/* sched_item_size() is the bytes one queued item costs (struct, hash and
 * heap slots), for the note on memory per queued message. */
size_t	sched_item_size(void);

#endif
