/* suppress: the accounts' suppression lists (SPEC.md, issue 6). An address
 * on its account's list is never sent to: the HTTP API drops it from a
 * message (answer "dropped", reason "suppressed"), SMTP submission refuses
 * its RCPT with 550 5.7.1, and delivery drops a recipient queued before the
 * address was suppressed. Hard bounces, complaints and unsubscribes put an
 * address on the list by themselves; soft bounces do only when they keep
 * coming for suppressions.soft_bounce_span (docs/suppressions.md).
 *
 * Three layers:
 *   suppress_addr_*  the pure address normalisation (the key of the list);
 *   suppress_set_*   a thread-safe in-memory hash set of (account, address),
 *                    what the senders ask, so no send path touches SQLite;
 *   suppress_*       the daemon's part: the set loaded from the store,
 *                    changes written through, the CLI's changes picked up,
 *                    the event subscriber that suppresses automatically.
 *
 * The store (store.h store_suppress_*) is the truth; the set is a cache of
 * it that may lag by at most SUPPRESS_POLL_MS behind another process's
 * change (the CLI pokes the daemon, so its changes apply before it exits). */
#ifndef HERMOD_SUPPRESS_H
#define HERMOD_SUPPRESS_H
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

struct config;
struct store;
struct ctl;

/* How often the daemon looks for changes made by other processes. */
#define SUPPRESS_POLL_MS	1000

/* ---- addresses (suppress_addr.c, pure) ---- */

/* suppress_addr_normalize() turns an address as a user or a message gave it
 * into the form the list keeps: surrounding spaces and one pair of angle
 * brackets removed, the domain lower-cased and converted to its IDNA
 * A-label (auth_domain_normalize), the local part kept as given (RFC 5321
 * says only the receiving host may interpret it). Returns the new string, or
 * NULL with *why set to a sentence (static; why may be NULL) when it is not
 * a usable address: no '@', an empty or over-long (64 octets) local part,
 * control characters or spaces outside quotes, an invalid domain, an
 * address literal. */
char   *suppress_addr_normalize(const char *addr, const char **why);

/* suppress_addr_key() is the matching key of a normalised address: the
 * local part with ASCII letters lower-cased (matching is case-insensitive:
 * almost every receiver treats the local part so, and a suppression that
 * misses "Bob@" because "bob@" bounced would defeat its purpose), '@', the
 * domain. Returns a new string. */
char   *suppress_addr_key(const char *normalized);

/* ---- the set (suppress_set.c) ---- */

struct suppress_set;

/* suppress_set_new() makes an empty set. Every function is thread safe:
 * readers share a read lock, so the loop thread's lookups never wait for
 * SQLite, only (briefly) for another thread's insert. */
struct suppress_set *suppress_set_new(void);
void	suppress_set_free(struct suppress_set *s);
/* suppress_set_add() adds (account, key): 1 added, 0 was there already.
 * suppress_set_remove(): 1 removed, 0 was not there. key is a
 * suppress_addr_key() result. */
int	suppress_set_add(struct suppress_set *s, const char *account, const char *key);
int	suppress_set_remove(struct suppress_set *s, const char *account, const char *key);
/* suppress_set_has() tells whether (account, key) is in the set. */
int	suppress_set_has(struct suppress_set *s, const char *account, const char *key);
size_t	suppress_set_count(struct suppress_set *s);
/* suppress_set_bytes() is the memory the set holds (entries, their keys and
 * the bucket array; malloc's own overhead not counted). */
size_t	suppress_set_bytes(struct suppress_set *s);
/* suppress_set_clear() empties the set. */
void	suppress_set_clear(struct suppress_set *s);

/* ---- the daemon's lists (suppress.c, suppress_auto.c) ---- */

struct suppress;

/* suppress_start() loads every account's list from st into memory
 * (blocking: call it before the loop runs), starts the poll for other
 * processes' changes and subscribes to events (call it before
 * events_start()). cfg and st must outlive it. 0, or -1 with *err. */
int	suppress_start(uv_loop_t *loop, const struct config *cfg, struct store *st,
	    struct suppress **out, char **err);
/* suppress_register_ctl() adds the control command "suppress.sync", with
 * which the CLI makes the daemon apply its change before the CLI exits. */
void	suppress_register_ctl(struct suppress *sp, struct ctl *ctl);
/* suppress_stop() stops the poll (the loop must run afterwards for its
 * handle to close); work in flight finishes. suppress_free() frees, after
 * the loop has finished. */
void	suppress_stop(struct suppress *sp);
void	suppress_free(struct suppress *sp);

/* suppress_check() tells whether addr (any case, U-label or A-label domain)
 * is on account's list: 1 yes, 0 no (also for an address that cannot be
 * normalised: then nothing can match it). Memory only: safe on the loop
 * thread and on workers. sp NULL: 0. */
int	suppress_check(struct suppress *sp, const char *account, const char *addr);

/* suppress_add() puts addr on account's list and records it (the store, the
 * set, a suppression_added event with reason and who: "api", "cli", "auto").
 * Blocks on the store: a worker thread only. Returns 0 (added), STORE_EXISTS
 * (already there; nothing changed), STORE_NOTFOUND (no such account), -1
 * with *err (an invalid address or reason, or the store failed). */
int	suppress_add(struct suppress *sp, const char *account, const char *addr,
	    const char *reason, const char *source, const char *who, char **err);
/* suppress_remove() takes addr off the list (a suppression_removed event):
 * 0, STORE_NOTFOUND (not on the list), -1 with *err. Worker thread only. */
int	suppress_remove(struct suppress *sp, const char *account, const char *addr,
	    const char *who, char **err);

/* suppress_drop_event() emits the `dropped` event (reason "suppressed") of
 * a recipient that a send path dropped. Any thread. */
void	suppress_drop_event(const char *account, const char *message_id,
	    const char *header_message_id, const char *recipient, int rcpt_index,
	    const char *meta_json);

/* suppress_reason_valid() accepts "hard_bounce", "soft_bounce",
 * "complaint", "unsubscribe", "manual". */
int	suppress_reason_valid(const char *reason);

#endif
