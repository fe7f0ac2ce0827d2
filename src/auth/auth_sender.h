/* auth_sender: the domains an account may send from right now, the one
 * policy SMTP submission and the HTTP API share: a registered domain (or a
 * subdomain of one, see auth_domain_allowed) and, unless
 * server.require_verified_domains is off, one whose DNS records were found
 * right by `hermod domain check`. */
#ifndef HERMOD_AUTH_SENDER_H
#define HERMOD_AUTH_SENDER_H

struct store;

/* auth_sender_domains() returns the account's sending domains as a
 * NULL-ended array (free with store_strv_free), only verified ones when
 * verified_only. Blocking (SQLite): call it on a worker thread. 0 or -1/err. */
int	auth_sender_domains(struct store *st, const char *account, int verified_only,
	    char ***out, char **err);

#endif
