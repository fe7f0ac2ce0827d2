/* shape_report: what the shaper tells people. Why a message waits (for
 * `hermod queue list|show`), the table of destinations (for `hermod queue
 * destinations`) and the figures the metrics export. Reads the runtime
 * state of shape.c; changes nothing but the warm-up day roll-over. */
#include "shape/shape_int.h"
#include "metrics/metrics.h"
#include "spool/spool.h"
#include "util/buf.h"
#include "util/timeutil.h"

#include <stdio.h>
#include <string.h>

#define SHAPE_METRICS_MAX	500	/* series a family, as the registry's own cap */

/* hhmmss() writes the UTC time of day of ms, "22:10:05". */
static void
hhmmss(uint64_t ms, char *out, size_t len)
{
	uint64_t s = ms / 1000 % 86400;

	snprintf(out, len, "%02u:%02u:%02u", (unsigned)(s / 3600), (unsigned)(s / 60 % 60), (unsigned)(s % 60));
}

/* limit_text() describes the limit named why ("message_rate") of k. */
static void
limit_text(const struct skey *k, const char *why, char *out, size_t len)
{
	static const char *units[] = { "s", "m", "h", "d" };
	static const uint64_t ms[] = { 1000, 60000, 3600000, 86400000 };
	uint64_t count = 0, period = 0;
	const char *u = "?";

	if (why && !strcmp(why, "max_connections")) {
		snprintf(out, len, "max_connections %u", k->lim.max_connections >> k->shift ?
		    k->lim.max_connections >> k->shift : 1);
		return;
	}
	if (why && !strcmp(why, "connection_rate"))
		count = k->lim.conn_count, period = k->lim.conn_period;
	else
		count = k->lim.msg_count, period = k->lim.msg_period;
	for (size_t i = 0; i < 4; i++)
		if (ms[i] == period)
			u = units[i];
	snprintf(out, len, "%s %llu/%s%s", why ? why : "limit", (unsigned long long)count, u,
	    k->shift ? " (halved)" : "");
}

int
shape_why(struct shape *sh, const char *id, const char *domain, uint64_t now, char *out, size_t len)
{
	struct sdom *d = shape_dom_find(sh, domain);
	struct skey *k;
	const struct spool_env *env;
	char t[16], lim[80];
	size_t wi = 0;
	uint64_t until;

	if (d == NULL)
		return 0;
	k = shape_dest(d);
	if (k->suspended_until > now) {
		hhmmss(k->suspended_until, t, sizeof(t));
		snprintf(out, len, "suspended: %s until %s UTC (%s, rule %s)", k->name, t, k->reason,
		    k->rule ? k->rule : "?");
		return 1;
	}
	env = sh->conf.nwarmups && sh->sp ? spool_get(sh->sp, id) : NULL;
	if (env && (until = shape_warmup_wait(sh, k, env, now, &wi)) != 0) {
		const struct shape_warmup *w = &sh->conf.warmups[wi];
		uint64_t end, cap = shape_warmup_cap(w, now, &end);
		char iso[40];
		time_iso8601(until, 0, iso, sizeof(iso));
		snprintf(out, len, "warm-up limit: %s allows %llu messages a day to %s today; waits until %s",
		    w->name, (unsigned long long)cap, k->name, iso);
		return 1;
	}
	if (d->state == SDOM_LOOKING && d->prov == NULL) {
		snprintf(out, len, "looking up the MX of %s (its provider)", d->name);
		return 1;
	}
	for (int i = 0; i < 2; i++) {
		struct skey *x = i == 0 ? d->self : d->prov;
		if (x == NULL || x->wait_until <= now)
			continue;
		hhmmss(x->wait_until, t, sizeof(t));
		limit_text(x, x->wait_why, lim, sizeof(lim));
		snprintf(out, len, "rate limit: %s %s, next at %s UTC", x->name, lim, t);
		return 1;
	}
	return 0;
}

static json_t *
rate_json(uint64_t count, uint64_t period)
{
	static const char *units[] = { "s", "m", "h", "d" };
	static const uint64_t ms[] = { 1000, 60000, 3600000, 86400000 };
	char s[48];

	if (count == 0)
		return json_null();
	for (size_t i = 0; i < 4; i++)
		if (ms[i] == period) {
			snprintf(s, sizeof(s), "%llu/%s", (unsigned long long)count, units[i]);
			return json_string(s);
		}
	return json_null();
}

/* per_minute() estimates events in the last minute from the two windows. */
static uint64_t
per_minute(uint64_t win_start, uint32_t prev, uint32_t cur, uint64_t now)
{
	uint64_t into;

	if (now >= win_start + 120000)
		return 0;
	if (now >= win_start + 60000)
		return cur * (120000 - (now - win_start)) / 60000;
	into = now - win_start;
	return cur + (uint64_t)prev * (60000 - into) / 60000;
}

static json_t *
time_json(uint64_t ms)
{
	char t[40];

	time_iso8601(ms, 0, t, sizeof(t));
	return json_string(t);
}

json_t *
shape_destinations(struct shape *sh, uint64_t now, size_t (*ready)(const char *domain, void *arg), void *arg)
{
	json_t *arr = json_array();

	for (struct skey *k = sh->key_list; k; k = k->next) {
		json_t *o, *lim, *doms = NULL;
		size_t nready = 0;
		struct sdom *self = NULL;

		if (k->prov == NULL) {
			/* a domain's own key: listed alone unless a provider has it */
			self = shape_dom_find(sh, k->name);
			if (self && self->prov)
				continue;
		}
		o = json_object();
		json_object_set_new(o, "destination", json_string(k->name));
		json_object_set_new(o, "kind", json_string(k->prov ? "provider" : "domain"));
		if (k->prov) {
			doms = json_array();
			for (size_t b = 0; b < sh->ndom_buckets; b++)
				for (struct sdom *d = sh->doms[b]; d; d = d->hnext)
					if (d->prov == k) {
						json_array_append_new(doms, json_string(d->name));
						if (ready)
							nready += ready(d->name, arg);
					}
			json_object_set_new(o, "domains", doms);
		} else if (ready)
			nready = ready(k->name, arg);
		lim = json_object();
		json_object_set_new(lim, "max_connections", k->lim.max_connections ?
		    json_integer(k->lim.max_connections) : json_null());
		json_object_set_new(lim, "connection_rate", rate_json(k->lim.conn_count, k->lim.conn_period));
		json_object_set_new(lim, "max_messages_per_connection", k->lim.max_messages ?
		    json_integer(k->lim.max_messages) : json_null());
		json_object_set_new(lim, "message_rate", rate_json(k->lim.msg_count, k->lim.msg_period));
		json_object_set_new(o, "limits", lim);
		json_object_set_new(o, "ready", json_integer((json_int_t)nready));
		json_object_set_new(o, "connections", json_integer(k->active));
		json_object_set_new(o, "connections_last_minute",
		    json_integer((json_int_t)per_minute(k->win_start, k->conns_prev, k->conns_cur, now)));
		json_object_set_new(o, "messages_last_minute",
		    json_integer((json_int_t)per_minute(k->win_start, k->msgs_prev, k->msgs_cur, now)));
		json_object_set_new(o, "messages_total", json_integer((json_int_t)k->msgs_total));
		json_object_set_new(o, "connections_total", json_integer((json_int_t)k->conns_total));
		if (k->suspended_until > now) {
			json_object_set_new(o, "suspended_until", time_json(k->suspended_until));
			json_object_set_new(o, "reason", json_string(k->reason));
			json_object_set_new(o, "rule", json_string(k->rule ? k->rule : ""));
		} else
			json_object_set_new(o, "suspended_until", json_null());
		json_object_set_new(o, "suspensions", json_integer((json_int_t)k->suspensions));
		if (k->shift && now < k->halved_until) {
			json_object_set_new(o, "rate_divisor", json_integer(1LL << k->shift));
			json_object_set_new(o, "halved_until", time_json(k->halved_until));
			json_object_set_new(o, "rule", json_string(k->rule ? k->rule : ""));
		} else
			json_object_set_new(o, "rate_divisor", json_integer(1));
		if (k->wait_until > now) {
			json_object_set_new(o, "waiting_until", time_json(k->wait_until));
			json_object_set_new(o, "waiting_for", json_string(k->wait_why ? k->wait_why : ""));
		}
		json_array_append_new(arr, o);
	}
	return arr;
}

void
shape_each_destination(struct shape *sh, uint64_t now,
    void (*fn)(const char *name, int suspended, unsigned connections, void *arg), void *arg)
{
	for (struct skey *k = sh->key_list; k; k = k->next) {
		if (k->prov == NULL) {
			struct sdom *self = shape_dom_find(sh, k->name);
			if (self && self->prov)
				continue;
		}
		fn(k->name, k->suspended_until > now, k->active, arg);
	}
}

/* metric_worthy() bounds the label set: providers (from the configuration)
 * always, a domain of no provider only while it is suspended or connected. */
static int
metric_worthy(struct shape *sh, const struct skey *k, uint64_t now)
{
	if (k->prov)
		return 1;
	{
		struct sdom *self = shape_dom_find(sh, k->name);
		if (self && self->prov)
			return 0;
	}
	return k->suspended_until > now || k->active > 0;
}

void
shape_metrics(struct shape *sh, uint64_t now, struct buf *out)
{
	static const struct { const char *name, *help; } fam[] = {
		{ "hermod_destination_suspended", "1 while a backoff rule suspends the destination." },
		{ "hermod_destination_connections", "Open delivery connections to the destination." },
		{ "hermod_destination_rate_divisor", "Divisor of the destination's rates set by halve_rate rules (1: none)." },
	};

	for (size_t f = 0; f < sizeof(fam) / sizeof(fam[0]); f++) {
		size_t n = 0;

		buf_printf(out, "# HELP %s %s\n# TYPE %s gauge\n", fam[f].name, fam[f].help, fam[f].name);
		for (struct skey *k = sh->key_list; k && n < SHAPE_METRICS_MAX; k = k->next) {
			unsigned long long v;
			if (!metric_worthy(sh, k, now))
				continue;
			v = f == 0 ? k->suspended_until > now : f == 1 ? k->active :
			    k->shift && now < k->halved_until ? 1ULL << k->shift : 1;
			buf_printf(out, "%s{destination=\"", fam[f].name);
			metrics_escape_label(out, k->name);
			buf_printf(out, "\"} %llu\n", v);
			n++;
		}
	}
}
