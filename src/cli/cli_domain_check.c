/* cli_domain_check: `hermod domain check DOMAIN [--json]`: prints each DNS
 * record of the domain as ok / missing / wrong with the record to publish
 * (auth_domain_check does the work). Exit 0 when the domain is verified (its
 * DKIM record is right), 1 otherwise. */
#include <stdio.h>
#include <stdlib.h>

#include "auth/auth_domain_check.h"
#include "cli/cli.h"
#include "util/buf.h"

int
cli_domain_check(struct config *cfg, struct store *st, const char *input, int json)
{
	struct buf out;
	char *err = NULL;
	int verified = 0;

	buf_init(&out);
	if (auth_domain_check(cfg, st, input, json, &out, &verified, &err) != 0) {
		cli_error("domain check: %s", err ? err : "failed");
		free(err);
		buf_free(&out);
		return 1;
	}
	fputs(out.data ? out.data : "", stdout);
	buf_free(&out);
	return verified ? 0 : 1;
}
