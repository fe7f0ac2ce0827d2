/* store_sqlite_idem: the SQLite rows of the HTTP API's Idempotency-Key
 * records (store.h store_idem_*). */
#include "store/store_sqlite_int.h"
#include "util/xalloc.h"

#include <stdlib.h>
#include <string.h>

int
store_sqlite_idem_get(void *impl, const char *account, const char *key, int64_t since,
    struct store_idem *out, char **err)
{
	struct sqlite_store *s = impl;
	sqlite3_stmt *st;
	int rc = -1, r;

	pthread_mutex_lock(&s->mu);
	if ((st = store_sqlite_stmt(s, S_IDEM_GET, err)) == NULL)
		goto out;
	sqlite3_bind_text(st, 1, account, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, since);
	r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		const void *h = sqlite3_column_blob(st, 0);
		size_t hl = (size_t)sqlite3_column_bytes(st, 0);
		memset(out, 0, sizeof *out);
		memcpy(out->hash, h, hl < sizeof out->hash ? hl : sizeof out->hash);
		out->status = sqlite3_column_int(st, 1);
		out->answer = xstrdup((const char *)sqlite3_column_text(st, 2));
		out->created = sqlite3_column_int64(st, 3);
		rc = 0;
	} else if (r == SQLITE_DONE) {
		rc = STORE_NOTFOUND;
	} else {
		store_sqlite_fail(s, err, "look up idempotency key");
	}
	store_sqlite_done(st);
out:
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int
store_sqlite_idem_put(void *impl, const char *account, const char *key, const unsigned char *hash,
    int status, const char *answer, int64_t now, int64_t expired_before, char **err)
{
	struct sqlite_store *s = impl;
	sqlite3_stmt *st;
	int rc = -1;

	pthread_mutex_lock(&s->mu);
	if ((st = store_sqlite_stmt(s, S_IDEM_PUT, err)) != NULL) {
		sqlite3_bind_text(st, 1, account, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
		sqlite3_bind_blob(st, 3, hash, STORE_IDEM_HASH_LEN, SQLITE_STATIC);
		sqlite3_bind_int(st, 4, status);
		sqlite3_bind_text(st, 5, answer, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 6, now);
		sqlite3_bind_int64(st, 7, expired_before);
		rc = store_sqlite_step_write(s, st, "record idempotency key", NULL, err);
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int
store_sqlite_idem_expire(void *impl, int64_t before, char **err)
{
	struct sqlite_store *s = impl;
	sqlite3_stmt *st;
	int rc = -1;

	pthread_mutex_lock(&s->mu);
	if ((st = store_sqlite_stmt(s, S_IDEM_EXPIRE, err)) != NULL) {
		sqlite3_bind_int64(st, 1, before);
		rc = store_sqlite_step_write(s, st, "expire idempotency keys", NULL, err);
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}
