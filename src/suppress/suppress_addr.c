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

/* utf8_ok() checks that p[0..n) is well-formed UTF-8 (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF): the list is shown
 * as JSON, which cannot carry anything else. */
static int
utf8_ok(const unsigned char *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned c = p[i], need, min, cp;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1, min = 0x80, cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2, min = 0x800, cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3, min = 0x10000, cp = c & 0x07;
		} else {
			return 0;
		}
		if (n - i <= need)
			return 0;
		for (unsigned k = 1; k <= need; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += need + 1;
	}
	return 1;
}

/* local_ok() checks a local part: printable UTF-8 (SMTPUTF8), spaces,
 * '@' and the other specials only inside a quoted string. */
static int
local_ok(const char *p, size_t n)
{
	int quoted = n >= 2 && p[0] == '"' && p[n - 1] == '"';

	if (n == 0 || n > SUPPRESS_LOCAL_MAX || !utf8_ok((const unsigned char *)p, n))
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c < 0x20 || c == 0x7f)
			return 0;
		if (!quoted && (c == ' ' || c == '"' || c == '\\' || c == '<' || c == '>' || c == '@' ||
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
	/* an IDN's A-label is longer than its U-label */
	if (strlen(out) > SUPPRESS_ADDR_MAX) {
		free(out);
		if (why)
			*why = "longer than 254 characters";
		return NULL;
	}
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
