/* dkim_records: the DNS records a sending domain publishes (DKIM, SPF,
 * bounce MX, DMARC, optional MTA-STS and TLS-RPT), built by a pure function,
 * and their JSON and text forms. Declared in dkim_keys.h. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dkim/dkim_keys.h"
#include "util/xalloc.h"

static void
add(struct dkim_records *r, const char *type, char *name, char *value, char *purpose)
{
	r->v = xrealloc(r->v, (r->n + 1) * sizeof(*r->v));
	r->v[r->n].type = xstrdup(type);
	r->v[r->n].name = name;
	r->v[r->n].value = value;
	r->v[r->n].purpose = purpose;
	r->n++;
}

void
dkim_records_build(const struct dkim_records_params *p, struct dkim_records *out)
{
	char *bounce = p->bounce_domain != NULL && p->bounce_domain[0] != '\0' ?
	    xstrdup(p->bounce_domain) :
	    xasprintf("bounce.%s", p->domain);
	struct buf spf;
	size_t i;

	memset(out, 0, sizeof(*out));
	out->domain = xstrdup(p->domain);

	for (i = 0; i < p->nkeys && i < 2; i++) {
		add(out, "TXT", xasprintf("%s._domainkey.%s", p->selectors[i], p->domain),
		    xstrdup(p->key_txt[i]),
		    xasprintf("DKIM: the public key for selector %s (%s). Receivers check "
		    "hermod's signature with it; DMARC passes when d=%s matches the From "
		    "domain. Publish it as one TXT record; a DNS panel that limits strings to "
		    "255 characters splits it by itself.", p->selectors[i],
		    strstr(p->key_txt[i], "k=ed25519") ? "Ed25519, RFC 8463" : "RSA-2048",
		    p->domain));
	}

	buf_init(&spf);
	buf_puts(&spf, "v=spf1");
	if (p->spf_ips != NULL && p->spf_ips[0] != NULL) {
		for (i = 0; p->spf_ips[i] != NULL; i++)
			buf_printf(&spf, " %s:%s", strchr(p->spf_ips[i], ':') ? "ip6" : "ip4",
			    p->spf_ips[i]);
	} else if (p->spf_include != NULL && p->spf_include[0] != '\0') {
		buf_printf(&spf, " include:%s", p->spf_include);
	} else {
		buf_printf(&spf, " a:%s", p->hostname);
	}
	buf_puts(&spf, " -all");
	add(out, "TXT", xstrdup(bounce), buf_steal(&spf, NULL),
	    xasprintf("SPF for the envelope sender domain %s: hermod sends every message "
	    "with a return path on it (b-TOKEN@%s, one per recipient, so bounces map back "
	    "to the message and recipient); only these hosts may send with it. It ends in "
	    "-all (fail) rather than ~all (softfail) because only hermod sends with this "
	    "domain. DMARC aligns it with %s (relaxed alignment). One v=spf1 record per "
	    "name: merge with an existing one. hermod's own delivery reports go out with the "
	    "null return path, for which receivers check SPF on the HELO name instead.",
	    bounce, bounce, p->domain));

	add(out, "MX", xstrdup(bounce), xasprintf("10 %s", p->hostname),
	    xasprintf("Bounce domain: delivery reports and feedback loops for %s reach "
	    "hermod's inbound listener at %s (port 25), which turns them into bounced and "
	    "complained events and suppressions.", bounce, p->hostname));

	add(out, "TXT", xasprintf("_dmarc.%s", p->domain),
	    p->dmarc_rua != NULL ? xasprintf("v=DMARC1; p=none; rua=%s; adkim=r; aspf=r",
	    p->dmarc_rua) :
	    xasprintf("v=DMARC1; p=none; rua=mailto:dmarc-reports@%s; adkim=r; aspf=r",
	    p->domain),
	    xasprintf("DMARC: publish only if %s has no DMARC record yet. p=none only "
	    "collects aggregate reports (rua) and changes no delivery. When the reports show "
	    "all your legitimate mail passing DKIM or SPF aligned for a few weeks, move to "
	    "p=quarantine (you may ramp with pct=25, then 100), then to p=reject; mailbox "
	    "providers increasingly expect a policy stricter than none from bulk senders.",
	    p->domain));

	if (p->mta_sts) {
		time_t t = (time_t)p->now;
		struct tm tm;

		gmtime_r(&t, &tm);
		add(out, "TXT", xasprintf("_mta-sts.%s", p->domain),
		    xasprintf("v=STSv1; id=%04d%02d%02d%02d%02d%02d", tm.tm_year + 1900,
		    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec),
		    xasprintf("Optional, MTA-STS (RFC 8461): tells senders that mail to %s "
		    "must use verified TLS. Needs the policy file at "
		    "https://mta-sts.%s/.well-known/mta-sts.txt (version: STSv1, mode: testing, "
		    "mx: lines for your MX hosts, max_age: 86400); change id whenever the "
		    "policy changes.", p->domain, p->domain));
		add(out, "TXT", xasprintf("_smtp._tls.%s", p->domain),
		    xasprintf("v=TLSRPTv1; rua=mailto:tls-reports@%s", p->domain),
		    xasprintf("Optional, TLS-RPT (RFC 8460): daily reports from senders about "
		    "TLS failures when delivering to %s.", p->domain));
	}
	free(bounce);
}

void
dkim_records_free(struct dkim_records *r)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		free(r->v[i].type);
		free(r->v[i].name);
		free(r->v[i].value);
		free(r->v[i].purpose);
	}
	free(r->v);
	free(r->domain);
	free(r->selector);
	memset(r, 0, sizeof(*r));
}

void
dkim_records_json(const struct dkim_records *r, struct buf *out)
{
	buf_puts(out, "{\"domain\":");
	buf_json_str(out, r->domain, strlen(r->domain));
	buf_puts(out, ",\"records\":[");
	dkim_records_json_items(r, out);
	buf_puts(out, "]}");
}

void
dkim_records_json_items(const struct dkim_records *r, struct buf *out)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		const struct dkim_record *d = &r->v[i];

		buf_puts(out, i ? ",{\"type\":" : "{\"type\":");
		buf_json_str(out, d->type, strlen(d->type));
		buf_puts(out, ",\"name\":");
		buf_json_str(out, d->name, strlen(d->name));
		buf_puts(out, ",\"value\":");
		buf_json_str(out, d->value, strlen(d->value));
		buf_puts(out, ",\"purpose\":");
		buf_json_str(out, d->purpose, strlen(d->purpose));
		buf_puts(out, "}");
	}
}

void
dkim_records_text(const struct dkim_records *r, struct buf *out)
{
	size_t i;

	buf_printf(out, "DNS records to publish for %s:\n", r->domain);
	for (i = 0; i < r->n; i++)
		buf_printf(out, "\n%s  %s\n  %s\n  (%s)\n", r->v[i].type, r->v[i].name,
		    r->v[i].value, r->v[i].purpose);
}
