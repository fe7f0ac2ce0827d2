/* deliver_conn: one outgoing connection of the delivery engine, from the
 * choice of a destination to QUIT: route or MX resolution, trying the
 * addresses in order, the session (deliver/smtp_client.c), then items taken
 * from the destination's queue one after the other, each in batches of
 * max_recipients_per_transaction, the bytes read from the spool on the thread
 * pool; an idle session waits DELIVER_IDLE_MS for more. deliver.c (the engine:
 * feed, pump, start and stop) opens them and deliver_outcome.c records what
 * they achieve. */
#include "deliver/deliver_int.h"
#include "deliver/mx.h"
#include "feedback/verp.h"
#include "queue/sched.h"
#include "spool/spool.h"
#include "util/config.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void on_quit_done(struct smtp_client *cl, void *arg);
static void quitting_add(struct deliver *d, struct smtp_client *cl, const char *domain);
static void conn_next_item(struct conn *c);
static void conn_idle(struct conn *c);
static void conn_connect_next(struct conn *c);
static void conn_pace(struct conn *c, uint64_t ms);

/* --- small helpers -------------------------------------------------------- */

static void
synth(struct smtp_client_reply *r, enum bounce_local local, int code, const char *enh, const char *text)
{
	memset(r, 0, sizeof(*r));
	r->local = local;
	r->code = code;
	snprintf(r->enhanced, sizeof(r->enhanced), "%s", enh);
	snprintf(r->text, sizeof(r->text), "%s", text);
}

static void
handle_close_free(uv_handle_t *h)
{
	free(h);
}

/* --- connection lifecycle --------------------------------------------------- */

/* conn_orphan_free() frees a connection deliver_free() left to a callback
 * still in flight (a spool read, a getaddrinfo). */
static void
conn_orphan_free(struct conn *c)
{
	free(c->ridx);
	free(c->rcpt);
	free(c->mail_from);
	free(c->addrs);
	buf_free(&c->msg);
	free(c);
}

void
deliver_conn_release(struct conn *c)
{
	free(c->ridx);
	free(c->rcpt);
	free(c->mail_from);
	c->ridx = NULL;
	c->rcpt = NULL;
	c->mail_from = NULL;
	c->nridx = c->rdone = c->batch = 0;
	buf_free(&c->msg);
}

/* item_finish() gives the item in hand back to the scheduler. */
static void
item_finish(struct conn *c)
{
	if (c->item == NULL)
		return;
	sched_done(c->d->sched, c->item, c->retry_at);
	/* A deferred item may now be the heap's earliest: re-arm the wake-up. */
	if (c->retry_at)
		deliver_pump_soon(c->d);
	c->item = NULL;
	c->retry_at = 0;
	deliver_conn_release(c);
}

void
deliver_conn_free(struct conn *c)
{
	struct deliver *d = c->d;

	if (c->reading) {
		c->gone = 1;	/* the read callback finishes the job */
		return;
	}
	item_finish(c);
	if (c->q)
		mx_cancel(c->q);
	if (c->client)
		smtp_client_abort(c->client);
	if (c->opening)
		smtp_client_abort(c->opening);
	free(c->addrs);
	deliver_conn_release(c);
	if (c->idle_timer)
		uv_close((uv_handle_t *)c->idle_timer, handle_close_free);
	if (c->prev)
		c->prev->next = c->next;
	else
		d->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	d->nconns--;
	free(c);
	if (d->stopping && d->nconns == 0 && d->stop_done) {
		void (*done)(void *) = d->stop_done;
		d->stop_done = NULL;
		if (d->stop_timer)
			uv_timer_stop(d->stop_timer);
		done(d->stop_arg);
	}
}

/* Sessions saying QUIT live on their own for up to quit_timeout; the
 * engine remembers them so that deliver_free() can drop the stragglers. */
static void
quitting_add(struct deliver *d, struct smtp_client *cl, const char *domain)
{
	if (d->nquitting == d->quitcap) {
		d->quitcap = d->quitcap ? d->quitcap * 2 : 16;
		d->quitting = xrealloc(d->quitting, d->quitcap * sizeof(*d->quitting));
	}
	d->quitting[d->nquitting].cl = cl;
	snprintf(d->quitting[d->nquitting].domain, sizeof(d->quitting[0].domain), "%s", domain);
	d->nquitting++;
}

/* shaper_closed() tells the shaper a connection to domain is gone. */
static void
shaper_closed(struct deliver *d, const char *domain)
{
	const struct shaper_ops *sh = sched_shaper(d->sched);

	if (sh->conn_closed)
		sh->conn_closed(sh->ctx, domain);
}

static void
on_quit_done(struct smtp_client *cl, void *arg)
{
	struct deliver *d = arg;

	for (size_t i = 0; i < d->nquitting; i++)
		if (d->quitting[i].cl == cl) {
			shaper_closed(d, d->quitting[i].domain);
			d->quitting[i] = d->quitting[--d->nquitting];
			/* its slot is free: a destination may be waiting for it */
			deliver_pump_soon(d);
			return;
		}
}

/* deliver_conn_end() closes the connection (QUIT when a session is up) and hands
 * the destination's slot back. */
void
deliver_conn_end(struct conn *c)
{
	struct deliver *d = c->d;
	int quit = 0;

	/* An item still in hand was not attempted: due again at once. */
	if (c->item && c->retry_at == 0)
		c->retry_at = time_now_ms();
	item_finish(c);
	c->idle = 0;
	c->pacing = 0;
	if (c->idle_timer)
		uv_timer_stop(c->idle_timer);
	if (c->client) {
		struct smtp_client *cl = c->client;
		c->client = NULL;
		smtp_client_set_lost_cb(cl, on_quit_done, d);
		if (smtp_client_quit(cl)) {
			quitting_add(d, cl, c->domain);
			quit = 1;
		}
	}
	if (c->dest) {
		sched_conn_close(d->sched, c->dest);
		if (!quit)
			shaper_closed(d, c->domain);
		c->dest = NULL;
	}
	if (c->gai)
		return;	/* freed by the getaddrinfo callback */
	deliver_conn_free(c);
	deliver_pump_soon(d);
}

/* --- outcomes ----------------------------------------------------------- */

/* item_collect() fills c->ridx with the item's pending recipients. 0 when
 * there is something to deliver. */
static int
item_collect(struct conn *c, const struct spool_env *env)
{
	const char *dom = sched_dest_domain(c->dest);
	size_t *drop = NULL, ndrop = 0;

	c->ridx = xcalloc(env->nrcpt ? env->nrcpt : 1, sizeof(*c->ridx));
	c->nridx = c->rdone = 0;
	for (size_t i = 0; i < env->nrcpt; i++) {
		if (!deliver_rcpt_pending(&env->rcpt[i]) ||
		    strcasecmp(deliver_domain(env->rcpt[i].addr), dom) != 0)
			continue;
		/* suppressed since it was queued: dropped, never delivered */
		if (deliver_outcome_suppressed(c->d, env, i)) {
			if (drop == NULL)
				drop = xcalloc(env->nrcpt, sizeof(*drop));
			drop[ndrop++] = i;
		} else {
			c->ridx[c->nridx++] = i;
		}
	}
	/* env is not used past here: dropping may remove the message */
	if (ndrop > 0)
		deliver_outcome_drop(c->d, sched_item_id(c->item), drop, ndrop);
	free(drop);
	return c->nridx ? 0 : -1;
}

/* fail_item() applies one failure to every pending recipient of item. */
static uint64_t
fail_item(struct deliver *d, const char *id, const char *domain, const char *mx,
    const struct smtp_client_reply *r)
{
	const struct spool_env *env = spool_get(d->sp, id);
	struct deliver_outcome *o;
	size_t n = 0;
	uint64_t next;

	if (env == NULL)
		return 0;
	o = xcalloc(env->nrcpt ? env->nrcpt : 1, sizeof(*o));
	for (size_t i = 0; i < env->nrcpt; i++)
		if (deliver_rcpt_pending(&env->rcpt[i]) && strcasecmp(deliver_domain(env->rcpt[i].addr), domain) == 0) {
			o[n].idx = i;
			o[n].reply = *r;
			n++;
		}
	next = deliver_outcomes(d, id, o, n, mx, NULL, 0);
	free(o);
	return next;
}

/* fail_destination() fails the item in hand and every ready item of the
 * destination with r, then ends the connection. */
static void
fail_destination(struct conn *c, const struct smtp_client_reply *r)
{
	struct deliver *d = c->d;
	struct sched_item *it;
	char domain[256];

	snprintf(domain, sizeof(domain), "%s", sched_dest_domain(c->dest));
	{
		struct log_line *l = log_begin(LOG_INFO, "deliver");
		log_str(l, "msg", "destination failed");
		log_str(l, "domain", domain);
		log_int(l, "code", r->code);
		log_str(l, "reason", r->text);
		log_end(l);
	}
	if (c->item) {
		c->retry_at = fail_item(d, sched_item_id(c->item), domain, c->mx[0] ? c->mx : NULL, r);
		item_finish(c);
	}
	while ((it = sched_take(d->sched, c->dest)) != NULL)
		sched_done(d->sched, it, fail_item(d, sched_item_id(it), domain, c->mx[0] ? c->mx : NULL, r));
	deliver_conn_end(c);
}

/* --- transactions ------------------------------------------------------- */

static void on_sent(struct smtp_client *cl, const struct smtp_client_reply *replies, size_t n,
    int usable, void *arg);

static void
send_batch(struct conn *c)
{
	struct deliver *d = c->d;
	const struct spool_env *env = spool_get(d->sp, sched_item_id(c->item));
	size_t max = d->cfg->max_recipients_per_transaction ? d->cfg->max_recipients_per_transaction : 50;

	if (env == NULL || sched_item_removed(c->item)) {
		c->retry_at = 0;
		item_finish(c);
		conn_next_item(c);
		return;
	}
	/* VERP: one recipient per transaction, since the return path names
	 * it (Postfix's VERP does the same); the null return path of DSNs
	 * has nothing to name and keeps the batches. */
	if (d->verp != NULL && env->mail_from[0] != '\0')
		max = 1;
	c->batch = c->nridx - c->rdone < max ? c->nridx - c->rdone : max;
	free(c->rcpt);
	c->rcpt = xcalloc(c->batch, sizeof(*c->rcpt));
	/* Addresses are copied: the envelope may change while we wait. */
	for (size_t i = 0; i < c->batch; i++)
		c->rcpt[i] = xstrdup(env->rcpt[c->ridx[c->rdone + i]].addr);
	free(c->mail_from);
	if (max == 1) {
		char rp[VERP_ADDR_MAX];
		verp_return_path(d->verp, d->cfg->in_bounce_domain, env->mail_from, sched_item_id(c->item),
		    c->ridx[c->rdone], rp);
		c->mail_from = xstrdup(rp);
	} else
		c->mail_from = xstrdup(env->mail_from);
	c->m.mail_from = c->mail_from;
	c->m.flags = env->flags;
	c->m.data = c->msg.data;
	c->m.len = c->msg.len;
	c->m.nrcpt = c->batch;
	c->m.rcpt = c->rcpt;
	if (smtp_client_send(c->client, &c->m, on_sent, c) < 0) {
		struct smtp_client_reply r;
		synth(&r, BOUNCE_LOCAL_NETWORK, 421, "4.4.2", "connection not ready");
		for (size_t i = 0; i < c->batch; i++)
			free((char *)c->rcpt[i]);
		c->batch = 0;
		c->retry_at = fail_item(d, sched_item_id(c->item), c->domain, c->mx, &r);
		item_finish(c);
		deliver_conn_end(c);
	}
}

static void
on_sent(struct smtp_client *cl, const struct smtp_client_reply *replies, size_t n, int usable, void *arg)
{
	struct conn *c = arg;
	struct deliver *d = c->d;
	struct deliver_outcome *o = xcalloc(n ? n : 1, sizeof(*o));
	uint64_t next;

	(void)cl;
	for (size_t i = 0; i < n; i++) {
		o[i].idx = c->ridx[c->rdone + i];
		o[i].reply = replies[i];
	}
	next = deliver_outcomes(d, sched_item_id(c->item), o, n, c->mx, c->msg.data, c->msg.len);
	free(o);
	if (next && (c->retry_at == 0 || next < c->retry_at))
		c->retry_at = next;
	for (size_t i = 0; i < c->batch; i++)
		free((char *)c->rcpt[i]);
	c->rdone += n;
	c->batch = 0;
	if (!usable)
		c->client = NULL;	/* it frees itself */
	if (c->rdone < c->nridx) {
		if (usable) {
			send_batch(c);
			return;
		}
		/* The rest of this item waits for another connection. */
		c->retry_at = time_now_ms();
	}
	item_finish(c);
	if (!usable) {
		deliver_conn_end(c);
		return;
	}
	c->nmsgs++;
	conn_next_item(c);
}

static void
on_read(int err, const char *id, const char *msg, size_t len, void *arg)
{
	struct conn *c = arg;

	(void)id;
	c->reading = 0;
	if (c->d == NULL) {	/* orphaned by deliver_free() */
		conn_orphan_free(c);
		return;
	}
	if (c->gone) {
		c->gone = 0;
		deliver_conn_free(c);
		return;
	}
	if (err) {
		log_error("deliver", "cannot read message %s: %s", sched_item_id(c->item), strerror(-err));
		c->retry_at = time_now_ms() + 60000;
		item_finish(c);
		conn_next_item(c);
		return;
	}
	buf_reset(&c->msg);
	buf_append(&c->msg, msg, len);
	if (c->client == NULL) {	/* the server left meanwhile */
		c->retry_at = time_now_ms();
		deliver_conn_end(c);
		return;
	}
	send_batch(c);
}

/* conn_start_item() begins work on c->item: expired recipients fail at once,
 * the others are read and sent. */
static void
conn_start_item(struct conn *c)
{
	struct deliver *d = c->d;
	const struct spool_env *env = spool_get(d->sp, sched_item_id(c->item));
	const struct shaper_ops *sh = sched_shaper(d->sched);
	uint64_t now = time_now_ms();

	if (env == NULL || sched_item_removed(c->item) || item_collect(c, env) < 0) {
		c->retry_at = 0;
		item_finish(c);
		conn_next_item(c);
		return;
	}
	if (sched_item_held(c->item) || (env->flags & SPOOL_F_HELD)) {
		c->retry_at = now;
		item_finish(c);
		conn_next_item(c);
		return;
	}
	if (now >= env->queued_at + d->cfg->max_lifetime) {
		struct smtp_client_reply r;
		synth(&r, BOUNCE_LOCAL_EXPIRED, 451, "4.4.7", "message expired: delivery.max_lifetime passed");
		if (env->rcpt[c->ridx[0]].last_reply)
			snprintf(r.text, sizeof(r.text), "expired; last: %s", env->rcpt[c->ridx[0]].last_reply);
		c->retry_at = fail_item(d, sched_item_id(c->item), c->domain, NULL, &r);
		item_finish(c);
		conn_next_item(c);
		return;
	}
	if (sh->send_wait) {
		uint64_t until = 0;
		enum shaper_verdict v = sh->send_wait(sh->ctx, c->domain, sched_item_id(c->item), now, &until);
		switch (v) {
		case SHAPER_GO:
			break;
		case SHAPER_WAIT_ITEM:
			/* this message alone waits (a warm-up cap): not an attempt */
			c->retry_at = until > now ? until : now + 1;
			item_finish(c);
			conn_next_item(c);
			return;
		case SHAPER_WAIT_DEST:
		case SHAPER_SUSPENDED:
			/* the destination waits: the message goes back to the head
			 * of its queue untouched, the destination is parked, and a
			 * ready session paces itself when the wait is short */
			sched_return(d->sched, c->item);
			c->item = NULL;
			c->retry_at = 0;
			deliver_conn_release(c);
			sched_park(d->sched, c->dest, until);
			if (v == SHAPER_WAIT_DEST && c->client && until <= now + DELIVER_PACE_MS &&
			    !d->stopping) {
				conn_pace(c, until - now);
				return;
			}
			deliver_conn_end(c);
			return;
		}
	}
	if (spool_read(d->sp, sched_item_id(c->item), on_read, c) < 0) {
		c->retry_at = now + 60000;
		item_finish(c);
		conn_next_item(c);
		return;
	}
	c->reading = 1;
}

static void
pace_done(uv_timer_t *t)
{
	struct conn *c = t->data;

	c->pacing = 0;
	conn_next_item(c);
}

/* conn_pace() keeps a ready session waiting ms for the shaper's rate, then
 * takes the next item: a paced destination keeps its sessions instead of
 * reconnecting for each message. */
static void
conn_pace(struct conn *c, uint64_t ms)
{
	if (c->idle_timer == NULL) {
		c->idle_timer = xmalloc(sizeof(*c->idle_timer));
		uv_timer_init(c->d->loop, c->idle_timer);
		c->idle_timer->data = c;
	}
	c->pacing = 1;
	uv_timer_start(c->idle_timer, pace_done, ms, 0);
}

static void
idle_expired(uv_timer_t *t)
{
	struct conn *c = t->data;

	c->idle = 0;
	deliver_conn_end(c);
}

/* conn_idle() keeps a ready session open for DELIVER_IDLE_MS: mail that
 * arrives meanwhile for the destination skips the TCP, greeting, EHLO and
 * STARTTLS round trips (connection caching, as Postfix's scache). */
static void
conn_idle(struct conn *c)
{
	if (c->idle_timer == NULL) {
		c->idle_timer = xmalloc(sizeof(*c->idle_timer));
		uv_timer_init(c->d->loop, c->idle_timer);
		c->idle_timer->data = c;
	}
	c->idle = 1;
	uv_timer_start(c->idle_timer, idle_expired, DELIVER_IDLE_MS, 0);
}

/* deliver_conn_wake() gives an idle session the next ready item. */
void
deliver_conn_wake(struct conn *c)
{
	c->idle = 0;
	uv_timer_stop(c->idle_timer);
	conn_next_item(c);
}

static void
on_lost(struct smtp_client *cl, void *arg)
{
	struct conn *c = arg;

	(void)cl;
	c->client = NULL;
	if (c->idle || c->pacing) {
		c->idle = c->pacing = 0;
		deliver_conn_end(c);
	}
	/* busy (a read in flight): on_read sees the session gone */
}

/* conn_next_item() takes the next ready item of the destination, or ends. */
static void
conn_next_item(struct conn *c)
{
	struct deliver *d = c->d;
	const struct shaper_ops *sh = sched_shaper(d->sched);
	uint64_t maxm = d->cfg->max_messages_per_connection ? d->cfg->max_messages_per_connection : 100;

	if (sh->max_messages) {
		unsigned m = sh->max_messages(sh->ctx, c->domain);
		if (m && m < maxm)
			maxm = m;
	}
	for (;;) {
		if (d->stopping || c->client == NULL || c->nmsgs >= maxm) {
			deliver_conn_end(c);
			return;
		}
		c->item = sched_take(d->sched, c->dest);
		if (c->item == NULL) {
			conn_idle(c);
			return;
		}
		conn_start_item(c);
		return;
	}
}

/* --- sessions ----------------------------------------------------------- */

static void
on_open(struct smtp_client *cl, const struct smtp_client_reply *fail, void *arg)
{
	struct conn *c = arg;
	struct deliver *d = c->d;

	c->opening = NULL;
	if (fail == NULL) {
		c->client = cl;
		smtp_client_set_lost_cb(cl, on_lost, c);
		if (d->stopping) {
			deliver_conn_end(c);
			return;
		}
		conn_start_item(c);
		return;
	}
	c->last_fail = *fail;
	{
		struct log_line *l = log_begin(LOG_INFO, "deliver");
		log_str(l, "msg", "session failed");
		log_str(l, "domain", c->domain);
		log_str(l, "mx", c->mx);
		log_int(l, "code", fail->code);
		log_str(l, "reason", fail->text);
		log_end(l);
	}
	/* Opportunistic TLS that fails: once more in plaintext (RFC 7435). */
	if (fail->local == BOUNCE_LOCAL_TLS && !c->no_tls &&
	    (c->route ? c->route->tls : d->cfg->delivery_tls) == CONFIG_TLS_OPPORTUNISTIC) {
		c->no_tls = 1;
	} else {
		c->no_tls = 0;
		c->addr_i++;
	}
	conn_connect_next(c);
}

static void
conn_connect_next(struct conn *c)
{
	struct deliver *d = c->d;

	while (c->addr_i < c->naddr) {
		struct smtp_client_opts o;
		struct mx_addr *a = &c->addrs[c->addr_i];
		int rc;

		memset(&o, 0, sizeof(o));
		o.cfg = d->cfg;
		o.tls = c->route ? c->route->tls : d->cfg->delivery_tls;
		if (c->no_tls)
			o.tls = CONFIG_TLS_OFF;
		o.ssl = d->ssl;
		o.host = a->host;
		if (c->route) {
			o.auth_user = c->route->auth_user;
			o.auth_password = c->route->auth_password;
		}
		if (o.tls != CONFIG_TLS_OFF && d->ssl == NULL) {
			if (o.tls == CONFIG_TLS_REQUIRED || o.tls == CONFIG_TLS_VERIFY) {
				synth(&c->last_fail, BOUNCE_LOCAL_TLS, 421, "4.7.10", "no TLS client context");
				c->addr_i++;
				continue;
			}
			o.tls = CONFIG_TLS_OFF;
		}
		snprintf(c->mx, sizeof(c->mx), "%s", a->host);
		rc = smtp_client_open(d->loop, (struct sockaddr *)&a->sa, &o, on_open, c, &c->opening);
		if (rc == 0)
			return;
		synth(&c->last_fail, BOUNCE_LOCAL_NETWORK, 421, "4.4.1", uv_strerror(rc));
		c->addr_i++;
	}
	fail_destination(c, &c->last_fail);
}

static void
use_addrs(struct conn *c, const struct mx_addr *a, size_t n, uint16_t port)
{
	c->addrs = xcalloc(n ? n : 1, sizeof(*c->addrs));
	memcpy(c->addrs, a, n * sizeof(*a));
	c->naddr = n;
	for (size_t i = 0; i < n; i++) {
		struct sockaddr *sa = (struct sockaddr *)&c->addrs[i].sa;
		if (sa->sa_family == AF_INET)
			((struct sockaddr_in *)sa)->sin_port = htons(port);
		else
			((struct sockaddr_in6 *)sa)->sin6_port = htons(port);
	}
	synth(&c->last_fail, BOUNCE_LOCAL_NETWORK, 421, "4.4.1", "no address to connect to");
	conn_connect_next(c);
}

static void
on_mx(const struct mx_result *res, void *arg)
{
	struct conn *c = arg;
	struct smtp_client_reply r;
	char text[SMTP_CLIENT_TEXT_MAX];

	c->q = NULL;
	snprintf(text, sizeof(text), "%s: %s", c->domain, res->why);
	switch (res->status) {
	case MX_OK:
		use_addrs(c, res->addr, res->naddr, (uint16_t)c->d->cfg->delivery_port);
		return;
	case MX_NULLMX:
		synth(&r, BOUNCE_LOCAL_NULLMX, 556, "5.1.10", text);
		break;
	case MX_NXDOMAIN:
		synth(&r, BOUNCE_LOCAL_NXDOMAIN, 550, "5.1.2", text);
		break;
	case MX_NOADDR:
		synth(&r, BOUNCE_LOCAL_NOADDR, 550, "5.4.4", text);
		break;
	case MX_TEMPFAIL:
	default:
		synth(&r, BOUNCE_LOCAL_DNS, 451, "4.4.3", text);
		break;
	}
	fail_destination(c, &r);
}

static void
on_gai(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct conn *c = req->data;
	struct mx_addr *a = NULL;
	size_t n = 0;
	const char *host = c->route->relay;

	free(req);
	c->gai = NULL;
	if (c->d == NULL) {	/* orphaned by deliver_free() */
		if (res)
			uv_freeaddrinfo(res);
		conn_orphan_free(c);
		return;
	}
	if (c->dest == NULL) {	/* ended while resolving */
		if (res)
			uv_freeaddrinfo(res);
		deliver_conn_free(c);
		return;
	}
	if (status == 0) {
		for (struct addrinfo *p = res; p; p = p->ai_next)
			n++;
		a = xcalloc(n ? n : 1, sizeof(*a));
		n = 0;
		for (struct addrinfo *p = res; p; p = p->ai_next) {
			if (p->ai_addrlen > sizeof(a[n].sa))
				continue;
			memcpy(&a[n].sa, p->ai_addr, p->ai_addrlen);
			snprintf(a[n].host, sizeof(a[n].host), "%.*s", (int)strcspn(host, ":"), host);
			n++;
		}
		uv_freeaddrinfo(res);
	}
	if (n == 0) {
		struct smtp_client_reply r;
		char text[SMTP_CLIENT_TEXT_MAX];
		snprintf(text, sizeof(text), "relay %s: %s", host, status ? uv_strerror(status) : "no address");
		synth(&r, BOUNCE_LOCAL_DNS, 451, "4.4.3", text);
		free(a);
		fail_destination(c, &r);
		return;
	}
	/* the port is already in the sockaddr */
	c->addrs = a;
	c->naddr = n;
	synth(&c->last_fail, BOUNCE_LOCAL_NETWORK, 421, "4.4.1", "no address to connect to");
	conn_connect_next(c);
}

/* resolve_relay() splits "host:port" or "[v6]:port" and resolves it on the
 * thread pool (an IP literal resolves at once). */
static int
resolve_relay(struct conn *c)
{
	char host[256], port[16];
	const char *s = c->route->relay, *colon;
	struct addrinfo hints;
	size_t hl;

	if (s[0] == '[') {
		const char *end = strchr(s, ']');
		if (end == NULL || end[1] != ':')
			return -1;
		hl = (size_t)(end - s - 1);
		colon = end + 1;
		s++;
	} else {
		if ((colon = strrchr(s, ':')) == NULL)
			return -1;
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= sizeof(host) || strlen(colon + 1) >= sizeof(port))
		return -1;
	memcpy(host, s, hl);
	host[hl] = '\0';
	snprintf(port, sizeof(port), "%s", colon + 1);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	c->gai = xmalloc(sizeof(*c->gai));
	c->gai->data = c;
	if (uv_getaddrinfo(c->d->loop, c->gai, on_gai, host, port, &hints) != 0) {
		free(c->gai);
		c->gai = NULL;
		return -1;
	}
	return 0;
}

/* deliver_conn_new() opens a connection for destination dest with its first item. */
void
deliver_conn_new(struct deliver *d, struct sched_dest *dest)
{
	struct conn *c = xcalloc(1, sizeof(*c));

	c->d = d;
	c->dest = dest;
	snprintf(c->domain, sizeof(c->domain), "%s", sched_dest_domain(dest));
	c->next = d->conns;
	if (d->conns)
		d->conns->prev = c;
	d->conns = c;
	d->nconns++;
	sched_conn_open(d->sched, dest);
	c->item = sched_take(d->sched, dest);
	c->route = config_route_for(d->cfg, c->domain);
	if (c->route && c->route->relay) {
		if (resolve_relay(c) < 0) {
			struct smtp_client_reply r;
			synth(&r, BOUNCE_LOCAL_DNS, 451, "4.3.5", "bad relay address in [route]");
			fail_destination(c, &r);
		}
		return;
	}
	if (mx_resolve(d->mx, c->domain, on_mx, c, &c->q) < 0) {
		struct smtp_client_reply r;
		synth(&r, BOUNCE_LOCAL_NXDOMAIN, 550, "5.1.2", "invalid recipient domain");
		fail_destination(c, &r);
	}
}


/* deliver_conn_cut() drops a connection now; its recipients stay queued and are
 * retried on the next start (at-least-once). */
void
deliver_conn_cut(struct deliver *d, struct conn *c, int orphan)
{
	if (c->client) {
		smtp_client_abort(c->client);
		c->client = NULL;
	}
	if (c->opening) {
		smtp_client_abort(c->opening);
		c->opening = NULL;
	}
	if (c->q) {
		mx_cancel(c->q);
		c->q = NULL;
	}
	if (orphan) {
		c->item = NULL;	/* the scheduler goes away with the engine */
		if (c->dest) {
			sched_conn_close(d->sched, c->dest);
			c->dest = NULL;
		}
	} else {
		c->retry_at = time_now_ms();
		item_finish(c);
		if (c->dest) {
			sched_conn_close(d->sched, c->dest);
			shaper_closed(d, c->domain);
			c->dest = NULL;
		}
	}
}
