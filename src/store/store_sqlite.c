/* store_sqlite: the SQLite backend of the metadata store.
 *
 * DESIGN
 * One connection per handle, guarded by one mutex: the daemon shares a
 * handle between the libuv worker threads, and SQLite gives nothing for
 * concurrent use of one connection that a mutex does not give more simply.
 * The CLI and the daemon open the same file from different processes at the
 * same time; WAL lets readers run beside a writer, busy_timeout makes a
 * writer wait (up to STORE_SQLITE_BUSY_MS) for another process's write
 * instead of failing, and every read-then-write runs in BEGIN IMMEDIATE so
 * two processes never both read, then both try to upgrade (which SQLite
 * answers with SQLITE_BUSY at once, without waiting).
 *
 * Durability: synchronous=FULL in WAL mode fsyncs the log at every commit,
 * so an account or key the CLI reported as created survives a crash.
 *
 * Schema: numbered migrations, applied in order at open inside one write
 * transaction, with the version reached kept in schema_version. To change
 * the schema append a step; never edit a step that has shipped. A store newer
 * than this binary is refused rather than half-understood.
 *
 * Statements are prepared once per connection, on first use, and kept.
 *
 * Files: this one holds the connection, the schema and every statement's SQL
 * (one table, so a reviewer sees all the SQL at once); each area's rows live
 * in store_sqlite_AREA.c (tenant: accounts, keys, domains; idem: HTTP
 * Idempotency-Key records; suppress: suppression lists, whose SQL sits in
 * its own file and its statements in area_stmts; limits: per-account limits
 * and pause state, whose few statements are prepared per call in their
 * file). A new area appends a migration and its
 * statements here, adds its file, its ops in store_backend.h and its public
 * functions in store.h/store.c. */
#include "store/store_sqlite_int.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STORE_SQLITE_BUSY_MS		10000

static const char *const migrations[] = {
	/* 1: accounts, API keys, sending domains. Accounts are referred to by
	 * name: names never change and the rows stay readable by hand. */
	"CREATE TABLE accounts ("
	"  name TEXT PRIMARY KEY NOT NULL,"
	"  created INTEGER NOT NULL"
	") WITHOUT ROWID;"
	"CREATE TABLE api_keys ("
	"  id INTEGER PRIMARY KEY,"
	"  account TEXT NOT NULL REFERENCES accounts(name),"
	"  scope TEXT NOT NULL CHECK (scope IN ('send', 'admin')),"
	"  hash BLOB NOT NULL UNIQUE CHECK (length(hash) = 32),"
	"  prefix TEXT NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  last_used INTEGER,"
	"  revoked INTEGER"
	");"
	"CREATE INDEX api_keys_account ON api_keys(account);"
	"CREATE TABLE domains ("
	"  domain TEXT PRIMARY KEY NOT NULL,"
	"  account TEXT NOT NULL REFERENCES accounts(name),"
	"  created INTEGER NOT NULL,"
	"  verified INTEGER NOT NULL DEFAULT 0,"
	"  dkim_selector TEXT,"
	"  dkim_algo TEXT"
	") WITHOUT ROWID;"
	"CREATE INDEX domains_account ON domains(account);",
	/* 2: the HTTP API's Idempotency-Key records: the first answer to a
	 * keyed request (key is "route\x1fclient key"), kept for a day. */
	"CREATE TABLE idempotency ("
	"  account TEXT NOT NULL,"
	"  key TEXT NOT NULL,"
	"  hash BLOB NOT NULL,"
	"  status INTEGER NOT NULL,"
	"  answer TEXT NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  PRIMARY KEY (account, key)"
	") WITHOUT ROWID;"
	"CREATE INDEX idempotency_created ON idempotency(created);",
	/* 3: suppression lists (store_sqlite_suppress.c). address is compared
	 * without ASCII case (the list matches local parts so); the journal
	 * lets a daemon follow the changes other processes make; soft bounces
	 * are counted per address until they suppress it or a delivery clears
	 * them. */
	"CREATE TABLE suppressions ("
	"  id INTEGER PRIMARY KEY,"
	"  account TEXT NOT NULL REFERENCES accounts(name),"
	"  address TEXT NOT NULL COLLATE NOCASE,"
	"  reason TEXT NOT NULL CHECK (reason IN ('hard_bounce', 'soft_bounce', 'complaint',"
	"    'unsubscribe', 'manual')),"
	"  source TEXT,"
	"  who TEXT NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  UNIQUE (account, address)"
	");"
	"CREATE TABLE suppression_changes ("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  op TEXT NOT NULL CHECK (op IN ('add', 'remove')),"
	"  account TEXT NOT NULL,"
	"  address TEXT NOT NULL,"
	"  reason TEXT NOT NULL,"
	"  source TEXT,"
	"  who TEXT NOT NULL,"
	"  time INTEGER NOT NULL,"
	"  announced INTEGER NOT NULL DEFAULT 0"
	");"
	"CREATE INDEX suppression_changes_unannounced ON suppression_changes(seq) "
	"  WHERE announced = 0;"
	"CREATE TABLE suppression_soft ("
	"  account TEXT NOT NULL,"
	"  address TEXT NOT NULL COLLATE NOCASE,"
	"  first INTEGER NOT NULL,"
	"  last INTEGER NOT NULL,"
	"  count INTEGER NOT NULL,"
	"  PRIMARY KEY (account, address)"
	") WITHOUT ROWID;",
	/* 4: per-account settings (src/account): limits overriding [limits]
	 * (NULL: the config's default) and the reputation breaker's pause. A
	 * row exists only once something was set. */
	"CREATE TABLE account_settings ("
	"  account TEXT PRIMARY KEY NOT NULL REFERENCES accounts(name),"
	"  per_second INTEGER,"
	"  per_hour INTEGER,"
	"  per_day INTEGER,"
	"  paused INTEGER NOT NULL DEFAULT 0,"
	"  pause_reason TEXT,"
	"  paused_at INTEGER,"
	"  updated INTEGER NOT NULL"
	") WITHOUT ROWID;",
	/* 5: webhook subscriptions (src/webhook) and the events each still
	 * has to deliver. The secret is kept in clear: it must be recoverable
	 * to sign (the file is 0600). cursor: every event up to that seq is
	 * handled (delivered, not wanted, or moved to webhook_pending). */
	"CREATE TABLE webhooks ("
	"  id TEXT PRIMARY KEY NOT NULL,"
	"  account TEXT NOT NULL REFERENCES accounts(name),"
	"  url TEXT NOT NULL,"
	"  events TEXT NOT NULL,"
	"  secret TEXT NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  cursor INTEGER NOT NULL DEFAULT 0,"
	"  disabled INTEGER,"
	"  disabled_reason TEXT"
	") WITHOUT ROWID;"
	"CREATE INDEX webhooks_account ON webhooks(account);"
	"CREATE TABLE webhook_pending ("
	"  webhook TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,"
	"  seq INTEGER NOT NULL,"
	"  event_id TEXT NOT NULL,"
	"  message_id TEXT,"
	"  event_time INTEGER NOT NULL,"
	"  attempts INTEGER NOT NULL,"
	"  next_attempt INTEGER NOT NULL,"
	"  body TEXT NOT NULL,"
	"  PRIMARY KEY (webhook, seq)"
	") WITHOUT ROWID;"
	"CREATE INDEX webhook_pending_message ON webhook_pending(webhook, message_id, seq);"
	"CREATE INDEX webhook_pending_due ON webhook_pending(next_attempt);",
};
#define STORE_SQLITE_VERSION	((int)(sizeof(migrations) / sizeof(migrations[0])))

static const char *const stmt_sql[S_COUNT] = {
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_ACCOUNT_INSERT] = "INSERT INTO accounts (name, created) VALUES (?1, ?2)",
	[S_ACCOUNT_EXISTS] = "SELECT 1 FROM accounts WHERE name = ?1",
	[S_ACCOUNT_LIST] = "SELECT name, created FROM accounts ORDER BY name",
	[S_KEY_INSERT] = "INSERT INTO api_keys (account, scope, hash, prefix, created) "
	    "VALUES (?1, ?2, ?3, ?4, ?5)",
	[S_KEY_BY_HASH] = "SELECT id, account, scope, hash, last_used FROM api_keys "
	    "WHERE hash = ?1 AND revoked IS NULL",
	[S_KEY_TOUCH] = "UPDATE api_keys SET last_used = ?2 WHERE id = ?1",
	[S_KEY_LIST] = "SELECT id, account, scope, prefix, created, last_used, revoked "
	    "FROM api_keys WHERE ?1 IS NULL OR account = ?1 ORDER BY id",
	[S_KEY_REVOKE] = "UPDATE api_keys SET revoked = ?3 "
	    "WHERE id = ?2 AND account = ?1 AND revoked IS NULL",
	/* The domain itself, or a parent or a child of it registered to
	 * another account (see store_domain_add in store.h). */
	[S_DOMAIN_CONFLICT] = "SELECT 1 FROM domains WHERE domain = ?1 OR (account <> ?2 AND ("
	    "substr(?1, -length(domain) - 1) = '.' || domain OR "
	    "substr(domain, -length(?1) - 1) = '.' || ?1)) LIMIT 1",
	[S_DOMAIN_INSERT] = "INSERT INTO domains (domain, account, created) VALUES (?1, ?2, ?3)",
	[S_DOMAIN_GET] = "SELECT domain, account, created, verified, dkim_selector, dkim_algo "
	    "FROM domains WHERE domain = ?1",
	[S_DOMAIN_LIST] = "SELECT domain, account, created, verified, dkim_selector, dkim_algo "
	    "FROM domains WHERE ?1 IS NULL OR account = ?1 ORDER BY domain",
	[S_DOMAIN_SET_VERIFIED] = "UPDATE domains SET verified = ?2 WHERE domain = ?1",
	[S_DOMAIN_SET_DKIM] = "UPDATE domains SET dkim_selector = ?2, dkim_algo = ?3 "
	    "WHERE domain = ?1",
	[S_IDEM_GET] = "SELECT hash, status, answer, created FROM idempotency "
	    "WHERE account = ?1 AND key = ?2 AND created >= ?3",
	/* The first answer wins; an expired record is replaced. */
	[S_IDEM_PUT] = "INSERT INTO idempotency (account, key, hash, status, answer, created) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (account, key) DO UPDATE SET "
	    "hash = excluded.hash, status = excluded.status, answer = excluded.answer, "
	    "created = excluded.created WHERE idempotency.created < ?7",
	[S_IDEM_EXPIRE] = "DELETE FROM idempotency WHERE created < ?1",
};

/* The shared helpers; their contracts are in store_sqlite_int.h. */

int
store_sqlite_fail(struct sqlite_store *s, char **err, const char *what)
{
	if (err != NULL)
		*err = xasprintf("store %s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
	return -1;
}

sqlite3_stmt *
store_sqlite_stmt(struct sqlite_store *s, enum stmt_id id, char **err)
{
	if (s->stmts[id] == NULL &&
	    sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &s->stmts[id],
	    NULL) != SQLITE_OK) {
		store_sqlite_fail(s, err, "prepare");
		s->stmts[id] = NULL;
	}
	return s->stmts[id];
}

void
store_sqlite_done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

int
store_sqlite_exec(struct sqlite_store *s, enum stmt_id id, char **err)
{
	sqlite3_stmt *st = store_sqlite_stmt(s, id, err);
	int rc;

	if (st == NULL)
		return -1;
	rc = sqlite3_step(st);
	store_sqlite_done(st);
	if (rc != SQLITE_DONE)
		return store_sqlite_fail(s, err, stmt_sql[id]);
	return 0;
}

void
store_sqlite_rollback(struct sqlite_store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		(void)store_sqlite_exec(s, S_ROLLBACK, NULL);
}

char *
store_sqlite_col_dup(sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	return t != NULL ? xstrdup((const char *)t) : NULL;
}

void
store_sqlite_bind_text_or_null(sqlite3_stmt *st, int idx, const char *v)
{
	if (v != NULL)
		sqlite3_bind_text(st, idx, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, idx);
}

/* create_private() makes the database file mode 0600 before SQLite sees it:
 * it holds key hashes and account data, and SQLite would create it with the
 * umask's mode. Its -wal and -shm files take the same mode from it. */
static int
create_private(const char *path, char **err)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0) {
		if (err != NULL)
			*err = xasprintf("store %s: %s", path, strerror(errno));
		return -1;
	}
	close(fd);
	return 0;
}

static int
pragma(struct sqlite_store *s, const char *sql, char **err)
{
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return store_sqlite_fail(s, err, sql);
	return 0;
}

static int
read_version(struct sqlite_store *s, int *version, char **err)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(s->db, "SELECT max(version) FROM schema_version", -1, &st,
	    NULL) != SQLITE_OK)
		return store_sqlite_fail(s, err, "read schema version");
	rc = sqlite3_step(st);
	*version = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return store_sqlite_fail(s, err, "read schema version");
	return 0;
}

/* migrate() brings the schema to STORE_SQLITE_VERSION in one transaction, so
 * a crash or a second process opening at the same moment sees either the old
 * schema or the new one. */
static int
migrate(struct sqlite_store *s, char **err)
{
	int v;
	char *msg = NULL;

	if (pragma(s, "BEGIN IMMEDIATE", err) < 0)
		return -1;
	if (pragma(s, "CREATE TABLE IF NOT EXISTS schema_version ("
	    "version INTEGER PRIMARY KEY NOT NULL, applied INTEGER NOT NULL)", err) < 0 ||
	    read_version(s, &v, err) < 0)
		goto fail;
	if (v > STORE_SQLITE_VERSION) {
		if (err != NULL)
			*err = xasprintf("store %s has schema version %d, newer than this hermod "
			    "understands (%d): upgrade hermod", s->path, v, STORE_SQLITE_VERSION);
		goto fail;
	}
	for (; v < STORE_SQLITE_VERSION; v++) {
		char *ins;
		if (sqlite3_exec(s->db, migrations[v], NULL, NULL, &msg) != SQLITE_OK) {
			if (err != NULL)
				*err = xasprintf("store %s: migration to version %d failed: %s",
				    s->path, v + 1, msg ? msg : "?");
			sqlite3_free(msg);
			goto fail;
		}
		ins = xasprintf("INSERT INTO schema_version (version, applied) "
		    "VALUES (%d, %llu)", v + 1, (unsigned long long)time_now_ms());
		if (pragma(s, ins, err) < 0) {
			free(ins);
			goto fail;
		}
		free(ins);
	}
	if (pragma(s, "COMMIT", err) < 0)
		goto fail;
	s->version = v;
	return 0;
fail:
	store_sqlite_rollback(s);
	return -1;
}

static void sqlite_close(void *impl);

static int
sqlite_open(void **impl, const char *path, char **err)
{
	struct sqlite_store *s;
	int memory = strcmp(path, ":memory:") == 0;

	*impl = NULL;
	if (!memory && create_private(path, err) < 0)
		return -1;
	s = xcalloc(1, sizeof(*s));
	pthread_mutex_init(&s->mu, NULL);
	s->path = xstrdup(path);
	/* NOMUTEX: s->mu already serialises every use of the connection. */
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		if (s->db == NULL) {
			if (err != NULL)
				*err = xasprintf("store %s: out of memory", path);
		} else
			store_sqlite_fail(s, err, "open");
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, STORE_SQLITE_BUSY_MS);
	if ((!memory && pragma(s, "PRAGMA journal_mode = WAL", err) < 0) ||
	    pragma(s, "PRAGMA synchronous = FULL", err) < 0 ||
	    pragma(s, "PRAGMA foreign_keys = ON", err) < 0 ||
	    migrate(s, err) < 0)
		goto fail;
	*impl = s;
	return 0;
fail:
	sqlite_close(s);
	return -1;
}

static void
sqlite_close(void *impl)
{
	struct sqlite_store *s = impl;

	if (s == NULL)
		return;
	for (int i = 0; i < S_COUNT; i++)
		sqlite3_finalize(s->stmts[i]);
	for (int i = 0; i < STORE_SQLITE_AREA_STMTS; i++)
		sqlite3_finalize(s->area_stmts[i]);
	sqlite3_close(s->db);
	pthread_mutex_destroy(&s->mu);
	free(s->path);
	free(s);
}

static int
sqlite_schema_version(void *impl)
{
	return ((struct sqlite_store *)impl)->version;
}

/* store_sqlite_step_write() runs a prepared insert/update and maps constraint failures:
 * UNIQUE/PRIMARY KEY to STORE_EXISTS, FOREIGN KEY (an unknown account) to
 * STORE_NOTFOUND. *changes gets the rows changed when not NULL. */
int
store_sqlite_step_write(struct sqlite_store *s, sqlite3_stmt *st, const char *what, int *changes,
    char **err)
{
	int rc = sqlite3_step(st);

	store_sqlite_done(st);
	if (rc == SQLITE_DONE) {
		if (changes != NULL)
			*changes = sqlite3_changes(s->db);
		return 0;
	}
	if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
		return STORE_EXISTS;
	if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
		return STORE_NOTFOUND;
	return store_sqlite_fail(s, err, what);
}

const struct store_ops store_sqlite_ops = {
	.name = "sqlite",
	.open = sqlite_open,
	.close = sqlite_close,
	.schema_version = sqlite_schema_version,
	.account_create = store_sqlite_account_create,
	.account_exists = store_sqlite_account_exists,
	.account_list = store_sqlite_account_list,
	.key_create = store_sqlite_key_create,
	.key_verify = store_sqlite_key_verify,
	.key_list = store_sqlite_key_list,
	.key_revoke = store_sqlite_key_revoke,
	.domain_add = store_sqlite_domain_add,
	.domain_get = store_sqlite_domain_get,
	.domain_list = store_sqlite_domain_list,
	.domain_set_verified = store_sqlite_domain_set_verified,
	.domain_set_dkim = store_sqlite_domain_set_dkim,
	.idem_get = store_sqlite_idem_get,
	.idem_put = store_sqlite_idem_put,
	.idem_expire = store_sqlite_idem_expire,
	.events_open = store_sqlite_events_open,
	.events_close = store_sqlite_events_close,
	.events_insert = store_sqlite_events_insert,
	.events_after = store_sqlite_events_after,
	.event_recipient = store_sqlite_event_recipient,
	.event_find_message = store_sqlite_event_find_message,
	.event_first_json = store_sqlite_event_first_json,
	.events_query = store_sqlite_events_query,
	.events_prune = store_sqlite_events_prune,
	.events_stats = store_sqlite_events_stats,
	.settings_list = store_sqlite_settings_list,
	.limits_set = store_sqlite_limits_set,
	.pause_set = store_sqlite_pause_set,
	.suppress_add = store_sqlite_suppress_add,
	.suppress_remove = store_sqlite_suppress_remove,
	.suppress_get = store_sqlite_suppress_get,
	.suppress_list = store_sqlite_suppress_list,
	.suppress_each = store_sqlite_suppress_each,
	.suppress_changes = store_sqlite_suppress_changes,
	.suppress_announce = store_sqlite_suppress_announce,
	.suppress_changes_expire = store_sqlite_suppress_changes_expire,
	.suppress_soft = store_sqlite_suppress_soft,
	.suppress_soft_clear = store_sqlite_suppress_soft_clear,
	.suppress_soft_each = store_sqlite_suppress_soft_each,
	.webhook_create = store_sqlite_webhook_create,
	.webhook_list = store_sqlite_webhook_list,
	.webhook_delete = store_sqlite_webhook_delete,
	.webhook_set_cursor = store_sqlite_webhook_set_cursor,
	.webhook_disable = store_sqlite_webhook_disable,
	.webhook_pending_add = store_sqlite_webhook_pending_add,
	.webhook_pending_due = store_sqlite_webhook_pending_due,
	.webhook_pending_retry = store_sqlite_webhook_pending_retry,
	.webhook_pending_done = store_sqlite_webhook_pending_done,
	.webhook_pending_blocked = store_sqlite_webhook_pending_blocked,
	.webhook_pending_wake = store_sqlite_webhook_pending_wake,
};
