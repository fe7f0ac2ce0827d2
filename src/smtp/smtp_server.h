/* smtp_server: the SMTP listeners (submission with STARTTLS, submission over
 * implicit TLS) and the limits that span sessions: connections in total and
 * per client address, AUTH failures per address. Each accepted connection
 * becomes a session (smtp_session.c). */
#ifndef HERMOD_SMTP_SERVER_H
#define HERMOD_SMTP_SERVER_H
#include <stddef.h>
#include <stdint.h>
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

/* The inbound listener (inbound.listen): the same sessions, with a policy
 * instead of accounts. No AUTH, any sender; each RCPT is put to rcpt() and
 * refused 550 5.7.1 unless it says yes (so nothing is ever relayed); a
 * complete message (size, bare CR/LF, NUL checked as for submission) goes to
 * store(), and the 250 waits for its done(). */
struct smtp_inbound_msg {
	const char		*client;	/* the peer's IP */
	const char		*helo;
	const char		*mail_from;	/* "" for <> */
	const char *const	*rcpt;		/* the accepted recipients */
	size_t			 nrcpt;
	const char		*data;		/* the message as received (CRLF) */
	size_t			 len;
};
struct smtp_inbound_ops {
	/* rcpt() runs on a worker thread (it may use the store): 0 takes
	 * addr, anything else refuses it. */
	int	(*rcpt)(void *ctx, const char *addr);
	/* store() runs on the loop: m is valid during the call only. It calls
	 * done(0, arg) once the message is durable, done(-errno, arg) when it
	 * cannot be, on the loop; or returns -1 at once (done never fires). */
	int	(*store)(void *ctx, const struct smtp_inbound_msg *m,
		    void (*done)(int err, void *arg), void *arg);
	void	*ctx;
	uint64_t max_message_size;
};

/* smtp_server_start_inbound() binds cfg's inbound.listen with ops as the
 * policy (STARTTLS offered when tls is not NULL). ops must outlive the
 * server. 0, or -1 with *err. */
int	smtp_server_start_inbound(uv_loop_t *loop, const struct config *cfg, SSL_CTX *tls,
	    const struct smtp_inbound_ops *ops, struct smtp_server **out, char **err);
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
