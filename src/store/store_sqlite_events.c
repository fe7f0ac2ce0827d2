/* store_sqlite_events: the events of the SQLite backend (store.h
 * store_event*), in a database file of their own.
 *
 * DESIGN
 * Why a second file: at delivery speed (~4,400 messages/s here) events
 * arrive at ~9,000/s, inserted by the events writer thread in batches of up
 * to a thousand rows per transaction. In the store's own file those
 * transactions would hold the store's one mutex (and SQLite's one write
 * lock) while API keys are checked and idempotency records written on
 * every request; in a file of their own they contend with nothing but the
 * queries on events. The file is PATH minus ".db" plus "-events.db", beside
 * the store ("var/hermod.db" -> "var/hermod-events.db"), made 0600 like it
 * (events carry addresses and metadata).
 *
 * Two connections: the writer (inserts, retention) and a reader (GET
 * /v1/events, GET /v1/messages/{id}, stats, webhooks and feedback lookups),
 * each under its own mutex. In WAL mode the reader sees the last committed
 * batch while the writer fills the next one, so a slow query never delays
 * inserts and the reverse. ":memory:" (tests) has one connection for both,
 * since two in-memory connections would be two databases.
 *
 * Durability: synchronous=NORMAL in WAL mode. A commit reaches the OS at
 * once (a crash of hermod loses nothing committed) and the log is fsynced at
 * checkpoints; a power loss may cost the last batches, never corruption.
 * Events are the account of what the spool did, and the spool (fsynced per
 * group commit) stays the record of each message. At saturation FULL costs
 * little (batches of 1000, bench/events_bench.c's header), but below it the
 * batches are small and an fsync each would compete with the spool's own
 * fdatasync on the same disk, at the load where latency matters.
 *
 * seq is an AUTOINCREMENT key, so it never goes back, even when retention
 * has emptied the table: a client's cursor stays valid for ever.
 *
 * Its own schema version (table schema_version inside the events file),
 * migrated at open like the store's. Queries are built from the filters
 * present and prepared per call (a few microseconds, on a worker), so SQLite
 * picks the index that fits each combination. */
#include "store/store_sqlite_int.h"
#include "util/buf.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EVENTS_BUSY_MS	10000

static const char *const ev_migrations[] = {
	/* 1: the events. Every query filters by account first; message and
	 * header Message-ID lookups serve feedback (bounces, complaints). */
	"CREATE TABLE events ("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  id TEXT NOT NULL,"
	"  type TEXT NOT NULL,"
	"  time INTEGER NOT NULL,"
	"  account TEXT,"
	"  message_id TEXT,"
	"  header_message_id TEXT,"
	"  recipient TEXT,"
	"  rcpt_index INTEGER,"
	"  json TEXT NOT NULL"
	");"
	"CREATE INDEX events_account_seq ON events(account, seq);"
	"CREATE INDEX events_account_type ON events(account, type, seq);"
	"CREATE INDEX events_account_rcpt ON events(account, recipient, seq);"
	"CREATE INDEX events_account_time ON events(account, time);"
	"CREATE INDEX events_message ON events(message_id, rcpt_index) "
	"  WHERE message_id IS NOT NULL;"
	"CREATE INDEX events_header_mid ON events(header_message_id) "
	"  WHERE header_message_id IS NOT NULL;",
};
#define EV_VERSION	((int)(sizeof(ev_migrations) / sizeof(ev_migrations[0])))

#define EV_COLS	"seq, id, type, time, account, message_id, header_message_id, recipient, " \
		"rcpt_index, json"

struct sqlite_events {
	char		*path;
	int		 memory;
	sqlite3		*w;		/* the writer's connection */
	sqlite3		*r;		/* the readers' (== w for :memory:) */
	pthread_mutex_t	 wmu;
	pthread_mutex_t	 rmu_own;
	pthread_mutex_t	*rmu;		/* &rmu_own, or &wmu for :memory: */
	sqlite3_stmt	*ins;		/* on w, prepared once */
};

static int
ev_fail(struct sqlite_events *e, sqlite3 *db, char **err, const char *what)
{
	if (err != NULL)
		*err = xasprintf("events store %s: %s: %s", e->path, what,
		    db ? sqlite3_errmsg(db) : "out of memory");
	return -1;
}

static int
ev_exec(struct sqlite_events *e, sqlite3 *db, const char *sql, char **err)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return ev_fail(e, db, err, sql);
	return 0;
}

/* events_path() names the events file for the store file path. */
static char *
events_path(const char *path)
{
	size_t n = strlen(path);

	if (n > 3 && strcmp(path + n - 3, ".db") == 0)
		return xasprintf("%.*s-events.db", (int)(n - 3), path);
	return xasprintf("%s-events.db", path);
}

static int
ev_migrate(struct sqlite_events *e, char **err)
{
	sqlite3_stmt *st;
	int v = 0;
	char *msg = NULL;

	if (ev_exec(e, e->w, "BEGIN IMMEDIATE", err) < 0)
		return -1;
	if (ev_exec(e, e->w, "CREATE TABLE IF NOT EXISTS schema_version ("
	    "version INTEGER PRIMARY KEY NOT NULL, applied INTEGER NOT NULL)", err) < 0)
		goto fail;
	if (sqlite3_prepare_v2(e->w, "SELECT max(version) FROM schema_version", -1, &st,
	    NULL) != SQLITE_OK) {
		ev_fail(e, e->w, err, "read schema version");
		goto fail;
	}
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (v > EV_VERSION) {
		if (err != NULL)
			*err = xasprintf("events store %s has schema version %d, newer than this "
			    "hermod understands (%d): upgrade hermod", e->path, v, EV_VERSION);
		goto fail;
	}
	for (; v < EV_VERSION; v++) {
		char *ins;
		if (sqlite3_exec(e->w, ev_migrations[v], NULL, NULL, &msg) != SQLITE_OK) {
			if (err != NULL)
				*err = xasprintf("events store %s: migration to version %d failed: %s",
				    e->path, v + 1, msg ? msg : "?");
			sqlite3_free(msg);
			goto fail;
		}
		ins = xasprintf("INSERT INTO schema_version (version, applied) VALUES (%d, %llu)",
		    v + 1, (unsigned long long)time_now_ms());
		if (ev_exec(e, e->w, ins, err) < 0) {
			free(ins);
			goto fail;
		}
		free(ins);
	}
	return ev_exec(e, e->w, "COMMIT", err);
fail:
	if (!sqlite3_get_autocommit(e->w))
		sqlite3_exec(e->w, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

static int
ev_connect(struct sqlite_events *e, sqlite3 **db, char **err)
{
	if (sqlite3_open_v2(e->path, db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		return ev_fail(e, *db, err, "open");
	sqlite3_extended_result_codes(*db, 1);
	sqlite3_busy_timeout(*db, EVENTS_BUSY_MS);
	if ((!e->memory && ev_exec(e, *db, "PRAGMA journal_mode = WAL", err) < 0) ||
	    ev_exec(e, *db, "PRAGMA synchronous = NORMAL", err) < 0)
		return -1;
	return 0;
}

void store_sqlite_events_close(void *ev);

int
store_sqlite_events_open(void **ev, const char *where, char **err)
{
	struct sqlite_events *e = xcalloc(1, sizeof(*e));
	int fd;

	*ev = NULL;
	e->memory = strcmp(where, ":memory:") == 0;
	e->path = e->memory ? xstrdup(where) : events_path(where);
	pthread_mutex_init(&e->wmu, NULL);
	pthread_mutex_init(&e->rmu_own, NULL);
	e->rmu = e->memory ? &e->wmu : &e->rmu_own;
	if (!e->memory) {
		if ((fd = open(e->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
			if (err != NULL)
				*err = xasprintf("events store %s: %s", e->path, strerror(errno));
			goto fail;
		}
		close(fd);
	}
	if (ev_connect(e, &e->w, err) < 0 || ev_migrate(e, err) < 0)
		goto fail;
	if (e->memory)
		e->r = e->w;
	else if (ev_connect(e, &e->r, err) < 0)
		goto fail;
	if (sqlite3_prepare_v3(e->w, "INSERT INTO events (id, type, time, account, message_id, "
	    "header_message_id, recipient, rcpt_index, json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
	    "?8, ?9)", -1, SQLITE_PREPARE_PERSISTENT, &e->ins, NULL) != SQLITE_OK) {
		ev_fail(e, e->w, err, "prepare insert");
		goto fail;
	}
	*ev = e;
	return 0;
fail:
	store_sqlite_events_close(e);
	return -1;
}

void
store_sqlite_events_close(void *ev)
{
	struct sqlite_events *e = ev;

	if (e == NULL)
		return;
	sqlite3_finalize(e->ins);
	if (e->r != NULL && e->r != e->w)
		sqlite3_close(e->r);
	sqlite3_close(e->w);
	pthread_mutex_destroy(&e->wmu);
	pthread_mutex_destroy(&e->rmu_own);
	free(e->path);
	free(e);
}

static void
bind_opt(sqlite3_stmt *st, int idx, const char *v)
{
	if (v != NULL)
		sqlite3_bind_text(st, idx, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, idx);
}

int
store_sqlite_events_insert(void *ev, struct store_event *v, size_t n, char **err)
{
	struct sqlite_events *e = ev;
	sqlite3_stmt *st = e->ins;
	size_t i;
	int rc = -1;

	pthread_mutex_lock(&e->wmu);
	if (ev_exec(e, e->w, "BEGIN IMMEDIATE", err) < 0)
		goto out;
	for (i = 0; i < n; i++) {
		sqlite3_bind_text(st, 1, v[i].id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, v[i].type, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, v[i].time);
		bind_opt(st, 4, v[i].account);
		bind_opt(st, 5, v[i].message_id);
		bind_opt(st, 6, v[i].header_message_id);
		bind_opt(st, 7, v[i].recipient);
		if (v[i].rcpt_index >= 0)
			sqlite3_bind_int(st, 8, v[i].rcpt_index);
		else
			sqlite3_bind_null(st, 8);
		sqlite3_bind_text(st, 9, v[i].json, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE) {
			ev_fail(e, e->w, err, "insert");
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			goto rollback;
		}
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		v[i].seq = sqlite3_last_insert_rowid(e->w);
	}
	if (ev_exec(e, e->w, "COMMIT", err) < 0)
		goto rollback;
	rc = 0;
	goto out;
rollback:
	if (!sqlite3_get_autocommit(e->w))
		sqlite3_exec(e->w, "ROLLBACK", NULL, NULL, NULL);
	for (i = 0; i < n; i++)
		v[i].seq = 0;
out:
	pthread_mutex_unlock(&e->wmu);
	return rc;
}

/* read_rows() collects the rows of a statement selecting EV_COLS. */
static int
read_rows(struct sqlite_events *e, sqlite3_stmt *st, struct store_event **out, size_t *n,
    char **err)
{
	struct store_event *v = NULL;
	size_t cap = 0, k = 0;
	int r;

	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_event *x;
		if (k == cap) {
			cap = cap ? cap * 2 : 16;
			v = xrealloc(v, cap * sizeof(*v));
		}
		x = &v[k++];
		x->seq = sqlite3_column_int64(st, 0);
		x->id = store_sqlite_col_dup(st, 1);
		x->type = store_sqlite_col_dup(st, 2);
		x->time = sqlite3_column_int64(st, 3);
		x->account = store_sqlite_col_dup(st, 4);
		x->message_id = store_sqlite_col_dup(st, 5);
		x->header_message_id = store_sqlite_col_dup(st, 6);
		x->recipient = store_sqlite_col_dup(st, 7);
		x->rcpt_index = sqlite3_column_type(st, 8) == SQLITE_NULL ? -1 :
		    sqlite3_column_int(st, 8);
		x->json = store_sqlite_col_dup(st, 9);
	}
	if (r != SQLITE_DONE) {
		store_events_free(v, k);
		return ev_fail(e, e->r, err, "read events");
	}
	*out = v;
	*n = k;
	return 0;
}

static sqlite3_stmt *
prepare_r(struct sqlite_events *e, const char *sql, char **err)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(e->r, sql, -1, &st, NULL) != SQLITE_OK) {
		ev_fail(e, e->r, err, "prepare");
		sqlite3_finalize(st);
		return NULL;
	}
	return st;
}

int
store_sqlite_events_after(void *ev, int64_t after_seq, const char *account, size_t limit,
    struct store_event **out, size_t *n, char **err)
{
	struct sqlite_events *e = ev;
	sqlite3_stmt *st;
	int rc = -1;

	pthread_mutex_lock(e->rmu);
	st = prepare_r(e, account != NULL ?
	    "SELECT " EV_COLS " FROM events WHERE account = ?3 AND seq > ?1 ORDER BY seq LIMIT ?2" :
	    "SELECT " EV_COLS " FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2", err);
	if (st != NULL) {
		sqlite3_bind_int64(st, 1, after_seq);
		sqlite3_bind_int64(st, 2, (int64_t)limit);
		if (account != NULL)
			sqlite3_bind_text(st, 3, account, -1, SQLITE_STATIC);
		rc = read_rows(e, st, out, n, err);
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(e->rmu);
	return rc;
}

/* lookup2() runs a one-row query of two text columns bound to one text and
 * an optional int. */
static int
lookup2(struct sqlite_events *e, const char *sql, const char *a, int b, char **c0, char **c1,
    char **err)
{
	sqlite3_stmt *st;
	int rc = -1, r;

	pthread_mutex_lock(e->rmu);
	if ((st = prepare_r(e, sql, err)) != NULL) {
		sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
		if (sqlite3_bind_parameter_count(st) > 1)
			sqlite3_bind_int(st, 2, b);
		r = sqlite3_step(st);
		if (r == SQLITE_ROW) {
			*c0 = store_sqlite_col_dup(st, 0);
			*c1 = store_sqlite_col_dup(st, 1);
			rc = 0;
		} else if (r == SQLITE_DONE) {
			rc = STORE_NOTFOUND;
		} else {
			ev_fail(e, e->r, err, "look up event");
		}
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(e->rmu);
	return rc;
}

int
store_sqlite_event_recipient(void *ev, const char *message_id, int rcpt_index, char **account,
    char **recipient, char **err)
{
	return lookup2(ev, "SELECT account, recipient FROM events WHERE message_id = ?1 AND "
	    "rcpt_index = ?2 AND recipient IS NOT NULL LIMIT 1", message_id, rcpt_index, account,
	    recipient, err);
}

int
store_sqlite_event_find_message(void *ev, const char *header_message_id, char **message_id,
    char **account, char **err)
{
	/* A Message-ID header may be reused by a sender: the latest wins. */
	return lookup2(ev, "SELECT message_id, account FROM events WHERE header_message_id = ?1 "
	    "AND message_id IS NOT NULL ORDER BY seq DESC LIMIT 1", header_message_id, 0,
	    message_id, account, err);
}

int
store_sqlite_event_first_json(void *ev, const char *message_id, char **json, char **err)
{
	char *type = NULL;
	int rc = lookup2(ev, "SELECT json, type FROM events WHERE message_id = ?1 "
	    "ORDER BY seq LIMIT 1", message_id, 0, json, &type, err);

	free(type);
	return rc;
}

static void
bind_named(sqlite3_stmt *st, const char *name, const char *v)
{
	int i = sqlite3_bind_parameter_index(st, name);

	if (i > 0)
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

static void
bind_named64(sqlite3_stmt *st, const char *name, int64_t v)
{
	int i = sqlite3_bind_parameter_index(st, name);

	if (i > 0)
		sqlite3_bind_int64(st, i, v);
}

int
store_sqlite_events_query(void *ev, const struct store_event_query *q,
    struct store_event **out, size_t *n, char **err)
{
	struct sqlite_events *e = ev;
	struct buf sql = { 0 };
	sqlite3_stmt *st;
	int tail = q->after_seq < 0 && q->since_time < 0, rc = -1;

	buf_puts(&sql, "SELECT " EV_COLS " FROM events WHERE account = :account");
	if (q->type)
		buf_puts(&sql, " AND type = :type");
	if (q->recipient)
		buf_puts(&sql, " AND recipient = :rcpt");
	if (q->message_id)
		buf_puts(&sql, " AND message_id = :msg");
	if (q->header_message_id)
		buf_puts(&sql, " AND header_message_id = :hmsg");
	if (q->after_seq >= 0)
		buf_puts(&sql, " AND seq > :after ORDER BY seq");
	else if (q->since_time >= 0)
		/* seq follows time (both taken as events are emitted, in order);
		 * the first event at or after since starts the range, so paging
		 * on from there by seq sees each event once. */
		buf_puts(&sql, " AND seq >= coalesce((SELECT seq FROM events WHERE account = "
		    ":account AND time >= :since ORDER BY time, seq LIMIT 1), "
		    "9223372036854775807) ORDER BY seq");
	else
		buf_puts(&sql, " ORDER BY seq DESC");
	buf_puts(&sql, " LIMIT :limit");
	pthread_mutex_lock(e->rmu);
	if ((st = prepare_r(e, sql.data, err)) != NULL) {
		bind_named(st, ":account", q->account);
		bind_named(st, ":type", q->type);
		bind_named(st, ":rcpt", q->recipient);
		bind_named(st, ":msg", q->message_id);
		bind_named(st, ":hmsg", q->header_message_id);
		bind_named64(st, ":after", q->after_seq);
		bind_named64(st, ":since", q->since_time);
		bind_named64(st, ":limit", (int64_t)q->limit);
		rc = read_rows(e, st, out, n, err);
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(e->rmu);
	buf_free(&sql);
	if (rc == 0 && tail) {
		/* newest last, as every answer */
		for (size_t i = 0; i < *n / 2; i++) {
			struct store_event t = (*out)[i];
			(*out)[i] = (*out)[*n - 1 - i];
			(*out)[*n - 1 - i] = t;
		}
	}
	return rc;
}

int
store_sqlite_events_prune(void *ev, int64_t before, size_t max, size_t *deleted, char **err)
{
	struct sqlite_events *e = ev;
	sqlite3_stmt *st = NULL;
	int rc = -1;

	/* Only the max oldest rows by seq are looked at: a bounded rowid range,
	 * no time index needed, since time grows with seq. */
	pthread_mutex_lock(&e->wmu);
	if (sqlite3_prepare_v2(e->w, "DELETE FROM events WHERE seq < (SELECT min(seq) FROM "
	    "events) + ?2 AND time < ?1", -1, &st, NULL) != SQLITE_OK) {
		ev_fail(e, e->w, err, "prepare prune");
	} else {
		sqlite3_bind_int64(st, 1, before);
		sqlite3_bind_int64(st, 2, (int64_t)max);
		if (sqlite3_step(st) == SQLITE_DONE) {
			*deleted = (size_t)sqlite3_changes(e->w);
			rc = 0;
		} else {
			ev_fail(e, e->w, err, "prune");
		}
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&e->wmu);
	return rc;
}

int
store_sqlite_events_stats(void *ev, const char *account, int64_t from, int64_t to,
    const char *group_by, struct store_event_count **out, size_t *n, char **err)
{
	struct sqlite_events *e = ev;
	const char *sql;
	sqlite3_stmt *st;
	struct store_event_count *v = NULL;
	size_t cap = 0, k = 0;
	int rc = -1, r;

	if (group_by == NULL)
		sql = "SELECT '', type, count(*) FROM events WHERE account = ?1 AND time >= ?2 "
		    "AND time < ?3 GROUP BY type ORDER BY type";
	else if (strcmp(group_by, "day") == 0)
		sql = "SELECT strftime('%Y-%m-%d', time / 1000, 'unixepoch') AS k, type, count(*) "
		    "FROM events WHERE account = ?1 AND time >= ?2 AND time < ?3 "
		    "GROUP BY k, type ORDER BY k, type";
	else if (strcmp(group_by, "domain") == 0)
		/* the domain after the last '@': rtrim() strips every character
		 * but '@' from the end */
		sql = "SELECT lower(substr(recipient, length(rtrim(recipient, replace(recipient, "
		    "'@', ''))) + 1)) AS k, type, count(*) FROM events WHERE account = ?1 AND "
		    "time >= ?2 AND time < ?3 AND recipient IS NOT NULL "
		    "GROUP BY k, type ORDER BY k, type";
	else
		sql = "SELECT t.value AS k, e.type, count(*) FROM events e, "
		    "json_each(e.json, '$.tags') t WHERE e.account = ?1 AND e.time >= ?2 AND "
		    "e.time < ?3 AND t.type = 'text' GROUP BY k, e.type ORDER BY k, e.type";
	pthread_mutex_lock(e->rmu);
	if ((st = prepare_r(e, sql, err)) == NULL)
		goto out;
	sqlite3_bind_text(st, 1, account, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, from);
	sqlite3_bind_int64(st, 3, to);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		if (k == cap) {
			cap = cap ? cap * 2 : 16;
			v = xrealloc(v, cap * sizeof(*v));
		}
		v[k].key = store_sqlite_col_dup(st, 0);
		if (v[k].key == NULL)
			v[k].key = xstrdup("");
		v[k].type = store_sqlite_col_dup(st, 1);
		v[k].count = sqlite3_column_int64(st, 2);
		k++;
	}
	if (r != SQLITE_DONE) {
		ev_fail(e, e->r, err, "stats");
		store_event_counts_free(v, k);
	} else {
		*out = v;
		*n = k;
		rc = 0;
	}
	sqlite3_finalize(st);
out:
	pthread_mutex_unlock(e->rmu);
	return rc;
}
