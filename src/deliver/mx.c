/* mx: MX, A and AAAA lookups with libunbound, driven by the libuv loop.
 *
 * Why libunbound rather than c-ares: libunbound is a validating resolver and
 * tells, for every answer, whether it was DNSSEC-secure (ub_result.secure).
 * DANE (RFC 7672) may only use TLSA records from a secure chain, so the
 * delivery path will need that bit; c-ares has no validation at all.
 *
 * How it runs: ub_ctx_async(ctx, 1) makes libunbound resolve on its own
 * thread; ub_fd() becomes readable when answers are ready, and a uv_poll on
 * it calls ub_process(), which runs our callbacks on the loop thread. So no
 * DNS work ever blocks the loop.
 *
 * A query (struct mx_query) is a small state machine: MX first; then, for
 * each MX host (or the domain itself when there is no MX), A and AAAA in
 * parallel; when none is outstanding the ordered address list is built. A
 * per-query timer bounds the whole thing. Final answers (success, NXDOMAIN,
 * null MX, no address) are cached for the smallest TTL seen; temporary
 * failures are not cached. */
#include "deliver/mx.h"
#include "util/xalloc.h"
#include "util/timeutil.h"
#include "util/id.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unbound.h>

#define MX_MAX_HOSTS		16	/* more MX hosts than this are not tried */
#define MX_CACHE_BUCKETS	1024
#define MX_CACHE_MAX		20000	/* entries; beyond it the cache is emptied */
#define MX_TTL_MAX		86400
#define RR_A			1
#define RR_MX			15
#define RR_AAAA			28
#define RCODE_SERVFAIL		2

struct mx_cache_entry {
	struct mx_cache_entry	*next;
	char			*domain;
	uint64_t		 expires;	/* monotonic ms */
	struct mx_result	 res;
};

struct mx_query;
struct mx_answer {
	struct mx_query	*q;
	int		 host;
	int		 family;
};

struct mx_host_state {
	struct mx_answer ans[2];	/* callback data of the A and AAAA queries */
	char		 name[MX_HOST_MAX];
	uint16_t	 pref;
	int		 id[2];		/* unbound async ids for A, AAAA; 0 = done */
	struct sockaddr_storage *addrs;
	size_t		 naddrs;
};

struct mx_query {
	struct mx_resolver	*r;
	struct mx_query		*prev, *next;
	char			*domain;
	mx_result_cb		 cb;
	void			*arg;
	uv_timer_t		*timer;
	int			 mx_id;		/* outstanding MX query id, 0 = none */
	int			 outstanding;	/* A/AAAA queries not yet answered */
	int			 tempfail;	/* some lookup failed temporarily */
	int			 insecure;
	int			 ttl;
	struct mx_host_state	 hosts[MX_MAX_HOSTS];
	size_t			 nhosts;
	struct mx_result	*cached;	/* answer from the cache, delivered by the timer */
};

struct mx_resolver {
	uv_loop_t		*loop;
	struct ub_ctx		*ctx;
	uv_poll_t		*poll;
	uint64_t		 timeout_ms;
	struct mx_query		*queries;
	struct mx_cache_entry	*cache[MX_CACHE_BUCKETS];
	size_t			 ncache;
};

const char *
mx_status_name(enum mx_status s)
{
	switch (s) {
	case MX_OK: return "ok";
	case MX_TEMPFAIL: return "tempfail";
	case MX_NXDOMAIN: return "nxdomain";
	case MX_NULLMX: return "nullmx";
	case MX_NOADDR: return "noaddr";
	}
	return "?";
}

int
mx_parse_resolver(const char *s, char *out, size_t outlen)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port = "53";
	const char *colon;
	size_t hl;
	struct in6_addr a6;

	if (s == NULL || *s == '\0')
		return -1;
	if (s[0] == '[') {
		const char *end = strchr(s, ']');
		if (end == NULL)
			return -1;
		hl = (size_t)(end - s - 1);
		if (hl >= sizeof(host))
			return -1;
		memcpy(host, s + 1, hl);
		host[hl] = '\0';
		if (end[1] == ':')
			port = end + 2;
		else if (end[1] != '\0')
			return -1;
	} else if ((colon = strchr(s, ':')) != NULL && strchr(colon + 1, ':') == NULL) {
		hl = (size_t)(colon - s);
		if (hl >= sizeof(host))
			return -1;
		memcpy(host, s, hl);
		host[hl] = '\0';
		port = colon + 1;
	} else {
		if (strlen(s) >= sizeof(host))
			return -1;
		strcpy(host, s);
	}
	if (inet_pton(AF_INET, host, &a6) != 1 && inet_pton(AF_INET6, host, &a6) != 1)
		return -1;
	if (*port == '\0' || strspn(port, "0123456789") != strlen(port) || atoi(port) < 1 ||
	    atoi(port) > 65535)
		return -1;
	if ((size_t)snprintf(out, outlen, "%s@%s", host, port) >= outlen)
		return -1;
	return 0;
}

/* --- the cache ---------------------------------------------------------- */

static unsigned
cache_hash(const char *s)
{
	unsigned h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)tolower((unsigned char)*s)) * 16777619u;
	return h % MX_CACHE_BUCKETS;
}

static void
cache_entry_free(struct mx_cache_entry *e)
{
	free(e->domain);
	free(e->res.addr);
	free(e);
}

static void
cache_clear(struct mx_resolver *r)
{
	for (size_t i = 0; i < MX_CACHE_BUCKETS; i++) {
		while (r->cache[i]) {
			struct mx_cache_entry *e = r->cache[i];
			r->cache[i] = e->next;
			cache_entry_free(e);
		}
	}
	r->ncache = 0;
}

static const struct mx_result *
cache_get(struct mx_resolver *r, const char *domain)
{
	struct mx_cache_entry **pp = &r->cache[cache_hash(domain)];
	uint64_t now = time_mono_ms();

	while (*pp) {
		struct mx_cache_entry *e = *pp;
		if (e->expires <= now) {
			*pp = e->next;
			cache_entry_free(e);
			r->ncache--;
			continue;
		}
		if (strcasecmp(e->domain, domain) == 0)
			return &e->res;
		pp = &e->next;
	}
	return NULL;
}

static void
cache_put(struct mx_resolver *r, const char *domain, const struct mx_result *res, int ttl)
{
	struct mx_cache_entry *e;
	unsigned h;

	if (ttl <= 0)
		return;
	if (ttl > MX_TTL_MAX)
		ttl = MX_TTL_MAX;
	if (r->ncache >= MX_CACHE_MAX)
		cache_clear(r);
	h = cache_hash(domain);
	e = xcalloc(1, sizeof(*e));
	e->domain = xstrdup(domain);
	e->expires = time_mono_ms() + (uint64_t)ttl * 1000;
	e->res = *res;
	if (res->naddr) {
		e->res.addr = xmalloc(res->naddr * sizeof(*res->addr));
		memcpy(e->res.addr, res->addr, res->naddr * sizeof(*res->addr));
	}
	e->next = r->cache[h];
	r->cache[h] = e;
	r->ncache++;
}

/* --- queries ------------------------------------------------------------ */

static void
timer_close_cb(uv_handle_t *h)
{
	free(h);
}

static void
query_free(struct mx_query *q)
{
	struct mx_resolver *r = q->r;

	if (q->mx_id)
		ub_cancel(r->ctx, q->mx_id);
	for (size_t i = 0; i < q->nhosts; i++) {
		for (int k = 0; k < 2; k++)
			if (q->hosts[i].id[k])
				ub_cancel(r->ctx, q->hosts[i].id[k]);
		free(q->hosts[i].addrs);
	}
	if (q->prev)
		q->prev->next = q->next;
	else
		r->queries = q->next;
	if (q->next)
		q->next->prev = q->prev;
	uv_close((uv_handle_t *)q->timer, timer_close_cb);
	if (q->cached)
		free(q->cached->addr);
	free(q->cached);
	free(q->domain);
	free(q);
}

static void
query_finish(struct mx_query *q, const struct mx_result *res)
{
	mx_result_cb cb = q->cb;
	void *arg = q->arg;

	query_free(q);
	cb(res, arg);
}

static void
query_fail(struct mx_query *q, enum mx_status st, const char *why)
{
	struct mx_result res = { .status = st, .why = why };

	/* Permanent answers are cached like positive ones (negative caching,
	 * RFC 2308), temporary ones never. */
	if (st != MX_TEMPFAIL)
		cache_put(q->r, q->domain, &res, q->ttl > 0 ? q->ttl : 60);
	query_finish(q, &res);
}

static void
shuffle_equal_prefs(struct mx_host_state *h, size_t n)
{
	/* Insertion sort by preference (n <= MX_MAX_HOSTS), then a Fisher-Yates
	 * shuffle inside each run of equal preference (RFC 5321 5.1). */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && h[j].pref < h[j - 1].pref; j--) {
			struct mx_host_state t = h[j];
			h[j] = h[j - 1];
			h[j - 1] = t;
		}
	for (size_t s = 0; s < n;) {
		size_t e = s + 1;
		while (e < n && h[e].pref == h[s].pref)
			e++;
		for (size_t i = e - 1; i > s; i--) {
			uint32_t rnd;
			size_t j;
			id_random_bytes(&rnd, sizeof(rnd));
			j = s + rnd % (i - s + 1);
			struct mx_host_state t = h[i];
			h[i] = h[j];
			h[j] = t;
		}
		s = e;
	}
}

static void
query_build(struct mx_query *q)
{
	struct mx_result res = { .status = MX_OK, .why = "" };
	size_t n = 0;

	for (size_t i = 0; i < q->nhosts; i++)
		n += q->hosts[i].naddrs;
	if (n == 0) {
		if (q->tempfail)
			query_fail(q, MX_TEMPFAIL, "temporary DNS failure looking up the mail exchanger addresses");
		else
			query_fail(q, MX_NOADDR, "no address for any mail exchanger");
		return;
	}
	res.addr = xcalloc(n, sizeof(*res.addr));
	for (size_t i = 0; i < q->nhosts; i++)
		for (size_t k = 0; k < q->hosts[i].naddrs; k++) {
			struct mx_addr *a = &res.addr[res.naddr++];
			a->sa = q->hosts[i].addrs[k];
			snprintf(a->host, sizeof(a->host), "%s", q->hosts[i].name);
			a->pref = q->hosts[i].pref;
		}
	res.secure = !q->insecure;
	/* A host that failed temporarily while others answered: use what we
	 * have, but cache it briefly so the failed host is asked again soon. */
	cache_put(q->r, q->domain, &res, q->tempfail ? (q->ttl < 30 ? q->ttl : 30) : q->ttl);
	query_finish(q, &res);
	free(res.addr);
}

static void
ttl_min(struct mx_query *q, int ttl)
{
	if (ttl < 0)
		ttl = 0;
	if (q->ttl < 0 || ttl < q->ttl)
		q->ttl = ttl;
}

static void addr_cb(void *mydata, int err, struct ub_result *result);

static int
query_start_addrs(struct mx_query *q)
{
	for (size_t i = 0; i < q->nhosts; i++) {
		for (int k = 0; k < 2; k++) {
			struct mx_answer *a = &q->hosts[i].ans[k];
			int id = 0;
			a->q = q;
			a->host = (int)i;
			a->family = k == 0 ? AF_INET : AF_INET6;
			if (ub_resolve_async(q->r->ctx, q->hosts[i].name, k == 0 ? RR_A : RR_AAAA, 1, a,
			    addr_cb, &id) != 0) {
				q->tempfail = 1;
				continue;
			}
			q->hosts[i].id[k] = id;
			q->outstanding++;
		}
	}
	if (q->outstanding == 0) {
		query_build(q);
		return -1;
	}
	return 0;
}

static void
addr_cb(void *mydata, int err, struct ub_result *result)
{
	struct mx_answer *a = mydata;
	struct mx_query *q = a->q;
	struct mx_host_state *h = &q->hosts[a->host];
	int k = a->family == AF_INET ? 0 : 1;

	h->id[k] = 0;
	q->outstanding--;
	if (err != 0 || result == NULL) {
		q->tempfail = 1;
	} else if (result->havedata) {
		size_t n = 0;
		while (result->data[n])
			n++;
		h->addrs = xrealloc(h->addrs, (h->naddrs + n) * sizeof(*h->addrs));
		for (size_t i = 0; i < n; i++) {
			struct sockaddr_storage *ss = &h->addrs[h->naddrs];
			memset(ss, 0, sizeof(*ss));
			if (a->family == AF_INET && result->len[i] == 4) {
				struct sockaddr_in *sin = (struct sockaddr_in *)ss;
				sin->sin_family = AF_INET;
				memcpy(&sin->sin_addr, result->data[i], 4);
				h->naddrs++;
			} else if (a->family == AF_INET6 && result->len[i] == 16) {
				struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
				sin6->sin6_family = AF_INET6;
				memcpy(&sin6->sin6_addr, result->data[i], 16);
				h->naddrs++;
			}
		}
		if (!result->secure)
			q->insecure = 1;
		ttl_min(q, result->ttl);
	} else if (!result->nxdomain && result->rcode != 0) {
		q->tempfail = 1;
	} else {
		/* NXDOMAIN or NODATA for this host: it simply has no address. */
		ttl_min(q, result->ttl);
	}
	if (result)
		ub_resolve_free(result);
	if (q->outstanding == 0)
		query_build(q);
}

/* wire_name() decodes an uncompressed wire-format name (libunbound hands
 * rdata names decompressed) into text without the trailing dot. -1 on junk. */
static int
wire_name(const unsigned char *p, size_t len, char *out, size_t outlen)
{
	size_t i = 0, o = 0;

	while (i < len) {
		size_t l = p[i++];
		if (l == 0) {
			out[o] = '\0';
			return 0;
		}
		if (l > 63 || i + l > len || o + l + 2 > outlen)
			return -1;
		if (o)
			out[o++] = '.';
		for (size_t k = 0; k < l; k++) {
			unsigned char c = p[i + k];
			/* A host name that is not LDH would be unsafe in logs and
			 * SNI; such an MX is useless anyway. */
			if (!isalnum(c) && c != '-' && c != '_')
				return -1;
			out[o++] = (char)tolower(c);
		}
		i += l;
	}
	return -1;
}

static void
mx_cb(void *mydata, int err, struct ub_result *result)
{
	struct mx_query *q = mydata;
	int nnull = 0, nrec = 0;

	q->mx_id = 0;
	if (err != 0 || result == NULL) {
		if (result)
			ub_resolve_free(result);
		query_fail(q, MX_TEMPFAIL, err ? ub_strerror(err) : "DNS failure");
		return;
	}
	if (result->nxdomain) {
		ttl_min(q, result->ttl);
		ub_resolve_free(result);
		query_fail(q, MX_NXDOMAIN, "the domain does not exist (NXDOMAIN)");
		return;
	}
	if (!result->havedata && result->rcode != 0) {
		int rc = result->rcode;
		ub_resolve_free(result);
		query_fail(q, MX_TEMPFAIL, rc == RCODE_SERVFAIL ? "DNS server failure (SERVFAIL) looking up MX" :
		    "DNS error looking up MX");
		return;
	}
	if (!result->secure)
		q->insecure = 1;
	if (result->havedata) {
		ttl_min(q, result->ttl);
		for (size_t i = 0; result->data[i]; i++) {
			const unsigned char *d = (const unsigned char *)result->data[i];
			int len = result->len[i];
			char name[MX_HOST_MAX];

			nrec++;
			if (len < 3)
				continue;
			if (len == 3 && d[2] == 0) {
				nnull++;	/* "0 ." (RFC 7505) */
				continue;
			}
			if (wire_name(d + 2, (size_t)len - 2, name, sizeof(name)) < 0 || name[0] == '\0')
				continue;
			if (q->nhosts == MX_MAX_HOSTS)
				continue;
			int dup = 0;
			for (size_t k = 0; k < q->nhosts; k++)
				if (strcmp(q->hosts[k].name, name) == 0)
					dup = 1;
			if (dup)
				continue;
			struct mx_host_state *h = &q->hosts[q->nhosts++];
			memset(h, 0, sizeof(*h));
			snprintf(h->name, sizeof(h->name), "%s", name);
			h->pref = (uint16_t)(d[0] << 8 | d[1]);
		}
	}
	ub_resolve_free(result);
	if (nnull > 0 && q->nhosts == 0) {
		query_fail(q, MX_NULLMX, "the domain accepts no mail (null MX, RFC 7505)");
		return;
	}
	if (nrec == 0) {
		/* No MX: the domain itself is the implicit MX (RFC 5321 5.1). */
		snprintf(q->hosts[0].name, sizeof(q->hosts[0].name), "%s", q->domain);
		q->hosts[0].pref = 0;
		q->nhosts = 1;
	} else if (q->nhosts == 0) {
		query_fail(q, MX_NOADDR, "no usable MX host name");
		return;
	}
	shuffle_equal_prefs(q->hosts, q->nhosts);
	query_start_addrs(q);
}

static void
query_timer_cb(uv_timer_t *t)
{
	struct mx_query *q = t->data;

	if (q->cached) {
		struct mx_result res = *q->cached;
		struct mx_addr *copy = NULL;
		/* The cached entry may be freed during the callback (a new
		 * resolve that expires it), so hand out a private copy. */
		if (res.naddr) {
			copy = xmalloc(res.naddr * sizeof(*copy));
			memcpy(copy, res.addr, res.naddr * sizeof(*copy));
			res.addr = copy;
		}
		query_finish(q, &res);
		free(copy);
		return;
	}
	query_fail(q, MX_TEMPFAIL, "DNS timeout");
}

int
mx_resolve(struct mx_resolver *r, const char *domain, mx_result_cb cb, void *arg,
    struct mx_query **qp)
{
	struct mx_query *q;
	const struct mx_result *hit;

	if (domain == NULL || *domain == '\0' || strlen(domain) >= MX_HOST_MAX)
		return -1;
	q = xcalloc(1, sizeof(*q));
	q->r = r;
	q->domain = xstrdup(domain);
	q->cb = cb;
	q->arg = arg;
	q->ttl = -1;
	q->timer = xmalloc(sizeof(*q->timer));
	uv_timer_init(r->loop, q->timer);
	q->timer->data = q;
	q->next = r->queries;
	if (r->queries)
		r->queries->prev = q;
	r->queries = q;
	if ((hit = cache_get(r, domain)) != NULL) {
		/* Deliver on the next loop turn: callers may not expect the
		 * callback inside mx_resolve(). */
		q->cached = xmalloc(sizeof(*q->cached));
		*q->cached = *hit;
		if (hit->naddr) {
			q->cached->addr = xmalloc(hit->naddr * sizeof(*hit->addr));
			memcpy(q->cached->addr, hit->addr, hit->naddr * sizeof(*hit->addr));
		}
		uv_timer_start(q->timer, query_timer_cb, 0, 0);
	} else {
		if (ub_resolve_async(r->ctx, domain, RR_MX, 1, q, mx_cb, &q->mx_id) != 0) {
			q->mx_id = 0;
			q->cb = NULL;
			query_free(q);
			return -1;
		}
		uv_timer_start(q->timer, query_timer_cb, r->timeout_ms, 0);
	}
	if (qp)
		*qp = q;
	return 0;
}

void
mx_cancel(struct mx_query *q)
{
	if (q != NULL)
		query_free(q);
}

static void
poll_cb(uv_poll_t *p, int status, int events)
{
	struct mx_resolver *r = p->data;

	(void)status;
	(void)events;
	ub_process(r->ctx);
}

int
mx_resolver_new(uv_loop_t *loop, const char *server, uint64_t timeout_ms,
    struct mx_resolver **out, char **err)
{
	struct mx_resolver *r;
	char fwd[INET6_ADDRSTRLEN + 16];
	int rc;

	r = xcalloc(1, sizeof(*r));
	r->loop = loop;
	r->timeout_ms = timeout_ms ? timeout_ms : 30000;
	if ((r->ctx = ub_ctx_create()) == NULL) {
		*err = xstrdup("libunbound: cannot create a context");
		goto fail;
	}
	/* A forwarder on loopback (tests, a local unbound) must be allowed. */
	ub_ctx_set_option(r->ctx, "do-not-query-localhost:", "no");
	if ((rc = ub_ctx_async(r->ctx, 1)) != 0) {
		*err = xasprintf("libunbound: %s", ub_strerror(rc));
		goto fail;
	}
	if (server != NULL && *server != '\0') {
		if (mx_parse_resolver(server, fwd, sizeof(fwd)) < 0) {
			*err = xasprintf("delivery.resolver: \"%s\" is not ip:port", server);
			goto fail;
		}
		if ((rc = ub_ctx_set_fwd(r->ctx, fwd)) != 0) {
			*err = xasprintf("delivery.resolver: %s", ub_strerror(rc));
			goto fail;
		}
		/* libunbound answers RFC 6761 names (test.) itself with
		 * NXDOMAIN; a configured resolver is the authority we were
		 * told to trust, so let it answer them (test zones live
		 * there). zone_add finalises the context: it comes last. */
		ub_ctx_zone_add(r->ctx, "test.", "transparent");
	} else if ((rc = ub_ctx_resolvconf(r->ctx, "/etc/resolv.conf")) != 0) {
		*err = xasprintf("resolv.conf: %s", ub_strerror(rc));
		goto fail;
	}
	r->poll = xmalloc(sizeof(*r->poll));
	if (uv_poll_init(loop, r->poll, ub_fd(r->ctx)) != 0) {
		free(r->poll);
		r->poll = NULL;
		*err = xstrdup("libunbound: cannot poll its descriptor");
		goto fail;
	}
	r->poll->data = r;
	uv_poll_start(r->poll, UV_READABLE, poll_cb);
	*out = r;
	return 0;
fail:
	if (r->ctx)
		ub_ctx_delete(r->ctx);
	free(r);
	return -1;
}

static void
poll_close_cb(uv_handle_t *h)
{
	free(h);
}

void
mx_resolver_free(struct mx_resolver *r)
{
	if (r == NULL)
		return;
	while (r->queries)
		query_free(r->queries);
	uv_poll_stop(r->poll);
	uv_close((uv_handle_t *)r->poll, poll_close_cb);
	ub_ctx_delete(r->ctx);
	cache_clear(r);
	free(r);
}
