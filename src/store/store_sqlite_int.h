/* store_sqlite_int: what the files of the SQLite backend share: the
 * handle, the cached statements (one table for the whole backend, in
 * store_sqlite.c), the helpers around them, and each area's entry points for
 * the ops table. Private to src/store/; store_sqlite.c's DESIGN block says
 * how the backend works. */
#ifndef HERMOD_STORE_SQLITE_INT_H
#define HERMOD_STORE_SQLITE_INT_H
#include "store/store_backend.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>

/* last_used is refreshed at most this often, so verification stays a read. */
#define STORE_SQLITE_TOUCH_MS		60000
/* slots for the statements of areas with their own SQL (area_stmts) */
#define STORE_SQLITE_AREA_STMTS		32

enum stmt_id {
	S_BEGIN,
	S_COMMIT,
	S_ROLLBACK,
	S_ACCOUNT_INSERT,
	S_ACCOUNT_EXISTS,
	S_ACCOUNT_LIST,
	S_KEY_INSERT,
	S_KEY_BY_HASH,
	S_KEY_TOUCH,
	S_KEY_LIST,
	S_KEY_REVOKE,
	S_DOMAIN_CONFLICT,
	S_DOMAIN_INSERT,
	S_DOMAIN_GET,
	S_DOMAIN_LIST,
	S_DOMAIN_SET_VERIFIED,
	S_DOMAIN_SET_DKIM,
	S_IDEM_GET,
	S_IDEM_PUT,
	S_IDEM_EXPIRE,
	S_COUNT
};

struct sqlite_store {
	pthread_mutex_t	 mu;
	sqlite3		*db;
	sqlite3_stmt	*stmts[S_COUNT];
	/* statements of the areas that keep their SQL in their own file
	 * (store_sqlite_suppress.c), prepared on first use, finalized at close */
	sqlite3_stmt	*area_stmts[STORE_SQLITE_AREA_STMTS];
	int		 version;
	char		*path;
};

/* store_sqlite_fail() sets *err (when err is not NULL) to "store PATH: what:
 * SQLite's message" and returns -1. */
int	store_sqlite_fail(struct sqlite_store *s, char **err, const char *what);
/* store_sqlite_stmt() returns the cached statement id, preparing it on first
 * use; NULL with *err set when SQLite refuses it. Hold s->mu. */
sqlite3_stmt *store_sqlite_stmt(struct sqlite_store *s, enum stmt_id id, char **err);
/* store_sqlite_done() readies a cached statement for its next use. */
void	store_sqlite_done(sqlite3_stmt *st);
/* store_sqlite_exec() runs a cached statement without rows (BEGIN, COMMIT). */
int	store_sqlite_exec(struct sqlite_store *s, enum stmt_id id, char **err);
/* store_sqlite_rollback() ends the open transaction, if any. */
void	store_sqlite_rollback(struct sqlite_store *s);
/* store_sqlite_col_dup() copies a text column (NULL stays NULL). */
char   *store_sqlite_col_dup(sqlite3_stmt *st, int col);
void	store_sqlite_bind_text_or_null(sqlite3_stmt *st, int idx, const char *v);
/* store_sqlite_step_write() runs a prepared insert/update and maps
 * constraint failures: UNIQUE/PRIMARY KEY to STORE_EXISTS, FOREIGN KEY (an
 * unknown account) to STORE_NOTFOUND. *changes gets the rows changed when
 * not NULL. */
int	store_sqlite_step_write(struct sqlite_store *s, sqlite3_stmt *st, const char *what,
	    int *changes, char **err);

/* store_sqlite_tenant.c: accounts, API keys, sending domains. */
int	store_sqlite_account_create(void *impl, const char *name, int64_t now, char **err);
int	store_sqlite_account_exists(void *impl, const char *name, char **err);
int	store_sqlite_account_list(void *impl, struct store_account **out, size_t *n,
	    char **err);
int	store_sqlite_key_create(void *impl, const char *account, const char *scope,
	    const unsigned char *hash, const char *prefix, int64_t now, char **err);
int	store_sqlite_key_verify(void *impl, const unsigned char *hash, int64_t now,
	    char **account, char **scope, char **err);
int	store_sqlite_key_list(void *impl, const char *account, struct store_key **out,
	    size_t *n, char **err);
int	store_sqlite_key_revoke(void *impl, const char *account, int64_t id, int64_t now,
	    char **err);
int	store_sqlite_domain_add(void *impl, const char *account, const char *domain,
	    int64_t now, char **err);
int	store_sqlite_domain_get(void *impl, const char *domain, struct store_domain *out,
	    char **err);
int	store_sqlite_domain_list(void *impl, const char *account,
	    struct store_domain **out, size_t *n, char **err);
int	store_sqlite_domain_set_verified(void *impl, const char *domain, int verified,
	    char **err);
int	store_sqlite_domain_set_dkim(void *impl, const char *domain, const char *selector,
	    const char *algo, char **err);

/* store_sqlite_idem.c: the HTTP API's Idempotency-Key records. */
int	store_sqlite_idem_get(void *impl, const char *account, const char *key,
	    int64_t since, struct store_idem *out, char **err);
int	store_sqlite_idem_put(void *impl, const char *account, const char *key,
	    const unsigned char *hash, int status, const char *answer, int64_t now,
	    int64_t expired_before, char **err);
int	store_sqlite_idem_expire(void *impl, int64_t before, char **err);

/* store_sqlite_events.c: the events, in a database file of their own. */
int	store_sqlite_events_open(void **ev, const char *where, char **err);
void	store_sqlite_events_close(void *ev);
int	store_sqlite_events_insert(void *ev, struct store_event *v, size_t n, char **err);
int	store_sqlite_events_after(void *ev, int64_t after_seq, const char *account,
	    size_t limit, struct store_event **out, size_t *n, char **err);
int	store_sqlite_event_recipient(void *ev, const char *message_id, int rcpt_index,
	    char **account, char **recipient, char **err);
int	store_sqlite_event_find_message(void *ev, const char *header_message_id,
	    char **message_id, char **account, char **err);
int	store_sqlite_event_first_json(void *ev, const char *message_id, char **json, char **err);
int	store_sqlite_events_query(void *ev, const struct store_event_query *q,
	    struct store_event **out, size_t *n, char **err);
int	store_sqlite_events_prune(void *ev, int64_t before, size_t max, size_t *deleted,
	    char **err);
int	store_sqlite_events_stats(void *ev, const char *account, int64_t from, int64_t to,
	    const char *group_by, struct store_event_count **out, size_t *n, char **err);
/* store_sqlite_limits.c: per-account limits and pause state. */
int	store_sqlite_settings_list(void *impl, const char *account,
	    struct store_account_settings **out, size_t *n, char **err);
int	store_sqlite_limits_set(void *impl, const char *account, int64_t per_second,
	    int64_t per_hour, int64_t per_day, int64_t now, char **err);
int	store_sqlite_pause_set(void *impl, const char *account, int paused, const char *reason,
	    int64_t now, char **err);
/* store_sqlite_suppress.c: suppression lists, their journal, soft bounces. */
int	store_sqlite_suppress_add(void *impl, const char *account, const char *address,
	    const char *reason, const char *source, const char *who, int announced, int64_t now,
	    struct store_suppression *out, char **err);
int	store_sqlite_suppress_remove(void *impl, const char *account, const char *address,
	    const char *who, int announced, int64_t now, struct store_suppression *out,
	    char **err);
int	store_sqlite_suppress_get(void *impl, const char *account, const char *address,
	    struct store_suppression *out, char **err);
int	store_sqlite_suppress_list(void *impl, const char *account, const char *reason,
	    int64_t after, size_t limit, struct store_suppression **out, size_t *n, char **err);
int	store_sqlite_suppress_each(void *impl, void (*fn)(const char *account,
	    const char *address, void *arg), void *arg, int64_t *last_seq, char **err);
int	store_sqlite_suppress_changes(void *impl, int64_t after, int unannounced_only,
	    size_t limit, struct store_suppress_change **out, size_t *n, char **err);
int	store_sqlite_suppress_announce(void *impl, int64_t seq, char **err);
int	store_sqlite_suppress_changes_expire(void *impl, int64_t before, char **err);
int	store_sqlite_suppress_soft(void *impl, struct store_soft_bounce *v, size_t n,
	    int64_t now, int64_t gap_ms, char **err);
int	store_sqlite_suppress_soft_clear(void *impl, const char *account, const char *address,
	    char **err);
int	store_sqlite_suppress_soft_each(void *impl, void (*fn)(const char *account,
	    const char *address, void *arg), void *arg, char **err);

/* store_sqlite_webhooks.c: webhook subscriptions and their pending events. */
int	store_sqlite_webhook_create(void *impl, const struct store_webhook *w, size_t max,
	    int64_t now, char **err);
int	store_sqlite_webhook_list(void *impl, const char *account, int with_secrets,
	    struct store_webhook **out, size_t *n, char **err);
int	store_sqlite_webhook_delete(void *impl, const char *account, const char *id, char **err);
int	store_sqlite_webhook_set_cursor(void *impl, const char *id, int64_t cursor, char **err);
int	store_sqlite_webhook_disable(void *impl, const char *id, const char *reason, int64_t now,
	    char **err);
int	store_sqlite_webhook_pending_add(void *impl, const struct store_webhook_pending *p,
	    char **err);
int	store_sqlite_webhook_pending_due(void *impl, int64_t now, size_t limit,
	    struct store_webhook_pending **out, size_t *n, int64_t *next_due, char **err);
int	store_sqlite_webhook_pending_retry(void *impl, const char *webhook, int64_t seq,
	    int attempts, int64_t next_attempt, char **err);
int	store_sqlite_webhook_pending_done(void *impl, const char *webhook, int64_t seq,
	    char **err);
int	store_sqlite_webhook_pending_blocked(void *impl, const char *webhook,
	    const char *message_id, char **err);
int	store_sqlite_webhook_pending_wake(void *impl, const char *webhook, int64_t now,
	    char **err);

#endif
