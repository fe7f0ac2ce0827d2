/* inbound_policy: which recipients the inbound listener takes. Its whole
 * job is to never be a relay: only two kinds of address are ours, a VERP
 * return path whose signature checks (the signature covers the bounce
 * domain too, so no other test is needed), and a configured feedback local
 * part at a bounce domain of a registered sending domain. Everything else,
 * and anything that looks like routing (%, !, quotes, a second @, an
 * address literal), is refused before it is looked at further. */
#include "inbound/inbound.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* feedback_listed() tells whether local (n bytes) is one of the words of list. */
static int
feedback_listed(const char *list, const char *local, size_t n)
{
	const char *p = list;

	if (list == NULL)
		return 0;
	while (*p) {
		size_t w;
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		w = strcspn(p, " \t,");
		if (w == n && w > 0 && strncasecmp(p, local, n) == 0)
			return 1;
		p += w;
	}
	return 0;
}

enum inbound_rcpt
inbound_rcpt_classify(const struct verp_key *key, const char *bounce_domain, const char *feedback,
    const char *addr, char sending_domain[256])
{
	const char *at = strchr(addr, '@');
	size_t ll, dl, bl = strlen(VERP_BOUNCE_LABEL);
	char dom[256];
	struct verp_addr va;

	sending_domain[0] = '\0';
	if (at == NULL || strchr(at + 1, '@') != NULL)
		return INBOUND_RCPT_REFUSE;
	ll = (size_t)(at - addr);
	dl = strlen(at + 1);
	if (ll == 0 || ll > 64 || dl == 0 || dl >= sizeof(dom))
		return INBOUND_RCPT_REFUSE;
	for (size_t i = 0; i < ll; i++) {
		unsigned char c = (unsigned char)addr[i];
		if (!isalnum(c) && c != '.' && c != '_' && c != '+' && c != '-')
			return INBOUND_RCPT_REFUSE;
	}
	for (size_t i = 0; i < dl; i++) {
		unsigned char c = (unsigned char)at[1 + i];
		if (!isalnum(c) && c != '.' && c != '-')
			return INBOUND_RCPT_REFUSE;	/* literals, junk */
		dom[i] = (char)tolower(c);
	}
	dom[dl] = '\0';
	if (ll > 2 && strncasecmp(addr, VERP_PREFIX, 2) == 0)
		return key != NULL && verp_parse(key, addr, strlen(addr), &va) == VERP_OK ?
		    INBOUND_RCPT_VERP : INBOUND_RCPT_REFUSE;
	if (!feedback_listed(feedback, addr, ll))
		return INBOUND_RCPT_REFUSE;
	if (bounce_domain != NULL && bounce_domain[0] != '\0')
		return strcasecmp(dom, bounce_domain) == 0 ? INBOUND_RCPT_FEEDBACK : INBOUND_RCPT_REFUSE;
	if (dl <= bl || strncmp(dom, VERP_BOUNCE_LABEL, bl) != 0)
		return INBOUND_RCPT_REFUSE;
	snprintf(sending_domain, 256, "%s", dom + bl);
	return INBOUND_RCPT_FEEDBACK_CHECK;
}
