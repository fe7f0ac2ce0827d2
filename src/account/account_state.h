/* account_state: the daemon's view of its accounts' limits and reputation
 * (issue 7), on the loop thread. It holds each account's effective limits
 * (the store's overrides over the config's [limits]), asks the limiter
 * (account_limit.h) at every submission, keeps the rolling rates of the
 * reputation breaker (account_rep.h) from the event pipeline, and pauses
 * and resumes accounts.
 *
 * Where the truth lives: limits and the pause state are in the store
 * (store_account_settings_*), so they survive a restart and the CLI can
 * change them while the daemon runs: the daemon re-reads them every
 * limits.refresh on a worker, and `hermod account set/resume` also tells it
 * at once over the control socket (account_ctl.c). A pause takes effect in
 * memory at once (delivery holds the account's mail before the store write
 * finishes); the write follows on a worker.
 *
 * Paused means: mail is accepted and queued but not delivered (held), until
 * an admin resumes the account; nothing is lost. The delivery engine asks
 * account_state_pause_reason() when it queues an item and is told through
 * the hold hooks when an account is paused or resumed. */
#ifndef HERMOD_ACCOUNT_STATE_H
#define HERMOD_ACCOUNT_STATE_H
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "account/account_limit.h"

struct config;
struct store;
struct account_state;

/* account_state_open() reads every account's settings from st (blocking:
 * call it before the loop runs), registers the event subscriber (so: before
 * events_start()), starts the refresh timer, and queues the read of the
 * reputation window of before the start from the stored events (a worker,
 * once the loop runs). cfg and st must outlive it.
 * 0, or -1 with *err (caller frees). */
int	account_state_open(struct account_state **out, uv_loop_t *loop, const struct config *cfg,
	    struct store *st, char **err);
/* account_state_close() stops the timer and the metrics hook; work in
 * flight still comes back (its callbacks answer "shutting down"), so the
 * loop must run afterwards. account_state_free() frees the state once the
 * loop has finished: sessions closed in that last run may still give
 * recipients back. NULL is a no-op for both. */
void	account_state_close(struct account_state *a);
void	account_state_free(struct account_state *a);

/* account_state_take() asks the limiter for n recipients of account now:
 * 0 when they may go, 1 when refused (*why says which window and how long
 * to wait). account_state_give_back() returns recipients taken for work
 * that did not happen. A NULL or empty account is never limited. */
int	account_state_take(struct account_state *a, const char *account, uint64_t n,
	    struct limiter_refusal *why);
void	account_state_give_back(struct account_state *a, const char *account, uint64_t n);

/* account_state_pause_reason() is NULL when account is not paused, else
 * the reason ("bounce rate 12.0% > 10%"); valid until the next change. */
const char *account_state_pause_reason(struct account_state *a, const char *account);

/* Hooks for the delivery engine: hold() when an account is paused,
 * release() when it is resumed (loop thread). */
struct account_hold_hooks {
	void	(*hold)(void *arg, const char *account);
	void	(*release)(void *arg, const char *account);
	void	*arg;
};
void	account_state_set_hold_hooks(struct account_state *a, const struct account_hold_hooks *h);

/* account_state_json() describes account: name, limits, usage per window,
 * reputation (rates, state, thresholds). The caller decrefs. */
json_t *account_state_json(struct account_state *a, const char *account);

/* account_state_set_limits() applies limits just written to the store
 * (values as store.h: >= 0, STORE_LIMIT_DEFAULT or STORE_LIMIT_KEEP). */
void	account_state_set_limits(struct account_state *a, const char *account, int64_t per_second,
	    int64_t per_hour, int64_t per_day);

/* Asynchronous changes: done(rc, msg, arg) runs on the loop thread, rc 0
 * when done, else msg says why (no such account, not paused, store
 * failure). If a start fails (returns -1) done never fires.
 *
 * account_state_reload() re-reads every account from the store now.
 * account_state_pause() pauses account (an admin's pause, or the breaker's)
 * and emits account_paused. account_state_resume() resumes it, emits
 * account_resumed and releases its held mail; its rolling rates start
 * afresh, so old bounces do not pause it again at once. */
typedef void (*account_state_done)(int rc, const char *msg, void *arg);
int	account_state_reload(struct account_state *a, account_state_done done, void *arg);
int	account_state_pause(struct account_state *a, const char *account, const char *reason,
	    account_state_done done, void *arg);
int	account_state_resume(struct account_state *a, const char *account, account_state_done done,
	    void *arg);

/* account_state_paused_count() is the number of paused accounts (metrics).
 * account_state_foreach() calls fn for every known account. */
size_t	account_state_paused_count(struct account_state *a);
void	account_state_foreach(struct account_state *a,
	    void (*fn)(const char *account, int paused, double bounce_rate, double complaint_rate,
	    void *arg), void *arg);

#endif
