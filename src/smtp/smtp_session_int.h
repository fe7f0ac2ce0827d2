/* smtp_session_int: what the session's files share (smtp_session.c: the
 * state machine and commands; smtp_auth.c: AUTH; smtp_message.c: DATA and
 * BDAT bodies, the end-of-message checks, signing and the spool commit).
 * Internal to src/smtp/: nothing outside includes it. */
#ifndef HERMOD_SMTP_SESSION_INT_H
#define HERMOD_SMTP_SESSION_INT_H
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "smtp/smtp_parse.h"
#include "smtp/smtp_session.h"
#include "spool/spool.h"
#include "util/buf.h"

struct store;

enum state {
	S_GREET,	/* connected, greeting not sent yet (or TLS handshake first) */
	S_INIT,		/* greeting sent: HELO/EHLO expected */
	S_READY,	/* after HELO/EHLO: MAIL, AUTH, STARTTLS */
	S_MAIL,		/* after MAIL: RCPT */
	S_RCPT,		/* at least one RCPT: more RCPT, DATA, BDAT */
	S_DATA,		/* reading a DATA body */
	S_BDAT,		/* reading a BDAT chunk */
	S_AUTH,		/* waiting for an AUTH continuation line */
	S_TLS,		/* STARTTLS handshake in progress */
	S_CLOSING,	/* reply sent, closing */
};

#define ST(x)	(1u << (x))
#define ANY_CMD	(ST(S_INIT) | ST(S_READY) | ST(S_MAIL) | ST(S_RCPT))

/* Header lines in one message: thousands of folded lines are an attack on
 * every parser downstream, never a real message. */
#define SMTP_HEADER_MAX_LINES		1000
#define SMTP_HEADER_MAX_LINES_STR	"1000"

enum auth_step { AUTH_NONE, AUTH_PLAIN_WAIT, AUTH_LOGIN_USER, AUTH_LOGIN_PASS };

struct smtp_session {
	struct smtp_listener_ctx *lc;
	const struct config	*cfg;
	struct io		*io;
	uv_timer_t		 timer;		/* command / data timeout */
	uv_timer_t		 life;		/* whole-session cap */
	enum state		 state;
	char			 ip[64];
	int			 trusted;
	int			 esmtp;
	char			*helo;
	uint64_t		 started;

	/* Identity: the account mail is submitted as, and its domains. */
	char			*account;
	int			 authenticated;
	char			**domains;
	enum auth_step		 auth_step;
	char			*auth_user;

	/* The transaction. */
	char			*mail_from;
	unsigned		 flags;
	int			 ret;
	char			*envid;
	struct spool_rcpt	*rcpt;
	size_t			 nrcpt;
	struct buf		 msg;
	char			*msgid;		/* Message-ID of the message being committed */
	struct smtp_data	 data;
	int			 bdat_used;	/* BDAT seen: DATA no longer allowed */
	uint64_t		 bdat_left;
	int			 bdat_last;
	int			 bdat_overflow;
	uint64_t		 limit_taken;	/* recipients taken from the account's limits */

	const char		*cmdline;	/* the command being run, unparsed (MAIL
						 * re-parses it once the account's
						 * domains are loaded) */
	int			 discarding;	/* dropping an over-long line */
	unsigned		 errors;
	unsigned		 junk;
	unsigned		 messages;
	size_t			 recipients;	/* of the messages accepted */
	int			 busy;		/* async work in flight */
	int			 closing;	/* io closed or closing */
	int			 shutdown;	/* server drains */
	int			 handles;	/* timers not yet closed */
	const char		*result;	/* session outcome for the log */
};


struct lookup {
	uv_work_t		 req;
	struct smtp_session	*s;
	struct store		*st;
	char			*secret;	/* AUTH: the key to verify */
	char			*account;	/* in (trusted) or out (AUTH) */
	char			*scope;
	char			**domains;
	int			 verified_only;
	int			 rc;
	char			*err;
	void			(*done)(struct smtp_session *, struct lookup *);
	/* The MAIL command that waits for the domains (trusted sessions). */
	char			*pending_line;
};

/* Replies and lifetime (smtp_session.c). */
void	smtp_session_reply(struct smtp_session *s, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* smtp_session_error() answers a client mistake and counts it; too many end
 * the session with 421. */
void	smtp_session_error(struct smtp_session *s, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	smtp_session_close(struct smtp_session *s, const char *result);
void	smtp_session_free(struct smtp_session *s);
int	smtp_session_released(struct smtp_session *s);
/* smtp_session_message_done() ends the async completion of a message (its
 * reply sent): frees a closing session, else re-arms the timer and closes
 * with 421 when a drain began meanwhile (the message was let finish), or
 * goes on with what the client pipelined. */
void	smtp_session_message_done(struct smtp_session *s);
void	smtp_session_process(struct smtp_session *s);
void	smtp_session_arm(struct smtp_session *s);
void	smtp_session_tx_reset(struct smtp_session *s);
/* smtp_session_lookup() runs lk's store work on the thread pool; the session
 * is busy until lk->done has run on the loop. */
void	smtp_session_lookup(struct smtp_session *s, struct lookup *lk);
int	smtp_session_domain_allowed(struct smtp_session *s, const char *addr);

/* smtp_session_max_size() is the listener's message size cap. */
uint64_t smtp_session_max_size(const struct smtp_session *s);

/* The inbound listener's policy (smtp_inbound.c): RCPT is checked by the
 * listener's rcpt hook on a worker and answered when it returns; the end of
 * a message hands it to the store hook and answers once it is durable. */
void	smtp_inbound_rcpt(struct smtp_session *s, const char *addr, unsigned notify,
	    const char *orcpt);
void	smtp_inbound_message_end(struct smtp_session *s);

/* AUTH (smtp_auth.c). */
void	smtp_auth_cmd(struct smtp_session *s, struct smtp_cmd *c);
void	smtp_auth_line(struct smtp_session *s, char *line);

/* Message bodies (smtp_message.c): each consumes what it can from in and
 * returns 0 to go on processing, -1 to wait for more input or work. */
int	smtp_message_data(struct smtp_session *s, struct buf *in);
int	smtp_message_bdat(struct smtp_session *s, struct buf *in);

#endif
