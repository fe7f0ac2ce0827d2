/* store_sqlite_webhooks: the SQLite rows of webhook subscriptions and of the
 * events they still have to deliver (store.h store_webhook_*).
 *
 * The SQL lives here rather than in store_sqlite.c's statement table: it is
 * used by one subsystem only, and these statements are prepared per call
 * (a few microseconds, against a millisecond fsync for the writes), which
 * keeps this area out of the shared table. Each entry point holds s->mu for
 * its whole run, like the rest of the backend. */
#include "store/store_sqlite_int.h"
#include "util/xalloc.h"

#include <stdlib.h>
#include <string.h>

/* prep() prepares sql on the connection; NULL with *err set. Hold s->mu. */
static sqlite3_stmt *
prep(struct sqlite_store *s, const char *sql, char **err)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		store_sqlite_fail(s, err, "prepare");
		return NULL;
	}
	return st;
}

/* write1() runs a prepared write and finalizes it: 0, STORE_EXISTS,
 * STORE_NOTFOUND (constraints, store_sqlite_step_write) or -1; *changes
 * gets the rows changed. */
static int
write1(struct sqlite_store *s, sqlite3_stmt *st, const char *what, int *changes, char **err)
{
	int rc = store_sqlite_step_write(s, st, what, changes, err);

	sqlite3_finalize(st);
	return rc;
}

int
store_sqlite_webhook_create(void *impl, const struct store_webhook *w, size_t max, int64_t now,
    char **err)
{
	struct sqlite_store *s = impl;
	sqlite3_stmt *st;
	int rc = -1, r;

	pthread_mutex_lock(&s->mu);
	/* count and insert in one write transaction: two creates at once cannot
	 * both see room for one more */
	if (store_sqlite_exec(s, S_BEGIN, err) < 0)
		goto out;
	if ((st = prep(s, "SELECT count(*) FROM webhooks WHERE account = ?1", err)) == NULL)
		goto fail;
	sqlite3_bind_text(st, 1, w->account, -1, SQLITE_STATIC);
	r = sqlite3_step(st);
	if (r != SQLITE_ROW) {
		sqlite3_finalize(st);
		store_sqlite_fail(s, err, "count webhooks");
		goto fail;
	}
	if ((size_t)sqlite3_column_int64(st, 0) >= max) {
		sqlite3_finalize(st);
		rc = STORE_FULL;
		goto fail;
	}
	sqlite3_finalize(st);
	if ((st = prep(s, "INSERT INTO webhooks (id, account, url, events, secret, created, cursor) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", err)) == NULL)
		goto fail;
	sqlite3_bind_text(st, 1, w->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, w->account, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, w->url, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, w->events, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, w->secret, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, now);
	sqlite3_bind_int64(st, 7, w->cursor);
	if ((rc = write1(s, st, "create webhook", NULL, err)) != 0)
		goto fail;
	rc = store_sqlite_exec(s, S_COMMIT, err);
	if (rc != 0)
		goto fail;
	goto out;
fail:
	store_sqlite_rollback(s);
out:
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int
store_sqlite_webhook_list(void *impl, const char *account, int with_secrets,
    struct store_webhook **out, size_t *n, char **err)
{
	struct sqlite_store *s = impl;
	struct store_webhook *v = NULL;
	size_t cnt = 0, cap = 0;
	sqlite3_stmt *st;
	int rc = -1, r;

	pthread_mutex_lock(&s->mu);
	/* account NULL: the dispatcher's view, active subscriptions only */
	st = prep(s, "SELECT id, account, url, events, secret, created, cursor, disabled, "
	    "disabled_reason FROM webhooks WHERE (?1 IS NULL AND disabled IS NULL) OR account = ?1 "
	    "ORDER BY created, id", err);
	if (st == NULL)
		goto out;
	store_sqlite_bind_text_or_null(st, 1, account);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_webhook *w;
		if (cnt == cap) {
			cap = cap ? cap * 2 : 8;
			v = xrealloc(v, cap * sizeof(*v));
		}
		w = &v[cnt++];
		memset(w, 0, sizeof *w);
		w->id = store_sqlite_col_dup(st, 0);
		w->account = store_sqlite_col_dup(st, 1);
		w->url = store_sqlite_col_dup(st, 2);
		w->events = store_sqlite_col_dup(st, 3);
		w->secret = with_secrets ? store_sqlite_col_dup(st, 4) : NULL;
		w->created = sqlite3_column_int64(st, 5);
		w->cursor = sqlite3_column_int64(st, 6);
		w->disabled = sqlite3_column_int64(st, 7);
		w->disabled_reason = store_sqlite_col_dup(st, 8);
	}
	sqlite3_finalize(st);
	if (r != SQLITE_DONE) {
		store_sqlite_fail(s, err, "list webhooks");
		store_webhook_list_free(v, cnt);
		goto out;
	}
	*out = v;
	*n = cnt;
	rc = 0;
out:
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int
store_sqlite_webhook_delete(void *impl, const char *account, const char *id, char **err)
{
	struct sqlite_store *s = impl;
	sqlite3_stmt *st;
	int rc = -1, changes = 0;

	pthread_mutex_lock(&s->mu);
	/* webhook_pending rows go with it (ON DELETE CASCADE) */
	if ((st = prep(s, "DELETE FROM webhooks WHERE id = ?1 AND account = ?2", err)) != NULL) {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, account, -1, SQLITE_STATIC);
		rc = write1(s, st, "delete webhook", &changes, err);
		if (rc == 0 && changes == 0)
			rc = STORE_NOTFOUND;
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int
store_sqlite_webhook_set_cursor(void *impl, const char *id, int64_t cursor, char **err)
{
	struct sqlite_store *s = impl;
	sqlite3_stmt *st;
	int rc = -1;

	pthread_mutex_lock(&s->mu);
	/* never backwards: a late write of an older cursor loses */
	if ((st = prep(s, "UPDATE webhooks SET cursor = ?2 WHERE id = ?1 AND cursor < ?2",
	    err)) != NULL) {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, cursor);
		rc = write1(s, st, "save webhook cursor", NULL, err);
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int
store_sqlite_webhook_disable(void *impl, const char *id, const char *reason, int64_t now,
    char **err)
{
	struct sqlite_store *s = impl;
	sqlite3_stmt *st;
	int rc = -1;

	pthread_mutex_lock(&s->mu);
	if (store_sqlite_exec(s, S_BEGIN, err) < 0)
		goto out;
	if ((st = prep(s, "UPDATE webhooks SET disabled = ?2, disabled_reason = ?3 WHERE id = ?1",
	    err)) == NULL)
		goto fail;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	store_sqlite_bind_text_or_null(st, 3, reason);
	if ((rc = write1(s, st, "disable webhook", NULL, err)) != 0)
		goto fail;
	rc = -1;
	if ((st = prep(s, "DELETE FROM webhook_pending WHERE webhook = ?1", err)) == NULL)
		goto fail;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if ((rc = write1(s, st, "drop pending webhook events", NULL, err)) != 0 ||
	    (rc = store_sqlite_exec(s, S_COMMIT, err)) != 0)
		goto fail;
	goto out;
fail:
	store_sqlite_rollback(s);
out:
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int
store_sqlite_webhook_pending_add(void *impl, const struct store_webhook_pending *p, char **err)
{
	struct sqlite_store *s = impl;
	sqlite3_stmt *st;
	int rc = -1;

	pthread_mutex_lock(&s->mu);
	/* OR IGNORE: the first record of an event wins (see store.h) */
	if ((st = prep(s, "INSERT OR IGNORE INTO webhook_pending (webhook, seq, event_id, "
	    "message_id, event_time, attempts, next_attempt, body) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", err)) != NULL) {
		sqlite3_bind_text(st, 1, p->webhook, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, p->seq);
		sqlite3_bind_text(st, 3, p->event_id, -1, SQLITE_STATIC);
		store_sqlite_bind_text_or_null(st, 4, p->message_id);
		sqlite3_bind_int64(st, 5, p->event_time);
		sqlite3_bind_int(st, 6, p->attempts);
		sqlite3_bind_int64(st, 7, p->next_attempt);
		sqlite3_bind_text(st, 8, p->body, -1, SQLITE_STATIC);
		rc = write1(s, st, "record pending webhook event", NULL, err);
		/* the subscription was deleted meanwhile: nothing to deliver */
		if (rc == STORE_NOTFOUND)
			rc = 0;
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int
store_sqlite_webhook_pending_due(void *impl, int64_t now, size_t limit,
    struct store_webhook_pending **out, size_t *n, int64_t *next_due, char **err)
{
	struct sqlite_store *s = impl;
	struct store_webhook_pending *v = NULL;
	size_t cnt = 0, cap = 0;
	sqlite3_stmt *st;
	int rc = -1, r;

	pthread_mutex_lock(&s->mu);
	/* An event waits while an earlier event of its message is pending:
	 * that is the order-per-message rule. Events without a message have
	 * no such order (NULL never equals NULL). */
	st = prep(s, "SELECT p.webhook, p.seq, p.event_id, p.message_id, p.event_time, p.attempts, "
	    "p.next_attempt, p.body FROM webhook_pending p JOIN webhooks w ON w.id = p.webhook "
	    "WHERE w.disabled IS NULL AND p.next_attempt <= ?1 AND NOT EXISTS ("
	    "  SELECT 1 FROM webhook_pending q WHERE q.webhook = p.webhook "
	    "  AND q.message_id = p.message_id AND q.seq < p.seq) "
	    "ORDER BY p.next_attempt, p.seq LIMIT ?2", err);
	if (st == NULL)
		goto out;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)limit);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_webhook_pending *p;
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			v = xrealloc(v, cap * sizeof(*v));
		}
		p = &v[cnt++];
		p->webhook = store_sqlite_col_dup(st, 0);
		p->seq = sqlite3_column_int64(st, 1);
		p->event_id = store_sqlite_col_dup(st, 2);
		p->message_id = store_sqlite_col_dup(st, 3);
		p->event_time = sqlite3_column_int64(st, 4);
		p->attempts = sqlite3_column_int(st, 5);
		p->next_attempt = sqlite3_column_int64(st, 6);
		p->body = store_sqlite_col_dup(st, 7);
	}
	sqlite3_finalize(st);
	if (r != SQLITE_DONE) {
		store_sqlite_fail(s, err, "read pending webhook events");
		goto fail;
	}
	st = prep(s, "SELECT min(p.next_attempt) FROM webhook_pending p JOIN webhooks w "
	    "ON w.id = p.webhook WHERE w.disabled IS NULL AND p.next_attempt > ?1", err);
	if (st == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, now);
	r = sqlite3_step(st);
	*next_due = r == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	if (r != SQLITE_ROW) {
		store_sqlite_fail(s, err, "read pending webhook events");
		goto fail;
	}
	*out = v;
	*n = cnt;
	rc = 0;
	goto out;
fail:
	store_webhook_pending_free(v, cnt);
out:
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int
store_sqlite_webhook_pending_retry(void *impl, const char *webhook, int64_t seq, int attempts,
    int64_t next_attempt, char **err)
{
	struct sqlite_store *s = impl;
	sqlite3_stmt *st;
	int rc = -1;

	pthread_mutex_lock(&s->mu);
	if ((st = prep(s, "UPDATE webhook_pending SET attempts = ?3, next_attempt = ?4 "
	    "WHERE webhook = ?1 AND seq = ?2", err)) != NULL) {
		sqlite3_bind_text(st, 1, webhook, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, seq);
		sqlite3_bind_int(st, 3, attempts);
		sqlite3_bind_int64(st, 4, next_attempt);
		rc = write1(s, st, "record webhook attempt", NULL, err);
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int
store_sqlite_webhook_pending_done(void *impl, const char *webhook, int64_t seq, char **err)
{
	struct sqlite_store *s = impl;
	sqlite3_stmt *st;
	int rc = -1;

	pthread_mutex_lock(&s->mu);
	if ((st = prep(s, "DELETE FROM webhook_pending WHERE webhook = ?1 AND seq = ?2",
	    err)) != NULL) {
		sqlite3_bind_text(st, 1, webhook, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, seq);
		rc = write1(s, st, "forget pending webhook event", NULL, err);
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int
store_sqlite_webhook_pending_blocked(void *impl, const char *webhook, const char *message_id,
    char **err)
{
	struct sqlite_store *s = impl;
	sqlite3_stmt *st;
	int rc = -1, r;

	pthread_mutex_lock(&s->mu);
	if ((st = prep(s, "SELECT 1 FROM webhook_pending WHERE webhook = ?1 AND message_id = ?2 "
	    "LIMIT 1", err)) != NULL) {
		sqlite3_bind_text(st, 1, webhook, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, message_id, -1, SQLITE_STATIC);
		r = sqlite3_step(st);
		sqlite3_finalize(st);
		if (r == SQLITE_ROW)
			rc = 0;
		else if (r == SQLITE_DONE)
			rc = STORE_NOTFOUND;
		else
			store_sqlite_fail(s, err, "look up pending webhook events");
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int
store_sqlite_webhook_pending_wake(void *impl, const char *webhook, int64_t now, char **err)
{
	struct sqlite_store *s = impl;
	sqlite3_stmt *st;
	int rc = -1;

	pthread_mutex_lock(&s->mu);
	if ((st = prep(s, "UPDATE webhook_pending SET next_attempt = ?2 "
	    "WHERE webhook = ?1 AND next_attempt > ?2", err)) != NULL) {
		sqlite3_bind_text(st, 1, webhook, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, now);
		rc = write1(s, st, "wake pending webhook events", NULL, err);
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}
