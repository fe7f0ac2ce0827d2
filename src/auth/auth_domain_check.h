/* auth_domain_check: check a sending domain's DNS records and record the
 * outcome (see auth_domain_check.c). */
#ifndef HERMOD_AUTH_DOMAIN_CHECK_H
#define HERMOD_AUTH_DOMAIN_CHECK_H

struct buf;
struct config;
struct store;

/* auth_domain_check() looks up and judges every record of domain (input, any
 * case or U-label), appends the report to report (JSON {"domain", "records":
 * [{"type","name","value","purpose","status","required","found","problem"}],
 * "verified"} when json, else text lines), marks the domain verified or not
 * in the store and sets *verified. Returns 0 when the check ran, -1 with *err
 * (caller frees) when it could not (unknown domain, no key, resolver down).
 * Blocking. */
int	auth_domain_check(const struct config *cfg, struct store *st, const char *input, int json,
	    struct buf *report, int *verified, char **err);

#endif
