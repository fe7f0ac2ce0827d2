/* suppress_int: what suppress.c (the lists in the daemon) and
 * suppress_auto.c (the event subscriber) share. Private to src/suppress. */
#ifndef HERMOD_SUPPRESS_INT_H
#define HERMOD_SUPPRESS_INT_H
#include "suppress/suppress.h"

#include <pthread.h>

struct ctl_request;
struct suppress_soft_item;

struct suppress_waiter {
	struct ctl_request	*req;
	struct suppress_waiter	*next;
};

struct suppress {
	uv_loop_t		*loop;
	const struct config	*cfg;
	struct store		*st;
	struct suppress_set	*set;		/* the lists: (account, address key) */
	struct suppress_set	*soft;		/* addresses with soft bounces on record */
	/* apply_mu orders this daemon's own changes (store write, then set)
	 * with the journal replay, so the set ends as the journal's last word
	 * for every address. Never taken on the loop thread. */
	pthread_mutex_t		 apply_mu;
	int64_t			 last_seq;	/* journal applied up to here; apply_mu */
	uint64_t		 last_expire;	/* journal pruned at (worker) */

	/* loop thread */
	uv_timer_t		 timer;
	int			 timer_on;
	uv_work_t		 sync_req;
	int			 syncing;
	int			 sync_again;
	struct suppress_waiter	*waiters;	/* ctl requests for the next sync */
	struct suppress_waiter	*running;	/* ctl requests answered by this one */
	int			 stopping;
	int			 metrics_hook;	/* -1: none */
	/* soft bounces waiting to be written in one transaction (loop thread) */
	struct suppress_soft_item *soft_pending;
	size_t			 nsoft, softcap;
};

/* suppress_auto_subscribe() registers the event subscriber (suppress_auto.c). */
void	suppress_auto_subscribe(struct suppress *sp);
/* suppress_auto_flush() writes the soft bounces gathered so far (one
 * transaction on a worker); called every SUPPRESS_POLL_MS and at stop. */
void	suppress_auto_flush(struct suppress *sp);
/* suppress_auto_free() frees what was never flushed (after the loop). */
void	suppress_auto_free(struct suppress *sp);
/* suppress_soft_loaded() is the store walk's callback filling sp->soft. */
void	suppress_soft_loaded(const char *account, const char *address, void *arg);

#endif
