/* suppress_addr: the address form a suppression list keeps, and the key it
 * is matched by (suppress.h). Pure: no I/O, no state. The domain goes
 * through auth_domain_normalize(), the one rule for domains in the store,
 * so "Bob@EXAMPLE.com", "bob@example.com." and "bob@xn--bcher-kva.example"
 * / "bob@bücher.example" each meet their twin. */
#include "suppress/suppress.h"
#include "auth/auth.h"
#include "util/xalloc.h"

#include <stdlib.h>
#include <string.h>

#define SUPPRESS_LOCAL_MAX	64	/* RFC 5321 4.5.3.1.1 */
#define SUPPRESS_ADDR_MAX	254	/* a path of 256 with its brackets */

int
suppress_reason_valid(const char *reason)
{
	static const char *const reasons[] = { "hard_bounce", "soft_bounce", "complaint",
		"unsubscribe", "manual", NULL };

	for (size_t i = 0; reason != NULL && reasons[i] != NULL; i++)
		if (strcmp(reason, reasons[i]) == 0)
			return 1;
	return 0;
}

/* local_ok() checks a local part: printable (UTF-8 allowed: SMTPUTF8),
 * spaces and backslashes only inside a quoted string. */
static int
local_ok(const char *p, size_t n)
{
	int quoted = n >= 2 && p[0] == '"' && p[n - 1] == '"';

	if (n == 0 || n > SUPPRESS_LOCAL_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c < 0x20 || c == 0x7f)
			return 0;
		if (!quoted && (c == ' ' || c == '"' || c == '\\' || c == '<' || c == '>' ||
		    c == '(' || c == ')' || c == ',' || c == ';' || c == ':' || c == '[' || c == ']'))
			return 0;
	}
	return 1;
}

char *
suppress_addr_normalize(const char *addr, const char **why)
{
	const char *s, *e, *at;
	char *local, *dom, *out;
	size_t n;

	if (why != NULL)
		*why = NULL;
	if (addr == NULL) {
		if (why)
			*why = "no address";
		return NULL;
	}
	s = addr;
	e = addr + strlen(addr);
	while (s < e && (*s == ' ' || *s == '\t'))
		s++;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	if (e - s >= 2 && *s == '<' && e[-1] == '>') {
		s++;
		e--;
	}
	n = (size_t)(e - s);
	if (n == 0 || n > SUPPRESS_ADDR_MAX) {
		if (why)
			*why = n ? "longer than 254 characters" : "empty";
		return NULL;
	}
	/* The last '@': a quoted local part may hold one. */
	for (at = e - 1; at >= s && *at != '@'; at--)
		;
	if (at < s) {
		if (why)
			*why = "not an email address (no @)";
		return NULL;
	}
	if (!local_ok(s, (size_t)(at - s))) {
		if (why)
			*why = "invalid local part (before the @)";
		return NULL;
	}
	if (at + 1 < e && at[1] == '[') {
		if (why)
			*why = "address literals cannot be suppressed; use the domain name";
		return NULL;
	}
	local = xstrndup(s, (size_t)(at - s));
	{
		char *d = xstrndup(at + 1, (size_t)(e - at - 1)), *derr = NULL;
		dom = auth_domain_normalize(d, &derr);
		free(d);
		free(derr);
	}
	if (dom == NULL) {
		free(local);
		if (why)
			*why = "invalid domain (after the @)";
		return NULL;
	}
	out = xasprintf("%s@%s", local, dom);
	free(local);
	free(dom);
	return out;
}

char *
suppress_addr_key(const char *normalized)
{
	char *k = xstrdup(normalized);
	char *at = strrchr(k, '@');

	/* ASCII only: a UTF-8 local part's other letters are left as they
	 * are (case folding beyond ASCII is the receiver's business). */
	for (char *p = k; at != NULL && p < at; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return k;
}
