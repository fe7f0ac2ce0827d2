/* store_backend: the table a store backend fills in (STYLE: the queue sits
 * behind a backend table; so does the store). store.c checks and normalises
 * arguments, then calls through these; a backend sees only valid names,
 * normalised domains and key hashes, never a key secret. Private to
 * src/store/. Return conventions are those of store.h. */
#ifndef HERMOD_STORE_BACKEND_H
#define HERMOD_STORE_BACKEND_H
#include "store/store.h"

struct store_ops {
	const char *name;
	/* open() gets what follows the URL scheme (for SQLite, the path). */
	int	(*open)(void **impl, const char *where, char **err);
	void	(*close)(void *impl);
	int	(*schema_version)(void *impl);

	int	(*account_create)(void *impl, const char *name, int64_t now, char **err);
	int	(*account_exists)(void *impl, const char *name, char **err);
	int	(*account_list)(void *impl, struct store_account **out, size_t *n, char **err);

	/* key_create() inserts the hash; STORE_NOTFOUND if the account is unknown,
	 * STORE_EXISTS if the hash exists (never in practice: 256 random bits). */
	int	(*key_create)(void *impl, const char *account, const char *scope,
		    const unsigned char *hash, const char *prefix, int64_t now, char **err);
	/* key_verify() finds an active key by hash; the backend compares the
	 * stored hash with auth_key_hash_equal() before answering. */
	int	(*key_verify)(void *impl, const unsigned char *hash, int64_t now, char **account,
		    char **scope, char **err);
	int	(*key_list)(void *impl, const char *account, struct store_key **out, size_t *n,
		    char **err);
	int	(*key_revoke)(void *impl, const char *account, int64_t id, int64_t now, char **err);

	int	(*domain_add)(void *impl, const char *account, const char *domain, int64_t now,
		    char **err);
	int	(*domain_get)(void *impl, const char *domain, struct store_domain *out, char **err);
	int	(*domain_list)(void *impl, const char *account, struct store_domain **out,
		    size_t *n, char **err);
	int	(*domain_set_verified)(void *impl, const char *domain, int verified, char **err);
	int	(*domain_set_dkim)(void *impl, const char *domain, const char *selector,
		    const char *algo, char **err);

	/* Idempotency-Key records (store.h store_idem_*). idem_put() keeps an
	 * existing record unless it was created before expired_before. */
	int	(*idem_get)(void *impl, const char *account, const char *key, int64_t since,
		    struct store_idem *out, char **err);
	int	(*idem_put)(void *impl, const char *account, const char *key,
		    const unsigned char *hash, int status, const char *answer, int64_t now,
		    int64_t expired_before, char **err);
	int	(*idem_expire)(void *impl, int64_t before, char **err);
	/* Events: a database of their own (store.h), opened by events_open()
	 * with the same where as open(), closed before close(). The other
	 * events_* get that handle, not impl. */
	int	(*events_open)(void **ev, const char *where, char **err);
	void	(*events_close)(void *ev);
	int	(*events_insert)(void *ev, struct store_event *v, size_t n, char **err);
	int	(*events_after)(void *ev, int64_t after_seq, const char *account, size_t limit,
		    struct store_event **out, size_t *n, char **err);
	int	(*event_recipient)(void *ev, const char *message_id, int rcpt_index,
		    char **account, char **recipient, char **err);
	int	(*event_find_message)(void *ev, const char *header_message_id,
		    char **message_id, char **account, char **err);
	int	(*event_first_json)(void *ev, const char *message_id, char **json, char **err);
	int	(*events_query)(void *ev, const struct store_event_query *q,
		    struct store_event **out, size_t *n, char **err);
	int	(*events_prune)(void *ev, int64_t before, size_t max, size_t *deleted, char **err);
	int	(*events_stats)(void *ev, const char *account, int64_t from, int64_t to,
		    const char *group_by, struct store_event_count **out, size_t *n, char **err);

	/* Per-account settings (store.h store_account_settings_*); account
	 * NULL lists every account. */
	int	(*settings_list)(void *impl, const char *account,
		    struct store_account_settings **out, size_t *n, char **err);
	int	(*limits_set)(void *impl, const char *account, int64_t per_second,
		    int64_t per_hour, int64_t per_day, int64_t now, char **err);
	int	(*pause_set)(void *impl, const char *account, int paused, const char *reason,
		    int64_t now, char **err);
	/* Suppression lists (store.h store_suppress_*): addresses normalised,
	 * reasons checked by store.c. */
	int	(*suppress_add)(void *impl, const char *account, const char *address,
		    const char *reason, const char *source, const char *who, int announced,
		    int64_t now, struct store_suppression *out, char **err);
	int	(*suppress_remove)(void *impl, const char *account, const char *address,
		    const char *who, int announced, int64_t now, struct store_suppression *out,
		    char **err);
	int	(*suppress_get)(void *impl, const char *account, const char *address,
		    struct store_suppression *out, char **err);
	int	(*suppress_list)(void *impl, const char *account, const char *reason,
		    int64_t after, size_t limit, struct store_suppression **out, size_t *n,
		    char **err);
	int	(*suppress_each)(void *impl, void (*fn)(const char *account,
		    const char *address, void *arg), void *arg, int64_t *last_seq, char **err);
	int	(*suppress_changes)(void *impl, int64_t after, int unannounced_only, size_t limit,
		    struct store_suppress_change **out, size_t *n, char **err);
	int	(*suppress_announce)(void *impl, int64_t seq, char **err);
	int	(*suppress_changes_expire)(void *impl, int64_t before, char **err);
	/* suppress_soft() records v[i] for each i with v[i].rc == 0 (addresses
	 * normalised), in one transaction. */
	int	(*suppress_soft)(void *impl, struct store_soft_bounce *v, size_t n, int64_t now,
		    int64_t gap_ms, char **err);
	int	(*suppress_soft_clear)(void *impl, const char *account, const char *address,
		    char **err);
	int	(*suppress_soft_each)(void *impl, void (*fn)(const char *account,
		    const char *address, void *arg), void *arg, char **err);
	/* Webhook subscriptions and their pending events (store.h
	 * store_webhook_*); store.c has checked the account and the id. */
	int	(*webhook_create)(void *impl, const struct store_webhook *w, size_t max,
		    int64_t now, char **err);
	int	(*webhook_list)(void *impl, const char *account, int with_secrets,
		    struct store_webhook **out, size_t *n, char **err);
	int	(*webhook_delete)(void *impl, const char *account, const char *id, char **err);
	int	(*webhook_set_cursor)(void *impl, const char *id, int64_t cursor, char **err);
	int	(*webhook_disable)(void *impl, const char *id, const char *reason, int64_t now,
		    char **err);
	int	(*webhook_pending_add)(void *impl, const struct store_webhook_pending *p,
		    char **err);
	int	(*webhook_pending_due)(void *impl, int64_t now, size_t limit,
		    struct store_webhook_pending **out, size_t *n, int64_t *next_due, char **err);
	int	(*webhook_pending_retry)(void *impl, const char *webhook, int64_t seq,
		    int attempts, int64_t next_attempt, char **err);
	int	(*webhook_pending_done)(void *impl, const char *webhook, int64_t seq, char **err);
	int	(*webhook_pending_blocked)(void *impl, const char *webhook, const char *message_id,
		    char **err);
	int	(*webhook_pending_wake)(void *impl, const char *webhook, int64_t now, char **err);
};

extern const struct store_ops store_sqlite_ops;

#endif
