/* auth_domain_check: is a sending domain's DNS right? Looks every record
 * the domain should publish (src/dkim) up through the configured resolver
 * (delivery.resolver, else /etc/resolv.conf), judges each with the pure
 * dkim_check, and records the outcome: the domain is verified when its DKIM
 * record(s) are right (unverified again when not), and the key whose record
 * is published becomes the one that signs (rotation). Used by `hermod domain
 * check` and GET /v1/domains/{domain}. Blocking (libunbound's synchronous
 * resolve, SQLite): the CLI or a worker thread, never the loop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unbound.h>

#include "auth/auth.h"
#include "auth/auth_domain_check.h"
#include "deliver/mx.h"
#include "dkim/dkim_check.h"
#include "dkim/dkim_keys.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/config.h"
#include "util/xalloc.h"

#define DNS_TYPE_MX	15
#define DNS_TYPE_TXT	16
#define DNS_CLASS_IN	1
#define DNS_MAX_ANSWERS	32

static struct ub_ctx *
dns_open(const struct config *cfg)
{
	struct ub_ctx *ctx = ub_ctx_create();
	char fwd[80];

	if (ctx == NULL)
		return NULL;
	ub_ctx_set_option(ctx, "do-not-query-localhost:", "no");
	if (cfg->resolver != NULL && cfg->resolver[0] != '\0') {
		if (mx_parse_resolver(cfg->resolver, fwd, sizeof(fwd)) < 0 ||
		    ub_ctx_set_fwd(ctx, fwd) != 0) {
			ub_ctx_delete(ctx);
			return NULL;
		}
		/* as in deliver/mx.c: the configured resolver answers test. too */
		ub_ctx_zone_add(ctx, "test.", "transparent");
	} else if (ub_ctx_resolvconf(ctx, "/etc/resolv.conf") != 0) {
		ub_ctx_delete(ctx);
		return NULL;
	}
	return ctx;
}

/* wire_name() appends the uncompressed wire-format name at p (n bytes) as
 * text; 0, or -1 when it is malformed. */
static int
wire_name(const unsigned char *p, size_t n, struct buf *out)
{
	size_t i = 0;

	while (i < n && p[i] != 0) {
		size_t l = p[i++];

		if (l > 63 || i + l > n)
			return -1;
		if (out->len > 0 && out->data[out->len - 1] != ' ')
			buf_putc(out, '.');
		buf_append(out, p + i, l);
		i += l;
	}
	return 0;
}

/* dns_answers() looks up type at name; *ans gets the records as text (TXT
 * strings joined; MX "PREF HOST"). Returns the count, or -1 when the lookup
 * itself failed (no answer is 0, not an error). */
static int
dns_answers(struct ub_ctx *ctx, const char *name, int type, char **ans, char **err)
{
	struct ub_result *res = NULL;
	int rc, n = 0, i;

	if ((rc = ub_resolve(ctx, name, type, DNS_CLASS_IN, &res)) != 0) {
		*err = xasprintf("%s: %s", name, ub_strerror(rc));
		return -1;
	}
	if (res->rcode != 0 && res->rcode != 3) {	/* NOERROR, NXDOMAIN */
		*err = xasprintf("%s: the resolver answered rcode %d", name, res->rcode);
		ub_resolve_free(res);
		return -1;
	}
	for (i = 0; res->havedata && res->data[i] != NULL && n < DNS_MAX_ANSWERS; i++) {
		const unsigned char *p = (const unsigned char *)res->data[i];
		size_t len = (size_t)res->len[i], o = 0;
		struct buf b;

		buf_init(&b);
		if (type == DNS_TYPE_TXT) {
			while (o < len) {
				size_t l = p[o++];

				if (o + l > len)
					break;
				buf_append(&b, p + o, l);
				o += l;
			}
		} else if (len >= 3) {
			buf_printf(&b, "%u ", (unsigned)(p[0] << 8 | p[1]));
			if (wire_name(p + 2, len - 2, &b) != 0) {
				buf_free(&b);
				continue;
			}
		}
		ans[n++] = buf_steal(&b, NULL);
	}
	ub_resolve_free(res);
	return n;
}

/* active_still_published() tells whether every DKIM key record of selector
 * (the one signing now) is still right in DNS. */
static int
active_still_published(const struct config *cfg, struct ub_ctx *ctx, const char *domain,
    const char *selector, const char *algo)
{
	struct dkim_records r = { 0 };
	char *err = NULL;
	int ok = 1, seen = 0;

	if (dkim_domain_records(cfg->data_dir, domain, selector, dkim_algos_parse(algo), cfg->hostname,
	    cfg->in_bounce_domain, &r, &err) != 0) {
		free(err);
		return 0;
	}
	for (size_t i = 0; i < r.n && ok; i++) {
		const struct dkim_record *w = &r.v[i];
		char *ans[DNS_MAX_ANSWERS], *why = NULL;
		int n;

		if (strstr(w->name, "._domainkey.") == NULL)
			continue;
		seen = 1;
		n = dns_answers(ctx, w->name, DNS_TYPE_TXT, ans, &err);
		if (n < 0) {
			free(err);
			err = NULL;
			ok = 0;
			break;
		}
		if (dkim_check_record(w, (const char *const *)ans, (size_t)n, &why) != DKIM_CHECK_OK)
			ok = 0;
		for (int k = 0; k < n; k++)
			free(ans[k]);
		free(why);
	}
	dkim_records_free(&r);
	return ok && seen;
}

int
auth_domain_check(const struct config *cfg, struct store *st, const char *input, int json,
    struct buf *report, int *verified, char **errp)
{
	struct store_domain d = { 0 };
	struct dkim_records r = { 0 };
	struct ub_ctx *ctx = NULL;
	struct buf out = { 0 };
	char *domain, *err = NULL;
	size_t i;
	int rc = -1, all_ok = 1, got = -1, keep_verified = 0;

	if ((domain = auth_domain_normalize(input, &err)) == NULL) {
		*errp = xasprintf("%s", err ? err : "invalid domain");
		free(err);
		return -1;
	}
	got = store_domain_get(st, domain, &d, &err);
	if (got != 0) {
		*errp = xasprintf("%s", got == STORE_NOTFOUND ? "no such domain (domain add "
		    "registers it)" : err ? err : "store failed");
		goto out;
	}
	if (d.dkim_selector == NULL) {
		*errp = xasprintf("%s has no DKIM key yet: run hermod domain add %s", domain,
		    domain);
		goto out;
	}
	if (dkim_domain_records(cfg->data_dir, domain, d.dkim_selector,
	    dkim_algos_parse(d.dkim_algo), cfg->hostname, cfg->in_bounce_domain, &r, &err) != 0) {
		*errp = xasprintf("%s", err);
		goto out;
	}
	if ((ctx = dns_open(cfg)) == NULL) {
		*errp = xasprintf("cannot set up the resolver (delivery.resolver = %s)",
		    cfg->resolver ? cfg->resolver : "");
		goto out;
	}
	if (json) {
		buf_puts(&out, "{\"domain\":");
		buf_json_str(&out, domain, strlen(domain));
		buf_puts(&out, ",\"records\":[");
	} else
		buf_printf(&out, "DNS records of %s (resolver: %s):\n", domain,
		    cfg->resolver && cfg->resolver[0] ? cfg->resolver : "/etc/resolv.conf");
	for (i = 0; i < r.n; i++) {
		const struct dkim_record *w = &r.v[i];
		char *ans[DNS_MAX_ANSWERS], *why = NULL;
		enum dkim_check_status s;
		int n, k;

		n = dns_answers(ctx, w->name, strcmp(w->type, "MX") == 0 ? DNS_TYPE_MX :
		    DNS_TYPE_TXT, ans, &err);
		if (n < 0) {
			*errp = xasprintf("DNS lookup failed: %s", err);
			goto out;
		}
		s = dkim_check_record(w, (const char *const *)ans, (size_t)n, &why);
		if (s != DKIM_CHECK_OK && dkim_check_required(w))
			all_ok = 0;
		if (json) {
			buf_puts(&out, i ? ",{\"type\":" : "{\"type\":");
			buf_json_str(&out, w->type, strlen(w->type));
			buf_puts(&out, ",\"name\":");
			buf_json_str(&out, w->name, strlen(w->name));
			buf_puts(&out, ",\"value\":");
			buf_json_str(&out, w->value, strlen(w->value));
			buf_puts(&out, ",\"purpose\":");
			buf_json_str(&out, w->purpose, strlen(w->purpose));
			buf_printf(&out, ",\"status\":\"%s\",\"required\":%s,\"found\":[",
			    dkim_check_status_name(s), dkim_check_required(w) ? "true" : "false");
			for (k = 0; k < n; k++) {
				if (k)
					buf_putc(&out, ',');
				buf_json_str(&out, ans[k], strlen(ans[k]));
			}
			buf_puts(&out, "],\"problem\":");
			if (why)
				buf_json_str(&out, why, strlen(why));
			else
				buf_puts(&out, "null");
			buf_putc(&out, '}');
		} else {
			buf_printf(&out, "%-7s %-3s %s\n", dkim_check_status_name(s), w->type, w->name);
			if (s != DKIM_CHECK_OK) {
				if (why)
					buf_printf(&out, "        problem: %s\n", why);
				buf_printf(&out, "        publish: %s %s %s\n", w->name, w->type,
				    w->value);
			}
		}
		for (k = 0; k < n; k++)
			free(ans[k]);
		free(why);
	}
	/* Rotation: while the new selector's record is not published yet, the
	 * key that signs now (the active one) keeps the domain verified if its
	 * own DKIM record is still right. */
	if (!all_ok) {
		char *active = dkim_keys_active(cfg->data_dir, domain);
		if (active != NULL && strcmp(active, d.dkim_selector) != 0 &&
		    active_still_published(cfg, ctx, domain, active, d.dkim_algo)) {
			if (json)
				buf_printf(&out, "],\"signing_selector\":\"%s\",\"rotation\":\"pending\"", active);
			else
				buf_printf(&out, "rotation pending: selector %s still signs (its record is "
				    "published); publish the new record above to switch\n", active);
			keep_verified = 1;
		}
		free(active);
	}
	/* the key whose record is published signs from now on (rotation:
	 * the old key signed until the new record was seen) */
	if (all_ok && dkim_keys_set_active(cfg->data_dir, domain, d.dkim_selector, &err) != 0) {
		*errp = xasprintf("%s", err);
		goto out;
	}
	if (store_domain_set_verified(st, domain, all_ok || keep_verified, &err) != 0) {
		*errp = xasprintf("%s", err ? err : "cannot record the result");
		goto out;
	}
	if (json)
		buf_printf(&out, "%s\"verified\":%s}\n", keep_verified ? "," : "],",
		    all_ok || keep_verified ? "true" : "false");
	else
		buf_printf(&out, "%s\n", all_ok || keep_verified ? "verified: the DKIM record is "
		    "published; mail from this domain is signed and may be sent" :
		    "not verified: publish the DKIM record(s) above, then check again");
	buf_append(report, out.data, out.len);
	*verified = all_ok || keep_verified;
	rc = 0;
out:
	if (ctx)
		ub_ctx_delete(ctx);
	dkim_records_free(&r);
	if (got == 0)
		store_domain_free(&d);
	buf_free(&out);
	free(domain);
	free(err);
	return rc;
}
