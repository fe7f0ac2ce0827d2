/* libFuzzer harness for auth_domain: any bytes as a domain. Whatever
 * auth_domain_normalize() accepts must be a lower-case LDH host name that
 * normalises to itself and is allowed as a sender domain for itself and its
 * subdomains; whatever it refuses must come with a reason. The key shape
 * check runs over the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "util/xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in, *out, *again, *err = NULL, *sub;
	char *list[2] = { NULL, NULL };

	(void)auth_key_wellformed((const char *)data, size);
	if (size > 2048)
		return 0;
	in = xstrndup((const char *)data, size);
	out = auth_domain_normalize(in, &err);
	if (out == NULL) {
		if (err == NULL)
			abort();
		free(err);
		free(in);
		return 0;
	}
	if (strlen(out) > AUTH_DOMAIN_MAX || strspn(out, "abcdefghijklmnopqrstuvwxyz0123456789-.") !=
	    strlen(out))
		abort();
	if ((again = auth_domain_normalize(out, NULL)) == NULL || strcmp(again, out) != 0)
		abort();
	list[0] = out;
	if (!auth_domain_allowed(list, in) || !auth_domain_allowed(list, out))
		abort();
	sub = xasprintf("x.%s", out);
	if (strlen(sub) <= AUTH_DOMAIN_MAX && !auth_domain_allowed(list, sub))
		abort();
	free(sub);
	free(again);
	free(out);
	free(in);
	return 0;
}
