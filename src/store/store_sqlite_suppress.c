/* store_sqlite_suppress: the SQLite rows of the suppression lists
 * (store.h store_suppress_*): the lists, the journal of their changes, and
 * the soft-bounce records. The SQL is here rather than in store_sqlite.c's
 * table so the area reads as one piece; the statements are cached in the
 * handle's area_stmts like the others. Every change and its journal entry
 * are written in one BEGIN IMMEDIATE transaction, so a reader of the journal
 * never sees one without the other. */
#include "store/store_sqlite_int.h"
#include "util/xalloc.h"

#include <stdlib.h>
#include <string.h>

enum sup_stmt {
	P_INSERT,
	P_GET,
	P_DELETE,
	P_JOURNAL,
	P_LIST,
	P_ALL,
	P_LAST_SEQ,
	P_CHANGES,
	P_UNANNOUNCED,
	P_ANNOUNCE,
	P_CHANGES_EXPIRE,
	P_SOFT_GET,
	P_SOFT_PUT,
	P_SOFT_DELETE,
	P_SOFT_ALL,
	P_COUNT
};

#define COLS "id, account, address, reason, source, who, created"
#define CHANGE_COLS "seq, op, account, address, reason, source, who, time, announced"

static const char *const sup_sql[P_COUNT] = {
	[P_INSERT] = "INSERT INTO suppressions (account, address, reason, source, who, created) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	/* address has COLLATE NOCASE: the comparison ignores ASCII case */
	[P_GET] = "SELECT " COLS " FROM suppressions WHERE account = ?1 AND address = ?2",
	[P_DELETE] = "DELETE FROM suppressions WHERE id = ?1",
	[P_JOURNAL] = "INSERT INTO suppression_changes (op, account, address, reason, source, who, "
	    "time, announced) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[P_LIST] = "SELECT " COLS " FROM suppressions WHERE account = ?1 AND "
	    "(?2 IS NULL OR reason = ?2) AND id > ?3 ORDER BY id LIMIT ?4",
	[P_ALL] = "SELECT account, address FROM suppressions",
	[P_LAST_SEQ] = "SELECT coalesce(max(seq), 0) FROM suppression_changes",
	[P_CHANGES] = "SELECT " CHANGE_COLS " FROM suppression_changes WHERE seq > ?1 "
	    "ORDER BY seq LIMIT ?2",
	[P_UNANNOUNCED] = "SELECT " CHANGE_COLS " FROM suppression_changes WHERE announced = 0 "
	    "ORDER BY seq LIMIT ?1",
	[P_ANNOUNCE] = "UPDATE suppression_changes SET announced = 1 WHERE seq = ?1",
	[P_CHANGES_EXPIRE] = "DELETE FROM suppression_changes WHERE announced = 1 AND time < ?1",
	[P_SOFT_GET] = "SELECT first, last, count FROM suppression_soft "
	    "WHERE account = ?1 AND address = ?2",
	[P_SOFT_PUT] = "INSERT OR REPLACE INTO suppression_soft (account, address, first, last, count) "
	    "VALUES (?1, ?2, ?3, ?4, ?5)",
	[P_SOFT_DELETE] = "DELETE FROM suppression_soft WHERE account = ?1 AND address = ?2",
	[P_SOFT_ALL] = "SELECT account, address FROM suppression_soft",
};

_Static_assert(P_COUNT <= STORE_SQLITE_AREA_STMTS, "raise STORE_SQLITE_AREA_STMTS");

/* stmt() returns the cached statement id, preparing it on first use. Hold s->mu. */
static sqlite3_stmt *
stmt(struct sqlite_store *s, enum sup_stmt id, char **err)
{
	if (s->area_stmts[id] == NULL &&
	    sqlite3_prepare_v3(s->db, sup_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
	    &s->area_stmts[id], NULL) != SQLITE_OK) {
		store_sqlite_fail(s, err, "prepare");
		s->area_stmts[id] = NULL;
	}
	return s->area_stmts[id];
}

static void
row_read(sqlite3_stmt *st, struct store_suppression *out)
{
	out->id = sqlite3_column_int64(st, 0);
	out->account = store_sqlite_col_dup(st, 1);
	out->address = store_sqlite_col_dup(st, 2);
	out->reason = store_sqlite_col_dup(st, 3);
	out->source = store_sqlite_col_dup(st, 4);
	out->who = store_sqlite_col_dup(st, 5);
	out->created = sqlite3_column_int64(st, 6);
}

/* get() reads (account, address) into *out (may be NULL): 0, STORE_NOTFOUND
 * or -1. Hold s->mu. */
static int
get(struct sqlite_store *s, const char *account, const char *address,
    struct store_suppression *out, char **err)
{
	sqlite3_stmt *st = stmt(s, P_GET, err);
	int r, rc;

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, account, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, address, -1, SQLITE_STATIC);
	r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		if (out != NULL)
			row_read(st, out);
		rc = 0;
	} else if (r == SQLITE_DONE) {
		rc = STORE_NOTFOUND;
	} else {
		rc = store_sqlite_fail(s, err, "look up suppression");
	}
	store_sqlite_done(st);
	return rc;
}

/* journal() appends one change. Hold s->mu, inside the change's transaction. */
static int
journal(struct sqlite_store *s, const char *op, const char *account, const char *address,
    const char *reason, const char *source, const char *who, int64_t now, int announced,
    char **err)
{
	sqlite3_stmt *st = stmt(s, P_JOURNAL, err);

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, op, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, account, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, address, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, reason, -1, SQLITE_STATIC);
	store_sqlite_bind_text_or_null(st, 5, source);
	sqlite3_bind_text(st, 6, who, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, now);
	sqlite3_bind_int(st, 8, announced != 0);
	return store_sqlite_step_write(s, st, "journal suppression change", NULL, err);
}

static int
soft_delete(struct sqlite_store *s, const char *account, const char *address, int *changes,
    char **err)
{
	sqlite3_stmt *st = stmt(s, P_SOFT_DELETE, err);

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, account, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, address, -1, SQLITE_STATIC);
	return store_sqlite_step_write(s, st, "clear soft bounces", changes, err);
}

int
store_sqlite_suppress_add(void *impl, const char *account, const char *address,
    const char *reason, const char *source, const char *who, int announced, int64_t now,
    struct store_suppression *out, char **err)
{
	struct sqlite_store *s = impl;
	sqlite3_stmt *st;
	int rc = -1;

	pthread_mutex_lock(&s->mu);
	if (store_sqlite_exec(s, S_BEGIN, err) < 0)
		goto out;
	if ((rc = get(s, account, address, out, err)) != STORE_NOTFOUND) {
		if (rc == 0)
			rc = STORE_EXISTS;
		goto rollback;
	}
	if ((st = stmt(s, P_INSERT, err)) == NULL) {
		rc = -1;
		goto rollback;
	}
	sqlite3_bind_text(st, 1, account, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, address, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, reason, -1, SQLITE_STATIC);
	store_sqlite_bind_text_or_null(st, 4, source);
	sqlite3_bind_text(st, 5, who, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, now);
	if ((rc = store_sqlite_step_write(s, st, "add suppression", NULL, err)) != 0)
		goto rollback;
	if (out != NULL) {
		out->id = sqlite3_last_insert_rowid(s->db);
		out->account = xstrdup(account);
		out->address = xstrdup(address);
		out->reason = xstrdup(reason);
		out->source = source ? xstrdup(source) : NULL;
		out->who = xstrdup(who);
		out->created = now;
	}
	if ((rc = journal(s, "add", account, address, reason, source, who, now, announced,
	    err)) != 0 || (rc = soft_delete(s, account, address, NULL, err)) != 0 ||
	    (rc = store_sqlite_exec(s, S_COMMIT, err)) != 0) {
		if (out != NULL)
			store_suppression_free(out);
		goto rollback;
	}
	goto out;
rollback:
	store_sqlite_rollback(s);
out:
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int
store_sqlite_suppress_remove(void *impl, const char *account, const char *address,
    const char *who, int announced, int64_t now, struct store_suppression *out, char **err)
{
	struct sqlite_store *s = impl;
	struct store_suppression row = { 0 };
	sqlite3_stmt *st;
	int rc = -1;

	pthread_mutex_lock(&s->mu);
	if (store_sqlite_exec(s, S_BEGIN, err) < 0)
		goto out;
	if ((rc = get(s, account, address, &row, err)) != 0)
		goto rollback;
	if ((st = stmt(s, P_DELETE, err)) == NULL) {
		rc = -1;
		goto rollback;
	}
	sqlite3_bind_int64(st, 1, row.id);
	/* The journal keeps the address as listed (its case), so a reader
	 * removes the same key it added. */
	if ((rc = store_sqlite_step_write(s, st, "remove suppression", NULL, err)) != 0 ||
	    (rc = journal(s, "remove", account, row.address, row.reason, row.source, who, now,
	    announced, err)) != 0 ||
	    (rc = soft_delete(s, account, row.address, NULL, err)) != 0 ||
	    (rc = store_sqlite_exec(s, S_COMMIT, err)) != 0)
		goto rollback;
	if (out != NULL) {
		*out = row;
		memset(&row, 0, sizeof(row));
	}
	goto out;
rollback:
	store_sqlite_rollback(s);
out:
	store_suppression_free(&row);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int
store_sqlite_suppress_get(void *impl, const char *account, const char *address,
    struct store_suppression *out, char **err)
{
	struct sqlite_store *s = impl;
	int rc;

	pthread_mutex_lock(&s->mu);
	rc = get(s, account, address, out, err);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int
store_sqlite_suppress_list(void *impl, const char *account, const char *reason, int64_t after,
    size_t limit, struct store_suppression **out, size_t *n, char **err)
{
	struct sqlite_store *s = impl;
	sqlite3_stmt *st;
	size_t cap = 0;
	int r, rc = -1;

	pthread_mutex_lock(&s->mu);
	if ((st = stmt(s, P_LIST, err)) == NULL)
		goto out;
	sqlite3_bind_text(st, 1, account, -1, SQLITE_STATIC);
	store_sqlite_bind_text_or_null(st, 2, reason);
	sqlite3_bind_int64(st, 3, after);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)limit);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			*out = xrealloc(*out, cap * sizeof(**out));
		}
		row_read(st, &(*out)[(*n)++]);
	}
	if (r == SQLITE_DONE)
		rc = 0;
	else {
		store_sqlite_fail(s, err, "list suppressions");
		store_suppression_list_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	store_sqlite_done(st);
out:
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* each_pair() runs a two-column (account, address) query through fn. Hold s->mu. */
static int
each_pair(struct sqlite_store *s, enum sup_stmt id, void (*fn)(const char *account,
    const char *address, void *arg), void *arg, char **err)
{
	sqlite3_stmt *st = stmt(s, id, err);
	int r;

	if (st == NULL)
		return -1;
	while ((r = sqlite3_step(st)) == SQLITE_ROW)
		fn((const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1),
		    arg);
	store_sqlite_done(st);
	if (r != SQLITE_DONE)
		return store_sqlite_fail(s, err, sup_sql[id]);
	return 0;
}

int
store_sqlite_suppress_each(void *impl, void (*fn)(const char *account, const char *address,
    void *arg), void *arg, int64_t *last_seq, char **err)
{
	struct sqlite_store *s = impl;
	sqlite3_stmt *st;
	int rc = -1;

	pthread_mutex_lock(&s->mu);
	/* A read transaction: the list and the journal position are one
	 * snapshot (WAL readers never block the CLI's writes). */
	if (sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		store_sqlite_fail(s, err, "begin");
		goto out;
	}
	if ((st = stmt(s, P_LAST_SEQ, err)) == NULL)
		goto end;
	if (sqlite3_step(st) != SQLITE_ROW) {
		store_sqlite_fail(s, err, "read the suppression journal");
		store_sqlite_done(st);
		goto end;
	}
	*last_seq = sqlite3_column_int64(st, 0);
	store_sqlite_done(st);
	rc = each_pair(s, P_ALL, fn, arg, err);
end:
	(void)sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
out:
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int
store_sqlite_suppress_changes(void *impl, int64_t after, int unannounced_only, size_t limit,
    struct store_suppress_change **out, size_t *n, char **err)
{
	struct sqlite_store *s = impl;
	sqlite3_stmt *st;
	size_t cap = 0;
	int r, rc = -1;

	pthread_mutex_lock(&s->mu);
	if ((st = stmt(s, unannounced_only ? P_UNANNOUNCED : P_CHANGES, err)) == NULL)
		goto out;
	if (unannounced_only) {
		sqlite3_bind_int64(st, 1, (sqlite3_int64)limit);
	} else {
		sqlite3_bind_int64(st, 1, after);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)limit);
	}
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_suppress_change *c;
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			*out = xrealloc(*out, cap * sizeof(**out));
		}
		c = &(*out)[(*n)++];
		c->seq = sqlite3_column_int64(st, 0);
		c->add = strcmp((const char *)sqlite3_column_text(st, 1), "add") == 0;
		c->account = store_sqlite_col_dup(st, 2);
		c->address = store_sqlite_col_dup(st, 3);
		c->reason = store_sqlite_col_dup(st, 4);
		c->source = store_sqlite_col_dup(st, 5);
		c->who = store_sqlite_col_dup(st, 6);
		c->time = sqlite3_column_int64(st, 7);
		c->announced = sqlite3_column_int(st, 8);
	}
	if (r == SQLITE_DONE)
		rc = 0;
	else {
		store_sqlite_fail(s, err, "read the suppression journal");
		store_suppress_changes_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	store_sqlite_done(st);
out:
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* int64_write() runs a one-parameter write statement. */
static int
int64_write(struct sqlite_store *s, enum sup_stmt id, int64_t v, char **err)
{
	sqlite3_stmt *st;
	int rc = -1;

	pthread_mutex_lock(&s->mu);
	if ((st = stmt(s, id, err)) != NULL) {
		sqlite3_bind_int64(st, 1, v);
		rc = store_sqlite_step_write(s, st, sup_sql[id], NULL, err);
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int
store_sqlite_suppress_announce(void *impl, int64_t seq, char **err)
{
	return int64_write(impl, P_ANNOUNCE, seq, err);
}

int
store_sqlite_suppress_changes_expire(void *impl, int64_t before, char **err)
{
	return int64_write(impl, P_CHANGES_EXPIRE, before, err);
}

/* soft_one() records one soft bounce. Hold s->mu, inside a transaction. */
static int
soft_one(struct sqlite_store *s, struct store_soft_bounce *b, int64_t now, int64_t gap_ms,
    char **err)
{
	sqlite3_stmt *st;
	int64_t f = now, c = 0;
	int r, rc;

	if ((st = stmt(s, P_SOFT_GET, err)) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, b->account, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, b->address, -1, SQLITE_STATIC);
	r = sqlite3_step(st);
	/* A record whose last bounce is older than the gap starts over: the
	 * address did not keep bouncing. */
	if (r == SQLITE_ROW && now - sqlite3_column_int64(st, 1) <= gap_ms) {
		f = sqlite3_column_int64(st, 0);
		c = sqlite3_column_int64(st, 2);
	}
	store_sqlite_done(st);
	if (r != SQLITE_ROW && r != SQLITE_DONE)
		return store_sqlite_fail(s, err, "read soft bounces");
	c++;
	if ((st = stmt(s, P_SOFT_PUT, err)) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, b->account, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, b->address, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, f);
	sqlite3_bind_int64(st, 4, now);
	sqlite3_bind_int64(st, 5, c);
	if ((rc = store_sqlite_step_write(s, st, "record soft bounce", NULL, err)) != 0)
		return rc > 0 ? -1 : rc;
	b->count = c;
	b->first = f;
	return 0;
}

int
store_sqlite_suppress_soft(void *impl, struct store_soft_bounce *v, size_t n, int64_t now,
    int64_t gap_ms, char **err)
{
	struct sqlite_store *s = impl;
	int rc = -1;

	pthread_mutex_lock(&s->mu);
	if (store_sqlite_exec(s, S_BEGIN, err) < 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (v[i].rc == 0 && soft_one(s, &v[i], now, gap_ms, err) != 0)
			goto rollback;
	if (store_sqlite_exec(s, S_COMMIT, err) == 0) {
		rc = 0;
		goto out;
	}
rollback:
	store_sqlite_rollback(s);
out:
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int
store_sqlite_suppress_soft_clear(void *impl, const char *account, const char *address,
    char **err)
{
	struct sqlite_store *s = impl;
	int changes = 0, rc;

	pthread_mutex_lock(&s->mu);
	rc = soft_delete(s, account, address, &changes, err);
	pthread_mutex_unlock(&s->mu);
	if (rc == 0 && changes == 0)
		rc = STORE_NOTFOUND;
	return rc;
}

int
store_sqlite_suppress_soft_each(void *impl, void (*fn)(const char *account, const char *address,
    void *arg), void *arg, char **err)
{
	struct sqlite_store *s = impl;
	int rc;

	pthread_mutex_lock(&s->mu);
	rc = each_pair(s, P_SOFT_ALL, fn, arg, err);
	pthread_mutex_unlock(&s->mu);
	return rc;
}
