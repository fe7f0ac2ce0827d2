/* smtp_client: one outgoing SMTP connection over an io object (RFC 5321),
 * an explicit state machine: greeting, EHLO (HELO fallback), STARTTLS per
 * policy, AUTH for relays, then any number of transactions (several
 * recipients each; MAIL, RCPT... and DATA in one write under PIPELINING),
 * then QUIT. Every wait has its RFC 5321 4.5.3.2 timeout from the config.
 *
 * It decides nothing about retries: each recipient gets a final reply (the
 * server's, or one made up for a local failure, with its bounce_local kind),
 * and the caller (the delivery scheduler) acts on it. A hostile or broken
 * server ends the connection with a temporary failure, never a crash. */
#ifndef HERMOD_SMTP_CLIENT_H
#define HERMOD_SMTP_CLIENT_H
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>
#include <openssl/ssl.h>

#include "deliver/bounce.h"
#include "util/buf.h"
#include "util/config.h"

#define SMTP_CLIENT_TEXT_MAX	512

struct smtp_client;

/* A reply, or a failure dressed as one (local != BOUNCE_LOCAL_NONE). */
struct smtp_client_reply {
	int			 code;		/* 2xx, 4xx, 5xx */
	char			 enhanced[16];	/* "5.1.1" or "" */
	char			 text[SMTP_CLIENT_TEXT_MAX];	/* lines joined by spaces */
	enum bounce_local	 local;
};

struct smtp_client_opts {
	const struct config	*cfg;		/* timeouts; hostname for EHLO */
	enum config_tls		 tls;		/* policy for this destination */
	SSL_CTX			*ssl;		/* client context (required unless tls is off) */
	const char		*host;		/* the server's name: SNI and logs */
	const char		*auth_user;	/* relay credentials, or NULL */
	const char		*auth_password;
};

/* Called once the session is ready for transactions (fail == NULL) or has
 * failed (then the client frees itself after the callback returns). */
typedef void (*smtp_client_open_cb)(struct smtp_client *c, const struct smtp_client_reply *fail,
	    void *arg);

struct smtp_client_msg {
	const char		*mail_from;	/* "" for the null return path */
	unsigned		 flags;		/* SPOOL_F_SMTPUTF8, SPOOL_F_8BITMIME */
	const char		*data;		/* the message, CRLF lines, not dot-stuffed */
	size_t			 len;
	size_t			 nrcpt;
	const char *const	*rcpt;
};

/* Called with one final reply per recipient. usable says whether the
 * connection may carry another message; when 0 the client frees itself
 * after the callback returns. The callback may call smtp_client_send() or
 * smtp_client_quit() on c. */
typedef void (*smtp_client_sent_cb)(struct smtp_client *c, const struct smtp_client_reply *replies,
	    size_t n, int usable, void *arg);

/* smtp_client_open() connects to sa and runs the session up to the point
 * where a transaction may start. 0, or a negative errno (cb never fires). */
int	smtp_client_open(uv_loop_t *loop, const struct sockaddr *sa, const struct smtp_client_opts *o,
	    smtp_client_open_cb cb, void *arg, struct smtp_client **out);

/* smtp_client_send() runs one transaction. The message and strings must stay
 * valid until cb. 0, or -1 when the client is not ready (cb never fires). */
int	smtp_client_send(struct smtp_client *c, const struct smtp_client_msg *m,
	    smtp_client_sent_cb cb, void *arg);

/* smtp_client_set_lost_cb() names a callback for a ready, idle session
 * that the server ends (EOF, 421, an error): the client frees itself after
 * it returns. */
void	smtp_client_set_lost_cb(struct smtp_client *c, void (*cb)(struct smtp_client *c, void *arg),
	    void *arg);

/* smtp_client_quit() says QUIT (bounded by quit_timeout) and frees the
 * client: 1 when the QUIT is under way (then the lost callback, if set,
 * fires once as the client goes), 0 when it was dropped at once (no
 * callback). smtp_client_abort() drops the connection at once; no callback
 * fires afterwards. */
int	smtp_client_quit(struct smtp_client *c);
void	smtp_client_abort(struct smtp_client *c);

/* smtp_client_tls() is "TLSv1.3 TLS_AES_256_GCM_SHA384" when TLS is on, else NULL. */
const char *smtp_client_tls(const struct smtp_client *c);

/* smtp_client_stuff() appends msg to out dot-stuffed (RFC 5321 4.5.2), with
 * a final CRLF when missing and the ".\r\n" terminator. Pure. */
void	smtp_client_stuff(const char *msg, size_t len, struct buf *out);

#endif
