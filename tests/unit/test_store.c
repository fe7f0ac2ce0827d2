/* Unit tests for store/: accounts, API keys (only hashes on disk), domains,
 * schema versions, several threads and several connections at once, and
 * persistence across reopen. Each test gets a fresh temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/auth.h"
#include "store/store.h"
#include "util/fsutil.h"
#include "util/xalloc.h"

struct fixture {
	char	 dir[64];
	char	*path;
	char	*url;
	struct store *st;
};

static void
remove_db(const char *path)
{
	char *p;

	unlink(path);
	p = xasprintf("%s-wal", path);
	unlink(p);
	free(p);
	p = xasprintf("%s-shm", path);
	unlink(p);
	free(p);
	/* the events database beside it (store_sqlite_events.c) */
	if (strlen(path) > 3 && strcmp(path + strlen(path) - 3, ".db") == 0) {
		static const char *const sfx[] = { "-events.db", "-events.db-wal",
			"-events.db-shm" };
		for (size_t i = 0; i < 3; i++) {
			p = xasprintf("%.*s%s", (int)(strlen(path) - 3), path, sfx[i]);
			unlink(p);
			free(p);
		}
	}
}

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	char *err = NULL;

	snprintf(f->dir, sizeof(f->dir), "/tmp/hermod-store.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	f->path = xasprintf("%s/hermod.db", f->dir);
	f->url = xasprintf("sqlite:%s", f->path);
	if (store_open(&f->st, f->url, &err) != 0) {
		fprintf(stderr, "store_open: %s\n", err);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	store_close(f->st);
	remove_db(f->path);
	rmdir(f->dir);
	free(f->path);
	free(f->url);
	free(f);
	return 0;
}

static void
test_open_errors(void **state)
{
	struct store *st = NULL;
	char *err = NULL;

	(void)state;
	assert_int_equal(store_open(&st, "postgres://u@localhost/hermod", &err), -1);
	assert_null(st);
	assert_non_null(strstr(err, "not supported yet"));
	free(err);
	err = NULL;
	assert_int_equal(store_open(&st, "mysql://x", &err), -1);
	assert_non_null(strstr(err, "unknown scheme"));
	free(err);
	err = NULL;
	assert_int_equal(store_open(&st, "sqlite:/nonexistent-dir/x/hermod.db", &err), -1);
	assert_non_null(strstr(err, "No such file"));
	free(err);
	/* err may be NULL: the caller does not want the sentence. */
	assert_int_equal(store_open(&st, "sqlite:/nonexistent-dir/x/hermod.db", NULL), -1);
}

static void
test_open_forms(void **state)
{
	struct fixture *f = *state;
	struct store *st = NULL;
	char *url, *err = NULL;

	assert_int_equal(store_open(&st, "sqlite::memory:", &err), 0);
	assert_int_equal(store_account_create(st, "mem", &err), 0);
	assert_int_equal(store_account_exists(st, "mem", &err), 0);
	store_close(st);
	store_close(NULL);
	/* sqlite:///abs/path names the same file as sqlite:/abs/path. */
	assert_int_equal(store_account_create(f->st, "shared", &err), 0);
	url = xasprintf("sqlite://%s", f->path);
	assert_int_equal(store_open(&st, url, &err), 0);
	assert_int_equal(store_account_exists(st, "shared", &err), 0);
	store_close(st);
	free(url);
}

/* schema_rows() counts the schema_version rows (version is their key). */
static int
schema_rows(const char *path)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int n = -1;

	if (sqlite3_open(path, &db) != SQLITE_OK)
		return -1;
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM schema_version",
	    -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

static void
test_schema(void **state)
{
	struct fixture *f = *state;
	struct stat sb;

	/* Every migration applied, each recorded once, in order. */
	assert_true(store_schema_version(f->st) >= 2);
	assert_int_equal(schema_rows(f->path), store_schema_version(f->st));
	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
}

static void
test_newer_schema_refused(void **state)
{
	struct fixture *f = *state;
	struct store *st = NULL;
	sqlite3 *db;
	char *err = NULL;

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "INSERT INTO schema_version VALUES (99, 0)", NULL, NULL,
	    NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_open(&st, f->url, &err), -1);
	assert_non_null(strstr(err, "newer"));
	free(err);
}

static void
test_accounts(void **state)
{
	struct fixture *f = *state;
	struct store_account *v;
	size_t n;
	char *err = NULL;

	assert_int_equal(store_account_create(f->st, "shop", &err), 0);
	assert_int_equal(store_account_create(f->st, "a.b_c-9", &err), 0);
	assert_int_equal(store_account_create(f->st, "shop", &err), STORE_EXISTS);
	assert_null(err);
	assert_int_equal(store_account_create(f->st, "Shop", &err), -1);
	assert_non_null(strstr(err, "invalid account name"));
	free(err);
	err = NULL;
	assert_int_equal(store_account_create(f->st, "", &err), -1);
	free(err);
	err = NULL;
	/* 64 characters is the limit; 65 is refused. */
	assert_int_equal(store_account_create(f->st,
	    "a123456789012345678901234567890123456789012345678901234567890123", &err), 0);
	assert_int_equal(store_account_create(f->st,
	    "a1234567890123456789012345678901234567890123456789012345678901234", &err), -1);
	free(err);
	err = NULL;
	assert_int_equal(store_account_create(f->st, "x'; DROP TABLE accounts; --", &err), -1);
	free(err);
	err = NULL;
	assert_int_equal(store_account_exists(f->st, "shop", &err), 0);
	assert_int_equal(store_account_exists(f->st, "nope", &err), STORE_NOTFOUND);
	assert_int_equal(store_account_exists(f->st, "NOT VALID", &err), STORE_NOTFOUND);
	assert_int_equal(store_account_list(f->st, &v, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_string_equal(v[0].name, "a.b_c-9");
	assert_string_equal(v[2].name, "shop");
	assert_true(v[2].created > 1700000000000LL);
	store_account_list_free(v, n);
}

/* file_contains() tells whether the file at path holds needle anywhere. */
static int
file_contains(const char *path, const void *needle, size_t nlen)
{
	char *data = NULL;
	size_t len = 0;
	int found;

	if (fs_read_file(path, 64 * 1024 * 1024, &data, &len) < 0)
		return 0;
	found = memmem(data, len, needle, nlen) != NULL;
	free(data);
	return found;
}

static void
test_keys(void **state)
{
	struct fixture *f = *state;
	char *secret = NULL, *admin = NULL, *account = NULL, *scope = NULL, *err = NULL;
	char bad[AUTH_KEY_LEN + 1];
	unsigned char hash[AUTH_KEY_HASH_LEN];
	struct store_key *v;
	size_t n;

	assert_int_equal(store_account_create(f->st, "shop", &err), 0);
	assert_int_equal(store_account_create(f->st, "other", &err), 0);
	assert_int_equal(store_key_create(f->st, "nope", "send", &secret, &err), STORE_NOTFOUND);
	assert_null(secret);
	assert_int_equal(store_key_create(f->st, "shop", "root", &secret, &err), -1);
	assert_non_null(strstr(err, "scope"));
	free(err);
	err = NULL;
	assert_int_equal(store_key_create(f->st, "shop", "send", &secret, &err), 0);
	assert_int_equal(store_key_create(f->st, "shop", "admin", &admin, &err), 0);
	assert_int_equal(strlen(secret), AUTH_KEY_LEN);
	assert_true(auth_key_wellformed(secret, strlen(secret)));
	assert_string_not_equal(secret, admin);

	/* Good key: account and scope come back. */
	assert_int_equal(store_key_verify(f->st, secret, &account, &scope, &err), 0);
	assert_string_equal(account, "shop");
	assert_string_equal(scope, "send");
	assert_true(auth_scope_allows(scope, "send"));
	assert_false(auth_scope_allows(scope, "admin"));	/* wrong scope */
	free(account);
	free(scope);
	assert_int_equal(store_key_verify(f->st, admin, &account, &scope, &err), 0);
	assert_string_equal(scope, "admin");
	assert_true(auth_scope_allows(scope, "admin"));
	assert_true(auth_scope_allows(scope, "send"));
	free(account);
	free(scope);

	/* Bad keys: one character changed, truncated, extended, garbage, NULL. */
	memcpy(bad, secret, sizeof(bad));
	bad[10] = bad[10] == 'A' ? 'B' : 'A';
	assert_int_equal(store_key_verify(f->st, bad, &account, &scope, &err), STORE_NOTFOUND);
	assert_null(account);
	bad[AUTH_KEY_LEN - 1] = '\0';
	assert_int_equal(store_key_verify(f->st, bad, &account, &scope, &err), STORE_NOTFOUND);
	{
		char *longer = xasprintf("%sA", secret);
		assert_int_equal(store_key_verify(f->st, longer, &account, &scope, &err),
		    STORE_NOTFOUND);
		free(longer);
	}
	assert_int_equal(store_key_verify(f->st, "", &account, &scope, &err), STORE_NOTFOUND);
	assert_int_equal(store_key_verify(f->st, "hm_' OR 1=1 --", &account, &scope, &err),
	    STORE_NOTFOUND);
	assert_int_equal(store_key_verify(f->st, NULL, &account, &scope, &err), STORE_NOTFOUND);

	/* Listing shows prefixes, never secrets; last_used was recorded. */
	assert_int_equal(store_key_list(f->st, "shop", &v, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(strlen(v[0].prefix), AUTH_KEY_SHOW_LEN);
	assert_memory_equal(v[0].prefix, secret, AUTH_KEY_SHOW_LEN);
	assert_string_equal(v[0].scope, "send");
	assert_true(v[0].last_used > 0);
	assert_int_equal(v[0].revoked, 0);
	store_key_list_free(v, n);
	assert_int_equal(store_key_list(f->st, "other", &v, &n, &err), 0);
	assert_int_equal(n, 0);
	store_key_list_free(v, n);
	assert_int_equal(store_key_list(f->st, "nope", &v, &n, &err), STORE_NOTFOUND);

	/* Only the hash is on disk: close (checkpointing the WAL), then look
	 * for the secret, its random part, and the hash in the file's bytes. */
	auth_key_hash(secret, strlen(secret), hash);
	store_close(f->st);
	f->st = NULL;
	assert_false(file_contains(f->path, secret, strlen(secret)));
	assert_false(file_contains(f->path, secret + 3, strlen(secret) - 3));
	assert_false(file_contains(f->path, admin + 3, strlen(admin) - 3));
	assert_true(file_contains(f->path, hash, sizeof(hash)));
	assert_int_equal(store_open(&f->st, f->url, &err), 0);

	/* Revoked keys stop working; revoking twice or another's key fails. */
	assert_int_equal(store_key_revoke(f->st, "other", 1, &err), STORE_NOTFOUND);
	assert_int_equal(store_key_revoke(f->st, "shop", 1, &err), 0);
	assert_int_equal(store_key_revoke(f->st, "shop", 1, &err), STORE_NOTFOUND);
	assert_int_equal(store_key_verify(f->st, secret, &account, &scope, &err), STORE_NOTFOUND);
	assert_int_equal(store_key_verify(f->st, admin, &account, &scope, &err), 0);
	free(account);
	free(scope);
	free(secret);
	free(admin);
}

static void
test_domains(void **state)
{
	struct fixture *f = *state;
	struct store_domain d, *v;
	char **list = NULL, *owner = NULL, *err = NULL;
	int verified = -1;
	size_t n;

	assert_int_equal(store_account_create(f->st, "shop", &err), 0);
	assert_int_equal(store_account_create(f->st, "other", &err), 0);
	assert_int_equal(store_domain_add(f->st, "nope", "x.example", &err), STORE_NOTFOUND);
	assert_int_equal(store_domain_add(f->st, "shop", "Shop.Example.", &err), 0);
	assert_int_equal(store_domain_add(f->st, "shop", "shop.example", &err), STORE_EXISTS);
	assert_int_equal(store_domain_add(f->st, "other", "SHOP.example", &err), STORE_EXISTS);
	/* Parents and children of another account's domain are refused;
	 * the same account may add its own subdomains. */
	assert_int_equal(store_domain_add(f->st, "other", "mail.shop.example", &err), STORE_EXISTS);
	assert_int_equal(store_domain_add(f->st, "shop", "mail.shop.example", &err), 0);
	assert_int_equal(store_domain_add(f->st, "other", "big.example", &err), 0);
	assert_int_equal(store_domain_add(f->st, "shop", "a.b.big.example", &err), STORE_EXISTS);
	assert_int_equal(store_domain_add(f->st, "other", "hop.example", &err), 0);
	assert_int_equal(store_domain_add(f->st, "other", "bücher.example", &err), 0);
	assert_int_equal(store_domain_add(f->st, "other", "BÜCHER.example", &err), STORE_EXISTS);
	assert_int_equal(store_domain_add(f->st, "shop", "bad..example", &err), -1);
	free(err);
	err = NULL;
	assert_int_equal(store_domain_add(f->st, "shop", "localhost", &err), -1);
	free(err);
	err = NULL;

	assert_int_equal(store_domain_owner(f->st, "SHOP.EXAMPLE", &owner, &verified, &err), 0);
	assert_string_equal(owner, "shop");
	assert_int_equal(verified, 0);
	free(owner);
	assert_int_equal(store_domain_owner(f->st, "xn--bcher-kva.example", &owner, NULL, &err), 0);
	assert_string_equal(owner, "other");
	free(owner);
	assert_int_equal(store_domain_owner(f->st, "none.example", &owner, NULL, &err),
	    STORE_NOTFOUND);
	assert_null(owner);
	assert_int_equal(store_domain_owner(f->st, "not a domain", NULL, NULL, &err),
	    STORE_NOTFOUND);

	assert_int_equal(store_domain_list(f->st, "shop", &list, &err), 0);
	assert_string_equal(list[0], "mail.shop.example");
	assert_string_equal(list[1], "shop.example");
	assert_null(list[2]);
	assert_true(auth_domain_allowed(list, "shop.example"));
	assert_true(auth_domain_allowed(list, "News.Shop.Example"));
	assert_false(auth_domain_allowed(list, "hop.example"));
	store_strv_free(list);
	assert_int_equal(store_domain_list(f->st, NULL, &list, &err), 0);
	assert_non_null(list[4]);
	assert_null(list[5]);
	store_strv_free(list);

	assert_int_equal(store_domain_set_verified(f->st, "shop.example", 1, &err), 0);
	assert_int_equal(store_domain_set_verified(f->st, "none.example", 1, &err), STORE_NOTFOUND);
	assert_int_equal(store_domain_set_dkim(f->st, "shop.example", "s2026", "ed25519", &err), 0);
	assert_int_equal(store_domain_set_dkim(f->st, "shop.example", "bad sel", "rsa", &err), -1);
	free(err);
	err = NULL;
	assert_int_equal(store_domain_set_dkim(f->st, "shop.example", "s1", "dsa", &err), -1);
	free(err);
	err = NULL;
	assert_int_equal(store_domain_get(f->st, "shop.example", &d, &err), 0);
	assert_string_equal(d.domain, "shop.example");
	assert_string_equal(d.account, "shop");
	assert_int_equal(d.verified, 1);
	assert_string_equal(d.dkim_selector, "s2026");
	assert_string_equal(d.dkim_algo, "ed25519");
	store_domain_free(&d);
	assert_int_equal(store_domain_get(f->st, "none.example", &d, &err), STORE_NOTFOUND);

	assert_int_equal(store_domain_list_info(f->st, "other", &v, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_string_equal(v[0].domain, "big.example");
	assert_null(v[0].dkim_selector);
	store_domain_list_info_free(v, n);
}

static void
test_reopen(void **state)
{
	struct fixture *f = *state;
	char *secret = NULL, *account = NULL, *scope = NULL, *err = NULL, *owner = NULL;
	int v;

	assert_int_equal(store_account_create(f->st, "shop", &err), 0);
	assert_int_equal(store_key_create(f->st, "shop", "send", &secret, &err), 0);
	assert_int_equal(store_domain_add(f->st, "shop", "shop.example", &err), 0);
	v = store_schema_version(f->st);
	store_close(f->st);
	assert_int_equal(store_open(&f->st, f->url, &err), 0);
	assert_int_equal(store_schema_version(f->st), v);
	assert_int_equal(schema_rows(f->path), v);	/* nothing applied twice */
	assert_int_equal(store_account_exists(f->st, "shop", &err), 0);
	assert_int_equal(store_key_verify(f->st, secret, &account, &scope, &err), 0);
	assert_string_equal(account, "shop");
	assert_int_equal(store_domain_owner(f->st, "shop.example", &owner, NULL, &err), 0);
	free(owner);
	free(account);
	free(scope);
	free(secret);
}

/* Several threads share one handle (as the daemon's worker pool does), while
 * as many more use their own connections to the same file (as the CLI does
 * beside a running daemon). Every write must land, none may fail busy. */
#define THREADS		4
#define PER_THREAD	25

struct worker {
	struct store	*st;	/* shared handle, or NULL: open a private one */
	const char	*url;
	int		 n;
	int		 failures;
};

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct store *st = w->st;
	char name[64], dom[80], *secret, *account, *scope, *err = NULL;

	if (st == NULL && store_open(&st, w->url, &err) != 0) {
		fprintf(stderr, "worker open: %s\n", err);
		free(err);
		w->failures++;
		return NULL;
	}
	for (int i = 0; i < PER_THREAD; i++) {
		snprintf(name, sizeof(name), "acct-%d-%d", w->n, i);
		snprintf(dom, sizeof(dom), "d%d-%d.example", w->n, i);
		if (store_account_create(st, name, &err) != 0 ||
		    store_key_create(st, name, "send", &secret, &err) != 0 ||
		    store_domain_add(st, name, dom, &err) != 0) {
			fprintf(stderr, "worker: %s\n", err ? err : "unexpected code");
			free(err);
			err = NULL;
			w->failures++;
			continue;
		}
		if (store_key_verify(st, secret, &account, &scope, &err) != 0 ||
		    strcmp(account, name) != 0)
			w->failures++;
		else {
			free(account);
			free(scope);
		}
		free(secret);
	}
	if (w->st == NULL)
		store_close(st);
	return NULL;
}

static void
test_concurrency(void **state)
{
	struct fixture *f = *state;
	pthread_t th[2 * THREADS];
	struct worker w[2 * THREADS];
	struct store_account *v;
	char **domains, *err = NULL;
	size_t n;
	int i;

	for (i = 0; i < 2 * THREADS; i++) {
		w[i] = (struct worker){ .st = i < THREADS ? f->st : NULL, .url = f->url, .n = i };
		assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
	}
	for (i = 0; i < 2 * THREADS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].failures, 0);
	}
	assert_int_equal(store_account_list(f->st, &v, &n, &err), 0);
	assert_int_equal(n, 2 * THREADS * PER_THREAD);
	store_account_list_free(v, n);
	assert_int_equal(store_domain_list(f->st, NULL, &domains, &err), 0);
	for (n = 0; domains[n] != NULL; n++)
		;
	assert_int_equal(n, 2 * THREADS * PER_THREAD);
	store_strv_free(domains);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test_setup_teardown(test_open_forms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_schema, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_accounts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_domains, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrency, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
