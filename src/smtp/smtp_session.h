/* smtp_session: one SMTP server session, an explicit state machine fed by
 * io events (STYLE 2). Internal to the smtp server: smtp_server.c creates
 * sessions and owns the limits they share. */
#ifndef HERMOD_SMTP_SESSION_H
#define HERMOD_SMTP_SESSION_H
#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include <openssl/ssl.h>

struct config;
struct dkim_keyring;
struct io;
struct spool;
struct store;
struct smtp_session;
struct smtp_inbound_ops;

/* What a session needs from its server. */
struct account_state;

struct smtp_listener_ctx {
	uv_loop_t		*loop;
	const struct config	*cfg;
	struct spool		*spool;
	struct store		*store;
	SSL_CTX			*tls;		/* NULL: no STARTTLS */
	struct dkim_keyring	*keyring;	/* NULL: no DKIM signing */
	int			 implicit_tls;	/* the listener is TLS from the first byte */
	const char		*name;		/* "submission", "submissions" for logs */
	struct smtp_server	*server;
	const struct smtp_inbound_ops *inbound;	/* the inbound listener's policy, or NULL */
	struct account_state	*accounts;	/* account limits (src/account); NULL: none */
	struct suppress		*suppress;	/* suppression lists; NULL: none */
};

/* smtp_session_new() starts a session on io (greeting, or the TLS handshake
 * first for implicit TLS). The session frees itself when it ends and then
 * calls smtp_server_session_done(). */
struct smtp_session *smtp_session_new(struct smtp_listener_ctx *lc, struct io *io, int trusted);
/* smtp_session_shutdown() asks an idle session to say 421 and close; a busy
 * one closes after the command in hand. */
void	smtp_session_shutdown(struct smtp_session *s);

/* smtp_session_listener() names lc's listener for logs and metrics:
 * "submission_tls" for implicit TLS, else lc->name ("submission",
 * "inbound"). */
const char *smtp_session_listener(const struct smtp_listener_ctx *lc);

/* Back calls into the server (smtp_server.c). */
void	smtp_server_session_done(struct smtp_server *srv, struct smtp_session *s);
/* smtp_server_auth_blocked() tells whether ip has used up its AUTH failures. */
int	smtp_server_auth_blocked(struct smtp_server *srv, const char *ip);
void	smtp_server_auth_failed(struct smtp_server *srv, const char *ip);

#endif
