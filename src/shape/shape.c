/* shape: the runtime of destination shaping, behind struct shaper_ops.
 *
 * DESIGN
 *
 * A destination key (struct skey) holds what receivers count: open
 * connections, a connection-rate and a message-rate bucket (GCRA, see
 * shape_bucket.c), a suspension and a rate halving set by backoff rules,
 * and warm-up counters. Every recipient domain has a key of its own (the
 * limits of [shape DOMAIN] over those of [shape *]); a domain whose MX host
 * ends in a [provider]'s suffix is also bound to the provider's key, which
 * all such domains share. A connection or a message must pass both keys;
 * suspensions, halvings and warm-up counts live on the domain's
 * destination: the provider's key once known, else the domain's own.
 *
 * The mapping domain -> provider needs the MX: when providers are
 * configured, the first connect_wait() of a domain starts an asynchronous
 * lookup (deliver/mx.h, cached there too) and parks the domain; the answer
 * binds it and kicks the engine, which unparks it. The binding is kept an
 * hour, then looked up again (open connections move with the domain). A
 * domain unused for an hour, with nothing in force, is forgotten by an
 * incremental sweep (a few hash buckets per decision).
 *
 * Every decision is O(1): two hash lookups and a few comparisons. A refusal
 * returns the time worth asking again, and the scheduler parks the domain
 * until then, so suspended or rate-limited destinations cost nothing per
 * decision. The domains a provider refuses queue for its turns (a ticket
 * per provider, one token interval apart), so a provider with thousands of
 * domains wakes one of them per token, not all. Loop thread only; nothing
 * here blocks. */
#include "shape/shape_int.h"
#include "deliver/mx.h"
#include "spool/spool.h"
#include "util/config.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SHAPE_MAP_TTL_MS	3600000		/* domain -> provider kept this long */
#define SHAPE_LOOKUP_PARK_MS	5000		/* park while the MX is looked up (kicked earlier) */
#define SHAPE_SLOT_POLL_MS	200		/* at a connection limit: ask again after */
#define SHAPE_MAX_SHIFT		6		/* halve_rate: down to 1/64 */
#define SHAPE_TURN_MS		5		/* at a provider's connection limit: a domain's turn every */
#define SHAPE_FORGET_MS		3600000		/* a domain unused this long is forgotten */
#define SHAPE_SWEEP_BUCKETS	4		/* domain buckets the idle sweep visits a decision */

static uint64_t
hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)tolower((unsigned char)*s)) * 1099511628211ULL;
	return h;
}

/* --- keys and domains ------------------------------------------------------ */

static struct skey *
key_new(struct shape *sh, const char *name, const struct shape_provider *prov,
    const struct shape_limits *lim)
{
	struct skey *k = xcalloc(1, sizeof(*k));

	k->name = xstrdup(name);
	k->prov = prov;
	k->lim = *lim;
	shape_bucket_set(&k->conn_b, lim->conn_count, lim->conn_period);
	shape_bucket_set(&k->msg_b, lim->msg_count, lim->msg_period);
	if (sh->conf.nwarmups) {
		k->wu_day_end = xcalloc(sh->conf.nwarmups, sizeof(*k->wu_day_end));
		k->wu_count = xcalloc(sh->conf.nwarmups, sizeof(*k->wu_count));
	}
	k->next = sh->key_list;
	if (k->next)
		k->next->prev = k;
	sh->key_list = k;
	sh->nkeys++;
	return k;
}

struct skey *
shape_provider_key(struct shape *sh, const struct shape_provider *p)
{
	size_t i = (size_t)(p - sh->conf.providers);

	if (sh->pkeys[i] == NULL)
		sh->pkeys[i] = key_new(sh, p->name, p, &p->lim);
	return sh->pkeys[i];
}

/* domain_limits() is [shape DOMAIN] over [shape *]. */
static void
domain_limits(const struct shape *sh, const char *domain, struct shape_limits *out)
{
	const struct shape_domain_conf *star = NULL, *own = NULL;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < sh->conf.ndomains; i++) {
		if (!strcmp(sh->conf.domains[i].domain, "*"))
			star = &sh->conf.domains[i];
		else if (!strcasecmp(sh->conf.domains[i].domain, domain))
			own = &sh->conf.domains[i];
	}
	if (star)
		*out = star->lim;
	if (own) {
		if (own->lim.max_connections)
			out->max_connections = own->lim.max_connections;
		if (own->lim.max_messages)
			out->max_messages = own->lim.max_messages;
		if (own->lim.conn_count) {
			out->conn_count = own->lim.conn_count;
			out->conn_period = own->lim.conn_period;
		}
		if (own->lim.msg_count) {
			out->msg_count = own->lim.msg_count;
			out->msg_period = own->lim.msg_period;
		}
	}
}

struct sdom *
shape_dom_find(struct shape *sh, const char *domain)
{
	if (sh->ndom_buckets == 0)
		return NULL;
	for (struct sdom *d = sh->doms[hash_str(domain) & (sh->ndom_buckets - 1)]; d; d = d->hnext)
		if (strcasecmp(d->name, domain) == 0)
			return d;
	return NULL;
}

struct sdom *
shape_dom_get(struct shape *sh, const char *domain)
{
	struct sdom *d = shape_dom_find(sh, domain);
	struct shape_limits lim;
	size_t b, n = strlen(domain);

	if (d)
		return d;
	d = xcalloc(1, sizeof(*d) + n + 1);
	for (size_t i = 0; i < n; i++)
		d->name[i] = (char)tolower((unsigned char)domain[i]);
	d->sh = sh;
	domain_limits(sh, d->name, &lim);
	d->self = key_new(sh, d->name, NULL, &lim);
	/* Without providers, or with a relay route, the domain is its own
	 * destination: no lookup to wait for. */
	if (sh->conf.nproviders == 0 || sh->mx == NULL) {
		d->state = SDOM_KNOWN;
		d->expires = UINT64_MAX;
	} else {
		const struct config_route *rt = config_route_for(sh->cfg, d->name);
		if (rt && rt->relay) {
			d->state = SDOM_KNOWN;
			d->expires = UINT64_MAX;
		}
	}
	if (sh->ndoms >= sh->ndom_buckets) {
		size_t nb = sh->ndom_buckets ? sh->ndom_buckets * 2 : 256;
		struct sdom **nt = xcalloc(nb, sizeof(*nt));
		for (size_t i = 0; i < sh->ndom_buckets; i++)
			while (sh->doms[i]) {
				struct sdom *x = sh->doms[i];
				sh->doms[i] = x->hnext;
				x->hnext = nt[hash_str(x->name) & (nb - 1)];
				nt[hash_str(x->name) & (nb - 1)] = x;
			}
		free(sh->doms);
		sh->doms = nt;
		sh->ndom_buckets = nb;
	}
	b = hash_str(d->name) & (sh->ndom_buckets - 1);
	d->hnext = sh->doms[b];
	sh->doms[b] = d;
	sh->ndoms++;
	return d;
}

/* dom_bind() makes p (or none) the domain's provider; its open connections move. */
static void
dom_bind(struct shape *sh, struct sdom *d, const struct shape_provider *p)
{
	struct skey *nk = p ? shape_provider_key(sh, p) : NULL;

	if (nk != d->prov) {
		if (d->prov) {
			d->prov->active -= d->self->active;
			d->prov->ndomains--;
		}
		if (nk) {
			nk->active += d->self->active;
			nk->ndomains++;
		}
		d->prov = nk;
		struct log_line *l = log_begin(LOG_DEBUG, "shape");
		log_str(l, "msg", "destination bound");
		log_str(l, "domain", d->name);
		log_str(l, "provider", p ? p->name : "");
		log_end(l);
	}
}

static void
on_mx(const struct mx_result *res, void *arg)
{
	struct sdom *d = arg;
	struct shape *sh = d->sh;
	const struct shape_provider *p = NULL;

	d->q = NULL;
	if (res->status == MX_OK)
		for (size_t i = 0; i < res->naddr && p == NULL; i++)
			p = shape_provider_for(&sh->conf, res->addr[i].host);
	dom_bind(sh, d, p);
	d->state = SDOM_KNOWN;
	d->bound = 1;
	/* a failed lookup is tried again sooner: the connection reports it */
	d->expires = time_now_ms() + (res->status == MX_OK ? SHAPE_MAP_TTL_MS : 60000);
	if (sh->kick)
		sh->kick(sh->kick_arg, d->name);
}

void
shape_bind(struct shape *sh, const char *domain, const char *mx_host, uint64_t now)
{
	struct sdom *d = shape_dom_get(sh, domain);

	dom_bind(sh, d, shape_provider_for(&sh->conf, mx_host));
	d->bound = 1;
	d->used = now;
	if (d->q)
		mx_cancel(d->q);
	d->q = NULL;
	d->state = SDOM_KNOWN;
	d->expires = now + SHAPE_MAP_TTL_MS;
}

/* need_lookup() starts the MX lookup when the binding is unknown or old;
 * 1 while the domain must wait for it. */
static int
need_lookup(struct shape *sh, struct sdom *d, uint64_t now)
{
	if (d->state == SDOM_LOOKING)
		return !d->bound;	/* a refresh keeps the old binding meanwhile */
	if (d->state == SDOM_KNOWN && now < d->expires)
		return 0;
	if (mx_resolve(sh->mx, d->name, on_mx, d, &d->q) < 0) {
		d->state = SDOM_KNOWN;
		d->bound = 1;
		d->expires = now + 60000;
		return 0;
	}
	/* a known binding stays in force while it is refreshed */
	if (d->state == SDOM_KNOWN) {
		d->state = SDOM_LOOKING;
		return 0;
	}
	d->state = SDOM_LOOKING;
	return 1;
}

struct skey *
shape_dest(const struct sdom *d)
{
	return d->prov ? d->prov : d->self;
}

/* expire() ends halvings whose time has come. */
static void
expire(struct skey *k, uint64_t now)
{
	if (k->shift && now >= k->halved_until)
		k->shift = 0;
}

unsigned
shape_key_max_conns(const struct shape *sh, const struct skey *k)
{
	unsigned base = k->lim.max_connections;

	if (base == 0 && k->shift == 0)
		return 0;
	if (base == 0)	/* halving an unlimited destination starts from the default */
		base = (unsigned)sh->cfg->max_connections_per_destination;
	base >>= k->shift;
	return base ? base : 1;
}

/* suspended() is k's suspension end if it is in force at now. A suspension
 * never lasts longer from now than it was set for: further ahead, the wall
 * clock went back, and the destination would wait for the size of the step. */
static uint64_t
suspended(struct skey *k, uint64_t now)
{
	if (k->suspended_until > now + k->suspend_ms)
		k->suspended_until = now + k->suspend_ms;
	return k->suspended_until > now ? k->suspended_until : 0;
}

static void
note_wait(struct skey *k, uint64_t until, const char *why)
{
	k->wait_until = until;
	k->wait_why = why;
}

/* rate_roll() moves the one-minute windows of the rate counters. */
static void
rate_roll(struct skey *k, uint64_t now)
{
	if (now >= k->win_start + 120000) {
		k->msgs_prev = k->conns_prev = 0;
		k->msgs_cur = k->conns_cur = 0;
		k->win_start = now - now % 60000;
	} else if (now >= k->win_start + 60000) {
		k->msgs_prev = k->msgs_cur;
		k->conns_prev = k->conns_cur;
		k->msgs_cur = k->conns_cur = 0;
		k->win_start += 60000;
	}
}

/* key_conn_wait() is 0 when k lets one more connection open now. */
static uint64_t
key_conn_wait(const struct shape *sh, struct skey *k, uint64_t now, const char **why)
{
	unsigned maxc;
	uint64_t t;

	expire(k, now);
	if ((maxc = shape_key_max_conns(sh, k)) && k->active >= maxc) {
		*why = "max_connections";
		return now + SHAPE_SLOT_POLL_MS;
	}
	if ((t = shape_bucket_wait(&k->conn_b, now, k->shift)) != 0) {
		*why = "connection_rate";
		return t;
	}
	if ((t = shape_bucket_wait(&k->msg_b, now, k->shift)) != 0) {
		*why = "message_rate";
		return t;
	}
	return 0;
}

static void
key_free(struct shape *sh, struct skey *k)
{
	if (k->prev)
		k->prev->next = k->next;
	else
		sh->key_list = k->next;
	if (k->next)
		k->next->prev = k->prev;
	sh->nkeys--;
	free(k->name);
	free(k->wu_day_end);
	free(k->wu_count);
	free(k);
}

/* forgettable() tells whether d holds nothing worth keeping: unused for
 * SHAPE_FORGET_MS, no connection, no suspension or halving, no lookup in
 * flight, no warm-up count of today on its own key. */
static int
forgettable(const struct shape *sh, const struct sdom *d, uint64_t now)
{
	const struct skey *k = d->self;

	if (now < d->used + SHAPE_FORGET_MS || k->active || d->state == SDOM_LOOKING ||
	    k->suspended_until > now || (k->shift && now < k->halved_until))
		return 0;
	for (size_t i = 0; i < sh->conf.nwarmups; i++)
		if (k->wu_count[i] && k->wu_day_end[i] > now)
			return 0;
	return 1;
}

/* sweep() visits a few domain buckets per decision and forgets the domains
 * long unused, so that a daemon sending to millions of domains over weeks
 * keeps only the recent ones (about 540 bytes each). O(1) amortised. */
static void
sweep(struct shape *sh, uint64_t now)
{
	for (int n = 0; n < SHAPE_SWEEP_BUCKETS && sh->ndom_buckets; n++) {
		struct sdom **pp = &sh->doms[sh->sweep++ & (sh->ndom_buckets - 1)];
		while (*pp) {
			struct sdom *d = *pp;
			if (!forgettable(sh, d, now)) {
				pp = &d->hnext;
				continue;
			}
			*pp = d->hnext;
			if (d->prov)
				d->prov->ndomains--;
			key_free(sh, d->self);
			sh->ndoms--;
			free(d);
		}
	}
}

static uint64_t
connect_wait(void *ctx, const char *domain, unsigned active, uint64_t now)
{
	struct shape *sh = ctx;
	struct sdom *d;
	struct skey *k;
	const char *why = NULL;
	uint64_t t;

	(void)active;
	sweep(sh, now);
	d = shape_dom_get(sh, domain);
	d->used = now;
	if (need_lookup(sh, d, now))
		return now + SHAPE_LOOKUP_PARK_MS;
	k = shape_dest(d);
	if ((t = suspended(k, now)) != 0)
		return t;
	if ((t = key_conn_wait(sh, d->self, now, &why)) != 0) {
		note_wait(d->self, t, why);
		return t;
	}
	if (d->prov && (t = key_conn_wait(sh, d->prov, now, &why)) != 0) {
		/* The provider's domains queue for its turns: each refused
		 * domain gets the next turn after the previous one's, one
		 * token interval apart, so that a token does not wake every
		 * domain of the provider at once (10,000 domains at Google
		 * would otherwise be asked 10,000 times per connection). */
		uint64_t step = !strcmp(why, "connection_rate") ? d->prov->conn_b.interval_us / 1000 :
		    !strcmp(why, "message_rate") ? d->prov->msg_b.interval_us / 1000 : SHAPE_TURN_MS;
		/* The turns run at most one step a bound domain ahead; further
		 * ahead, the wall clock went back, and the turns start again
		 * from now rather than park the provider's domains for the
		 * size of the step. */
		if (d->prov->ticket > t + ((uint64_t)d->prov->ndomains + 1) *
		    ((step << d->prov->shift) + 1))
			d->prov->ticket = t;
		if (d->prov->ticket > t)
			t = d->prov->ticket;
		d->prov->ticket = t + (step << d->prov->shift) + (step == 0);
		note_wait(d->prov, t, why);
		return t;
	}
	shape_bucket_take(&d->self->conn_b, now, d->self->shift);
	d->self->active++;
	rate_roll(d->self, now);
	d->self->conns_cur++;
	d->self->conns_total++;
	if (d->prov) {
		shape_bucket_take(&d->prov->conn_b, now, d->prov->shift);
		d->prov->active++;
		rate_roll(d->prov, now);
		d->prov->conns_cur++;
		d->prov->conns_total++;
	}
	return 0;
}

static void
conn_closed(void *ctx, const char *domain)
{
	struct sdom *d = shape_dom_find(ctx, domain);

	if (d == NULL || d->self->active == 0)
		return;
	d->self->active--;
	if (d->prov && d->prov->active)
		d->prov->active--;
}

/* sender_domain() is the domain of the return path, or "". */
static const char *
sender_domain(const struct spool_env *env)
{
	const char *at = env->mail_from ? strrchr(env->mail_from, '@') : NULL;

	return at ? at + 1 : "";
}

int
shape_warmup_applies(const struct shape_warmup *w, const struct spool_env *env)
{
	const char *sd = sender_domain(env);

	for (size_t i = 0; i < w->ndom; i++)
		if (strcasecmp(w->domains[i], sd) == 0)
			return 1;
	for (size_t i = 0; env->mail_from && i < w->naddr; i++)
		if (strcasecmp(w->addresses[i], env->mail_from) == 0)
			return 1;
	for (size_t i = 0; env->account && i < w->nacc; i++)
		if (strcmp(w->accounts[i], env->account) == 0)
			return 1;
	return 0;
}

uint64_t
shape_warmup_wait(struct shape *sh, struct skey *k, const struct spool_env *env, uint64_t now,
    size_t *which)
{
	for (size_t i = 0; env && i < sh->conf.nwarmups; i++) {
		const struct shape_warmup *w = &sh->conf.warmups[i];
		uint64_t day_end, cap;
		if (!shape_warmup_applies(w, env))
			continue;
		cap = shape_warmup_cap(w, now, &day_end);
		if (k->wu_day_end[i] != day_end) {
			k->wu_day_end[i] = day_end;
			k->wu_count[i] = 0;
		}
		if (k->wu_count[i] >= cap) {
			if (which)
				*which = i;
			return day_end;
		}
	}
	return 0;
}

static enum shaper_verdict
send_wait(void *ctx, const char *domain, const char *id, uint64_t now, uint64_t *until)
{
	struct shape *sh = ctx;
	struct sdom *d = shape_dom_get(sh, domain);
	struct skey *k = shape_dest(d);
	const struct spool_env *env = sh->conf.nwarmups && sh->sp ? spool_get(sh->sp, id) : NULL;
	uint64_t t;

	d->used = now;
	if ((t = suspended(k, now)) != 0) {
		*until = t;
		return SHAPER_SUSPENDED;
	}
	if ((t = shape_warmup_wait(sh, k, env, now, NULL)) != 0) {
		*until = t;
		return SHAPER_WAIT_ITEM;
	}
	expire(d->self, now);
	if ((t = shape_bucket_wait(&d->self->msg_b, now, d->self->shift)) != 0) {
		note_wait(d->self, t, "message_rate");
		*until = t;
		return SHAPER_WAIT_DEST;
	}
	if (d->prov) {
		expire(d->prov, now);
		if ((t = shape_bucket_wait(&d->prov->msg_b, now, d->prov->shift)) != 0) {
			note_wait(d->prov, t, "message_rate");
			*until = t;
			return SHAPER_WAIT_DEST;
		}
	}
	shape_bucket_take(&d->self->msg_b, now, d->self->shift);
	rate_roll(d->self, now);
	d->self->msgs_cur++;
	d->self->msgs_total++;
	if (d->prov) {
		shape_bucket_take(&d->prov->msg_b, now, d->prov->shift);
		rate_roll(d->prov, now);
		d->prov->msgs_cur++;
		d->prov->msgs_total++;
	}
	for (size_t i = 0; env && i < sh->conf.nwarmups; i++)
		if (shape_warmup_applies(&sh->conf.warmups[i], env)) {
			k->wu_count[i]++;
			sh->dirty = 1;
		}
	return SHAPER_GO;
}

static int
rule_scoped(const struct shape_rule *r, const struct skey *k)
{
	if (r->nprov == 0)
		return 1;
	for (size_t i = 0; k->prov && i < r->nprov; i++)
		if (strcmp(r->providers[i], k->prov->name) == 0)
			return 1;
	return 0;
}

static void
on_result(void *ctx, const char *domain, const struct shaper_reply *r, uint64_t now)
{
	struct shape *sh = ctx;
	struct sdom *d;
	struct skey *k;

	if (r->code < 400 || sh->conf.nrules == 0)
		return;
	d = shape_dom_get(sh, domain);
	d->used = now;
	k = shape_dest(d);
	for (size_t i = 0; i < sh->conf.nrules; i++) {
		const struct shape_rule *rule = &sh->conf.rules[i];
		struct log_line *l;
		if (!rule_scoped(rule, k) || !shape_rule_match(rule, r->code, r->enhanced, r->text))
			continue;
		if (rule->action == SHAPE_SUSPEND) {
			int fresh = k->suspended_until <= now;
			if (now + rule->duration <= k->suspended_until)
				return;
			k->suspended_until = now + rule->duration;
			k->suspend_ms = rule->duration;
			snprintf(k->reason, sizeof(k->reason), "%d%s%s %s", r->code,
			    r->enhanced && r->enhanced[0] ? " " : "", r->enhanced ? r->enhanced : "",
			    r->text ? r->text : "");
			k->rule = rule->name;
			k->suspensions++;
			sh->dirty = 1;
			if (!fresh)
				return;	/* one log line a suspension, not one a recipient */
			l = log_begin(LOG_WARN, "shape");
			log_str(l, "msg", "destination suspended");
		} else {
			/* one halving a second at most: a reply repeated for each
			 * recipient of a transaction is one signal */
			if (k->last_halve && now < k->last_halve + 1000)
				return;
			k->last_halve = now;
			if (k->shift < SHAPE_MAX_SHIFT)
				k->shift++;
			k->halved_until = now + rule->duration;
			k->rule = rule->name;
			snprintf(k->reason, sizeof(k->reason), "%d%s%s %s", r->code,
			    r->enhanced && r->enhanced[0] ? " " : "", r->enhanced ? r->enhanced : "",
			    r->text ? r->text : "");
			l = log_begin(LOG_WARN, "shape");
			log_str(l, "msg", "destination rate halved");
			log_int(l, "divisor", 1LL << k->shift);
		}
		log_str(l, "destination", k->name);
		log_str(l, "domain", d->name);
		log_str(l, "rule", rule->name);
		log_str(l, "reply", k->reason);
		log_int(l, "duration_ms", (int64_t)rule->duration);
		log_end(l);
		return;
	}
}

static unsigned
max_messages(void *ctx, const char *domain)
{
	struct sdom *d = shape_dom_find(ctx, domain);
	unsigned m = 0;

	if (d == NULL)
		return 0;
	m = d->self->lim.max_messages;
	if (d->prov && d->prov->lim.max_messages && (m == 0 || d->prov->lim.max_messages < m))
		m = d->prov->lim.max_messages;
	return m;
}

void
shape_ops(struct shape *sh, struct shaper_ops *ops)
{
	memset(ops, 0, sizeof(*ops));
	ops->connect_wait = connect_wait;
	ops->send_wait = send_wait;
	ops->on_result = on_result;
	ops->conn_closed = conn_closed;
	ops->max_messages = max_messages;
	ops->ctx = sh;
}

int
shape_new(const struct config *cfg, struct spool *sp, struct shape **out, char **err)
{
	struct shape *sh = xcalloc(1, sizeof(*sh));

	if (shape_conf_build(cfg, &sh->conf, err) < 0) {
		free(sh);
		return -1;
	}
	sh->cfg = cfg;
	sh->sp = sp;
	sh->pkeys = xcalloc(sh->conf.nproviders ? sh->conf.nproviders : 1, sizeof(*sh->pkeys));
	*out = sh;
	return 0;
}

int
shape_resume(struct shape *sh, const char *name, uint64_t now)
{
	struct skey *k;
	size_t i;

	for (k = sh->key_list; k != NULL; k = k->next)
		if (strcasecmp(k->name, name) == 0)
			break;
	if (k == NULL)
		return -1;
	if (k->suspended_until > now || k->shift)
		log_info("shape", "destination %s resumed by hand", k->name);
	k->suspended_until = 0;
	k->suspend_ms = 0;
	k->shift = 0;
	k->halved_until = 0;
	k->wait_until = 0;
	k->ticket = 0;
	sh->dirty = 1;
	/* every domain that answers to this key may be parked on it */
	for (i = 0; i < sh->ndom_buckets; i++)
		for (struct sdom *d = sh->doms[i]; d != NULL; d = d->hnext)
			if ((d->self == k || d->prov == k) && sh->kick)
				sh->kick(sh->kick_arg, d->name);
	return 0;
}

void
shape_attach(struct shape *sh, struct mx_resolver *mx, void (*kick)(void *arg, const char *domain),
    void *arg)
{
	sh->mx = mx;
	sh->kick = kick;
	sh->kick_arg = arg;
}

void
shape_free(struct shape *sh)
{
	if (sh == NULL)
		return;
	shape_state_stop(sh);
	shape_state_free(sh);
	for (size_t i = 0; i < sh->ndom_buckets; i++)
		while (sh->doms[i]) {
			struct sdom *d = sh->doms[i];
			sh->doms[i] = d->hnext;
			if (d->q)
				mx_cancel(d->q);
			free(d);
		}
	while (sh->key_list)
		key_free(sh, sh->key_list);
	free(sh->doms);
	free(sh->pkeys);
	shape_conf_free(&sh->conf);
	free(sh);
}
