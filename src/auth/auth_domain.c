/* auth_domain: the names an account owns. Account names, sending domains as
 * the store keeps them (lower case, A-labels), and the check that a sender's
 * domain is one the account registered, or below one. */
#include "auth/auth.h"
#include "util/xalloc.h"

#include <idn2.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A domain longer than this is refused before any IDNA work. */
#define AUTH_DOMAIN_INPUT_MAX	1024

int
auth_account_name_valid(const char *name)
{
	size_t i;

	if (name == NULL)
		return 0;
	for (i = 0; name[i]; i++) {
		char c = name[i];
		if (i >= AUTH_ACCOUNT_MAX)
			return 0;
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		    c == '-'))
			return 0;
	}
	return i > 0;
}

/* set_err() hands msg to the caller, who may not want it. */
static void
set_err(char **err, char *msg)
{
	if (err != NULL)
		*err = msg;
	else
		free(msg);
}

/* check_hostname() validates an ASCII lower-case name in place; NULL or why not. */
static const char *
check_hostname(const char *d)
{
	size_t len = strlen(d), label = 0, labels = 0, i;

	if (len == 0)
		return "is empty";
	if (len > AUTH_DOMAIN_MAX)
		return "is longer than 253 octets";
	for (i = 0; i <= len; i++) {
		char c = d[i];
		if (c == '.' || c == '\0') {
			if (label == 0)
				return "has an empty label";
			if (label > 63)
				return "has a label longer than 63 octets";
			if (d[i - 1] == '-')
				return "has a label ending with a hyphen";
			labels++;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return "may hold only letters, digits, hyphens and dots";
		if (label == 0 && c == '-')
			return "has a label starting with a hyphen";
		label++;
	}
	if (labels < 2)
		return "needs at least two labels (like example.com)";
	return NULL;
}

char *
auth_domain_normalize(const char *domain, char **err)
{
	size_t len, i;
	int ascii = 1, rc;
	char *out = NULL;
	const char *why;

	if (domain == NULL || (len = strlen(domain)) == 0) {
		set_err(err, xstrdup("domain is empty"));
		return NULL;
	}
	if (len > AUTH_DOMAIN_INPUT_MAX) {
		set_err(err, xstrdup("domain is too long"));
		return NULL;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)domain[i];
		if (c < 0x21 || c == 0x7f) {
			set_err(err, xstrdup("domain contains a space or control character"));
			return NULL;
		}
		if (c >= 0x80)
			ascii = 0;
	}
	if (ascii) {
		out = xstrdup(domain);
	} else {
		char *a = NULL;
		/* Non-transitional UTS #46 processing maps case and width and
		 * keeps ß and ς distinct, as IDNA2008 registries expect. */
		rc = idn2_to_ascii_8z(domain, &a, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
		if (rc != IDN2_OK) {
			set_err(err, xasprintf("domain %s is not a valid internationalized name: %s",
			    domain, idn2_strerror(rc)));
			return NULL;
		}
		out = xstrdup(a);
		idn2_free(a);
	}
	len = strlen(out);
	if (len > 0 && out[len - 1] == '.')
		out[--len] = '\0';
	for (i = 0; i < len; i++)
		if (out[i] >= 'A' && out[i] <= 'Z')
			out[i] = (char)(out[i] - 'A' + 'a');
	if ((why = check_hostname(out)) != NULL) {
		set_err(err, xasprintf("domain %s %s", domain, why));
		free(out);
		return NULL;
	}
	return out;
}

int
auth_domain_allowed(char **domains, const char *addr_domain)
{
	char *a, *err = NULL;
	size_t alen;
	int ok = 0;

	if (domains == NULL || addr_domain == NULL || addr_domain[0] == '[')
		return 0;
	if ((a = auth_domain_normalize(addr_domain, &err)) == NULL) {
		free(err);
		return 0;
	}
	alen = strlen(a);
	for (size_t i = 0; domains[i] != NULL && !ok; i++) {
		size_t dlen = strlen(domains[i]);
		if (dlen == alen)
			ok = strcasecmp(a, domains[i]) == 0;
		else if (dlen > 0 && alen > dlen && a[alen - dlen - 1] == '.')
			ok = strcasecmp(a + alen - dlen, domains[i]) == 0;
	}
	free(a);
	return ok;
}

int
auth_selector_valid(const char *s)
{
	size_t i, label = 0;

	if (s == NULL || s[0] == '\0' || strlen(s) > 63)
		return 0;
	for (i = 0; s[i]; i++) {
		char c = s[i];
		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return 0;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    (c == '-' && label > 0)) {
			label++;
		} else
			return 0;
	}
	return s[i - 1] != '-';
}
