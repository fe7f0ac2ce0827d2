/* shape_conf: the shaping configuration, read from the blocks config.c has
 * checked ([provider], [shape], [backoff], [warmup]), and the pure lookups
 * over it: which provider an MX host belongs to, whether a reply matches a
 * backoff rule, what a warm-up allows today. No I/O, no clock. */
#include "shape/shape.h"
#include "util/config.h"
#include "util/xalloc.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DAY_MS	86400000ULL

/* words() splits v on blanks, commas and '|' into a fresh array. */
static char **
words(const char *v, const char *seps, size_t *n, int lower)
{
	char *copy = xstrdup(v), *save = NULL, *tok, **out = NULL;

	*n = 0;
	for (tok = strtok_r(copy, seps, &save); tok; tok = strtok_r(NULL, seps, &save)) {
		out = xrealloc(out, (*n + 1) * sizeof(*out));
		if (lower)
			for (char *c = tok; *c; c++)
				*c = (char)tolower((unsigned char)*c);
		out[(*n)++] = xstrdup(tok);
	}
	free(copy);
	return out;
}

static void
words_free(char **w, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(w[i]);
	free(w);
}

/* trimmed_patterns() splits "a | b c | d" on '|' only, trimming blanks: a
 * pattern may hold spaces ("421 4.7.0 Try again later"). */
static char **
trimmed_patterns(const char *v, size_t *n)
{
	char **raw = words(v, "|", n, 0);
	size_t k = 0;

	for (size_t i = 0; i < *n; i++) {
		char *s = raw[i], *e;
		while (*s == ' ' || *s == '\t')
			s++;
		e = s + strlen(s);
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
		if (*s == '\0') {
			free(raw[i]);
			continue;
		}
		memmove(raw[i], s, strlen(s) + 1);
		raw[k++] = raw[i];
	}
	*n = k;
	return raw;
}

static void
set_limit(struct shape_limits *l, const char *key, const char *v)
{
	uint64_t a = 0, b = 0;

	if (!strcmp(key, "max_connections"))
		l->max_connections = (unsigned)strtoul(v, NULL, 10);
	else if (!strcmp(key, "max_messages_per_connection"))
		l->max_messages = (unsigned)strtoul(v, NULL, 10);
	else if (!strcmp(key, "connection_rate") && config_parse_rate(v, &a, &b) == 0) {
		l->conn_count = a;
		l->conn_period = b;
	} else if (!strcmp(key, "message_rate") && config_parse_rate(v, &a, &b) == 0) {
		l->msg_count = a;
		l->msg_period = b;
	}
}

static struct shape_provider *
provider_get(struct shape_conf *c, const char *name)
{
	for (size_t i = 0; i < c->nproviders; i++)
		if (!strcmp(c->providers[i].name, name))
			return &c->providers[i];
	c->providers = xrealloc(c->providers, (c->nproviders + 1) * sizeof(*c->providers));
	memset(&c->providers[c->nproviders], 0, sizeof(*c->providers));
	c->providers[c->nproviders].name = xstrdup(name);
	return &c->providers[c->nproviders++];
}

static struct shape_domain_conf *
domain_get(struct shape_conf *c, const char *name)
{
	for (size_t i = 0; i < c->ndomains; i++)
		if (!strcmp(c->domains[i].domain, name))
			return &c->domains[i];
	c->domains = xrealloc(c->domains, (c->ndomains + 1) * sizeof(*c->domains));
	memset(&c->domains[c->ndomains], 0, sizeof(*c->domains));
	c->domains[c->ndomains].domain = xstrdup(name);
	return &c->domains[c->ndomains++];
}

static struct shape_rule *
rule_get(struct shape_conf *c, const char *name)
{
	for (size_t i = 0; i < c->nrules; i++)
		if (!strcmp(c->rules[i].name, name))
			return &c->rules[i];
	c->rules = xrealloc(c->rules, (c->nrules + 1) * sizeof(*c->rules));
	memset(&c->rules[c->nrules], 0, sizeof(*c->rules));
	c->rules[c->nrules].name = xstrdup(name);
	c->rules[c->nrules].duration = 15 * 60000;	/* the documented default */
	return &c->rules[c->nrules++];
}

static struct shape_warmup *
warmup_get(struct shape_conf *c, const char *name)
{
	for (size_t i = 0; i < c->nwarmups; i++)
		if (!strcmp(c->warmups[i].name, name))
			return &c->warmups[i];
	c->warmups = xrealloc(c->warmups, (c->nwarmups + 1) * sizeof(*c->warmups));
	memset(&c->warmups[c->nwarmups], 0, sizeof(*c->warmups));
	c->warmups[c->nwarmups].name = xstrdup(name);
	return &c->warmups[c->nwarmups++];
}

static void
apply_block(struct shape_conf *c, const struct config_block *b)
{
	if (!strcmp(b->kind, "provider")) {
		struct shape_provider *p = provider_get(c, b->name);
		for (size_t k = 0; k < b->n; k++) {
			const struct config_kv *kv = &b->kv[k];
			if (!strcmp(kv->key, "mx_suffixes")) {
				words_free(p->suffixes, p->nsuf);
				p->suffixes = words(kv->value, " \t,", &p->nsuf, 1);
			} else
				set_limit(&p->lim, kv->key, kv->value);
		}
	} else if (!strcmp(b->kind, "shape")) {
		struct shape_domain_conf *d = domain_get(c, b->name);
		for (size_t k = 0; k < b->n; k++)
			set_limit(&d->lim, b->kv[k].key, b->kv[k].value);
	} else if (!strcmp(b->kind, "backoff")) {
		struct shape_rule *r = rule_get(c, b->name);
		for (size_t k = 0; k < b->n; k++) {
			const struct config_kv *kv = &b->kv[k];
			if (!strcmp(kv->key, "match")) {
				words_free(r->pats, r->npat);
				r->pats = trimmed_patterns(kv->value, &r->npat);
			} else if (!strcmp(kv->key, "action"))
				r->action = strcmp(kv->value, "halve_rate") ? SHAPE_SUSPEND : SHAPE_HALVE_RATE;
			else if (!strcmp(kv->key, "duration"))
				config_parse_duration(kv->value, &r->duration);
			else if (!strcmp(kv->key, "providers")) {
				words_free(r->providers, r->nprov);
				r->providers = words(kv->value, " \t,", &r->nprov, 1);
			}
		}
	} else if (!strcmp(b->kind, "warmup")) {
		struct shape_warmup *w = warmup_get(c, b->name);
		for (size_t k = 0; k < b->n; k++) {
			const struct config_kv *kv = &b->kv[k];
			if (!strcmp(kv->key, "domains")) {
				words_free(w->domains, w->ndom);
				w->domains = words(kv->value, " \t,", &w->ndom, 1);
			} else if (!strcmp(kv->key, "addresses")) {
				words_free(w->addresses, w->naddr);
				w->addresses = words(kv->value, " \t,", &w->naddr, 1);
			} else if (!strcmp(kv->key, "accounts")) {
				words_free(w->accounts, w->nacc);
				w->accounts = words(kv->value, " \t,", &w->nacc, 0);
			} else if (!strcmp(kv->key, "start"))
				config_parse_date(kv->value, &w->start);
			else if (!strcmp(kv->key, "schedule")) {
				size_t n;
				char **ws = words(kv->value, " \t,", &n, 0);
				free(w->schedule);
				w->schedule = xcalloc(n ? n : 1, sizeof(*w->schedule));
				for (size_t i = 0; i < n; i++)
					w->schedule[i] = strtoull(ws[i], NULL, 10);
				w->nsched = n;
				words_free(ws, n);
			}
		}
	}
}

int
shape_conf_build(const struct config *cfg, struct shape_conf *c, char **err)
{
	memset(c, 0, sizeof(*c));
	*err = NULL;
	/* shaping.file's blocks first: the main file overrides them. */
	for (int pass = 1; pass >= 0; pass--)
		for (size_t i = 0; i < cfg->n_blocks; i++)
			if (cfg->blocks[i].included == pass)
				apply_block(c, &cfg->blocks[i]);
	for (size_t i = 0; i < cfg->n_blocks; i++) {
		const struct config_block *b = &cfg->blocks[i];
		const struct shape_rule *r;
		if (strcmp(b->kind, "backoff") != 0)
			continue;
		r = rule_get(c, b->name);
		for (size_t k = 0; k < r->nprov; k++) {
			size_t p;
			for (p = 0; p < c->nproviders; p++)
				if (!strcmp(c->providers[p].name, r->providers[k]))
					break;
			if (p == c->nproviders) {
				size_t line = b->line;
				for (size_t j = 0; j < b->n; j++)
					if (!strcmp(b->kv[j].key, "providers"))
						line = b->kv[j].line;
				*err = xasprintf("%s:%zu: backoff.providers: no [provider %s]", b->file, line,
				    r->providers[k]);
				shape_conf_free(c);
				return -1;
			}
		}
		if (r->npat == 0) {
			*err = xasprintf("%s:%zu: backoff.match: no pattern", b->file, b->line);
			shape_conf_free(c);
			return -1;
		}
	}
	return 0;
}

void
shape_conf_free(struct shape_conf *c)
{
	for (size_t i = 0; i < c->nproviders; i++) {
		free(c->providers[i].name);
		words_free(c->providers[i].suffixes, c->providers[i].nsuf);
	}
	free(c->providers);
	for (size_t i = 0; i < c->ndomains; i++)
		free(c->domains[i].domain);
	free(c->domains);
	for (size_t i = 0; i < c->nrules; i++) {
		free(c->rules[i].name);
		words_free(c->rules[i].pats, c->rules[i].npat);
		words_free(c->rules[i].providers, c->rules[i].nprov);
	}
	free(c->rules);
	for (size_t i = 0; i < c->nwarmups; i++) {
		free(c->warmups[i].name);
		words_free(c->warmups[i].domains, c->warmups[i].ndom);
		words_free(c->warmups[i].accounts, c->warmups[i].nacc);
		words_free(c->warmups[i].addresses, c->warmups[i].naddr);
		free(c->warmups[i].schedule);
	}
	free(c->warmups);
	memset(c, 0, sizeof(*c));
}

/* ends_with() compares the tail of host with suffix, case-insensitively;
 * a suffix ".x.com" also matches the host "x.com" itself. */
static int
ends_with(const char *host, size_t hl, const char *suf)
{
	size_t sl = strlen(suf);

	if (hl >= sl && strncasecmp(host + hl - sl, suf, sl) == 0)
		return suf[0] == '.' || hl == sl || host[hl - sl - 1] == '.';
	if (suf[0] == '.' && hl == sl - 1 && strncasecmp(host, suf + 1, hl) == 0)
		return 1;
	return 0;
}

const struct shape_provider *
shape_provider_for(const struct shape_conf *c, const char *mx_host)
{
	size_t hl = strlen(mx_host);

	/* an absolute name's final dot is not part of the match */
	if (hl > 0 && mx_host[hl - 1] == '.')
		hl--;
	for (size_t i = 0; i < c->nproviders; i++)
		for (size_t k = 0; k < c->providers[i].nsuf; k++)
			if (ends_with(mx_host, hl, c->providers[i].suffixes[k]))
				return &c->providers[i];
	return NULL;
}

static int
is_code(const char *p)
{
	return strlen(p) == 3 && isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1]) &&
	    isdigit((unsigned char)p[2]);
}

int
shape_rule_match(const struct shape_rule *r, int code, const char *enhanced, const char *text)
{
	char line[1200];

	snprintf(line, sizeof(line), "%d %s%s%s", code, enhanced ? enhanced : "",
	    enhanced && enhanced[0] ? " " : "", text ? text : "");
	for (size_t i = 0; i < r->npat; i++) {
		if (is_code(r->pats[i])) {
			if (atoi(r->pats[i]) == code)
				return 1;
		} else if (strcasestr(line, r->pats[i]) != NULL)
			return 1;
	}
	return 0;
}

uint64_t
shape_warmup_cap(const struct shape_warmup *w, uint64_t now, uint64_t *day_end)
{
	uint64_t day = now >= w->start ? (now - w->start) / DAY_MS : 0;

	/* Before the start every day is a day 1: a warm-up never allows more
	 * early. Days are UTC days, start being 00:00 UTC. */
	*day_end = (now / DAY_MS + 1) * DAY_MS;
	if (day >= w->nsched)
		return UINT64_MAX;
	return w->schedule[day];
}
