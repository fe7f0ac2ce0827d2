/* smtp_session: one SMTP submission session (RFC 5321, RFC 6409).
 *
 * DESIGN. A session is an explicit state machine fed by io events; it never
 * blocks. Input is consumed by smtp_session_process(), which takes one unit at a
 * time from io_input(): a command line (smtp_line_next + the command table),
 * DATA bytes (smtp_data_feed), a BDAT chunk (counted bytes) or an AUTH
 * continuation line. Slow work (key verification, the account's domains from
 * the store, the spool commit) runs off the loop; while it does, the session
 * is "busy": it stops consuming, and io stops reading once its input cap is
 * reached, so a pipelining or flooding client cannot grow memory. The reply
 * to a message (250) is sent only from the spool's commit callback, i.e.
 * once message and envelope are durable.
 *
 * Hostile input. Only CRLF ends a line and only CRLF.CRLF ends DATA (the
 * parsers treat a bare CR or LF as an error, so no smuggling variant can end a
 * message early); a session that sends one in DATA is refused and closed. Lines
 * over 1000 octets are dropped as they arrive (never buffered whole) and
 * answered 500 5.5.2. Input still buffered after a command that must end a
 * pipelined group (RFC 2920), or before the greeting, is a protocol
 * synchronisation error (554 5.5.0, close). After STARTTLS, io discards any
 * input that came with the command (CVE-2011-0411). Errors, junk commands
 * and the whole session's length are capped. */
#include "smtp/smtp_session_int.h"
#include "account/account_state.h"
#include "suppress/suppress.h"
#include "smtp/smtp_parse.h"
#include "smtp/smtp_server.h"
#include "mime/mime_header.h"
#include "mime/mime_addr.h"
#include "net/io.h"
#include "dkim/dkim_keys.h"
#include "metrics/metrics.h"
#include "spool/spool.h"
#include "store/store.h"
#include "auth/auth.h"
#include "auth/auth_sender.h"
#include "util/buf.h"
#include "util/config.h"
#include "util/id.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>


/* ------------------------------------------------------------------ */
/* Replies and timers                                                  */

void
smtp_session_reply(struct smtp_session *s, const char *fmt, ...)
{
	struct buf b;
	va_list ap;

	if (s->closing)
		return;
	buf_init(&b);
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	buf_puts(&b, "\r\n");
	io_write(s->io, b.data, b.len);
	buf_free(&b);
}

/* smtp_session_error() answers a client mistake and counts it; too many, and the
 * session ends with 421. */
void
smtp_session_error(struct smtp_session *s, const char *fmt, ...)
{
	struct buf b;
	va_list ap;

	buf_init(&b);
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	smtp_session_reply(s, "%s", b.data);
	buf_free(&b);
	if (++s->errors >= s->cfg->sub_max_errors && s->cfg->sub_max_errors > 0) {
		smtp_session_reply(s, "421 4.7.0 %s Error: too many errors", s->cfg->hostname);
		smtp_session_close(s, "too-many-errors");
	}
}

static void
timer_fired(uv_timer_t *t)
{
	struct smtp_session *s = t->data;

	if (s->closing)
		return;
	smtp_session_reply(s, "421 4.4.2 %s Error: timeout exceeded", s->cfg->hostname);
	smtp_session_close(s, "timeout");
}

static void
life_fired(uv_timer_t *t)
{
	struct smtp_session *s = t->data;

	if (s->closing)
		return;
	smtp_session_reply(s, "421 4.4.2 %s Error: session too long", s->cfg->hostname);
	smtp_session_close(s, "session-timeout");
}

/* smtp_session_arm() restarts the inactivity timer for the current state. */
void
smtp_session_arm(struct smtp_session *s)
{
	uint64_t ms;

	if (s->closing)
		return;
	if (s->state == S_DATA || s->state == S_BDAT)
		ms = s->cfg->sub_data_timeout;
	else if (s->state == S_TLS)
		ms = s->cfg->sub_tls_timeout;
	else
		ms = s->cfg->sub_command_timeout;
	uv_timer_start(&s->timer, timer_fired, ms ? ms : 1, 0);
}

/* ------------------------------------------------------------------ */
/* Transaction state                                                   */

void
smtp_session_tx_reset(struct smtp_session *s)
{
	/* a transaction that ends without a commit gives its recipients back
	 * to the account's limits (message_commit() clears the count first) */
	if (s->limit_taken > 0) {
		account_state_give_back(s->lc->accounts, s->account, s->limit_taken);
		s->limit_taken = 0;
	}
	free(s->mail_from);
	s->mail_from = NULL;
	free(s->envid);
	s->envid = NULL;
	for (size_t i = 0; i < s->nrcpt; i++) {
		free(s->rcpt[i].addr);
		free(s->rcpt[i].orcpt);
	}
	free(s->rcpt);
	s->rcpt = NULL;
	s->nrcpt = 0;
	s->flags = 0;
	s->ret = SPOOL_RET_NONE;
	buf_free(&s->msg);
	free(s->msgid);
	s->msgid = NULL;
	memset(&s->data, 0, sizeof(s->data));
	s->bdat_used = 0;
	s->bdat_left = 0;
	s->bdat_last = 0;
	s->bdat_overflow = 0;
	if (s->state == S_MAIL || s->state == S_RCPT || s->state == S_DATA || s->state == S_BDAT)
		s->state = S_READY;
}


void
smtp_session_free(struct smtp_session *s)
{
	smtp_session_tx_reset(s);
	free(s->helo);
	free(s->account);
	free(s->auth_user);
	store_strv_free(s->domains);
	smtp_server_session_done(s->lc->server, s);
	free(s);
}

static void
handle_closed(uv_handle_t *h)
{
	struct smtp_session *s = h->data;

	if (--s->handles == 0 && !s->busy)
		smtp_session_free(s);
}

/* smtp_session_released() is for the end of an async completion: when the
 * session is closing it frees it once nothing refers to it any more and
 * returns 1 (the caller must not touch s), else 0. */
int
smtp_session_released(struct smtp_session *s)
{
	if (!s->closing)
		return 0;
	if (s->handles == 0 && !s->busy)
		smtp_session_free(s);
	return 1;
}

void
smtp_session_message_done(struct smtp_session *s)
{
	if (smtp_session_released(s))
		return;
	smtp_session_arm(s);
	if (s->shutdown) {
		smtp_session_reply(s, "421 4.3.2 %s Service shutting down", s->cfg->hostname);
		smtp_session_close(s, "shutdown");
		return;
	}
	smtp_session_process(s);
}

const char *
smtp_session_listener(const struct smtp_listener_ctx *lc)
{
	return lc->implicit_tls ? "submission_tls" : lc->name;
}

/* smtp_session_close() closes the connection (after pending replies) and frees the
 * session once no async work refers to it. */
void
smtp_session_close(struct smtp_session *s, const char *result)
{
	struct log_line *l;
	const char *listener, *tls = s->io ? io_tls_info(s->io) : NULL;

	if (s->closing)
		return;
	s->closing = 1;
	s->state = S_CLOSING;
	s->result = result;
	listener = smtp_session_listener(s->lc);
	metrics_smtp_session(listener, result);
	/* One line per session (docs/operations.md "Logs"); never a secret:
	 * the AUTH password is an API key and is not kept past its check. */
	l = log_begin(LOG_INFO, "smtp.session");
	log_str(l, "msg", "session");
	log_str(l, "listener", listener);
	log_str(l, "client", s->ip);
	log_str(l, "helo", s->helo);
	log_str(l, "tls", tls);
	if (tls != NULL)
		log_strn(l, "tls_version", tls, strcspn(tls, " "));
	log_str(l, "account", s->account);
	log_int(l, "authenticated", s->authenticated);
	log_str(l, "auth_user", s->authenticated ? s->account : NULL);
	log_int(l, "messages", s->messages);
	log_int(l, "recipients", (int64_t)s->recipients);
	log_int(l, "errors", s->errors);
	log_int(l, "duration_ms", (int64_t)(time_mono_ms() - s->started));
	log_str(l, "reason", result);
	log_str(l, "result", metrics_smtp_result(result));
	log_end(l);
	io_close(s->io);
	s->io = NULL;
	uv_timer_stop(&s->timer);
	uv_timer_stop(&s->life);
	uv_close((uv_handle_t *)&s->timer, handle_closed);
	uv_close((uv_handle_t *)&s->life, handle_closed);
}

/* ------------------------------------------------------------------ */
/* Async work: store lookups                                           */


static void
lookup_work(uv_work_t *req)
{
	struct lookup *lk = req->data;

	if (lk->secret != NULL) {
		lk->rc = store_key_verify(lk->st, lk->secret, &lk->account, &lk->scope, &lk->err);
		if (lk->rc != 0)
			return;
	}
	lk->rc = auth_sender_domains(lk->st, lk->account, lk->verified_only, &lk->domains, &lk->err);
}

static void
lookup_after(uv_work_t *req, int status)
{
	struct lookup *lk = req->data;
	struct smtp_session *s = lk->s;

	s->busy--;
	if (!s->closing && status == 0)
		lk->done(s, lk);
	if (lk->secret) {
		sodium_memzero(lk->secret, strlen(lk->secret));
		free(lk->secret);
	}
	free(lk->account);
	free(lk->scope);
	store_strv_free(lk->domains);
	free(lk->err);
	free(lk->pending_line);
	free(lk);
	if (smtp_session_released(s))
		return;
	smtp_session_process(s);
}

void
smtp_session_lookup(struct smtp_session *s, struct lookup *lk)
{
	lk->s = s;
	lk->st = s->lc->store;
	lk->verified_only = s->cfg->require_verified_domains;
	lk->req.data = lk;
	s->busy++;
	if (uv_queue_work(s->lc->loop, &lk->req, lookup_work, lookup_after) != 0) {
		s->busy--;
		lk->rc = -1;
		lk->done(s, lk);
		free(lk->secret);
		free(lk->account);
		free(lk->pending_line);
		free(lk);
	}
}

/* ------------------------------------------------------------------ */
/* Domain policy                                                       */

int
smtp_session_domain_allowed(struct smtp_session *s, const char *addr)
{
	const char *at = strrchr(addr, '@');

	if (at == NULL || s->domains == NULL)
		return 0;
	return auth_domain_allowed(s->domains, at + 1);
}

/* ------------------------------------------------------------------ */
/* Commands                                                            */

static void
send_ehlo(struct smtp_session *s)
{
	struct buf b;

	buf_init(&b);
	buf_printf(&b, "250-%s Hello %s [%s]\r\n", s->cfg->hostname, s->helo, s->ip);
	buf_puts(&b, "250-PIPELINING\r\n");
	buf_printf(&b, "250-SIZE %llu\r\n", (unsigned long long)smtp_session_max_size(s));
	buf_puts(&b, "250-8BITMIME\r\n250-SMTPUTF8\r\n250-ENHANCEDSTATUSCODES\r\n");
	buf_puts(&b, "250-CHUNKING\r\n250-DSN\r\n");
	if (s->lc->tls != NULL && !io_tls_active(s->io))
		buf_puts(&b, "250-STARTTLS\r\n");
	if (io_tls_active(s->io) && !s->authenticated && s->lc->inbound == NULL)
		buf_puts(&b, "250-AUTH PLAIN LOGIN\r\n");
	buf_puts(&b, "250 HELP\r\n");
	io_write(s->io, b.data, b.len);
	buf_free(&b);
}

/* helo_name() keeps a printable, bounded copy of the HELO argument for the
 * Received: header and logs. */
static char *
helo_name(const char *arg)
{
	struct buf b;

	buf_init(&b);
	for (const char *p = arg; *p && b.len < 255; p++)
		if (*p > 0x20 && *p < 0x7f && *p != '(' && *p != ')' && *p != '\\')
			buf_putc(&b, *p);
	if (b.len == 0)
		buf_puts(&b, "unknown");
	return buf_steal(&b, NULL);
}

static void
cmd_helo(struct smtp_session *s, struct smtp_cmd *c)
{
	if (c->arg == NULL || c->arg[0] == '\0') {
		smtp_session_error(s, "501 5.5.4 Syntax: %s hostname", c->verb == SMTP_CMD_EHLO ? "EHLO" : "HELO");
		return;
	}
	smtp_session_tx_reset(s);
	free(s->helo);
	s->helo = helo_name(c->arg);
	s->esmtp = c->verb == SMTP_CMD_EHLO;
	s->state = S_READY;
	if (s->esmtp)
		send_ehlo(s);
	else
		smtp_session_reply(s, "250 %s", s->cfg->hostname);
}

/* xtext_valid() checks RFC 3461 xtext (ENVID, ORCPT). */
static int
xtext_valid(const char *v, size_t max)
{
	size_t n = 0;

	for (const unsigned char *p = (const unsigned char *)v; *p; p++, n++) {
		if (*p == '+') {
			if (!isxdigit(p[1]) || !isxdigit(p[2]))
				return 0;
			p += 2;
		} else if (*p < 33 || *p > 126 || *p == '=')
			return 0;
	}
	return n > 0 && n <= max;
}

static void mail_continue(struct smtp_session *s, struct smtp_cmd *c);

static void
domains_loaded(struct smtp_session *s, struct lookup *lk)
{
	if (lk->rc != 0) {
		log_warn("smtp.session", "cannot load domains of account %s: %s", s->account,
		    lk->err ? lk->err : "not found");
		smtp_session_reply(s, "451 4.3.0 Error: account lookup failed, try again later");
		return;
	}
	s->domains = lk->domains;
	lk->domains = NULL;
	/* Run the MAIL command that waited for them. */
	{
		struct smtp_cmd c;
		const char *why = NULL;
		size_t n = strlen(lk->pending_line);
		if (smtp_cmd_parse(lk->pending_line, n, &c, &why) == SMTP_CMD_OK)
			mail_continue(s, &c);
	}
}

static void
cmd_mail(struct smtp_session *s, struct smtp_cmd *c)
{
	if (s->lc->inbound != NULL) {
		/* inbound: anyone may send (bounces come from <>); RCPT decides */
		mail_continue(s, c);
		return;
	}
	if (s->account == NULL) {
		smtp_session_error(s, "530 5.7.0 Authentication required");
		return;
	}
	if (s->domains == NULL) {
		/* First MAIL of a trusted session: fetch the account's domains. */
		struct lookup *lk = xcalloc(1, sizeof(*lk));
		lk->account = xstrdup(s->account);
		lk->pending_line = xstrdup(s->cmdline);
		lk->done = domains_loaded;
		smtp_session_lookup(s, lk);
		return;
	}
	mail_continue(s, c);
}

static void
mail_continue(struct smtp_session *s, struct smtp_cmd *c)
{
	unsigned flags = 0;
	int ret = SPOOL_RET_NONE;
	const char *envid = NULL;

	if (c->path_utf8)
		flags |= SPOOL_F_SMTPUTF8;
	if (!s->esmtp && c->nparams > 0) {
		smtp_session_error(s, "555 5.5.4 Unsupported option: %s", c->params[0].key);
		return;
	}
	for (size_t i = 0; i < c->nparams; i++) {
		const char *k = c->params[i].key, *v = c->params[i].value;
		if (!strcasecmp(k, "SIZE") && v) {
			char *end;
			unsigned long long n;
			errno = 0;
			n = strtoull(v, &end, 10);
			if (errno || *end || !isdigit((unsigned char)v[0])) {
				smtp_session_error(s, "501 5.5.4 Bad SIZE parameter");
				return;
			}
			if (n > smtp_session_max_size(s)) {
				smtp_session_error(s, "552 5.3.4 Message size exceeds fixed limit");
				return;
			}
		} else if (!strcasecmp(k, "BODY") && v) {
			if (!strcasecmp(v, "8BITMIME"))
				flags |= SPOOL_F_8BITMIME;
			else if (strcasecmp(v, "7BIT") != 0) {
				smtp_session_error(s, "501 5.5.4 Unsupported BODY parameter");
				return;
			}
		} else if (!strcasecmp(k, "SMTPUTF8") && v == NULL) {
			flags |= SPOOL_F_SMTPUTF8;
		} else if (!strcasecmp(k, "RET") && v && ret == SPOOL_RET_NONE) {
			if (!strcasecmp(v, "FULL"))
				ret = SPOOL_RET_FULL;
			else if (!strcasecmp(v, "HDRS"))
				ret = SPOOL_RET_HDRS;
			else {
				smtp_session_error(s, "501 5.5.4 Bad RET parameter");
				return;
			}
		} else if (!strcasecmp(k, "ENVID") && v && envid == NULL) {
			if (!xtext_valid(v, 100)) {
				smtp_session_error(s, "501 5.5.4 Bad ENVID parameter");
				return;
			}
			envid = v;
		} else if (!strcasecmp(k, "AUTH") && v) {
			/* RFC 4954 5: accepted and ignored; the session's identity counts. */
		} else {
			smtp_session_error(s, "555 5.5.4 Unsupported option: %s", k);
			return;
		}
	}
	if (s->lc->inbound == NULL && c->path[0] != '\0' && !smtp_session_domain_allowed(s, c->path)) {
		smtp_session_error(s, "550 5.7.1 <%s>: Sender address rejected: not a %sdomain of account %s",
		    c->path, s->cfg->require_verified_domains ? "verified " : "", s->account);
		return;
	}
	smtp_session_tx_reset(s);
	s->mail_from = xstrdup(c->path);
	s->flags = flags;
	s->ret = ret;
	s->envid = envid ? xstrdup(envid) : NULL;
	s->state = S_MAIL;
	smtp_session_reply(s, "250 2.1.0 Ok");
}

static int
parse_notify(const char *v, unsigned *out)
{
	char *copy = xstrdup(v), *save = NULL, *tok;
	unsigned n = 0;
	int rc = 0;

	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strcasecmp(tok, "NEVER"))
			n |= SPOOL_NOTIFY_NEVER;
		else if (!strcasecmp(tok, "SUCCESS"))
			n |= SPOOL_NOTIFY_SUCCESS;
		else if (!strcasecmp(tok, "FAILURE"))
			n |= SPOOL_NOTIFY_FAILURE;
		else if (!strcasecmp(tok, "DELAY"))
			n |= SPOOL_NOTIFY_DELAY;
		else
			rc = -1;
	}
	free(copy);
	/* NEVER excludes the others (RFC 3461 4.1). */
	if (n == 0 || ((n & SPOOL_NOTIFY_NEVER) && n != SPOOL_NOTIFY_NEVER))
		rc = -1;
	*out = n;
	return rc;
}

static void
cmd_rcpt(struct smtp_session *s, struct smtp_cmd *c)
{
	unsigned notify = 0;
	const char *orcpt = NULL;
	struct spool_rcpt *r;

	if (c->path[0] == '\0') {
		smtp_session_error(s, "501 5.1.3 Bad recipient address syntax");
		return;
	}
	if (!s->esmtp && c->nparams > 0) {
		smtp_session_error(s, "555 5.5.4 Unsupported option: %s", c->params[0].key);
		return;
	}
	for (size_t i = 0; i < c->nparams; i++) {
		const char *k = c->params[i].key, *v = c->params[i].value;
		if (!strcasecmp(k, "NOTIFY") && v && notify == 0) {
			if (parse_notify(v, &notify) < 0) {
				smtp_session_error(s, "501 5.5.4 Bad NOTIFY parameter");
				return;
			}
		} else if (!strcasecmp(k, "ORCPT") && v && orcpt == NULL) {
			const char *semi = strchr(v, ';');
			if (semi == NULL || semi == v || !xtext_valid(semi + 1, 500)) {
				smtp_session_error(s, "501 5.5.4 Bad ORCPT parameter");
				return;
			}
			orcpt = v;
		} else {
			smtp_session_error(s, "555 5.5.4 Unsupported option: %s", k);
			return;
		}
	}
	if (c->path_utf8 && !(s->flags & SPOOL_F_SMTPUTF8)) {
		smtp_session_error(s, "553 5.6.7 Non-ASCII recipient needs SMTPUTF8 in MAIL FROM");
		return;
	}
	if (s->nrcpt >= s->cfg->max_recipients) {
		smtp_session_reply(s, "452 4.5.3 Error: too many recipients");
		return;
	}
	if (s->lc->inbound != NULL) {
		smtp_inbound_rcpt(s, c->path, notify, orcpt);	/* replies when checked */
		return;
	}
	/* The account's suppression list (memory only: this is the loop). A
	 * refusal, not a client mistake: not counted as an error. */
	if (s->account != NULL && suppress_check(s->lc->suppress, s->account, c->path)) {
		suppress_drop_event(s->account, NULL, NULL, c->path, -1, NULL);
		smtp_session_reply(s, "550 5.7.1 <%s>: Recipient address rejected: on the "
		    "suppression list of this account (bounced, complained or unsubscribed)", c->path);
		return;
	}
	/* The account's limits count recipients, so RCPT is where one is
	 * refused: the client keeps the others of the transaction and retries
	 * this one later (a 4xx, not counted as a client error). */
	if (s->lc->accounts != NULL) {
		struct limiter_refusal why;
		if (account_state_take(s->lc->accounts, s->account, 1, &why) != 0) {
			unsigned secs = (unsigned)((why.retry_ms + 999) / 1000);
			smtp_session_reply(s, "451 4.7.1 Error: account %s is over its limit of %llu "
			    "recipients per %s, try again in %u s", s->account,
			    (unsigned long long)why.limit, account_window_name(why.window),
			    secs ? secs : 1);
			return;
		}
		s->limit_taken++;
	}
	s->rcpt = xrealloc(s->rcpt, (s->nrcpt + 1) * sizeof(*s->rcpt));
	r = &s->rcpt[s->nrcpt++];
	memset(r, 0, sizeof(*r));
	r->addr = xstrdup(c->path);
	r->orcpt = orcpt ? xstrdup(orcpt) : NULL;
	r->notify = notify;
	r->state = SPOOL_RCPT_QUEUED;
	s->state = S_RCPT;
	smtp_session_reply(s, "250 2.1.5 Ok");
}

static void
cmd_data(struct smtp_session *s, struct smtp_cmd *c)
{
	if (c->arg && c->arg[0]) {
		smtp_session_error(s, "501 5.5.4 Syntax: DATA");
		return;
	}
	if (s->bdat_used) {
		smtp_session_error(s, "503 5.5.1 Error: DATA after BDAT");
		return;
	}
	buf_reset(&s->msg);
	memset(&s->data, 0, sizeof(s->data));
	s->state = S_DATA;
	smtp_session_reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

static void
cmd_bdat(struct smtp_session *s, struct smtp_cmd *c)
{
	uint64_t size;
	int last;

	if (!s->esmtp) {
		smtp_session_error(s, "503 5.5.1 Error: BDAT needs EHLO");
		return;
	}
	if (smtp_bdat_parse_arg(c->arg ? c->arg : "", &size, &last) < 0) {
		/* The chunk size is unknown, so the stream cannot be resynchronised. */
		smtp_session_reply(s, "501 5.5.4 Syntax: BDAT size [LAST]");
		smtp_session_close(s, "bad-bdat");
		return;
	}
	if (!s->bdat_used) {
		buf_reset(&s->msg);
		s->bdat_used = 1;
	}
	s->bdat_left = size;
	s->bdat_last = last;
	s->state = S_BDAT;
	/* The chunk's bytes follow at once; smtp_session_process() takes them. */
}

static void
cmd_rset(struct smtp_session *s, struct smtp_cmd *c)
{
	smtp_session_tx_reset(s);
	smtp_session_reply(s, "250 2.0.0 Ok");
}

static void
cmd_noop(struct smtp_session *s, struct smtp_cmd *c)
{
	smtp_session_reply(s, "250 2.0.0 Ok");
}

static void
cmd_quit(struct smtp_session *s, struct smtp_cmd *c)
{
	smtp_session_reply(s, "221 2.0.0 Bye");
	smtp_session_close(s, "quit");
}

static void
cmd_vrfy(struct smtp_session *s, struct smtp_cmd *c)
{
	smtp_session_reply(s, "252 2.5.2 Cannot VRFY user, but will accept message and attempt delivery");
}

static void
cmd_expn(struct smtp_session *s, struct smtp_cmd *c)
{
	smtp_session_reply(s, "502 5.5.1 EXPN not available");
}

static void
cmd_help(struct smtp_session *s, struct smtp_cmd *c)
{
	smtp_session_reply(s, "214-2.0.0 Commands: EHLO HELO STARTTLS AUTH MAIL RCPT DATA BDAT RSET NOOP VRFY HELP QUIT");
	smtp_session_reply(s, "214 2.0.0 End of HELP");
}

static void
cmd_starttls(struct smtp_session *s, struct smtp_cmd *c)
{
	if (io_tls_active(s->io)) {
		smtp_session_error(s, "554 5.5.1 Error: TLS already active");
		return;
	}
	if (s->lc->tls == NULL) {
		smtp_session_error(s, "502 5.5.1 Error: command not implemented");
		return;
	}
	if (c->arg && c->arg[0]) {
		smtp_session_error(s, "501 5.5.4 Syntax: STARTTLS");
		return;
	}
	smtp_session_reply(s, "220 2.0.0 Ready to start TLS");
	/* io_starttls_server() drops whatever the client sent after the command. */
	if (io_starttls_server(s->io, s->lc->tls) < 0) {
		smtp_session_close(s, "tls-failed");
		return;
	}
	smtp_session_tx_reset(s);
	s->state = S_TLS;
	s->esmtp = 0;
	free(s->helo);
	s->helo = NULL;
	smtp_session_arm(s);
}

/* ------------------------------------------------------------------ */
/* The command table (STYLE 3)                                         */

/* Commands that must end a pipelined group (RFC 2920 3.1). */
#define F_LAST	0x01
/* Commands that count as junk when repeated (NOOP floods etc.). */
#define F_JUNK	0x02

struct command {
	enum smtp_verb	 verb;
	const char	*name;
	void		(*fn)(struct smtp_session *, struct smtp_cmd *);
	unsigned	 states;
	unsigned	 flags;
	const char	*bad_sequence;	/* the 503 text when not allowed here */
};

static const struct command commands[] = {
	{ SMTP_CMD_EHLO, "EHLO", cmd_helo, ANY_CMD, F_LAST, NULL },
	{ SMTP_CMD_HELO, "HELO", cmd_helo, ANY_CMD, F_LAST, NULL },
	{ SMTP_CMD_STARTTLS, "STARTTLS", cmd_starttls, ST(S_READY), F_LAST, "503 5.5.1 Error: send EHLO first" },
	{ SMTP_CMD_AUTH, "AUTH", smtp_auth_cmd, ST(S_READY), F_LAST, "503 5.5.1 Error: AUTH not allowed now" },
	{ SMTP_CMD_MAIL, "MAIL", cmd_mail, ST(S_READY), 0, "503 5.5.1 Error: send HELO/EHLO first or nested MAIL command" },
	{ SMTP_CMD_RCPT, "RCPT", cmd_rcpt, ST(S_MAIL) | ST(S_RCPT), 0, "503 5.5.1 Error: need MAIL command" },
	{ SMTP_CMD_DATA, "DATA", cmd_data, ST(S_RCPT), F_LAST, "503 5.5.1 Error: need RCPT command" },
	{ SMTP_CMD_BDAT, "BDAT", cmd_bdat, ST(S_RCPT), 0, "503 5.5.1 Error: need RCPT command" },
	{ SMTP_CMD_RSET, "RSET", cmd_rset, ANY_CMD, F_JUNK, NULL },
	{ SMTP_CMD_NOOP, "NOOP", cmd_noop, ANY_CMD, F_LAST | F_JUNK, NULL },
	{ SMTP_CMD_QUIT, "QUIT", cmd_quit, ANY_CMD, F_LAST, NULL },
	{ SMTP_CMD_VRFY, "VRFY", cmd_vrfy, ANY_CMD, F_LAST | F_JUNK, NULL },
	{ SMTP_CMD_EXPN, "EXPN", cmd_expn, ANY_CMD, F_LAST | F_JUNK, NULL },
	{ SMTP_CMD_HELP, "HELP", cmd_help, ANY_CMD, F_LAST | F_JUNK, NULL },
};

/* run_command() parses and dispatches one command line. */
static void
run_command(struct smtp_session *s, char *line, size_t len)
{
	const struct command *cmd = NULL;
	struct smtp_cmd c;
	const char *why = NULL;
	enum smtp_cmd_rc rc;
	char *copy = xstrndup(line, len);

	memset(&c, 0, sizeof(c));
	rc = smtp_cmd_parse(line, len, &c, &why);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (commands[i].verb == c.verb)
			cmd = &commands[i];
	if (cmd == NULL) {
		smtp_session_error(s, "500 5.5.2 Error: command not recognized");
		goto out;
	}
	if (cmd->flags & F_JUNK) {
		if (++s->junk > s->cfg->sub_max_junk_commands) {
			smtp_session_reply(s, "421 4.7.0 %s Error: too many junk commands", s->cfg->hostname);
			smtp_session_close(s, "junk-limit");
			goto out;
		}
	}
	if (!(cmd->states & ST(s->state))) {
		if (s->state == S_INIT)
			smtp_session_error(s, "503 5.5.1 Error: send HELO/EHLO first");
		else
			smtp_session_error(s, "%s", cmd->bad_sequence ? cmd->bad_sequence : "503 5.5.1 Error: bad sequence of commands");
		goto out;
	}
	switch (rc) {
	case SMTP_CMD_OK:
		break;
	case SMTP_CMD_EPATH:
		if (s->lc->inbound != NULL && c.verb == SMTP_CMD_RCPT) {
			/* v@ext@ours and the like: a relay attempt as much as a typo */
			smtp_session_error(s, "550 5.7.1 Error: recipient address rejected: relay access denied");
			goto out;
		}
		smtp_session_error(s, "501 %s Bad %s address syntax%s%s",
		    c.verb == SMTP_CMD_MAIL ? "5.1.7" : "5.1.3",
		    c.verb == SMTP_CMD_MAIL ? "sender" : "recipient", why ? ": " : "", why ? why : "");
		goto out;
	case SMTP_CMD_EPARAM:
		smtp_session_error(s, "501 5.5.4 Bad parameter%s%s", why ? ": " : "", why ? why : "");
		goto out;
	case SMTP_CMD_ESYNTAX:
	default:
		smtp_session_error(s, "501 5.5.4 Syntax error%s%s", why ? ": " : "", why ? why : "");
		goto out;
	}
	s->cmdline = copy;
	cmd->fn(s, &c);
	s->cmdline = NULL;
	/* RFC 2920: after a command that ends a group (and after any command
	 * when PIPELINING was not negotiated) nothing may be waiting. STARTTLS is
	 * the exception: io already threw that input away. */
	if (!s->closing && s->io && c.verb != SMTP_CMD_STARTTLS && c.verb != SMTP_CMD_BDAT &&
	    ((cmd->flags & F_LAST) || !s->esmtp) && io_input(s->io)->len > 0 &&
	    s->state != S_AUTH) {
		smtp_session_reply(s, "554 5.5.0 Error: SMTP protocol synchronization");
		smtp_session_close(s, "pipelining-violation");
	}
out:
	free(copy);
}

void
smtp_session_process(struct smtp_session *s)
{
	while (!s->closing && !s->busy && s->io) {
		struct buf *in = io_input(s->io);
		size_t linelen = 0, used = 0;
		enum smtp_line_rc lrc;

		if (s->state == S_GREET || s->state == S_TLS)
			return;
		if (s->state == S_DATA) {
			if (in->len == 0 || smtp_message_data(s, in) < 0)
				return;
			continue;
		}
		if (s->state == S_BDAT) {
			if (smtp_message_bdat(s, in) < 0)
				return;
			continue;
		}
		if (in->len == 0)
			return;
		lrc = smtp_line_next(in->data, in->len, &linelen, &used);
		if (s->discarding) {
			/* Dropping the rest of an over-long line up to its CRLF. */
			if (lrc == SMTP_LINE_PARTIAL) {
				/* Keep at most a trailing CR, in case LF comes next. */
				size_t keep = in->data[in->len - 1] == '\r' ? 1 : 0;
				buf_consume(in, in->len - keep);
				return;
			}
			buf_consume(in, used);
			if (lrc == SMTP_LINE_OK) {
				s->discarding = 0;
				smtp_session_error(s, "500 5.5.2 Error: line too long");
			}
			continue;
		}
		switch (lrc) {
		case SMTP_LINE_PARTIAL:
			return;
		case SMTP_LINE_TOOLONG:
			buf_consume(in, used);
			s->discarding = 1;
			continue;
		case SMTP_LINE_BARE:
			buf_consume(in, used);
			smtp_session_error(s, "500 5.5.2 Error: bare CR or LF in command");
			continue;
		case SMTP_LINE_OK:
			break;
		}
		{
			char *line = xstrndup(in->data, linelen);
			buf_consume(in, used);
			smtp_session_arm(s);
			if (s->state == S_AUTH)
				smtp_auth_line(s, line);
			else
				run_command(s, line, linelen);
			sodium_memzero(line, linelen);
			free(line);
		}
	}
}

static void
send_greeting(struct smtp_session *s)
{
	if (s->shutdown) {
		smtp_session_reply(s, "421 4.3.2 %s Service shutting down", s->cfg->hostname);
		smtp_session_close(s, "shutdown");
		return;
	}
	/* Anything the client sent before our greeting breaks the protocol. */
	if (io_input(s->io)->len > 0) {
		smtp_session_reply(s, "554 5.5.0 %s Error: SMTP protocol synchronization", s->cfg->hostname);
		smtp_session_close(s, "pre-greeting-traffic");
		return;
	}
	s->state = S_INIT;
	smtp_session_reply(s, "220 %s ESMTP hermod", s->cfg->hostname);
	smtp_session_arm(s);
}

static void
on_io(struct io *io, enum io_event ev, void *arg)
{
	struct smtp_session *s = arg;

	if (s->closing)
		return;
	switch (ev) {
	case IO_DATAIN:
		if (s->state == S_GREET && !s->lc->implicit_tls) {
			send_greeting(s);
			return;
		}
		if (s->state == S_DATA || s->state == S_BDAT)
			smtp_session_arm(s);
		smtp_session_process(s);
		break;
	case IO_TLS_READY:
		if (s->state == S_GREET) {
			send_greeting(s);
		} else {
			s->state = S_INIT;
			smtp_session_arm(s);
			smtp_session_process(s);
		}
		break;
	case IO_TIMEOUT:
		timer_fired(&s->timer);
		break;
	case IO_CLOSED:
		smtp_session_close(s, s->state == S_DATA || s->state == S_BDAT ? "lost-in-data" : "disconnected");
		break;
	case IO_ERROR:
		/* before the greeting only an implicit-TLS handshake can fail;
		 * on a plain listener that is a client resetting the connection */
		smtp_session_close(s, s->state == S_TLS || (s->state == S_GREET && s->lc->implicit_tls) ?
		    "tls-error" : "io-error");
		break;
	case IO_DRAINED:
	case IO_CONNECTED:
		break;
	}
}

static void
greet_now(uv_timer_t *t)
{
	struct smtp_session *s = t->data;

	if (!s->closing && s->state == S_GREET)
		send_greeting(s);
}

struct smtp_session *
smtp_session_new(struct smtp_listener_ctx *lc, struct io *io, int trusted)
{
	struct smtp_session *s = xcalloc(1, sizeof(*s));

	s->lc = lc;
	s->cfg = lc->cfg;
	s->io = io;
	s->state = S_GREET;
	s->trusted = trusted;
	s->started = time_mono_ms();
	snprintf(s->ip, sizeof(s->ip), "%s", io_peer_ip(io));
	if (trusted && lc->cfg->trusted_account && lc->cfg->trusted_account[0])
		s->account = xstrdup(lc->cfg->trusted_account);
	uv_timer_init(lc->loop, &s->timer);
	uv_timer_init(lc->loop, &s->life);
	s->timer.data = s;
	s->life.data = s;
	s->handles = 2;
	io_set_cb(io, on_io, s);
	io_set_input_cap(io, 256 * 1024);
	if (lc->cfg->sub_session_timeout)
		uv_timer_start(&s->life, life_fired, lc->cfg->sub_session_timeout, 0);
	if (lc->implicit_tls) {
		s->state = S_GREET;
		if (io_starttls_server(io, lc->tls) < 0) {
			smtp_session_close(s, "tls-failed");
			return NULL;
		}
		uv_timer_start(&s->timer, timer_fired, lc->cfg->sub_tls_timeout, 0);
	} else {
		/* The greeting goes out after greet_pause; input before it is a
		 * protocol violation (see send_greeting). */
		uv_timer_start(&s->timer, greet_now, lc->cfg->sub_greet_pause, 0);
	}
	return s;
}

void
smtp_session_shutdown(struct smtp_session *s)
{
	s->shutdown = 1;
	if (s->closing || s->busy)
		return;
	if (s->state == S_DATA || s->state == S_BDAT)
		return;	/* let the message finish; commit_done closes */
	smtp_session_reply(s, "421 4.3.2 %s Service shutting down", s->cfg->hostname);
	smtp_session_close(s, "shutdown");
}
