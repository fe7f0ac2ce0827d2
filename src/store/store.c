/* store: the public face of the metadata store. It picks a backend from the
 * URL, checks and normalises every argument (account names, scopes, domains),
 * turns key secrets into hashes (auth/), and dispatches through the backend's
 * table (store_backend.h). Backends therefore never see a secret or an
 * unchecked name, and a second backend (PostgreSQL) only has to store rows. */
#include "store/store.h"
#include "store/store_backend.h"
#include "auth/auth.h"
#include "suppress/suppress.h"
#include "util/id.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

#include <stdlib.h>
#include <string.h>

struct store {
	const struct store_ops	*ops;
	void			*impl;
	void			*ev;	/* the events database (store.h) */
};

static int
fail(char **err, char *msg)
{
	if (err != NULL)
		*err = msg;
	else
		free(msg);
	return -1;
}

static int64_t
now_ms(void)
{
	return (int64_t)time_now_ms();
}

int
store_open(struct store **out, const char *url, char **err)
{
	const struct store_ops *ops = NULL;
	const char *where = NULL;
	void *impl = NULL;
	int rc;

	*out = NULL;
	if (url == NULL || url[0] == '\0')
		return fail(err, xstrdup("store.url is empty"));
	if (strncmp(url, "sqlite:", 7) == 0) {
		ops = &store_sqlite_ops;
		where = url + 7;
		/* Accept sqlite:///abs/path too, as other tools write it. */
		if (strncmp(where, "//", 2) == 0)
			where += 2;
		if (where[0] == '\0')
			return fail(err, xasprintf("store.url %s: sqlite: needs a path", url));
	} else if (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0) {
		return fail(err, xstrdup("store.url: PostgreSQL is not supported yet; "
		    "use sqlite:PATH"));
	} else {
		return fail(err, xasprintf("store.url: unknown scheme in %s "
		    "(expected sqlite:PATH)", url));
	}
	if ((rc = ops->open(&impl, where, err)) != 0)
		return rc;
	*out = xmalloc(sizeof(**out));
	(*out)->ops = ops;
	(*out)->impl = impl;
	(*out)->ev = NULL;
	if ((rc = ops->events_open(&(*out)->ev, where, err)) != 0) {
		ops->close(impl);
		free(*out);
		*out = NULL;
		return rc;
	}
	return 0;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	st->ops->events_close(st->ev);
	st->ops->close(st->impl);
	free(st);
}

int
store_schema_version(struct store *st)
{
	return st->ops->schema_version(st->impl);
}

static int
check_account(const char *name, char **err)
{
	if (!auth_account_name_valid(name))
		return fail(err, xasprintf("invalid account name \"%s\": use 1 to 64 of a-z 0-9 . _ -",
		    name ? name : ""));
	return 0;
}

int
store_account_create(struct store *st, const char *name, char **err)
{
	if (check_account(name, err) < 0)
		return -1;
	return st->ops->account_create(st->impl, name, now_ms(), err);
}

int
store_account_exists(struct store *st, const char *name, char **err)
{
	/* A name that cannot exist is simply not found: callers (SMTP, HTTP)
	 * pass whatever a client sent. */
	if (!auth_account_name_valid(name))
		return STORE_NOTFOUND;
	return st->ops->account_exists(st->impl, name, err);
}

int
store_account_list(struct store *st, struct store_account **out, size_t *n, char **err)
{
	*out = NULL;
	*n = 0;
	return st->ops->account_list(st->impl, out, n, err);
}

void
store_account_list_free(struct store_account *v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++)
		free(v[i].name);
	free(v);
}

int
store_key_create(struct store *st, const char *account, const char *scope, char **secret,
    char **err)
{
	char key[AUTH_KEY_LEN + 1], prefix[AUTH_KEY_SHOW_LEN + 1];
	unsigned char hash[AUTH_KEY_HASH_LEN];
	int rc;

	*secret = NULL;
	if (!auth_account_name_valid(account))
		return STORE_NOTFOUND;
	if (!auth_scope_valid(scope))
		return fail(err, xasprintf("invalid scope \"%s\": use send or admin",
		    scope ? scope : ""));
	auth_key_new(key);
	auth_key_hash(key, AUTH_KEY_LEN, hash);
	memcpy(prefix, key, AUTH_KEY_SHOW_LEN);
	prefix[AUTH_KEY_SHOW_LEN] = '\0';
	rc = st->ops->key_create(st->impl, account, scope, hash, prefix, now_ms(), err);
	if (rc == 0)
		*secret = xstrdup(key);
	auth_wipe(key, sizeof(key));
	return rc;
}

int
store_key_verify(struct store *st, const char *secret, char **account, char **scope,
    char **err)
{
	unsigned char hash[AUTH_KEY_HASH_LEN];
	size_t len;

	*account = NULL;
	*scope = NULL;
	if (secret == NULL)
		return STORE_NOTFOUND;
	len = strnlen(secret, AUTH_KEY_LEN + 1);
	if (!auth_key_wellformed(secret, len))
		return STORE_NOTFOUND;
	auth_key_hash(secret, len, hash);
	return st->ops->key_verify(st->impl, hash, now_ms(), account, scope, err);
}

int
store_key_list(struct store *st, const char *account, struct store_key **out, size_t *n,
    char **err)
{
	*out = NULL;
	*n = 0;
	if (account != NULL && !auth_account_name_valid(account))
		return STORE_NOTFOUND;
	return st->ops->key_list(st->impl, account, out, n, err);
}

void
store_key_list_free(struct store_key *v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++) {
		free(v[i].account);
		free(v[i].scope);
		free(v[i].prefix);
	}
	free(v);
}

int
store_key_revoke(struct store *st, const char *account, int64_t id, char **err)
{
	if (!auth_account_name_valid(account))
		return STORE_NOTFOUND;
	return st->ops->key_revoke(st->impl, account, id, now_ms(), err);
}

int
store_domain_add(struct store *st, const char *account, const char *domain, char **err)
{
	char *d, *why = NULL;
	int rc;

	if (!auth_account_name_valid(account))
		return STORE_NOTFOUND;
	if ((d = auth_domain_normalize(domain, &why)) == NULL)
		return fail(err, why);
	rc = st->ops->domain_add(st->impl, account, d, now_ms(), err);
	free(d);
	return rc;
}

/* lookup_domain() normalises a domain given by a caller for a lookup: one
 * that cannot be valid is simply not registered. */
static char *
lookup_domain(const char *domain)
{
	char *d, *why = NULL;

	if ((d = auth_domain_normalize(domain, &why)) == NULL)
		free(why);
	return d;
}

int
store_domain_owner(struct store *st, const char *domain, char **account, int *verified,
    char **err)
{
	struct store_domain info;
	int rc;

	if (account != NULL)
		*account = NULL;
	if ((rc = store_domain_get(st, domain, &info, err)) != 0)
		return rc;
	if (account != NULL) {
		*account = info.account;
		info.account = NULL;
	}
	if (verified != NULL)
		*verified = info.verified;
	store_domain_free(&info);
	return 0;
}

int
store_domain_get(struct store *st, const char *domain, struct store_domain *out, char **err)
{
	char *d;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((d = lookup_domain(domain)) == NULL)
		return STORE_NOTFOUND;
	rc = st->ops->domain_get(st->impl, d, out, err);
	free(d);
	return rc;
}

void
store_domain_free(struct store_domain *d)
{
	if (d == NULL)
		return;
	free(d->domain);
	free(d->account);
	free(d->dkim_selector);
	free(d->dkim_algo);
	memset(d, 0, sizeof(*d));
}

int
store_domain_list_info(struct store *st, const char *account, struct store_domain **out,
    size_t *n, char **err)
{
	*out = NULL;
	*n = 0;
	if (account != NULL && !auth_account_name_valid(account))
		return 0;
	return st->ops->domain_list(st->impl, account, out, n, err);
}

void
store_domain_list_info_free(struct store_domain *v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++)
		store_domain_free(&v[i]);
	free(v);
}

int
store_domain_list(struct store *st, const char *account, char ***domains, char **err)
{
	struct store_domain *v;
	size_t n;
	int rc;

	*domains = NULL;
	if ((rc = store_domain_list_info(st, account, &v, &n, err)) != 0)
		return rc;
	*domains = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		(*domains)[i] = v[i].domain;
		v[i].domain = NULL;
	}
	store_domain_list_info_free(v, n);
	return 0;
}

void
store_strv_free(char **v)
{
	for (size_t i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

int
store_domain_set_verified(struct store *st, const char *domain, int verified, char **err)
{
	char *d;
	int rc;

	if ((d = lookup_domain(domain)) == NULL)
		return STORE_NOTFOUND;
	rc = st->ops->domain_set_verified(st->impl, d, verified != 0, err);
	free(d);
	return rc;
}

int
store_domain_set_dkim(struct store *st, const char *domain, const char *selector,
    const char *algo, char **err)
{
	char *d;
	int rc;

	if (!auth_selector_valid(selector))
		return fail(err, xasprintf("invalid DKIM selector \"%s\"", selector ? selector : ""));
	if (algo == NULL || (strcmp(algo, "rsa") && strcmp(algo, "ed25519") &&
	    strcmp(algo, "rsa+ed25519")))
		return fail(err, xasprintf("invalid DKIM algorithm \"%s\": use rsa, ed25519 "
		    "or rsa+ed25519", algo ? algo : ""));
	if ((d = lookup_domain(domain)) == NULL)
		return STORE_NOTFOUND;
	rc = st->ops->domain_set_dkim(st->impl, d, selector, algo, err);
	free(d);
	return rc;
}

int
store_idem_get(struct store *st, const char *account, const char *key, int64_t since,
    struct store_idem *out, char **err)
{
	if (account == NULL || key == NULL)
		return fail(err, xstrdup("idempotency: account and key are required"));
	return st->ops->idem_get(st->impl, account, key, since, out, err);
}

int
store_idem_put(struct store *st, const char *account, const char *key,
    const unsigned char hash[STORE_IDEM_HASH_LEN], int status, const char *answer,
    int64_t ttl_ms, char **err)
{
	int64_t now = now_ms();

	if (account == NULL || key == NULL || answer == NULL)
		return fail(err, xstrdup("idempotency: account, key and answer are required"));
	return st->ops->idem_put(st->impl, account, key, hash, status, answer, now, now - ttl_ms,
	    err);
}

int
store_idem_expire(struct store *st, int64_t before, char **err)
{
	return st->ops->idem_expire(st->impl, before, err);
}

void
store_idem_free(struct store_idem *r)
{
	free(r->answer);
	r->answer = NULL;
}

/* ---- events: checked here, stored by the backend's events database ---- */

int
store_events_insert(struct store *st, struct store_event *v, size_t n, char **err)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].id == NULL || v[i].type == NULL || v[i].json == NULL)
			return fail(err, xstrdup("events: id, type and json are required"));
	if (n == 0)
		return 0;
	return st->ops->events_insert(st->ev, v, n, err);
}

int
store_events_after(struct store *st, int64_t after_seq, const char *account, size_t limit,
    struct store_event **out, size_t *n, char **err)
{
	*out = NULL;
	*n = 0;
	if (limit == 0)
		return 0;
	return st->ops->events_after(st->ev, after_seq, account, limit, out, n, err);
}

int
store_event_recipient(struct store *st, const char *message_id, int rcpt_index,
    char **account, char **recipient, char **err)
{
	*account = NULL;
	*recipient = NULL;
	if (message_id == NULL || rcpt_index < 0)
		return STORE_NOTFOUND;
	return st->ops->event_recipient(st->ev, message_id, rcpt_index, account, recipient, err);
}

int
store_event_first_json(struct store *st, const char *message_id, char **json, char **err)
{
	*json = NULL;
	if (message_id == NULL || *message_id == '\0')
		return STORE_NOTFOUND;
	return st->ops->event_first_json(st->ev, message_id, json, err);
}

int
store_event_find_message(struct store *st, const char *header_message_id, char **message_id,
    char **account, char **err)
{
	size_t n = header_message_id ? strlen(header_message_id) : 0;
	char *bare;
	int rc;

	*message_id = NULL;
	*account = NULL;
	if (n == 0)
		return STORE_NOTFOUND;
	/* stored without <>; a caller may hand the header's form */
	if (n >= 2 && header_message_id[0] == '<' && header_message_id[n - 1] == '>')
		bare = xasprintf("%.*s", (int)(n - 2), header_message_id + 1);
	else
		bare = xstrdup(header_message_id);
	rc = st->ops->event_find_message(st->ev, bare, message_id, account, err);
	free(bare);
	return rc;
}

void
store_events_free(struct store_event *v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++) {
		free(v[i].id);
		free(v[i].type);
		free(v[i].account);
		free(v[i].message_id);
		free(v[i].header_message_id);
		free(v[i].recipient);
		free(v[i].json);
	}
	free(v);
}

int
store_events_query(struct store *st, const struct store_event_query *q,
    struct store_event **out, size_t *n, char **err)
{
	*out = NULL;
	*n = 0;
	if (q->account == NULL)
		return fail(err, xstrdup("events: the query needs an account"));
	if (q->limit < 1 || q->limit > STORE_EVENTS_MAX)
		return fail(err, xasprintf("events: limit must be 1 to %d", STORE_EVENTS_MAX));
	return st->ops->events_query(st->ev, q, out, n, err);
}

int
store_events_prune(struct store *st, int64_t before, size_t max, size_t *deleted, char **err)
{
	*deleted = 0;
	if (max == 0)
		return 0;
	return st->ops->events_prune(st->ev, before, max, deleted, err);
}

int
store_events_stats(struct store *st, const char *account, int64_t from, int64_t to,
    const char *group_by, struct store_event_count **out, size_t *n, char **err)
{
	*out = NULL;
	*n = 0;
	if (account == NULL)
		return fail(err, xstrdup("events: stats need an account"));
	if (group_by != NULL && strcmp(group_by, "day") != 0 && strcmp(group_by, "domain") != 0 &&
	    strcmp(group_by, "tag") != 0)
		return fail(err, xasprintf("events: cannot group by \"%s\"", group_by));
	return st->ops->events_stats(st->ev, account, from, to, group_by, out, n, err);
}

void
store_event_counts_free(struct store_event_count *v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++) {
		free(v[i].key);
		free(v[i].type);
	}
	free(v);
}
/* ---- suppression lists ---- */

/* suppress_addr() normalises an address for the list; NULL (with a
 * sentence in *err) when it is not one. */
static char *
suppress_addr(const char *address, char **err)
{
	const char *why = NULL;
	char *a = suppress_addr_normalize(address, &why);

	if (a == NULL)
		fail(err, xasprintf("invalid address \"%s\": %s", address ? address : "",
		    why ? why : "not an email address"));
	return a;
}

int
store_suppress_add(struct store *st, const char *account, const char *address,
    const char *reason, const char *source, const char *who, struct store_suppression *out,
    char **err)
{
	char *a;
	int rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (!auth_account_name_valid(account))
		return STORE_NOTFOUND;
	if (!suppress_reason_valid(reason))
		return fail(err, xasprintf("invalid reason \"%s\": use hard_bounce, soft_bounce, "
		    "complaint, unsubscribe or manual", reason ? reason : ""));
	if ((a = suppress_addr(address, err)) == NULL)
		return -1;
	/* The CLI's changes are announced by the daemon (it may not run now);
	 * the daemon's own callers emit their events as they change. */
	rc = st->ops->suppress_add(st->impl, account, a, reason, source, who ? who : "api",
	    who == NULL || strcmp(who, "cli") != 0, now_ms(), out, err);
	free(a);
	return rc;
}

int
store_suppress_remove(struct store *st, const char *account, const char *address,
    const char *who, struct store_suppression *out, char **err)
{
	char *a;
	int rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (!auth_account_name_valid(account))
		return STORE_NOTFOUND;
	if ((a = suppress_addr_normalize(address, NULL)) == NULL)
		return STORE_NOTFOUND;	/* cannot be listed */
	rc = st->ops->suppress_remove(st->impl, account, a, who ? who : "api",
	    who == NULL || strcmp(who, "cli") != 0, now_ms(), out, err);
	free(a);
	return rc;
}

int
store_suppress_get(struct store *st, const char *account, const char *address,
    struct store_suppression *out, char **err)
{
	char *a;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!auth_account_name_valid(account) ||
	    (a = suppress_addr_normalize(address, NULL)) == NULL)
		return STORE_NOTFOUND;
	rc = st->ops->suppress_get(st->impl, account, a, out, err);
	free(a);
	return rc;
}

int
store_suppress_list(struct store *st, const char *account, const char *reason, int64_t after,
    size_t limit, struct store_suppression **out, size_t *n, char **err)
{
	*out = NULL;
	*n = 0;
	if (!auth_account_name_valid(account))
		return 0;
	if (reason != NULL && !suppress_reason_valid(reason))
		return fail(err, xasprintf("invalid reason \"%s\"", reason));
	return st->ops->suppress_list(st->impl, account, reason, after, limit, out, n, err);
}

void
store_suppression_free(struct store_suppression *s)
{
	if (s == NULL)
		return;
	free(s->account);
	free(s->address);
	free(s->reason);
	free(s->source);
	free(s->who);
	memset(s, 0, sizeof(*s));
}

void
store_suppression_list_free(struct store_suppression *v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++)
		store_suppression_free(&v[i]);
	free(v);
}

int
store_suppress_each(struct store *st, void (*fn)(const char *account, const char *address,
    void *arg), void *arg, int64_t *last_seq, char **err)
{
	*last_seq = 0;
	return st->ops->suppress_each(st->impl, fn, arg, last_seq, err);
}

int
store_suppress_changes(struct store *st, int64_t after, int unannounced_only, size_t limit,
    struct store_suppress_change **out, size_t *n, char **err)
{
	*out = NULL;
	*n = 0;
	return st->ops->suppress_changes(st->impl, after, unannounced_only, limit, out, n, err);
}

void
store_suppress_changes_free(struct store_suppress_change *v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++) {
		free(v[i].account);
		free(v[i].address);
		free(v[i].reason);
		free(v[i].source);
		free(v[i].who);
	}
	free(v);
}

int
store_suppress_announce(struct store *st, int64_t seq, char **err)
{
	return st->ops->suppress_announce(st->impl, seq, err);
}

int
store_suppress_changes_expire(struct store *st, int64_t before, char **err)
{
	return st->ops->suppress_changes_expire(st->impl, before, err);
}

int
store_suppress_soft_many(struct store *st, struct store_soft_bounce *v, size_t n, int64_t now,
    int64_t gap_ms, char **err)
{
	struct store_soft_bounce *norm = xcalloc(n ? n : 1, sizeof(*norm));
	size_t ok = 0;
	int rc = 0;

	for (size_t i = 0; i < n; i++) {
		char *a = NULL;
		v[i].count = 0;
		v[i].first = now;
		v[i].rc = -1;
		norm[i] = v[i];
		norm[i].address = NULL;
		if (auth_account_name_valid(v[i].account) &&
		    (a = suppress_addr_normalize(v[i].address, NULL)) != NULL) {
			norm[i].address = a;
			norm[i].rc = 0;
			ok++;
		}
	}
	if (ok > 0)
		rc = st->ops->suppress_soft(st->impl, norm, n, now, gap_ms, err);
	for (size_t i = 0; i < n; i++) {
		if (rc == 0 && norm[i].rc == 0) {
			v[i].count = norm[i].count;
			v[i].first = norm[i].first;
			v[i].rc = 0;
		}
		free((char *)norm[i].address);
	}
	free(norm);
	return rc;
}

int
store_suppress_soft(struct store *st, const char *account, const char *address, int64_t now,
    int64_t gap_ms, int64_t *count, int64_t *first, char **err)
{
	struct store_soft_bounce one = { .account = account, .address = address };
	int rc = store_suppress_soft_many(st, &one, 1, now, gap_ms, err);

	*count = one.count;
	*first = one.first;
	if (rc == 0 && one.rc != 0)
		return fail(err, xasprintf("invalid address \"%s\"", address ? address : ""));
	return rc;
}

int
store_suppress_soft_clear(struct store *st, const char *account, const char *address,
    char **err)
{
	char *a;
	int rc;

	if (!auth_account_name_valid(account) ||
	    (a = suppress_addr_normalize(address, NULL)) == NULL)
		return STORE_NOTFOUND;
	rc = st->ops->suppress_soft_clear(st->impl, account, a, err);
	free(a);
	return rc;
}

int
store_suppress_soft_each(struct store *st, void (*fn)(const char *account, const char *address,
    void *arg), void *arg, char **err)
{
	return st->ops->suppress_soft_each(st->impl, fn, arg, err);
}

/* ---- per-account settings (src/account) ---- */

int
store_account_settings_get(struct store *st, const char *account,
    struct store_account_settings *out, char **err)
{
	struct store_account_settings *v = NULL;
	size_t n = 0;
	int rc;

	if (account == NULL || !auth_account_name_valid(account))
		return STORE_NOTFOUND;
	rc = st->ops->settings_list(st->impl, account, &v, &n, err);
	if (rc != 0)
		return rc;
	if (n == 0) {
		free(v);
		return STORE_NOTFOUND;
	}
	*out = v[0];
	free(v);
	return 0;
}

int
store_account_settings_list(struct store *st, struct store_account_settings **out, size_t *n,
    char **err)
{
	return st->ops->settings_list(st->impl, NULL, out, n, err);
}

void
store_account_settings_clear(struct store_account_settings *s)
{
	free(s->account);
	free(s->pause_reason);
	memset(s, 0, sizeof(*s));
}

void
store_account_settings_free(struct store_account_settings *v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		store_account_settings_clear(&v[i]);
	free(v);
}

static int
limit_ok(int64_t v)
{
	return v >= 0 || v == STORE_LIMIT_DEFAULT || v == STORE_LIMIT_KEEP;
}

int
store_account_limits_set(struct store *st, const char *account, int64_t per_second,
    int64_t per_hour, int64_t per_day, char **err)
{
	if (account == NULL || !auth_account_name_valid(account))
		return STORE_NOTFOUND;
	if (!limit_ok(per_second) || !limit_ok(per_hour) || !limit_ok(per_day))
		return fail(err, xstrdup("a limit is a whole number >= 0"));
	return st->ops->limits_set(st->impl, account, per_second, per_hour, per_day, now_ms(), err);
}

int
store_account_pause_set(struct store *st, const char *account, int paused, const char *reason,
    char **err)
{
	if (account == NULL || !auth_account_name_valid(account))
		return STORE_NOTFOUND;
	return st->ops->pause_set(st->impl, account, paused != 0, paused ? reason : NULL, now_ms(),
	    err);
}

/* ---- webhook subscriptions (store.h store_webhook_*) ---- */

/* webhook_id_ok() accepts what the API mints: "wh_" + an id. Anything else
 * cannot exist, so callers get STORE_NOTFOUND without a query. */
static int
webhook_id_ok(const char *id)
{
	return id != NULL && strncmp(id, "wh_", 3) == 0 && id_valid(id + 3);
}

int
store_webhook_create(struct store *st, const struct store_webhook *w, size_t max, char **err)
{
	if (!auth_account_name_valid(w->account))
		return STORE_NOTFOUND;
	if (!webhook_id_ok(w->id) || w->url == NULL || w->events == NULL || w->secret == NULL)
		return fail(err, xstrdup("webhook: id, url, events and secret are required"));
	return st->ops->webhook_create(st->impl, w, max, now_ms(), err);
}

int
store_webhook_list(struct store *st, const char *account, struct store_webhook **out, size_t *n,
    char **err)
{
	*out = NULL;
	*n = 0;
	if (!auth_account_name_valid(account))
		return 0;
	return st->ops->webhook_list(st->impl, account, 0, out, n, err);
}

int
store_webhook_active(struct store *st, struct store_webhook **out, size_t *n, char **err)
{
	*out = NULL;
	*n = 0;
	return st->ops->webhook_list(st->impl, NULL, 1, out, n, err);
}

void
store_webhook_list_free(struct store_webhook *v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++) {
		free(v[i].id);
		free(v[i].account);
		free(v[i].url);
		free(v[i].events);
		if (v[i].secret != NULL) {
			memset(v[i].secret, 0, strlen(v[i].secret));
			free(v[i].secret);
		}
		free(v[i].disabled_reason);
	}
	free(v);
}

int
store_webhook_delete(struct store *st, const char *account, const char *id, char **err)
{
	if (!auth_account_name_valid(account) || !webhook_id_ok(id))
		return STORE_NOTFOUND;
	return st->ops->webhook_delete(st->impl, account, id, err);
}

int
store_webhook_set_cursor(struct store *st, const char *id, int64_t cursor, char **err)
{
	if (!webhook_id_ok(id))
		return STORE_NOTFOUND;
	return st->ops->webhook_set_cursor(st->impl, id, cursor, err);
}

int
store_webhook_disable(struct store *st, const char *id, const char *reason, char **err)
{
	if (!webhook_id_ok(id))
		return STORE_NOTFOUND;
	return st->ops->webhook_disable(st->impl, id, reason, now_ms(), err);
}

int
store_webhook_pending_add(struct store *st, const struct store_webhook_pending *p, char **err)
{
	if (!webhook_id_ok(p->webhook) || p->event_id == NULL || p->body == NULL)
		return fail(err, xstrdup("webhook pending: webhook, event id and body are required"));
	return st->ops->webhook_pending_add(st->impl, p, err);
}

int
store_webhook_pending_due(struct store *st, int64_t now, size_t limit,
    struct store_webhook_pending **out, size_t *n, int64_t *next_due, char **err)
{
	*out = NULL;
	*n = 0;
	*next_due = 0;
	return st->ops->webhook_pending_due(st->impl, now, limit, out, n, next_due, err);
}

void
store_webhook_pending_free(struct store_webhook_pending *v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++) {
		free(v[i].webhook);
		free(v[i].event_id);
		free(v[i].message_id);
		free(v[i].body);
	}
	free(v);
}

int
store_webhook_pending_retry(struct store *st, const char *webhook, int64_t seq, int attempts,
    int64_t next_attempt, char **err)
{
	return st->ops->webhook_pending_retry(st->impl, webhook, seq, attempts, next_attempt, err);
}

int
store_webhook_pending_done(struct store *st, const char *webhook, int64_t seq, char **err)
{
	return st->ops->webhook_pending_done(st->impl, webhook, seq, err);
}

int
store_webhook_pending_blocked(struct store *st, const char *webhook, const char *message_id,
    char **err)
{
	if (message_id == NULL)
		return STORE_NOTFOUND;	/* no message: nothing to keep order with */
	return st->ops->webhook_pending_blocked(st->impl, webhook, message_id, err);
}

int
store_webhook_pending_wake(struct store *st, const char *webhook, int64_t now, char **err)
{
	return st->ops->webhook_pending_wake(st->impl, webhook, now, err);
}
