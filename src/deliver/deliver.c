/* deliver: the engine that drives the scheduler (queue/sched.c).
 *
 * DESIGN
 *
 * The spool is the truth; the scheduler is an index of what is due. At start
 * every queued recipient is read with spool_foreach() and grouped into one
 * item per (message, recipient domain); afterwards spool_on_change() keeps
 * the scheduler in step (added, held, released, removed).
 *
 * A pump (one per loop turn at most) moves due items from the heap to their
 * destination's ready queue and opens connections while the scheduler says a
 * destination wants one. A connection (struct conn, deliver_conn.c) takes the head of its
 * destination's queue at once, resolves the route (a [route] relay) or the
 * MX, tries the addresses in order until a session is ready (a failed
 * opportunistic STARTTLS is retried in plaintext on the same address, as
 * Postfix does), then runs transactions: for each item, the pending
 * recipients of that domain in batches of max_recipients_per_transaction,
 * the message bytes read from the spool on the thread pool. It keeps taking
 * items from the same queue (several messages per connection) up to
 * max_messages_per_connection, then QUITs.
 *
 * When a destination cannot be reached at all (DNS failure, every address
 * refused), the failure applies to the item in hand and to every item ready
 * for that destination: they all would fail the same way now.
 *
 * Outcomes go through deliver_outcomes() (deliver_outcome.c). Items with
 * recipients left deferred return to the heap at their next attempt.
 *
 * Traffic shaping (src/shape, through struct shaper_ops) is asked before a
 * connection opens (the scheduler parks a refused destination until the
 * time given) and before each message: a destination that must wait gets
 * the message back at the head of its queue, and a ready session paces
 * itself for a short wait or closes (always, when suspended). A session
 * saying QUIT keeps its slot in the shaper's counts until it is gone, as
 * the receiver counts it; an idle session gives its slot up when another
 * destination wants a connection. */
#include "deliver/deliver_int.h"
#include "deliver/mx.h"
#include "net/tls.h"
#include "metrics/metrics.h"
#include "queue/queue_ctl.h"
#include "queue/sched.h"
#include "shape/shape.h"
#include "spool/spool.h"
#include "util/config.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

#include <errno.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DELIVER_DRAIN_MS	20000
#define DELIVER_DNS_TIMEOUT_MS	30000

static void
handle_close_free(uv_handle_t *h)
{
	free(h);
}

/* --- the pump ------------------------------------------------------------- */

static void
on_wake(uv_timer_t *t)
{
	deliver_pump_soon(t->data);
}

static void
pump(uv_timer_t *t)
{
	struct deliver *d = t->data;
	struct sched_dest *dest;
	uint64_t now = time_now_ms(), next;

	d->pump_armed = 0;
	if (d->stopping)
		return;
	sched_due(d->sched, now);
	for (struct conn *c = d->conns, *cn; c; c = cn) {
		cn = c->next;
		if (c->idle && sched_dest_ready(c->dest) > 0)
			deliver_conn_wake(c);
	}
	/* An idle session holds a connection slot (its provider's too): when
	 * another destination wants one, the idle ones with nothing to send
	 * say QUIT rather than wait out DELIVER_IDLE_MS. */
	if (sched_wanting(d->sched))
		for (struct conn *c = d->conns, *cn; c; c = cn) {
			cn = c->next;
			if (c->idle && sched_dest_ready(c->dest) == 0)
				deliver_conn_end(c);
		}
	while ((dest = sched_want_connection(d->sched, now)) != NULL)
		deliver_conn_new(d, dest);
	next = sched_next_due(d->sched);
	if (next != UINT64_MAX)
		uv_timer_start(d->wake, on_wake, next > now ? next - now : 0, 0);
	else
		uv_timer_stop(d->wake);
}

void
deliver_pump_soon(struct deliver *d)
{
	if (d->pump_armed || d->stopping)
		return;
	d->pump_armed = 1;
	uv_timer_start(d->pump, pump, 0, 0);
}

/* --- the spool feed ------------------------------------------------------- */

/* account_paused() tells whether env's account is paused (its mail waits). */
static int
account_paused(struct deliver *d, const struct spool_env *env)
{
	return d->paused != NULL && env->account != NULL &&
	    d->paused(d->paused_arg, env->account) != NULL;
}

static void
add_env(struct deliver *d, const struct spool_env *env)
{
	uint64_t now = time_now_ms();
	int held = (env->flags & SPOOL_F_HELD) != 0 || account_paused(d, env);

	/* One item per distinct recipient domain, due at the earliest of its
	 * recipients' next attempts. nrcpt is small (max_recipients). */
	for (size_t i = 0; i < env->nrcpt; i++) {
		const char *dom = deliver_domain(env->rcpt[i].addr);
		uint64_t at = env->rcpt[i].next_attempt;
		int seen = 0;

		if (!deliver_rcpt_pending(&env->rcpt[i]))
			continue;
		for (size_t k = 0; k < i && !seen; k++)
			if (deliver_rcpt_pending(&env->rcpt[k]) &&
			    strcasecmp(deliver_domain(env->rcpt[k].addr), dom) == 0)
				seen = 1;
		if (seen)
			continue;
		for (size_t k = i + 1; k < env->nrcpt; k++)
			if (deliver_rcpt_pending(&env->rcpt[k]) &&
			    strcasecmp(deliver_domain(env->rcpt[k].addr), dom) == 0 &&
			    env->rcpt[k].next_attempt < at)
				at = env->rcpt[k].next_attempt;
		sched_add(d->sched, env->id, dom, at, held, now);
	}
}

static int
foreach_cb(const struct spool_env *env, void *arg)
{
	add_env(arg, env);
	return 0;
}

static void
on_change(enum spool_change what, const char *id, const struct spool_env *env, void *arg)
{
	struct deliver *d = arg;

	switch (what) {
	case SPOOL_ADDED:
		if (env)
			add_env(d, env);
		break;
	case SPOOL_HELD:
		sched_hold_message(d->sched, id);
		break;
	case SPOOL_RELEASED:
		/* an admin's release does not lift an account's pause */
		if (env == NULL || !account_paused(d, env))
			sched_release_message(d->sched, id, time_now_ms());
		break;
	case SPOOL_REMOVED:
		sched_remove_message(d->sched, id);
		break;
	}
	deliver_pump_soon(d);
}

static int
flush_hook(const char *id, void *arg)
{
	return deliver_flush(arg, id);
}

int
deliver_flush(struct deliver *d, const char *id)
{
	size_t n;

	if (id != NULL && spool_get(d->sp, id) == NULL)
		return -ENOENT;
	n = sched_flush(d->sched, id, time_now_ms());
	deliver_pump_soon(d);
	return id ? 1 : (int)n;
}

void
deliver_counts(struct deliver *d, struct sched_counts *out)
{
	sched_counts(d->sched, out);
}

void
deliver_set_shaper(struct deliver *d, const struct shaper_ops *ops)
{
	sched_set_shaper(d->sched, ops);
}

void
deliver_set_account_gate(struct deliver *d, const char *(*paused)(void *arg, const char *account),
    void *arg)
{
	d->paused = paused;
	d->paused_arg = arg;
}

struct account_walk {
	struct deliver	*d;
	const char	*account;
	int		 release;
	size_t		 n;
};

static int
account_walk_cb(const struct spool_env *env, void *arg)
{
	struct account_walk *w = arg;

	if (env->account == NULL || strcmp(env->account, w->account) != 0)
		return 0;
	if (!w->release)
		w->n += sched_hold_message(w->d->sched, env->id) > 0;
	else if (!(env->flags & SPOOL_F_HELD))
		w->n += sched_release_message(w->d->sched, env->id, time_now_ms()) > 0;
	return 0;
}

/* One walk over the queue per pause or resume: rare, and cheaper than an
 * index by account that every submission would have to keep. */
size_t
deliver_hold_account(struct deliver *d, const char *account)
{
	struct account_walk w = { d, account, 0, 0 };

	spool_foreach(d->sp, account_walk_cb, &w);
	log_info("deliver", "account %s paused: %zu queued messages held", account, w.n);
	return w.n;
}

size_t
deliver_release_account(struct deliver *d, const char *account)
{
	struct account_walk w = { d, account, 1, 0 };

	spool_foreach(d->sp, account_walk_cb, &w);
	log_info("deliver", "account %s resumed: %zu held messages released", account, w.n);
	deliver_pump_soon(d);
	return w.n;
}

void
deliver_set_verp(struct deliver *d, const struct verp_key *key)
{
	d->verp = key;
}

/* --- shaping ----------------------------------------------------------------- */

/* shape_kick() unparks a domain the shaper has news about (its provider). */
static void
shape_kick(void *arg, const char *domain)
{
	struct deliver *d = arg;
	struct sched_dest *dest = sched_dest_find(d->sched, domain);

	if (dest)
		sched_unpark(d->sched, dest);
	deliver_pump_soon(d);
}

static char *
why_hook(const char *id, const char *domain, void *arg)
{
	struct deliver *d = arg;
	char text[512];

	if (d->shape == NULL || !shape_why(d->shape, id, domain, time_now_ms(), text, sizeof(text)))
		return NULL;
	return xstrdup(text);
}

static size_t
dest_ready(const char *domain, void *arg)
{
	struct deliver *d = arg;
	struct sched_dest *dest = sched_dest_find(d->sched, domain);

	return dest ? sched_dest_ready(dest) : 0;
}

static void
metrics_hook(void *arg, struct buf *extra)
{
	struct deliver *d = arg;

	shape_metrics(d->shape, time_now_ms(), extra);
}

static json_t *
dest_hook(void *arg)
{
	struct deliver *d = arg;

	return shape_destinations(d->shape, time_now_ms(), dest_ready, d);
}

static int
resume_hook(const char *name, void *arg)
{
	struct deliver *d = arg;

	return shape_resume(d->shape, name, time_now_ms());
}

int
deliver_start(uv_loop_t *loop, const struct config *cfg, struct spool *sp, struct deliver **out,
    char **err)
{
	struct deliver *d = xcalloc(1, sizeof(*d));
	struct sched_limits lim = {
		.max_connections = (unsigned)cfg->max_connections,
		.max_connections_per_destination = (unsigned)cfg->max_connections_per_destination,
	};
	uint64_t dns_timeout = cfg->connect_timeout < DELIVER_DNS_TIMEOUT_MS ?
	    cfg->connect_timeout : DELIVER_DNS_TIMEOUT_MS;
	char *tls_err = NULL;

	d->loop = loop;
	d->cfg = cfg;
	d->sp = sp;
	if (mx_resolver_new(loop, cfg->resolver, dns_timeout, &d->mx, err) < 0) {
		free(d);
		return -1;
	}
	/* Without a client context, opportunistic TLS degrades to plaintext
	 * and required TLS defers: worth a warning, not a refusal to start. */
	if ((d->ssl = tls_client_ctx(&tls_err)) == NULL) {
		log_warn("deliver", "no TLS client context: %s", tls_err ? tls_err : "?");
		free(tls_err);
	} else if (cfg->delivery_ca_file && cfg->delivery_ca_file[0] &&
	    SSL_CTX_load_verify_locations(d->ssl, cfg->delivery_ca_file, NULL) != 1) {
		/* the operator asked for these CAs: starting without them would
		 * defer every tls = verify destination with a misleading reason */
		*err = xasprintf("delivery.ca_file %s: cannot load the certificates",
		    cfg->delivery_ca_file);
		ERR_clear_error();
		SSL_CTX_free(d->ssl);
		mx_resolver_free(d->mx);
		free(d);
		return -1;
	}
	if (shape_new(cfg, sp, &d->shape, err) < 0) {
		mx_resolver_free(d->mx);
		if (d->ssl)
			SSL_CTX_free(d->ssl);
		free(d);
		return -1;
	}
	d->sched = sched_new(&lim);
	{
		struct shaper_ops ops;
		char *state = xasprintf("%s/shaping.state", cfg->data_dir);
		shape_attach(d->shape, d->mx, shape_kick, d);
		shape_state_load(d->shape, state, time_now_ms());
		shape_state_start(d->shape, loop, state);
		free(state);
		shape_ops(d->shape, &ops);
		sched_set_shaper(d->sched, &ops);
	}
	d->wake = xmalloc(sizeof(*d->wake));
	d->pump = xmalloc(sizeof(*d->pump));
	uv_timer_init(loop, d->wake);
	uv_timer_init(loop, d->pump);
	d->wake->data = d->pump->data = d;
	spool_foreach(sp, foreach_cb, d);
	spool_on_change(sp, on_change, d);
	queue_ctl_set_flush_hook(flush_hook, d);
	queue_ctl_set_why_hook(why_hook, d);
	queue_ctl_set_dest_hook(dest_hook, d);
	queue_ctl_set_resume_hook(resume_hook, d);
	d->metrics_hook = metrics_hook_add(NULL, metrics_hook, d);
	{
		struct sched_counts c;
		struct log_line *l = log_begin(LOG_INFO, "deliver");
		sched_counts(d->sched, &c);
		log_str(l, "msg", "delivery started");
		log_int(l, "items", (int64_t)c.items);
		log_int(l, "ready", (int64_t)c.ready);
		log_int(l, "deferred", (int64_t)c.deferred);
		log_int(l, "held", (int64_t)c.held);
		log_str(l, "resolver", cfg->resolver && cfg->resolver[0] ? cfg->resolver : "resolv.conf");
		log_end(l);
	}
	deliver_pump_soon(d);
	*out = d;
	return 0;
}

static void
stop_timeout(uv_timer_t *t)
{
	struct deliver *d = t->data;
	struct conn *c, *next;

	log_warn("deliver", "drain took longer than %d ms: cutting %zu connections", DELIVER_DRAIN_MS,
	    d->nconns);
	for (c = d->conns; c; c = next) {
		next = c->next;
		deliver_conn_cut(d, c, 0);
		if (!c->gai)
			deliver_conn_free(c);	/* waits for a read in flight */
	}
}

void
deliver_stop(struct deliver *d, void (*done)(void *arg), void *arg)
{
	d->stopping = 1;
	shape_state_stop(d->shape);	/* the last save, on a worker */
	uv_timer_stop(d->wake);
	uv_timer_stop(d->pump);
	d->pump_armed = 0;
	queue_ctl_set_flush_hook(NULL, NULL);
	queue_ctl_set_why_hook(NULL, NULL);
	queue_ctl_set_dest_hook(NULL, NULL);
	queue_ctl_set_resume_hook(NULL, NULL);
	/* Only transactions in flight are waited for: sessions being set up,
	 * DNS lookups and idle sessions end now (their items are retried at
	 * the next start). */
	for (struct conn *c = d->conns, *next; c; c = next) {
		next = c->next;
		if (c->idle || c->pacing)
			deliver_conn_end(c);
		else if (!c->reading && !(c->client && c->item)) {
			deliver_conn_cut(d, c, 0);
			if (!c->gai)
				deliver_conn_free(c);
		}
	}
	if (d->nconns == 0) {
		if (done)
			done(arg);
		return;
	}
	d->stop_done = done;
	d->stop_arg = arg;
	d->stop_timer = xmalloc(sizeof(*d->stop_timer));
	uv_timer_init(d->loop, d->stop_timer);
	d->stop_timer->data = d;
	uv_timer_start(d->stop_timer, stop_timeout, DELIVER_DRAIN_MS, 0);
}

void
deliver_free(struct deliver *d)
{
	struct conn *c, *next;

	if (d == NULL)
		return;
	d->stopping = 1;
	d->stop_done = NULL;
	spool_on_change(d->sp, NULL, NULL);
	queue_ctl_set_flush_hook(NULL, NULL);
	queue_ctl_set_why_hook(NULL, NULL);
	queue_ctl_set_dest_hook(NULL, NULL);
	queue_ctl_set_resume_hook(NULL, NULL);
	for (c = d->conns; c; c = next) {
		next = c->next;
		deliver_conn_cut(d, c, 1);
		if (c->idle_timer) {
			uv_close((uv_handle_t *)c->idle_timer, handle_close_free);
			c->idle_timer = NULL;
		}
		if (c->gai || c->reading) {
			/* a callback is still due: it frees the orphan */
			if (c->gai)
				uv_cancel((uv_req_t *)c->gai);
			c->d = NULL;
			continue;
		}
		free(c->addrs);
		deliver_conn_release(c);
		free(c);
	}
	d->conns = NULL;
	d->nconns = 0;
	deliver_outcome_orphan_jobs(d);
	while (d->nquitting > 0)
		smtp_client_abort(d->quitting[--d->nquitting].cl);
	free(d->quitting);
	sched_set_shaper(d->sched, NULL);
	if (d->metrics_hook >= 0)
		metrics_hook_remove(NULL, d->metrics_hook);
	shape_free(d->shape);	/* before the resolver: it cancels its lookups */
	mx_resolver_free(d->mx);
	sched_free(d->sched);
	uv_close((uv_handle_t *)d->wake, handle_close_free);
	uv_close((uv_handle_t *)d->pump, handle_close_free);
	if (d->stop_timer)
		uv_close((uv_handle_t *)d->stop_timer, handle_close_free);
	if (d->ssl)
		SSL_CTX_free(d->ssl);
	free(d);
}
