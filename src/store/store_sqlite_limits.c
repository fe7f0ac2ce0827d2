/* store_sqlite_limits: the SQLite rows of per-account settings (store.h
 * store_account_settings_*): limits overriding the config's [limits] and
 * the reputation breaker's pause. These statements run a few times a
 * minute (the daemon's refresh, an admin's change), so they are prepared
 * per call here rather than cached in store_sqlite.c's table. */
#include "store/store_sqlite_int.h"
#include "util/xalloc.h"

#include <stdlib.h>
#include <string.h>

/* Every account, with its settings or the defaults when it has no row. */
static const char sql_list[] =
    "SELECT a.name, s.per_second, s.per_hour, s.per_day, coalesce(s.paused, 0), "
    "s.pause_reason, coalesce(s.paused_at, 0) FROM accounts a "
    "LEFT JOIN account_settings s ON s.account = a.name "
    "WHERE ?1 IS NULL OR a.name = ?1 ORDER BY a.name";
/* A limit bound to -2 (STORE_LIMIT_KEEP) keeps the stored value; -1
 * (STORE_LIMIT_DEFAULT) stores NULL. */
static const char sql_limits[] =
    "INSERT INTO account_settings (account, per_second, per_hour, per_day, updated) "
    "VALUES (?1, CASE WHEN ?2 >= 0 THEN ?2 END, CASE WHEN ?3 >= 0 THEN ?3 END, "
    "CASE WHEN ?4 >= 0 THEN ?4 END, ?5) "
    "ON CONFLICT (account) DO UPDATE SET "
    "per_second = CASE WHEN ?2 = -2 THEN per_second WHEN ?2 >= 0 THEN ?2 END, "
    "per_hour = CASE WHEN ?3 = -2 THEN per_hour WHEN ?3 >= 0 THEN ?3 END, "
    "per_day = CASE WHEN ?4 = -2 THEN per_day WHEN ?4 >= 0 THEN ?4 END, "
    "updated = ?5";
static const char sql_pause[] =
    "INSERT INTO account_settings (account, paused, pause_reason, paused_at, updated) "
    "VALUES (?1, ?2, ?3, CASE WHEN ?2 THEN ?4 END, ?4) "
    "ON CONFLICT (account) DO UPDATE SET paused = ?2, pause_reason = ?3, "
    "paused_at = CASE WHEN ?2 THEN ?4 END, updated = ?4";

static int64_t
col_limit(sqlite3_stmt *st, int col)
{
	return sqlite3_column_type(st, col) == SQLITE_NULL ? STORE_LIMIT_DEFAULT :
	    sqlite3_column_int64(st, col);
}

int
store_sqlite_settings_list(void *impl, const char *account, struct store_account_settings **out,
    size_t *n, char **err)
{
	struct sqlite_store *s = impl;
	struct store_account_settings *v = NULL;
	sqlite3_stmt *st = NULL;
	size_t cap = 0, k = 0;
	int r, rc = -1;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&s->mu);
	if (sqlite3_prepare_v2(s->db, sql_list, -1, &st, NULL) != SQLITE_OK) {
		store_sqlite_fail(s, err, "prepare account settings");
		goto out;
	}
	store_sqlite_bind_text_or_null(st, 1, account);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_account_settings *a;
		if (k == cap) {
			cap = cap ? cap * 2 : 8;
			v = xrealloc(v, cap * sizeof(*v));
		}
		a = &v[k++];
		memset(a, 0, sizeof(*a));
		a->account = store_sqlite_col_dup(st, 0);
		a->per_second = col_limit(st, 1);
		a->per_hour = col_limit(st, 2);
		a->per_day = col_limit(st, 3);
		a->paused = sqlite3_column_int(st, 4) != 0;
		a->pause_reason = a->paused ? store_sqlite_col_dup(st, 5) : NULL;
		a->paused_at = a->paused ? sqlite3_column_int64(st, 6) : 0;
	}
	if (r != SQLITE_DONE) {
		store_sqlite_fail(s, err, "read account settings");
		for (size_t i = 0; i < k; i++) {
			free(v[i].account);
			free(v[i].pause_reason);
		}
		free(v);
		goto out;
	}
	*out = v;
	*n = k;
	rc = 0;
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* write() runs one of the upserts; a missing account is STORE_NOTFOUND
 * (the foreign key). */
static int
write_settings(struct sqlite_store *s, const char *sql, const char *what,
    void (*bind)(sqlite3_stmt *, const void *), const void *arg, char **err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	pthread_mutex_lock(&s->mu);
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		rc = store_sqlite_fail(s, err, what);
	} else {
		bind(st, arg);
		rc = store_sqlite_step_write(s, st, what, NULL, err);
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

struct limits_args {
	const char	*account;
	int64_t		 v[3], now;
};

static void
bind_limits(sqlite3_stmt *st, const void *arg)
{
	const struct limits_args *a = arg;

	sqlite3_bind_text(st, 1, a->account, -1, SQLITE_STATIC);
	for (int i = 0; i < 3; i++)
		sqlite3_bind_int64(st, 2 + i, a->v[i]);
	sqlite3_bind_int64(st, 5, a->now);
}

int
store_sqlite_limits_set(void *impl, const char *account, int64_t per_second, int64_t per_hour,
    int64_t per_day, int64_t now, char **err)
{
	struct limits_args a = { account, { per_second, per_hour, per_day }, now };

	return write_settings(impl, sql_limits, "set account limits", bind_limits, &a, err);
}

struct pause_args {
	const char	*account;
	int		 paused;
	const char	*reason;
	int64_t		 now;
};

static void
bind_pause(sqlite3_stmt *st, const void *arg)
{
	const struct pause_args *a = arg;

	sqlite3_bind_text(st, 1, a->account, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, a->paused);
	store_sqlite_bind_text_or_null(st, 3, a->reason);
	sqlite3_bind_int64(st, 4, a->now);
}

int
store_sqlite_pause_set(void *impl, const char *account, int paused, const char *reason,
    int64_t now, char **err)
{
	struct pause_args a = { account, paused, reason, now };

	return write_settings(impl, sql_pause, "set account pause", bind_pause, &a, err);
}
