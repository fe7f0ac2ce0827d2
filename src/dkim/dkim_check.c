/* dkim_check: judging DNS answers against the records to publish. See
 * dkim_check.h. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dkim/dkim_check.h"
#include "util/xalloc.h"

const char *
dkim_check_status_name(enum dkim_check_status s)
{
	switch (s) {
	case DKIM_CHECK_OK: return "ok";
	case DKIM_CHECK_MISSING: return "missing";
	default: return "wrong";
	}
}

static int
starts_with(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* tag_value() copies the value of tag name (e.g. "p") of a tag=value; list
 * with all white space removed; 0 if found. */
static int
tag_value(const char *rec, const char *name, char *out, size_t size)
{
	const char *p = rec;
	size_t n = strlen(name), o = 0;

	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ';')
			p++;
		if (strncasecmp(p, name, n) == 0) {
			const char *q = p + n;

			while (*q == ' ' || *q == '\t')
				q++;
			if (*q == '=') {
				for (q++; *q && *q != ';'; q++)
					if (*q != ' ' && *q != '\t' && o + 1 < size)
						out[o++] = *q;
				out[o] = '\0';
				return 0;
			}
		}
		while (*p && *p != ';')
			p++;
	}
	return -1;
}

static enum dkim_check_status
check_dkim(const struct dkim_record *want, const char *const *ans, size_t n, char **why)
{
	char mine[1024], theirs[1024];
	size_t i;
	int seen = 0;

	if (tag_value(want->value, "p", mine, sizeof(mine)) != 0)
		mine[0] = '\0';
	for (i = 0; i < n; i++) {
		if (!starts_with(ans[i], "v=DKIM1") && tag_value(ans[i], "p", theirs,
		    sizeof(theirs)) != 0)
			continue;
		seen++;
		if (tag_value(ans[i], "p", theirs, sizeof(theirs)) == 0 && strcmp(theirs, mine) == 0)
			return DKIM_CHECK_OK;
	}
	if (seen == 0)
		return DKIM_CHECK_MISSING;
	*why = xstrdup("a DKIM key is published there, but not this one (p= differs)");
	return DKIM_CHECK_WRONG;
}

static enum dkim_check_status
check_spf(const struct dkim_record *want, const char *const *ans, size_t n, char **why)
{
	const char *rec = NULL;
	char *mech, *save = NULL, *tok, *copy;
	size_t i, count = 0;

	for (i = 0; i < n; i++) {
		if (starts_with(ans[i], "v=spf1") && (ans[i][6] == ' ' || ans[i][6] == '\0')) {
			rec = ans[i];
			count++;
		}
	}
	if (count == 0)
		return DKIM_CHECK_MISSING;
	if (count > 1) {
		*why = xstrdup("more than one v=spf1 record: receivers treat that as an error "
		    "(permerror); merge them into one");
		return DKIM_CHECK_WRONG;
	}
	/* each mechanism of ours must be in theirs (theirs may have more) */
	copy = xstrdup(want->value + 6);
	for (tok = strtok_r(copy, " ", &save); tok != NULL; tok = strtok_r(NULL, " ", &save)) {
		size_t tl = strlen(tok);
		const char *p;
		int found = 0;

		if (strcmp(tok, "-all") == 0 || strcmp(tok, "~all") == 0)
			continue;
		for (p = rec; (p = strcasestr(p, tok)) != NULL; p += tl)
			if ((p == rec || p[-1] == ' ') && (p[tl] == ' ' || p[tl] == '\0')) {
				found = 1;
				break;
			}
		if (!found) {
			mech = xstrdup(tok);
			*why = xasprintf("the v=spf1 record lacks %s", mech);
			free(mech);
			free(copy);
			return DKIM_CHECK_WRONG;
		}
	}
	free(copy);
	return DKIM_CHECK_OK;
}

static enum dkim_check_status
check_prefix(const char *prefix, const char *const *ans, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (starts_with(ans[i], prefix))
			return DKIM_CHECK_OK;
	return DKIM_CHECK_MISSING;
}

/* host_of() returns the host of "PREF HOST[.]" without the final dot. */
static void
host_of(const char *mx, char *out, size_t size)
{
	const char *h = strchr(mx, ' ');
	size_t n;

	h = h ? h + 1 : mx;
	while (*h == ' ')
		h++;
	n = strlen(h);
	while (n > 0 && (h[n - 1] == '.' || h[n - 1] == ' '))
		n--;
	if (n >= size)
		n = size - 1;
	memcpy(out, h, n);
	out[n] = '\0';
}

static enum dkim_check_status
check_mx(const struct dkim_record *want, const char *const *ans, size_t n, char **why)
{
	char mine[300], theirs[300];
	size_t i;

	if (n == 0)
		return DKIM_CHECK_MISSING;
	host_of(want->value, mine, sizeof(mine));
	for (i = 0; i < n; i++) {
		host_of(ans[i], theirs, sizeof(theirs));
		if (strcasecmp(mine, theirs) == 0)
			return DKIM_CHECK_OK;
	}
	*why = xasprintf("an MX is published there, but none points at %s", mine);
	return DKIM_CHECK_WRONG;
}

enum dkim_check_status
dkim_check_record(const struct dkim_record *want, const char *const *answers, size_t n,
    char **why)
{
	*why = NULL;
	if (strcmp(want->type, "MX") == 0)
		return check_mx(want, answers, n, why);
	if (starts_with(want->value, "v=DKIM1"))
		return check_dkim(want, answers, n, why);
	if (starts_with(want->value, "v=spf1"))
		return check_spf(want, answers, n, why);
	if (starts_with(want->value, "v=DMARC1"))
		return check_prefix("v=DMARC1", answers, n);
	if (starts_with(want->value, "v=STSv1"))
		return check_prefix("v=STSv1", answers, n);
	if (starts_with(want->value, "v=TLSRPTv1"))
		return check_prefix("v=TLSRPTv1", answers, n);
	return n > 0 ? DKIM_CHECK_OK : DKIM_CHECK_MISSING;
}

int
dkim_check_required(const struct dkim_record *want)
{
	return strcmp(want->type, "TXT") == 0 && starts_with(want->value, "v=DKIM1");
}
