/* smtp_server: the SMTP listeners (submission with STARTTLS, submission over
 * implicit TLS) and the limits that span sessions: connections in total and
 * per client address, AUTH failures per address. Each accepted connection
 * becomes a session (smtp_session.c). */
#ifndef HERMOD_SMTP_SERVER_H
#define HERMOD_SMTP_SERVER_H
#include <stddef.h>
#include <uv.h>
#include <openssl/ssl.h>

struct config;
struct dkim_keyring;
struct spool;
struct store;
struct smtp_server;
struct suppress;

/* smtp_server_start() binds cfg's submission.listen (STARTTLS offered when
 * tls is not NULL) and submission.listen_tls (implicit TLS; needs tls). Empty
 * addresses are skipped. Messages are DKIM-signed with keyring (may be
 * NULL). 0, or -1 with *err (caller frees). */
int	smtp_server_start(uv_loop_t *loop, const struct config *cfg, struct spool *sp,
	    struct store *st, SSL_CTX *tls, struct dkim_keyring *keyring,
	    struct smtp_server **out, char **err);

/* smtp_server_set_suppress() makes RCPT refuse (550 5.7.1) the addresses
 * on the account's suppression list. */
void	smtp_server_set_suppress(struct smtp_server *srv, struct suppress *sp);

/* smtp_server_drain() stops accepting; sessions finish the command in hand,
 * idle ones are told 421 and closed. done(arg) fires once no session is left
 * (at once when there are none). */
void	smtp_server_drain(struct smtp_server *srv, void (*done)(void *arg), void *arg);
/* smtp_server_free() frees the server after it drained. */
void	smtp_server_free(struct smtp_server *srv);
size_t	smtp_server_sessions(const struct smtp_server *srv);
/* smtp_server_set_accounts() makes sessions ask a's account limits at each
 * RCPT (451 4.7.1 over them). Call right after smtp_server_start(). */
struct account_state;
void	smtp_server_set_accounts(struct smtp_server *srv, struct account_state *a);

#endif
