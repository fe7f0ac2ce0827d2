/* store: the metadata store (accounts, API keys, domains; later events,
 * suppressions, webhooks). SQLite by default (WAL, synchronous=FULL);
 * PostgreSQL behind the same functions when one node is not enough.
 *
 * Every function blocks on the database: call them from the CLI or from a
 * worker thread (uv_queue_work), never on the loop thread. A store handle is
 * safe to share between threads (calls are serialised inside). Functions
 * return 0 on success, STORE_NOTFOUND, STORE_EXISTS, or -1 with *err set when
 * err is not NULL (caller frees). */
#ifndef HERMOD_STORE_H
#define HERMOD_STORE_H
#include <stddef.h>
#include <stdint.h>

#define STORE_NOTFOUND	1
#define STORE_EXISTS	2

struct store;

int	store_open(struct store **out, const char *url, char **err);
void	store_close(struct store *st);

int	store_account_create(struct store *st, const char *name, char **err);
int	store_account_exists(struct store *st, const char *name, char **err);

/* store_key_create() makes a random 256-bit API key for account with scope
 * "send" or "admin"; *secret gets the printable key (shown once, never
 * stored: only its SHA-256 is). */
int	store_key_create(struct store *st, const char *account, const char *scope,
	    char **secret, char **err);
/* store_key_verify() finds the key whose hash matches secret (compared in
 * constant time) and returns its account and scope (caller frees). */
int	store_key_verify(struct store *st, const char *secret, char **account, char **scope,
	    char **err);

/* store_domain_add() registers domain (lower-cased, IDNA A-label) for account. */
int	store_domain_add(struct store *st, const char *account, const char *domain, char **err);
/* store_domain_owner() returns the account that registered domain, and
 * whether its DNS is verified. */
int	store_domain_owner(struct store *st, const char *domain, char **account, int *verified,
	    char **err);
/* store_domain_list() returns the account's domains (NULL-ended array,
 * caller frees with store_strv_free); account NULL lists all. */
int	store_domain_list(struct store *st, const char *account, char ***domains, char **err);
int	store_domain_set_verified(struct store *st, const char *domain, int verified, char **err);
void	store_strv_free(char **v);

#endif
