/* smtp_client: the delivery side of SMTP.
 *
 * States follow the session: CONNECT -> GREETING -> EHLO [-> HELO] ->
 * [STARTTLS -> TLS -> EHLO] -> [AUTH] -> READY -> (transaction) -> READY ...
 * -> QUIT. A transaction is a list of commands whose replies we expect, in
 * order (struct pending); replies are matched to that list only, so a reply
 * to a command not yet sent (OpenSMTPD CVE-2020-8794) or any byte the server
 * sends when nothing is pending is a protocol error: the connection ends and
 * every recipient without a final reply gets a temporary failure.
 *
 * Re-entrancy: user callbacks run from inside the io callback and may send,
 * quit or abort. c->depth counts nested calls; c->dead asks for the teardown,
 * which runs when the outermost call unwinds. */
#include "deliver/smtp_client.h"
#include "net/io.h"
#include "smtp/smtp_reply.h"
#include "spool/spool.h"
#include "util/log.h"
#include "util/xalloc.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SMTP_CLIENT_MAX_PENDING	(2 + 1000 + 1)	/* RSET, MAIL, RCPTs, DATA */

enum client_state {
	S_CONNECT, S_GREETING, S_EHLO, S_HELO, S_STARTTLS, S_TLS, S_AUTH, S_AUTH_USER,
	S_AUTH_PASS, S_READY, S_TXN, S_QUIT, S_DEAD,
};

enum cmd_kind { C_RSET, C_MAIL, C_RCPT, C_DATA, C_DOT, C_DOT_EMPTY };

struct pending {
	enum cmd_kind	 kind;
	size_t		 rcpt;		/* for C_RCPT */
};

struct smtp_client {
	uv_loop_t		*loop;
	struct io		*io;
	struct smtp_client_opts	 o;
	char			*host;
	char			*auth_user, *auth_password;
	enum client_state	 state;
	int			 depth;		/* nested calls into user callbacks */
	int			 dead;		/* tear down when depth drops to 0 */
	int			 abort;		/* dead without QUIT */
	int			 quitting;	/* smtp_client_quit(): report the end */
	int			 user_abort;	/* smtp_client_abort(): report nothing */

	/* what the server offers (EHLO) */
	int			 esmtp;
	int			 ext_pipelining, ext_starttls, ext_8bitmime, ext_smtputf8;
	int			 ext_size, ext_enhanced, ext_auth_plain, ext_auth_login;
	uint64_t		 size_max;
	int			 tls_tried;

	smtp_client_open_cb	 open_cb;
	void			*open_arg;
	void			(*lost_cb)(struct smtp_client *c, void *arg);
	void			*lost_arg;

	/* the transaction in hand */
	const struct smtp_client_msg *msg;
	smtp_client_sent_cb	 sent_cb;
	void			*sent_arg;
	struct smtp_client_reply *replies;	/* one per recipient */
	unsigned char		*final;		/* replies[i] is final */
	size_t			 accepted;
	int			 mail_failed;
	int			 need_rset;	/* the last transaction did not complete */
	size_t			 next_rcpt;	/* without PIPELINING: next RCPT to send */
	struct pending		*pend;
	size_t			 npend, pend_head;
	int			 auth_step;
	struct smtp_reply_state	 rp;
};

static void client_fail(struct smtp_client *c, enum bounce_local local, int code, const char *enh,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

void
smtp_client_stuff(const char *msg, size_t len, struct buf *out)
{
	const char *p = msg, *end = msg + len;

	buf_reserve(out, len + len / 64 + 8);
	/* Copy whole runs between line starts that are dots: memchr finds the
	 * next LF, and only a line that starts with "." gets one more. */
	while (p < end) {
		const char *nl;
		if (*p == '.')
			buf_putc(out, '.');
		nl = memchr(p, '\n', (size_t)(end - p));
		nl = nl ? nl + 1 : end;
		while (nl < end && *nl != '.') {
			const char *n2 = memchr(nl, '\n', (size_t)(end - nl));
			nl = n2 ? n2 + 1 : end;
		}
		buf_append(out, p, (size_t)(nl - p));
		p = nl;
	}
	if (len > 0 && (len < 2 || msg[len - 2] != '\r' || msg[len - 1] != '\n'))
		buf_puts(out, "\r\n");
	buf_puts(out, ".\r\n");
}

const char *
smtp_client_tls(const struct smtp_client *c)
{
	return c->io ? io_tls_info(c->io) : NULL;
}


/* --- teardown -------------------------------------------------------- */

static void
client_free(struct smtp_client *c)
{
	free(c->host);
	if (c->auth_password)
		OPENSSL_cleanse(c->auth_password, strlen(c->auth_password));
	free(c->auth_user);
	free(c->auth_password);
	free(c->replies);
	free(c->final);
	free(c->pend);
	smtp_reply_free(&c->rp);
	free(c);
}

/* leave() is called when a call that may have run user callbacks unwinds. */
static void
leave(struct smtp_client *c)
{
	if (--c->depth > 0 || !c->dead)
		return;
	if (c->quitting && !c->user_abort && c->lost_cb)
		c->lost_cb(c, c->lost_arg);
	if (c->io) {
		if (c->abort)
			io_abort(c->io);
		else
			io_close(c->io);
		c->io = NULL;
	}
	client_free(c);
}

static void
set_reply(struct smtp_client_reply *r, enum bounce_local local, int code, const char *enh,
    const char *text)
{
	r->local = local;
	r->code = code;
	snprintf(r->enhanced, sizeof(r->enhanced), "%s", enh ? enh : "");
	snprintf(r->text, sizeof(r->text), "%s", text ? text : "");
}

static const char *
state_name(enum client_state s)
{
	static const char *names[] = { "connect", "greeting", "EHLO", "HELO", "STARTTLS",
		"TLS handshake", "AUTH", "AUTH", "AUTH", "idle", "transaction", "QUIT", "closed" };
	return names[s];
}

/* client_fail() ends the connection: the open callback, or the transaction's
 * callback with every recipient that has no final reply given this failure. */
static void
client_fail(struct smtp_client *c, enum bounce_local local, int code, const char *enh,
    const char *fmt, ...)
{
	struct smtp_client_reply r;
	char text[SMTP_CLIENT_TEXT_MAX];
	va_list ap;

	if (c->dead)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	set_reply(&r, local, code, enh, text);
	c->dead = 1;
	c->abort = 1;
	if (c->state == S_TXN && c->sent_cb) {
		for (size_t i = 0; i < c->msg->nrcpt; i++)
			if (!c->final[i])
				c->replies[i] = r;
		c->state = S_DEAD;
		c->sent_cb(c, c->replies, c->msg->nrcpt, 0, c->sent_arg);
	} else if (c->state < S_READY && c->open_cb) {
		c->state = S_DEAD;
		c->open_cb(c, &r, c->open_arg);
	} else if (c->state == S_READY) {
		c->state = S_DEAD;
		if (c->lost_cb)
			c->lost_cb(c, c->lost_arg);
	}
	c->state = S_DEAD;
}

/* ready_lost() ends an idle session the server closed (EOF, 421, error). */
static void
ready_lost(struct smtp_client *c)
{
	c->dead = 1;
	c->abort = 1;
	c->state = S_DEAD;
	if (c->lost_cb)
		c->lost_cb(c, c->lost_arg);
}

void
smtp_client_set_lost_cb(struct smtp_client *c, void (*cb)(struct smtp_client *c, void *arg), void *arg)
{
	c->lost_cb = cb;
	c->lost_arg = arg;
}

/* fail_reply() ends the connection because of a server reply (421, or a
 * 4xx/5xx where the session cannot go on). */
static void
fail_reply(struct smtp_client *c, const struct smtp_client_reply *r)
{
	client_fail(c, BOUNCE_LOCAL_NONE, r->code, r->enhanced, "%s", r->text);
}

/* --- writing ----------------------------------------------------------- */

static void
pend_push(struct smtp_client *c, enum cmd_kind k, size_t rcpt)
{
	c->pend[c->npend].kind = k;
	c->pend[c->npend].rcpt = rcpt;
	c->npend++;
}

static void
write_mail(struct smtp_client *c)
{
	const struct smtp_client_msg *m = c->msg;

	io_printf(c->io, "MAIL FROM:<%s>", m->mail_from);
	if (c->ext_size)
		io_printf(c->io, " SIZE=%zu", m->len);
	if ((m->flags & SPOOL_F_8BITMIME) && c->ext_8bitmime)
		io_printf(c->io, " BODY=8BITMIME");
	if ((m->flags & SPOOL_F_SMTPUTF8) && c->ext_smtputf8)
		io_printf(c->io, " SMTPUTF8");
	io_write(c->io, "\r\n", 2);
	pend_push(c, C_MAIL, 0);
}

static void
write_rcpt(struct smtp_client *c, size_t i)
{
	io_printf(c->io, "RCPT TO:<%s>\r\n", c->msg->rcpt[i]);
	pend_push(c, C_RCPT, i);
}

static void
write_data(struct smtp_client *c)
{
	io_write(c->io, "DATA\r\n", 6);
	pend_push(c, C_DATA, 0);
}

static uint64_t
timeout_for(struct smtp_client *c, enum cmd_kind k)
{
	const struct config *cfg = c->o.cfg;

	switch (k) {
	case C_RSET: return cfg->mail_timeout;
	case C_MAIL: return cfg->mail_timeout;
	case C_RCPT: return cfg->rcpt_timeout;
	case C_DATA: return cfg->data_timeout;
	case C_DOT:
	case C_DOT_EMPTY: return cfg->data_done_timeout;
	}
	return cfg->mail_timeout;
}

static void
arm_next_timeout(struct smtp_client *c)
{
	if (c->pend_head < c->npend)
		io_set_timeout(c->io, timeout_for(c, c->pend[c->pend_head].kind));
}

/* --- the transaction --------------------------------------------------- */

static void
txn_done(struct smtp_client *c)
{
	int usable = 1;

	/* Bytes after the last reply answer nothing we sent: a server that
	 * talks out of turn is not trusted with another message. */
	if (io_input(c->io)->len > 0)
		usable = 0;
	c->need_rset = c->accepted == 0 || c->mail_failed;
	c->state = usable ? S_READY : S_DEAD;
	io_set_timeout(c->io, 0);
	if (!usable) {
		c->dead = 1;
		c->abort = 1;
	}
	c->sent_cb(c, c->replies, c->msg->nrcpt, usable, c->sent_arg);
}

static void
txn_reply(struct smtp_client *c, const struct smtp_client_reply *r)
{
	struct pending p = c->pend[c->pend_head++];
	const struct smtp_client_msg *m = c->msg;
	int ok = r->code >= 200 && r->code < 400;

	switch (p.kind) {
	case C_RSET:
		if (r->code == 421) {
			fail_reply(c, r);
			return;
		}
		if (!c->ext_pipelining)
			write_mail(c);
		break;
	case C_MAIL:
		if (r->code / 100 != 2) {
			c->mail_failed = 1;
			for (size_t i = 0; i < m->nrcpt; i++) {
				c->replies[i] = *r;
				c->final[i] = 1;
			}
			if (r->code == 421) {
				fail_reply(c, r);
				return;
			}
			if (!c->ext_pipelining) {
				txn_done(c);
				return;
			}
		}
		if (!c->ext_pipelining) {
			c->next_rcpt = 1;
			write_rcpt(c, 0);
		}
		break;
	case C_RCPT:
		if (!c->mail_failed) {
			c->replies[p.rcpt] = *r;
			if (r->code / 100 == 2)
				c->accepted++;
			else
				c->final[p.rcpt] = 1;
		}
		if (r->code == 421) {
			fail_reply(c, r);
			return;
		}
		if (!c->ext_pipelining) {
			if (c->next_rcpt < m->nrcpt) {
				write_rcpt(c, c->next_rcpt++);
			} else if (c->accepted == 0) {
				txn_done(c);
				return;
			} else {
				write_data(c);
			}
		}
		break;
	case C_DATA:
		if (r->code == 354) {
			if (c->mail_failed || c->accepted == 0) {
				/* RFC 2920 3.1: DATA accepted with no valid
				 * recipient: end it at once, without content. */
				io_write(c->io, ".\r\n", 3);
				pend_push(c, C_DOT_EMPTY, 0);
			} else {
				struct buf b = { 0 };
				smtp_client_stuff(m->data, m->len, &b);
				io_write(c->io, b.data, b.len);
				buf_free(&b);
				pend_push(c, C_DOT, 0);
				/* data_block_timeout covers the sending; IO_DRAINED
				 * switches to data_done_timeout. */
				io_set_timeout(c->io, c->o.cfg->data_block_timeout);
				return;
			}
		} else {
			for (size_t i = 0; i < m->nrcpt; i++)
				if (!c->final[i]) {
					c->replies[i] = *r;
					c->final[i] = 1;
				}
			if (r->code == 421) {
				fail_reply(c, r);
				return;
			}
			if (ok) {
				/* DATA answered 2xx or 3xx but not 354: nonsense. */
				client_fail(c, BOUNCE_LOCAL_PROTOCOL, 451, "4.5.0",
				    "unexpected reply to DATA: %d %s", r->code, r->text);
				return;
			}
		}
		break;
	case C_DOT:
		for (size_t i = 0; i < m->nrcpt; i++)
			if (!c->final[i]) {
				c->replies[i] = *r;
				c->final[i] = 1;
			}
		if (r->code == 421) {
			c->accepted = 0;
			fail_reply(c, r);
			return;
		}
		break;
	case C_DOT_EMPTY:
		break;
	}
	if (c->pend_head == c->npend)
		txn_done(c);
	else
		arm_next_timeout(c);
}

int
smtp_client_send(struct smtp_client *c, const struct smtp_client_msg *m,
    smtp_client_sent_cb cb, void *arg)
{
	if (c->state != S_READY || c->dead || m->nrcpt == 0 || m->nrcpt > 1000)
		return -1;
	c->msg = m;
	c->sent_cb = cb;
	c->sent_arg = arg;
	free(c->replies);
	free(c->final);
	free(c->pend);
	c->replies = xcalloc(m->nrcpt, sizeof(*c->replies));
	c->final = xcalloc(m->nrcpt, 1);
	c->pend = xcalloc(m->nrcpt + 4, sizeof(*c->pend));
	c->npend = c->pend_head = 0;
	c->accepted = 0;
	c->mail_failed = 0;
	c->state = S_TXN;

	/* What the server cannot take is refused here, as it would be there. */
	if ((m->flags & SPOOL_F_SMTPUTF8) && !c->ext_smtputf8) {
		for (size_t i = 0; i < m->nrcpt; i++)
			set_reply(&c->replies[i], BOUNCE_LOCAL_MESSAGE, 553, "5.6.7",
			    "the message needs SMTPUTF8 and the server does not support it");
		c->state = S_READY;
		c->need_rset = 0;
		c->depth++;
		cb(c, c->replies, m->nrcpt, 1, arg);
		leave(c);
		return 0;
	}
	if (c->ext_size && c->size_max && m->len > c->size_max) {
		for (size_t i = 0; i < m->nrcpt; i++)
			set_reply(&c->replies[i], BOUNCE_LOCAL_MESSAGE, 552, "5.3.4",
			    "message size exceeds the server's SIZE limit");
		c->state = S_READY;
		c->depth++;
		cb(c, c->replies, m->nrcpt, 1, arg);
		leave(c);
		return 0;
	}
	if (c->need_rset) {
		io_write(c->io, "RSET\r\n", 6);
		pend_push(c, C_RSET, 0);
		if (!c->ext_pipelining) {
			arm_next_timeout(c);
			return 0;	/* MAIL follows the RSET reply */
		}
	}
	write_mail(c);
	if (c->ext_pipelining) {
		for (size_t i = 0; i < m->nrcpt; i++)
			write_rcpt(c, i);
		write_data(c);
	}
	arm_next_timeout(c);
	return 0;
}

/* --- session setup ----------------------------------------------------- */

static void
write_ehlo(struct smtp_client *c)
{
	const char *name = c->o.cfg->hostname && c->o.cfg->hostname[0] ? c->o.cfg->hostname : "localhost";

	c->esmtp = 1;
	c->ext_pipelining = c->ext_starttls = c->ext_8bitmime = c->ext_smtputf8 = 0;
	c->ext_size = c->ext_enhanced = c->ext_auth_plain = c->ext_auth_login = 0;
	c->size_max = 0;
	io_printf(c->io, "EHLO %s\r\n", name);
	io_set_timeout(c->io, c->o.cfg->ehlo_timeout);
	c->state = S_EHLO;
}

static void
session_ready(struct smtp_client *c)
{
	c->state = S_READY;
	io_set_timeout(c->io, 0);
	c->open_cb(c, NULL, c->open_arg);
}

static void
start_auth(struct smtp_client *c)
{
	if (c->auth_user == NULL) {
		session_ready(c);
		return;
	}
	/* Credentials never travel in clear unless the route says tls = off. */
	if (!io_tls_active(c->io) && c->o.tls != CONFIG_TLS_OFF) {
		client_fail(c, BOUNCE_LOCAL_TLS, 451, "4.7.10",
		    "relay %s: no TLS, so no AUTH", c->host);
		return;
	}
	if (c->ext_auth_plain) {
		size_t ul = strlen(c->auth_user), pl = strlen(c->auth_password);
		unsigned char *raw = xmalloc(ul + pl + 2);
		char *b64 = xmalloc(4 * ((ul + pl + 2 + 2) / 3) + 1);
		raw[0] = '\0';
		memcpy(raw + 1, c->auth_user, ul);
		raw[1 + ul] = '\0';
		memcpy(raw + 2 + ul, c->auth_password, pl);
		EVP_EncodeBlock((unsigned char *)b64, raw, (int)(ul + pl + 2));
		io_printf(c->io, "AUTH PLAIN %s\r\n", b64);
		OPENSSL_cleanse(raw, ul + pl + 2);
		OPENSSL_cleanse(b64, strlen(b64));
		free(raw);
		free(b64);
		c->state = S_AUTH;
	} else if (c->ext_auth_login) {
		io_printf(c->io, "AUTH LOGIN\r\n");
		c->state = S_AUTH_USER;
	} else {
		client_fail(c, BOUNCE_LOCAL_NONE, 451, "4.7.0",
		    "relay %s offers no AUTH PLAIN or LOGIN", c->host);
		return;
	}
	io_set_timeout(c->io, c->o.cfg->mail_timeout);
}

static void
write_b64(struct smtp_client *c, const char *s)
{
	size_t l = strlen(s);
	char *b64 = xmalloc(4 * ((l + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)s, (int)l);
	io_printf(c->io, "%s\r\n", b64);
	OPENSSL_cleanse(b64, strlen(b64));
	free(b64);
}

static void
after_ehlo(struct smtp_client *c)
{
	if (!io_tls_active(c->io) && c->o.tls != CONFIG_TLS_OFF && !c->tls_tried) {
		if (c->ext_starttls && c->o.ssl) {
			io_write(c->io, "STARTTLS\r\n", 10);
			io_set_timeout(c->io, c->o.cfg->ehlo_timeout);
			c->state = S_STARTTLS;
			return;
		}
		if (c->o.tls == CONFIG_TLS_REQUIRED || c->o.tls == CONFIG_TLS_VERIFY) {
			client_fail(c, BOUNCE_LOCAL_TLS, 421, "4.7.10",
			    "TLS is required and %s does not offer STARTTLS", c->host);
			return;
		}
	}
	start_auth(c);
}

static void
on_reply(struct smtp_client *c, const struct smtp_reply *pr)
{
	struct smtp_client_reply r;
	size_t tl;

	r.local = BOUNCE_LOCAL_NONE;
	r.code = pr->code;
	snprintf(r.enhanced, sizeof(r.enhanced), "%s", pr->status);
	/* The lines' texts joined by spaces, capped. */
	tl = pr->textlen < sizeof(r.text) - 1 ? pr->textlen : sizeof(r.text) - 1;
	for (size_t i = 0; i < tl; i++)
		r.text[i] = pr->text[i] == '\n' ? ' ' : pr->text[i];
	r.text[tl] = '\0';

	switch (c->state) {
	case S_GREETING:
		if (r.code != 220) {
			fail_reply(c, &r);
			return;
		}
		write_ehlo(c);
		break;
	case S_EHLO:
		if (r.code == 250) {
			struct smtp_ehlo e;
			smtp_reply_ehlo(pr->text, pr->textlen, &e);
			c->ext_pipelining = !!(e.ext & SMTP_EXT_PIPELINING);
			c->ext_starttls = !!(e.ext & SMTP_EXT_STARTTLS);
			c->ext_8bitmime = !!(e.ext & SMTP_EXT_8BITMIME);
			c->ext_smtputf8 = !!(e.ext & SMTP_EXT_SMTPUTF8);
			c->ext_size = !!(e.ext & SMTP_EXT_SIZE);
			c->ext_enhanced = !!(e.ext & SMTP_EXT_ENHANCEDSTATUSCODES);
			c->ext_auth_plain = !!(e.auth & SMTP_AUTH_PLAIN);
			c->ext_auth_login = !!(e.auth & SMTP_AUTH_LOGIN);
			c->size_max = e.size;
			after_ehlo(c);
		} else if (r.code >= 500 && r.code != 554) {
			/* An old server: HELO, and no extensions at all. */
			const char *name = c->o.cfg->hostname && c->o.cfg->hostname[0] ?
			    c->o.cfg->hostname : "localhost";
			c->esmtp = 0;
			io_printf(c->io, "HELO %s\r\n", name);
			c->state = S_HELO;
		} else {
			fail_reply(c, &r);
		}
		break;
	case S_HELO:
		if (r.code != 250) {
			fail_reply(c, &r);
			return;
		}
		after_ehlo(c);
		break;
	case S_STARTTLS:
		if (r.code != 220) {
			if (c->o.tls == CONFIG_TLS_REQUIRED || c->o.tls == CONFIG_TLS_VERIFY) {
				client_fail(c, BOUNCE_LOCAL_TLS, 421, "4.7.10",
				    "TLS is required and STARTTLS was refused: %d %s", r.code, r.text);
				return;
			}
			c->tls_tried = 1;
			start_auth(c);
			return;
		}
		/* io_starttls_client() throws away whatever the server sent
		 * after its 220: nothing said before the handshake counts. */
		if (io_starttls_client(c->io, c->o.ssl, c->host) < 0) {
			client_fail(c, BOUNCE_LOCAL_TLS, 421, "4.7.10", "TLS could not start");
			return;
		}
		c->tls_tried = 1;
		c->state = S_TLS;
		io_set_timeout(c->io, c->o.cfg->tls_timeout);
		break;
	case S_AUTH:
	case S_AUTH_PASS:
		if (r.code != 235) {
			client_fail(c, BOUNCE_LOCAL_NONE, r.code / 100 == 5 ? 535 : r.code,
			    r.enhanced[0] ? r.enhanced : "5.7.8", "relay %s refused AUTH: %s", c->host, r.text);
			return;
		}
		session_ready(c);
		break;
	case S_AUTH_USER:
		if (r.code != 334) {
			client_fail(c, BOUNCE_LOCAL_NONE, r.code, r.enhanced, "relay %s refused AUTH: %s",
			    c->host, r.text);
			return;
		}
		if (c->auth_password == NULL)
			return;
		/* LOGIN: the first 334 asks the user name, the second the password. */
		if (c->auth_step++ == 0) {
			write_b64(c, c->auth_user);
		} else {
			write_b64(c, c->auth_password);
			c->state = S_AUTH_PASS;
		}
		break;
	case S_TXN:
		if (c->pend_head >= c->npend) {
			client_fail(c, BOUNCE_LOCAL_PROTOCOL, 451, "4.5.0",
			    "reply to a command that was not sent: %d %s", r.code, r.text);
			return;
		}
		txn_reply(c, &r);
		break;
	case S_QUIT:
		/* The 221 acknowledges everything we sent: nothing is left to
		 * linger for, so the socket closes at once. */
		c->dead = 1;
		c->abort = 1;
		break;
	case S_READY:
		if (r.code == 421) {
			/* The server is closing an idle connection. */
			ready_lost(c);
			break;
		}
		/* fall through */
	default:
		client_fail(c, BOUNCE_LOCAL_PROTOCOL, 451, "4.5.0",
		    "unexpected reply in state %s: %d %s", state_name(c->state), r.code, r.text);
		break;
	}
}

static void
on_datain(struct smtp_client *c)
{
	struct buf *in = io_input(c->io);

	while (!c->dead && in->len > 0) {
		struct smtp_reply r;
		size_t used = 0;
		enum smtp_reply_rc rc = smtp_reply_parse(&c->rp, in->data, in->len, &used, &r);

		if (rc == SMTP_REPLY_MORE) {
			buf_consume(in, used);
			break;
		}
		if (rc == SMTP_REPLY_ERROR) {
			client_fail(c, BOUNCE_LOCAL_PROTOCOL, 451, "4.5.0",
			    "malformed reply from %s in state %s", c->host, state_name(c->state));
			return;
		}
		/* The reply's text lives in the parser's state, not in the
		 * input: consume first, so that STARTTLS can drop the rest. */
		buf_consume(in, used);
		on_reply(c, &r);
		if (c->dead || c->state == S_TLS)
			return;
		if (c->state == S_READY && in->len > 0) {
			/* Nothing is pending: extra bytes are out of turn. */
			client_fail(c, BOUNCE_LOCAL_PROTOCOL, 451, "4.5.0", "unsolicited reply from %s",
			    c->host);
			return;
		}
	}
}

static const char *
ev_phase(struct smtp_client *c)
{
	if (c->state == S_TXN && c->pend_head < c->npend) {
		switch (c->pend[c->pend_head].kind) {
		case C_RSET: return "RSET";
		case C_MAIL: return "MAIL FROM";
		case C_RCPT: return "RCPT TO";
		case C_DATA: return "DATA";
		case C_DOT:
		case C_DOT_EMPTY: return "end of data";
		}
	}
	return state_name(c->state);
}

static void
io_event(struct io *io, enum io_event ev, void *arg)
{
	struct smtp_client *c = arg;

	(void)io;
	c->depth++;
	switch (ev) {
	case IO_CONNECTED:
		c->state = S_GREETING;
		io_set_timeout(c->io, c->o.cfg->greeting_timeout);
		break;
	case IO_DATAIN:
		on_datain(c);
		break;
	case IO_DRAINED:
		if (c->state == S_TXN && c->pend_head < c->npend && c->pend[c->pend_head].kind == C_DOT)
			io_set_timeout(c->io, c->o.cfg->data_done_timeout);
		break;
	case IO_TLS_READY:
		if (c->state != S_TLS)
			break;
		/* tls = verify: the chain must verify for the MX host name
		 * (io verified it against c->host); nothing is sent otherwise */
		if (c->o.tls == CONFIG_TLS_VERIFY && !io_tls_peer_verified(c->io)) {
			client_fail(c, BOUNCE_LOCAL_TLS, 421, "4.7.5",
			    "the TLS certificate of %s did not verify", c->host);
			break;
		}
		write_ehlo(c);
		break;
	case IO_TIMEOUT:
		if (c->state == S_READY) {
			io_set_timeout(c->io, 0);	/* idle: no timer runs */
		} else if (c->state == S_QUIT) {
			c->dead = 1;
			c->abort = 1;
		} else if (c->state == S_TLS) {
			client_fail(c, BOUNCE_LOCAL_TLS, 421, "4.7.0", "TLS handshake with %s timed out", c->host);
		} else if (c->state == S_CONNECT) {
			client_fail(c, BOUNCE_LOCAL_NETWORK, 421, "4.4.1", "connection to %s timed out", c->host);
		} else {
			client_fail(c, BOUNCE_LOCAL_NETWORK, 421, "4.4.2", "timeout waiting for the reply to %s from %s",
			    ev_phase(c), c->host);
		}
		break;
	case IO_CLOSED:
		if (c->state == S_READY) {
			ready_lost(c);
		} else if (c->state == S_QUIT) {
			c->dead = 1;
			c->abort = 1;
		} else if (c->state == S_TLS) {
			client_fail(c, BOUNCE_LOCAL_TLS, 421, "4.7.0", "connection closed by %s during the TLS handshake",
			    c->host);
		} else {
			client_fail(c, BOUNCE_LOCAL_NETWORK, 421, "4.4.2", "connection closed by %s during %s",
			    c->host, ev_phase(c));
		}
		break;
	case IO_ERROR:
		if (c->state == S_TLS)
			client_fail(c, BOUNCE_LOCAL_TLS, 421, "4.7.0", "TLS with %s failed: %s", c->host,
			    io_error(c->io));
		else if (c->state == S_CONNECT)
			client_fail(c, BOUNCE_LOCAL_NETWORK, 421, "4.4.1", "cannot connect to %s: %s", c->host,
			    io_error(c->io));
		else if (c->state == S_READY)
			ready_lost(c);
		else if (c->state == S_QUIT) {
			c->dead = 1;
			c->abort = 1;
		} else
			client_fail(c, BOUNCE_LOCAL_NETWORK, 421, "4.4.2", "connection to %s lost during %s: %s",
			    c->host, ev_phase(c), io_error(c->io));
		break;
	}
	leave(c);
}

int
smtp_client_open(uv_loop_t *loop, const struct sockaddr *sa, const struct smtp_client_opts *o,
    smtp_client_open_cb cb, void *arg, struct smtp_client **out)
{
	struct smtp_client *c = xcalloc(1, sizeof(*c));
	int rc;

	c->loop = loop;
	c->o = *o;
	c->host = xstrdup(o->host ? o->host : "?");
	c->o.host = c->host;
	if (o->auth_user && o->auth_user[0]) {
		c->auth_user = xstrdup(o->auth_user);
		c->auth_password = xstrdup(o->auth_password ? o->auth_password : "");
	}
	c->o.auth_user = c->o.auth_password = NULL;
	c->open_cb = cb;
	c->open_arg = arg;
	c->state = S_CONNECT;
	rc = io_connect(loop, sa, NULL, o->cfg->connect_timeout, io_event, c, &c->io);
	if (rc < 0) {
		client_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

int
smtp_client_quit(struct smtp_client *c)
{
	if (c->dead)
		return 0;
	if (c->state == S_READY) {
		io_write(c->io, "QUIT\r\n", 6);
		io_set_timeout(c->io, c->o.cfg->quit_timeout);
		c->state = S_QUIT;
		c->quitting = 1;
		return 1;	/* the 221, EOF or the timeout ends it */
	}
	smtp_client_abort(c);
	return 0;
}

void
smtp_client_abort(struct smtp_client *c)
{
	c->user_abort = 1;
	if (c->dead)
		return;
	c->dead = 1;
	c->abort = 1;
	c->state = S_DEAD;
	c->depth++;
	leave(c);
}
