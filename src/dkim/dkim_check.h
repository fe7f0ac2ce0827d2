/* dkim_check: compares the DNS records a domain should publish (dkim_keys.h)
 * with what DNS answers, for `hermod domain check` and GET /v1/domains/{d}.
 * Pure: the caller does the lookups (blocking, off the loop) and passes the
 * answers in; this file only judges them. */
#ifndef HERMOD_DKIM_CHECK_H
#define HERMOD_DKIM_CHECK_H
#include <stddef.h>

#include "dkim/dkim_keys.h"

enum dkim_check_status {
	DKIM_CHECK_OK,
	DKIM_CHECK_MISSING,	/* no record of this kind at the name */
	DKIM_CHECK_WRONG,	/* a record is there but not the one to publish */
};

/* dkim_check_record() judges the answers (TXT: each record's strings
 * already joined; MX: "PREF HOST" with or without the final dot) found at
 * want->name for want:
 *   DKIM TXT: a v=DKIM1 record whose p= is ours (white space ignored);
 *   SPF TXT: exactly one v=spf1 record holding every mechanism of ours;
 *   DMARC TXT: a v=DMARC1 record (the policy is the owner's choice);
 *   MTA-STS, TLS-RPT TXT: a record with the same version tag;
 *   MX: one whose host is ours.
 * *why gets a short explanation when not ok (caller frees), else NULL. */
enum dkim_check_status dkim_check_record(const struct dkim_record *want,
	    const char *const *answers, size_t n, char **why);
/* dkim_check_status_name() is "ok", "missing" or "wrong". */
const char *dkim_check_status_name(enum dkim_check_status s);
/* dkim_check_required() says whether the domain cannot be called verified
 * while this record is not ok: the DKIM keys are; SPF, MX and DMARC are
 * advised, and MTA-STS and TLS-RPT optional. */
int	dkim_check_required(const struct dkim_record *want);

#endif
