/* store: the metadata store (accounts, API keys, domains; later events,
 * suppressions, webhooks). SQLite by default (WAL, synchronous=FULL);
 * PostgreSQL behind the same functions when one node is not enough.
 *
 * Every function blocks on the database: call them from the CLI or from a
 * worker thread (uv_queue_work), never on the loop thread. A store handle is
 * safe to share between threads (calls are serialised inside). Functions
 * return 0 on success, STORE_NOTFOUND, STORE_EXISTS, or -1 with *err set when
 * err is not NULL (caller frees). *err is only ever set on -1.
 *
 * Times are milliseconds since the epoch. Names are validated here too (not
 * only in the CLI), so a bad name is -1 with a sentence in *err whoever the
 * caller is. */
#ifndef HERMOD_STORE_H
#define HERMOD_STORE_H
#include <stddef.h>
#include <stdint.h>

#define STORE_NOTFOUND	1
#define STORE_EXISTS	2

struct store;

/* store_open() opens (creating, then migrating the schema of) the store at
 * url: "sqlite:PATH" (the file is created mode 0600; its directory must
 * exist) or "sqlite::memory:" for tests. "postgres://..." is recognised and
 * refused for now. store_close(NULL) is a no-op. */
int	store_open(struct store **out, const char *url, char **err);
void	store_close(struct store *st);
/* store_schema_version() is the schema version the open store is at. */
int	store_schema_version(struct store *st);

/* Accounts. store_account_create(): -1 for an invalid name (1-64 of
 * [a-z0-9._-]), STORE_EXISTS if taken. store_account_exists(): 0 if it
 * exists, STORE_NOTFOUND if not. */
int	store_account_create(struct store *st, const char *name, char **err);
int	store_account_exists(struct store *st, const char *name, char **err);

struct store_account {
	char	*name;
	int64_t	 created;
};
/* store_account_list() returns every account, by name; free the array with
 * store_account_list_free(). */
int	store_account_list(struct store *st, struct store_account **out, size_t *n, char **err);
void	store_account_list_free(struct store_account *v, size_t n);

/* store_key_create() makes a random 256-bit API key for account with scope
 * "send" or "admin"; *secret gets the printable key (shown once, never
 * stored: only its SHA-256 is). STORE_NOTFOUND if the account does not exist.
 * The caller should wipe the secret (auth_wipe) before freeing it. */
int	store_key_create(struct store *st, const char *account, const char *scope,
	    char **secret, char **err);
/* store_key_verify() finds the key whose hash matches secret (compared in
 * constant time) and returns its account and scope (caller frees).
 * STORE_NOTFOUND for an unknown, revoked or malformed key. The caller checks
 * the scope (auth_scope_allows). Records when the key was last used (at most
 * once a minute, so a busy key does not turn every check into a write). */
int	store_key_verify(struct store *st, const char *secret, char **account, char **scope,
	    char **err);

struct store_key {
	int64_t	 id;
	char	*account;
	char	*scope;
	char	*prefix;	/* the first AUTH_KEY_SHOW_LEN characters of the key */
	int64_t	 created;
	int64_t	 last_used;	/* 0: never */
	int64_t	 revoked;	/* 0: active */
};
/* store_key_list() returns the account's keys (never secrets: prefixes),
 * oldest first; account NULL lists all. Free with store_key_list_free(). */
int	store_key_list(struct store *st, const char *account, struct store_key **out, size_t *n,
	    char **err);
void	store_key_list_free(struct store_key *v, size_t n);
/* store_key_revoke() revokes the account's key id: it no longer verifies.
 * STORE_NOTFOUND if the account has no such active key. */
int	store_key_revoke(struct store *st, const char *account, int64_t id, char **err);

/* store_domain_add() registers domain (normalized here: lower-cased, IDNA
 * A-label; -1 if it is not a valid domain) for account. STORE_NOTFOUND if
 * the account does not exist; STORE_EXISTS if the domain is registered
 * already (to this or another account: store_domain_owner() tells which), or
 * if another account owns a parent or a subdomain of it (an account may send
 * from subdomains of its domains, so such overlaps would let one tenant send
 * as another). */
int	store_domain_add(struct store *st, const char *account, const char *domain, char **err);
/* store_domain_owner() returns the account that registered domain, and
 * whether its DNS is verified. Either out pointer may be NULL. */
int	store_domain_owner(struct store *st, const char *domain, char **account, int *verified,
	    char **err);
/* store_domain_list() returns the account's domains (NULL-ended array,
 * caller frees with store_strv_free); account NULL lists all. */
int	store_domain_list(struct store *st, const char *account, char ***domains, char **err);
int	store_domain_set_verified(struct store *st, const char *domain, int verified, char **err);
void	store_strv_free(char **v);

struct store_domain {
	char	*domain;
	char	*account;
	int64_t	 created;
	int	 verified;
	char	*dkim_selector;	/* NULL until the DKIM work sets them */
	char	*dkim_algo;	/* "rsa", "ed25519" or "rsa+ed25519" */
};
/* store_domain_get() fills *out with domain's registration (free with
 * store_domain_free), STORE_NOTFOUND if none. */
int	store_domain_get(struct store *st, const char *domain, struct store_domain *out,
	    char **err);
void	store_domain_free(struct store_domain *d);
/* store_domain_list_info() is store_domain_list() with every column, by
 * domain; free with store_domain_list_info_free(). */
int	store_domain_list_info(struct store *st, const char *account, struct store_domain **out,
	    size_t *n, char **err);
void	store_domain_list_info_free(struct store_domain *v, size_t n);
/* store_domain_set_dkim() records the selector and algorithm of domain's
 * signing key (reserved for the DKIM work). STORE_NOTFOUND if not registered. */
int	store_domain_set_dkim(struct store *st, const char *domain, const char *selector,
	    const char *algo, char **err);

/* Idempotency-Key records for the HTTP API: the first answer to a keyed
 * request, so a repeat within a day gets it again, even after a restart.
 * key is the caller's ("route\x1fclient key"); hash identifies the request
 * body. Times are ms since the epoch. */
#define STORE_IDEM_HASH_LEN	16
struct store_idem {
	unsigned char	 hash[STORE_IDEM_HASH_LEN];
	int		 status;	/* the HTTP status answered */
	char		*answer;	/* the JSON body answered */
	int64_t		 created;
};
/* store_idem_get() finds the record for (account, key) created at or after
 * since: 0, STORE_NOTFOUND. Free out with store_idem_free(). */
int	store_idem_get(struct store *st, const char *account, const char *key, int64_t since,
	    struct store_idem *out, char **err);
/* store_idem_put() records the answer unless a record younger than ttl_ms
 * exists (the first answer wins). */
int	store_idem_put(struct store *st, const char *account, const char *key,
	    const unsigned char hash[STORE_IDEM_HASH_LEN], int status, const char *answer,
	    int64_t ttl_ms, char **err);
/* store_idem_expire() deletes the records created before before. */
int	store_idem_expire(struct store *st, int64_t before, char **err);
void	store_idem_free(struct store_idem *r);

/* Events (src/events writes them; the HTTP API, webhooks and feedback read
 * them). They live in a second database beside the store (for sqlite:PATH,
 * PATH without ".db" plus "-events.db"), so the event writer's transactions
 * never hold the store's lock against API key checks; see
 * store_sqlite_events.c. seq is the store's order: increasing, never reused
 * (not even after retention deleted everything), the cursor of queries. */
struct store_event {
	int64_t	 seq;
	char	*id;
	char	*type;		/* wire name: "queued", "bounced", ... */
	int64_t	 time;		/* ms since the epoch */
	char	*account;
	char	*message_id;	/* hermod's id (queue id) */
	char	*header_message_id; /* the Message-ID header, without <> */
	char	*recipient;
	int	 rcpt_index;	/* -1: none */
	char	*json;		/* the whole event, SPEC.md's shape */
};
/* store_events_insert() inserts v[0..n) in one transaction and sets each
 * v[i].seq (the strings are only read). id, type and json are required. */
int	store_events_insert(struct store *st, struct store_event *v, size_t n, char **err);
/* store_events_after() returns up to limit events with seq > after_seq, in
 * seq order, of account (NULL: every account). Free with store_events_free(). */
int	store_events_after(struct store *st, int64_t after_seq, const char *account,
	    size_t limit, struct store_event **out, size_t *n, char **err);
/* store_event_recipient() finds the account and recipient of a message's
 * recipient rcpt_index from its events (e.g. for a bounce that arrives after
 * the message left the spool): 0, or STORE_NOTFOUND. Caller frees. */
int	store_event_recipient(struct store *st, const char *message_id, int rcpt_index,
	    char **account, char **recipient, char **err);
/* store_event_find_message() finds hermod's id and the account of the
 * message whose Message-ID header (without <>) is header_message_id. */
int	store_event_find_message(struct store *st, const char *header_message_id,
	    char **message_id, char **account, char **err);
/* store_event_first_json() returns the JSON of message_id's first stored
 * event (its `queued` event, with the tags and metadata the sender gave), so
 * a late bounce or complaint carries them too: 0, or STORE_NOTFOUND. */
int	store_event_first_json(struct store *st, const char *message_id, char **json,
	    char **err);
void	store_events_free(struct store_event *v, size_t n);

/* store_events_query() is the query of GET /v1/events: events of q->account
 * (required) matching every filter given, in seq order. With after_seq >= 0
 * it returns the first limit events after that seq; with since_time >= 0
 * (and after_seq < 0) the first limit events at or after that time; with
 * neither, the last limit events (still oldest first). */
struct store_event_query {
	const char	*account;
	const char	*type;		/* NULL: any */
	const char	*recipient;	/* NULL: any */
	const char	*message_id;	/* hermod's id; NULL: any */
	const char	*header_message_id; /* NULL: any */
	int64_t		 after_seq;	/* -1: unset */
	int64_t		 since_time;	/* ms; -1: unset */
	size_t		 limit;		/* 1..STORE_EVENTS_MAX */
};
#define STORE_EVENTS_MAX	1000
int	store_events_query(struct store *st, const struct store_event_query *q,
	    struct store_event **out, size_t *n, char **err);
/* store_events_prune() deletes up to max of the oldest events older than
 * before (retention) and says how many in *deleted; bounded so the writer
 * never stalls behind one huge delete. */
int	store_events_prune(struct store *st, int64_t before, size_t max, size_t *deleted,
	    char **err);
/* store_events_stats() counts account's events in [from, to) by type, and
 * by group: NULL (one group, key ""), "day" (UTC, YYYY-MM-DD), "domain" (the
 * recipient's domain, lower case) or "tag" (one count per tag of the event;
 * events without tags are not counted). Rows come ordered by key, then type.
 * Free with store_event_counts_free(). */
struct store_event_count {
	char	*key;
	char	*type;
	int64_t	 count;
};
int	store_events_stats(struct store *st, const char *account, int64_t from, int64_t to,
	    const char *group_by, struct store_event_count **out, size_t *n, char **err);
void	store_event_counts_free(struct store_event_count *v, size_t n);
/* Per-account settings (src/account): limits that override the config's
 * [limits] defaults, and the reputation breaker's pause, which must survive
 * a restart. A limit is recipients per window, 0 = unlimited,
 * STORE_LIMIT_DEFAULT = the config's default. */
#define STORE_LIMIT_DEFAULT	(-1)
#define STORE_LIMIT_KEEP	(-2)	/* store_account_limits_set(): leave as is */
struct store_account_settings {
	char	*account;
	int64_t	 per_second, per_hour, per_day;
	int	 paused;
	char	*pause_reason;	/* NULL when not paused */
	int64_t	 paused_at;	/* ms; 0 when not paused */
};
/* store_account_settings_get() fills *out for account (defaults and not
 * paused when nothing was ever set; free with store_account_settings_clear);
 * STORE_NOTFOUND if no such account. store_account_settings_list() does so
 * for every account, by name; free with store_account_settings_free(). */
int	store_account_settings_get(struct store *st, const char *account,
	    struct store_account_settings *out, char **err);
int	store_account_settings_list(struct store *st, struct store_account_settings **out,
	    size_t *n, char **err);
void	store_account_settings_free(struct store_account_settings *v, size_t n);
void	store_account_settings_clear(struct store_account_settings *s);
/* store_account_limits_set() sets the account's limits (each >= 0,
 * STORE_LIMIT_DEFAULT or STORE_LIMIT_KEEP). STORE_NOTFOUND if no such
 * account; -1 for a value out of range. */
int	store_account_limits_set(struct store *st, const char *account, int64_t per_second,
	    int64_t per_hour, int64_t per_day, char **err);
/* store_account_pause_set() records that account is paused (with the
 * reason people read, e.g. "bounce rate 12.0% > 10%") or resumed (paused 0,
 * reason ignored). STORE_NOTFOUND if no such account. */
int	store_account_pause_set(struct store *st, const char *account, int paused,
	    const char *reason, char **err);
/* Suppression lists (src/suppress; docs/suppressions.md). An address is
 * kept normalised (suppress_addr_normalize: domain lower-case A-label, local
 * part as given) and matched case-insensitively (ASCII), one row per
 * (account, address). reason is one of "hard_bounce", "soft_bounce",
 * "complaint", "unsubscribe", "manual"; source names what caused it (a
 * message or event id; may be NULL); who is "api", "cli" or "auto".
 *
 * Every change also appends to a journal (suppression_changes), in the same
 * transaction: the daemon reads it to follow changes other processes make.
 * A change whose who is "cli" is announced (its audit event emitted) by the
 * daemon; the other callers emit their events themselves. */
struct store_suppression {
	int64_t	 id;		/* the list's order: the paging cursor */
	char	*account;
	char	*address;
	char	*reason;
	char	*source;	/* NULL: none */
	char	*who;
	int64_t	 created;
};
/* store_suppress_add() puts address on account's list. 0 added, STORE_EXISTS
 * (already listed: *out, when not NULL, gets the existing row),
 * STORE_NOTFOUND (no such account), -1 with *err for an invalid address or
 * reason. out may be NULL; free it with store_suppression_free(). */
int	store_suppress_add(struct store *st, const char *account, const char *address,
	    const char *reason, const char *source, const char *who,
	    struct store_suppression *out, char **err);
/* store_suppress_remove() takes address off the list (and forgets its soft
 * bounces): 0, or STORE_NOTFOUND; *out (may be NULL) gets the removed row. */
int	store_suppress_remove(struct store *st, const char *account, const char *address,
	    const char *who, struct store_suppression *out, char **err);
/* store_suppress_get(): 0 and *out, or STORE_NOTFOUND. */
int	store_suppress_get(struct store *st, const char *account, const char *address,
	    struct store_suppression *out, char **err);
/* store_suppress_list() returns up to limit rows of account's list with an
 * id above after, oldest first; reason NULL: every reason. */
int	store_suppress_list(struct store *st, const char *account, const char *reason,
	    int64_t after, size_t limit, struct store_suppression **out, size_t *n, char **err);
void	store_suppression_free(struct store_suppression *s);
void	store_suppression_list_free(struct store_suppression *v, size_t n);
/* store_suppress_each() calls fn for every suppression of every account (in
 * one read transaction) and sets *last_seq to the journal's position at that
 * moment, so a reader that loaded the list then follows the journal from
 * there misses nothing. fn returns 0 to go on. */
int	store_suppress_each(struct store *st, void (*fn)(const char *account,
	    const char *address, void *arg), void *arg, int64_t *last_seq, char **err);

struct store_suppress_change {
	int64_t	 seq;
	int	 add;		/* 1 added, 0 removed */
	char	*account;
	char	*address;
	char	*reason;
	char	*source;
	char	*who;
	int64_t	 time;
	int	 announced;
};
/* store_suppress_changes() returns up to limit journal entries with a seq
 * above after (unannounced_only: only those not announced yet, any seq), in
 * seq order. */
int	store_suppress_changes(struct store *st, int64_t after, int unannounced_only,
	    size_t limit, struct store_suppress_change **out, size_t *n, char **err);
void	store_suppress_changes_free(struct store_suppress_change *v, size_t n);
/* store_suppress_announce() marks the entry seq announced. */
int	store_suppress_announce(struct store *st, int64_t seq, char **err);
/* store_suppress_changes_expire() deletes announced entries older than before. */
int	store_suppress_changes_expire(struct store *st, int64_t before, char **err);

/* Soft bounces: store_suppress_soft() records one for (account, address)
 * at now: a record whose last bounce is older than gap_ms starts over.
 * *count and *first get the record after the update. */
int	store_suppress_soft(struct store *st, const char *account, const char *address,
	    int64_t now, int64_t gap_ms, int64_t *count, int64_t *first, char **err);
/* store_suppress_soft_many() records one soft bounce for each of v[0..n)
 * in one transaction (one fsync for a burst of deferrals, not one each),
 * as store_suppress_soft() would: each gets its count and first, or rc -1
 * for an address that cannot be normalised (the others still count). */
struct store_soft_bounce {
	const char	*account;
	const char	*address;
	int64_t		 count;		/* out */
	int64_t		 first;		/* out */
	int		 rc;		/* out: 0, or -1 */
};
int	store_suppress_soft_many(struct store *st, struct store_soft_bounce *v, size_t n,
	    int64_t now, int64_t gap_ms, char **err);
/* store_suppress_soft_clear() forgets address's soft bounces (a delivery
 * came through): 0, or STORE_NOTFOUND. */
int	store_suppress_soft_clear(struct store *st, const char *account, const char *address,
	    char **err);
/* store_suppress_soft_each() calls fn for every address with soft bounces
 * on record. */
int	store_suppress_soft_each(struct store *st, void (*fn)(const char *account,
	    const char *address, void *arg), void *arg, char **err);

/* Webhook subscriptions (src/webhook): an account's target URL and the
 * event types it wants, its signing secret (kept in clear: it must be
 * recoverable to sign; the store file is mode 0600), and the dispatcher's
 * state: the cursor into the events store and the events being retried. */
#define STORE_FULL	3	/* store_webhook_create(): the account has its maximum */

struct store_webhook {
	char	*id;		/* "wh_" + an id (util/id.h) */
	char	*account;
	char	*url;
	char	*events;	/* event type names, comma-separated */
	char	*secret;	/* "whsec_...": only store_webhook_active() fills it */
	int64_t	 created;
	int64_t	 cursor;	/* every event up to this seq is handled */
	int64_t	 disabled;	/* 0: active; else when it was disabled */
	char	*disabled_reason;
};
/* store_webhook_create() inserts w (id, account, url, events, secret,
 * cursor; created is set here) unless the account has max subscriptions
 * already (STORE_FULL). STORE_NOTFOUND for an unknown account. */
int	store_webhook_create(struct store *st, const struct store_webhook *w, size_t max,
	    char **err);
/* store_webhook_list() returns the account's subscriptions, oldest first,
 * without secrets. store_webhook_active() returns every subscription not
 * disabled, with secrets (the dispatcher). Free with store_webhook_list_free(). */
int	store_webhook_list(struct store *st, const char *account, struct store_webhook **out,
	    size_t *n, char **err);
int	store_webhook_active(struct store *st, struct store_webhook **out, size_t *n, char **err);
void	store_webhook_list_free(struct store_webhook *v, size_t n);
/* store_webhook_delete() removes the account's subscription id and its
 * pending events. STORE_NOTFOUND if the account has no such subscription. */
int	store_webhook_delete(struct store *st, const char *account, const char *id, char **err);
/* store_webhook_set_cursor() records that every event up to cursor is handled. */
int	store_webhook_set_cursor(struct store *st, const char *id, int64_t cursor, char **err);
/* store_webhook_disable() stops a subscription (the endpoint answered 410
 * Gone), saying why; its pending events are dropped. */
int	store_webhook_disable(struct store *st, const char *id, const char *reason, char **err);

/* An event a subscription still has to deliver: its first attempt failed,
 * or an earlier event of the same message is still being retried. */
struct store_webhook_pending {
	char	*webhook;
	int64_t	 seq;		/* the event's seq in the events store */
	char	*event_id;	/* webhook-id: the same on every attempt */
	char	*message_id;	/* ordering: one message's events go in seq order */
	int64_t	 event_time;	/* ms; retried until event_time + webhooks.max_lifetime */
	int	 attempts;
	int64_t	 next_attempt;	/* ms */
	char	*body;		/* the event JSON as sent */
};
/* store_webhook_pending_add() records p (a repeat of (webhook, seq) keeps
 * the first record: after a restart the same event may be seen again). */
int	store_webhook_pending_add(struct store *st, const struct store_webhook_pending *p,
	    char **err);
/* store_webhook_pending_due() returns up to limit pending events of active
 * subscriptions that are due at now and not behind an earlier pending event
 * of the same message, by next attempt; *next_due gets the earliest later
 * next_attempt (0: none). Free with store_webhook_pending_free(). */
int	store_webhook_pending_due(struct store *st, int64_t now, size_t limit,
	    struct store_webhook_pending **out, size_t *n, int64_t *next_due, char **err);
void	store_webhook_pending_free(struct store_webhook_pending *v, size_t n);
/* store_webhook_pending_retry() records a failed attempt of (webhook, seq). */
int	store_webhook_pending_retry(struct store *st, const char *webhook, int64_t seq,
	    int attempts, int64_t next_attempt, char **err);
/* store_webhook_pending_done() forgets (webhook, seq): delivered or given up. */
int	store_webhook_pending_done(struct store *st, const char *webhook, int64_t seq,
	    char **err);
/* store_webhook_pending_blocked() tells whether webhook has a pending event
 * of message_id: 0 if so, STORE_NOTFOUND if not. */
int	store_webhook_pending_blocked(struct store *st, const char *webhook,
	    const char *message_id, char **err);
/* store_webhook_pending_wake() makes every pending event of webhook due at
 * now (the endpoint answered again after an outage). */
int	store_webhook_pending_wake(struct store *st, const char *webhook, int64_t now,
	    char **err);

#endif
