/* store_sqlite_tenant: the SQLite rows of accounts, API keys (hashes only:
 * store.c hashes the secret before it gets here) and sending domains. Each
 * entry point holds s->mu for its whole run; store_sqlite.c's DESIGN block
 * says why. */
#include "store/store_sqlite_int.h"
#include "auth/auth.h"
#include "util/xalloc.h"

#include <stdlib.h>
#include <string.h>

int
store_sqlite_account_create(void *impl, const char *name, int64_t now, char **err)
{
	struct sqlite_store *s = impl;
	sqlite3_stmt *st;
	int rc = -1;

	pthread_mutex_lock(&s->mu);
	if ((st = store_sqlite_stmt(s, S_ACCOUNT_INSERT, err)) != NULL) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, now);
		rc = store_sqlite_step_write(s, st, "create account", NULL, err);
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* account_exists_locked(): 0, STORE_NOTFOUND or -1; s->mu held. */
static int
account_exists_locked(struct sqlite_store *s, const char *name, char **err)
{
	sqlite3_stmt *st;
	int rc;

	if ((st = store_sqlite_stmt(s, S_ACCOUNT_EXISTS, err)) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	store_sqlite_done(st);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		return STORE_NOTFOUND;
	return store_sqlite_fail(s, err, "look up account");
}

int
store_sqlite_account_exists(void *impl, const char *name, char **err)
{
	struct sqlite_store *s = impl;
	int rc;

	pthread_mutex_lock(&s->mu);
	rc = account_exists_locked(s, name, err);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int
store_sqlite_account_list(void *impl, struct store_account **out, size_t *n, char **err)
{
	struct sqlite_store *s = impl;
	struct store_account *v = NULL;
	size_t cnt = 0, cap = 0;
	sqlite3_stmt *st;
	int rc = -1, r;

	pthread_mutex_lock(&s->mu);
	if ((st = store_sqlite_stmt(s, S_ACCOUNT_LIST, err)) == NULL)
		goto out;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			v = xrealloc(v, cap * sizeof(*v));
		}
		v[cnt].name = store_sqlite_col_dup(st, 0);
		v[cnt].created = sqlite3_column_int64(st, 1);
		cnt++;
	}
	store_sqlite_done(st);
	if (r != SQLITE_DONE) {
		store_sqlite_fail(s, err, "list accounts");
		store_account_list_free(v, cnt);
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
store_sqlite_key_create(void *impl, const char *account, const char *scope,
    const unsigned char *hash, const char *prefix, int64_t now, char **err)
{
	struct sqlite_store *s = impl;
	sqlite3_stmt *st;
	int rc = -1;

	pthread_mutex_lock(&s->mu);
	if ((st = store_sqlite_stmt(s, S_KEY_INSERT, err)) != NULL) {
		sqlite3_bind_text(st, 1, account, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, scope, -1, SQLITE_STATIC);
		sqlite3_bind_blob(st, 3, hash, AUTH_KEY_HASH_LEN, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, prefix, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, now);
		rc = store_sqlite_step_write(s, st, "create key", NULL, err);
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int
store_sqlite_key_verify(void *impl, const unsigned char *hash, int64_t now, char **account,
    char **scope, char **err)
{
	struct sqlite_store *s = impl;
	sqlite3_stmt *st;
	int rc = -1, r, match;
	int64_t id = 0, last_used = 0;

	pthread_mutex_lock(&s->mu);
	if ((st = store_sqlite_stmt(s, S_KEY_BY_HASH, err)) == NULL)
		goto out;
	sqlite3_bind_blob(st, 1, hash, AUTH_KEY_HASH_LEN, SQLITE_STATIC);
	r = sqlite3_step(st);
	if (r == SQLITE_DONE) {
		store_sqlite_done(st);
		rc = STORE_NOTFOUND;
		goto out;
	}
	if (r != SQLITE_ROW) {
		store_sqlite_done(st);
		store_sqlite_fail(s, err, "verify key");
		goto out;
	}
	/* The index found the row by equality already; comparing again in
	 * constant time keeps the decision itself free of early exits, whatever
	 * a future backend's lookup does. */
	match = sqlite3_column_bytes(st, 3) == AUTH_KEY_HASH_LEN &&
	    auth_key_hash_equal(sqlite3_column_blob(st, 3), hash);
	if (match) {
		id = sqlite3_column_int64(st, 0);
		*account = store_sqlite_col_dup(st, 1);
		*scope = store_sqlite_col_dup(st, 2);
		last_used = sqlite3_column_int64(st, 4);
	}
	store_sqlite_done(st);
	if (!match) {
		rc = STORE_NOTFOUND;
		goto out;
	}
	rc = 0;
	if (now - last_used >= STORE_SQLITE_TOUCH_MS &&
	    (st = store_sqlite_stmt(s, S_KEY_TOUCH, NULL)) != NULL) {
		/* Best effort: a busy database must not fail an authentication. */
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int64(st, 2, now);
		(void)sqlite3_step(st);
		store_sqlite_done(st);
	}
out:
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int
store_sqlite_key_list(void *impl, const char *account, struct store_key **out, size_t *n,
    char **err)
{
	struct sqlite_store *s = impl;
	struct store_key *v = NULL;
	size_t cnt = 0, cap = 0;
	sqlite3_stmt *st;
	int rc = -1, r;

	pthread_mutex_lock(&s->mu);
	if (account != NULL && (rc = account_exists_locked(s, account, err)) != 0)
		goto out;
	rc = -1;
	if ((st = store_sqlite_stmt(s, S_KEY_LIST, err)) == NULL)
		goto out;
	store_sqlite_bind_text_or_null(st, 1, account);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			v = xrealloc(v, cap * sizeof(*v));
		}
		v[cnt].id = sqlite3_column_int64(st, 0);
		v[cnt].account = store_sqlite_col_dup(st, 1);
		v[cnt].scope = store_sqlite_col_dup(st, 2);
		v[cnt].prefix = store_sqlite_col_dup(st, 3);
		v[cnt].created = sqlite3_column_int64(st, 4);
		v[cnt].last_used = sqlite3_column_int64(st, 5);
		v[cnt].revoked = sqlite3_column_int64(st, 6);
		cnt++;
	}
	store_sqlite_done(st);
	if (r != SQLITE_DONE) {
		store_sqlite_fail(s, err, "list keys");
		store_key_list_free(v, cnt);
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
store_sqlite_key_revoke(void *impl, const char *account, int64_t id, int64_t now, char **err)
{
	struct sqlite_store *s = impl;
	sqlite3_stmt *st;
	int rc = -1, changes = 0;

	pthread_mutex_lock(&s->mu);
	if ((st = store_sqlite_stmt(s, S_KEY_REVOKE, err)) != NULL) {
		sqlite3_bind_text(st, 1, account, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, id);
		sqlite3_bind_int64(st, 3, now);
		rc = store_sqlite_step_write(s, st, "revoke key", &changes, err);
		if (rc == 0 && changes == 0)
			rc = STORE_NOTFOUND;
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int
store_sqlite_domain_add(void *impl, const char *account, const char *domain, int64_t now,
    char **err)
{
	struct sqlite_store *s = impl;
	sqlite3_stmt *st;
	int rc = -1, r;

	pthread_mutex_lock(&s->mu);
	/* Check and insert in one write transaction: two processes adding
	 * overlapping domains at once must not both pass the check. */
	if (store_sqlite_exec(s, S_BEGIN, err) < 0)
		goto out;
	if ((rc = account_exists_locked(s, account, err)) != 0)
		goto fail;
	rc = -1;
	if ((st = store_sqlite_stmt(s, S_DOMAIN_CONFLICT, err)) == NULL)
		goto fail;
	sqlite3_bind_text(st, 1, domain, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, account, -1, SQLITE_STATIC);
	r = sqlite3_step(st);
	store_sqlite_done(st);
	if (r == SQLITE_ROW) {
		rc = STORE_EXISTS;
		goto fail;
	}
	if (r != SQLITE_DONE) {
		store_sqlite_fail(s, err, "check domain");
		goto fail;
	}
	if ((st = store_sqlite_stmt(s, S_DOMAIN_INSERT, err)) == NULL)
		goto fail;
	sqlite3_bind_text(st, 1, domain, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, account, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now);
	if ((rc = store_sqlite_step_write(s, st, "add domain", NULL, err)) != 0)
		goto fail;
	if ((rc = store_sqlite_exec(s, S_COMMIT, err)) != 0)
		goto fail;
	goto out;
fail:
	store_sqlite_rollback(s);
out:
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static void
domain_from_row(sqlite3_stmt *st, struct store_domain *d)
{
	d->domain = store_sqlite_col_dup(st, 0);
	d->account = store_sqlite_col_dup(st, 1);
	d->created = sqlite3_column_int64(st, 2);
	d->verified = sqlite3_column_int(st, 3) != 0;
	d->dkim_selector = store_sqlite_col_dup(st, 4);
	d->dkim_algo = store_sqlite_col_dup(st, 5);
}

int
store_sqlite_domain_get(void *impl, const char *domain, struct store_domain *out, char **err)
{
	struct sqlite_store *s = impl;
	sqlite3_stmt *st;
	int rc = -1, r;

	pthread_mutex_lock(&s->mu);
	if ((st = store_sqlite_stmt(s, S_DOMAIN_GET, err)) == NULL)
		goto out;
	sqlite3_bind_text(st, 1, domain, -1, SQLITE_STATIC);
	r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		domain_from_row(st, out);
		rc = 0;
	} else if (r == SQLITE_DONE)
		rc = STORE_NOTFOUND;
	else
		store_sqlite_fail(s, err, "look up domain");
	store_sqlite_done(st);
out:
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int
store_sqlite_domain_list(void *impl, const char *account, struct store_domain **out, size_t *n,
    char **err)
{
	struct sqlite_store *s = impl;
	struct store_domain *v = NULL;
	size_t cnt = 0, cap = 0;
	sqlite3_stmt *st;
	int rc = -1, r;

	pthread_mutex_lock(&s->mu);
	if ((st = store_sqlite_stmt(s, S_DOMAIN_LIST, err)) == NULL)
		goto out;
	store_sqlite_bind_text_or_null(st, 1, account);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			v = xrealloc(v, cap * sizeof(*v));
		}
		domain_from_row(st, &v[cnt++]);
	}
	store_sqlite_done(st);
	if (r != SQLITE_DONE) {
		store_sqlite_fail(s, err, "list domains");
		store_domain_list_info_free(v, cnt);
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
store_sqlite_domain_set_verified(void *impl, const char *domain, int verified, char **err)
{
	struct sqlite_store *s = impl;
	sqlite3_stmt *st;
	int rc = -1, changes = 0;

	pthread_mutex_lock(&s->mu);
	if ((st = store_sqlite_stmt(s, S_DOMAIN_SET_VERIFIED, err)) != NULL) {
		sqlite3_bind_text(st, 1, domain, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 2, verified);
		rc = store_sqlite_step_write(s, st, "set domain verified", &changes, err);
		if (rc == 0 && changes == 0)
			rc = STORE_NOTFOUND;
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int
store_sqlite_domain_set_dkim(void *impl, const char *domain, const char *selector, const char *algo,
    char **err)
{
	struct sqlite_store *s = impl;
	sqlite3_stmt *st;
	int rc = -1, changes = 0;

	pthread_mutex_lock(&s->mu);
	if ((st = store_sqlite_stmt(s, S_DOMAIN_SET_DKIM, err)) != NULL) {
		sqlite3_bind_text(st, 1, domain, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, selector, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, algo, -1, SQLITE_STATIC);
		rc = store_sqlite_step_write(s, st, "set domain DKIM", &changes, err);
		if (rc == 0 && changes == 0)
			rc = STORE_NOTFOUND;
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}
