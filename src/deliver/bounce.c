/* bounce: the failure classifier. Four tables, consulted in order:
 *
 *  1. enhanced codes whose detail is specific enough to trust over the text
 *     ("5.1.1" is a bad mailbox whatever the words say);
 *  2. phrases in the reply text, most specific first (so "blocked using
 *     zen.spamhaus.org" is a spam block before it is "spam" content, and a
 *     DMARC rejection that says "blocked" is an authentication failure);
 *  3. the generic meaning of the enhanced code's subject (X.7.x = policy);
 *  4. the basic reply code (RFC 5321 4.2.3).
 *
 * The phrase list holds the wording of the large receivers (Gmail, Outlook,
 * Yahoo, and the common Postfix/Exim/Sendmail texts); tests/golden/bounce
 * pins real replies to their classification.
 *
 * Class: a 4xx is soft. A 5xx is hard when the category says the address or
 * domain is bad (bad-mailbox, bad-domain, inactive-mailbox, dns-failure,
 * other); every other category is about this message, this sender or this
 * moment, so the address stays usable and the bounce is soft. */
#include "deliver/bounce.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

struct bounce_code_rule {
	int			 subject;	/* X.subject.detail */
	int			 detail;	/* -1: any */
	enum bounce_category	 category;
};

/* 1. Specific enhanced codes (RFC 3463, RFC 7372, RFC 7505, RFC 8098...). */
static const struct bounce_code_rule specific[] = {
	{ 1, 1, BOUNCE_BAD_MAILBOX },		/* bad destination mailbox address */
	{ 1, 2, BOUNCE_BAD_DOMAIN },		/* bad destination system address */
	{ 1, 3, BOUNCE_BAD_MAILBOX },		/* bad destination mailbox address syntax */
	{ 1, 6, BOUNCE_INACTIVE_MAILBOX },	/* destination mailbox has moved */
	{ 1, 10, BOUNCE_BAD_MAILBOX },		/* Outlook RecipientNotFound (our own null MX is local) */
	{ 2, 2, BOUNCE_MAILBOX_FULL },
	{ 2, 3, BOUNCE_MESSAGE_TOO_LARGE },
	{ 3, 4, BOUNCE_MESSAGE_TOO_LARGE },
	{ 4, 7, BOUNCE_EXPIRED },
	{ 7, 8, BOUNCE_AUTH_FAILURE },		/* SMTP AUTH credentials invalid */
	{ 7, 9, BOUNCE_AUTH_FAILURE },
	{ 7, 10, BOUNCE_TLS },			/* encryption needed */
	{ 7, 11, BOUNCE_TLS },
	{ 7, 20, BOUNCE_AUTH_FAILURE },		/* no passing DKIM signature */
	{ 7, 21, BOUNCE_AUTH_FAILURE },
	{ 7, 22, BOUNCE_AUTH_FAILURE },
	{ 7, 23, BOUNCE_AUTH_FAILURE },		/* SPF validation failed */
	{ 7, 24, BOUNCE_AUTH_FAILURE },
	{ 7, 25, BOUNCE_POLICY },		/* reverse DNS validation failed */
	{ 7, 26, BOUNCE_AUTH_FAILURE },		/* multiple authentication checks (DMARC) */
	{ 7, 28, BOUNCE_RATE_LIMITED },		/* mail flood detected */
};

struct bounce_phrase_rule {
	const char		*phrase;	/* lower case, matched case-insensitively */
	enum bounce_category	 category;
};

/* 2. Phrases, most specific first. */
static const struct bounce_phrase_rule phrases[] = {
	/* authentication (SPF, DKIM, DMARC) before "blocked" */
	{ "dmarc", BOUNCE_AUTH_FAILURE },
	{ "spf", BOUNCE_AUTH_FAILURE },
	{ "dkim", BOUNCE_AUTH_FAILURE },
	{ "unauthenticated", BOUNCE_AUTH_FAILURE },
	{ "authentication required", BOUNCE_AUTH_FAILURE },
	{ "authentication failed", BOUNCE_AUTH_FAILURE },
	{ "greylist", BOUNCE_POLICY },
	/* IP or domain reputation, block lists: before "spam" (Spamhaus) */
	{ "spamhaus", BOUNCE_SPAM_BLOCK },
	{ "spamcop", BOUNCE_SPAM_BLOCK },
	{ "barracuda", BOUNCE_SPAM_BLOCK },
	{ "blacklist", BOUNCE_SPAM_BLOCK },
	{ "black list", BOUNCE_SPAM_BLOCK },
	{ "blocklist", BOUNCE_SPAM_BLOCK },
	{ "block list", BOUNCE_SPAM_BLOCK },
	{ "dnsbl", BOUNCE_SPAM_BLOCK },
	{ "blacklisted", BOUNCE_SPAM_BLOCK },
	{ "(s3150)", BOUNCE_SPAM_BLOCK },	/* Outlook: IP on its block list */
	{ "(s3140)", BOUNCE_SPAM_BLOCK },
	{ "(s3114)", BOUNCE_SPAM_BLOCK },
	{ "[ts03]", BOUNCE_SPAM_BLOCK },	/* Yahoo: permanently deferred */
	{ "banned sending ip", BOUNCE_SPAM_BLOCK },
	{ "poor reputation", BOUNCE_SPAM_BLOCK },
	{ "low reputation", BOUNCE_SPAM_BLOCK },
	{ "ip reputation", BOUNCE_SPAM_BLOCK },
	{ "listed at", BOUNCE_SPAM_BLOCK },
	{ "listed on", BOUNCE_SPAM_BLOCK },
	{ "listed in", BOUNCE_SPAM_BLOCK },
	{ "client host rejected", BOUNCE_SPAM_BLOCK },
	{ "refused to talk to me", BOUNCE_SPAM_BLOCK },
	/* volume: before "unsolicited" (Gmail's rate limit mentions it) */
	{ "rate limit", BOUNCE_RATE_LIMITED },
	{ "rate-limit", BOUNCE_RATE_LIMITED },
	{ "ratelimit", BOUNCE_RATE_LIMITED },
	{ "unusual rate", BOUNCE_RATE_LIMITED },
	{ "receiving mail at a rate", BOUNCE_RATE_LIMITED },
	{ "[tss04]", BOUNCE_RATE_LIMITED },	/* Yahoo: temporarily deferred */
	{ "[ts01]", BOUNCE_RATE_LIMITED },
	{ "[ts02]", BOUNCE_RATE_LIMITED },
	{ "throttl", BOUNCE_RATE_LIMITED },
	{ "too many", BOUNCE_RATE_LIMITED },
	{ "temporarily deferred", BOUNCE_RATE_LIMITED },
	/* content */
	{ "unsolicited", BOUNCE_SPAM_CONTENT },
	{ "spam", BOUNCE_SPAM_CONTENT },
	{ "junk", BOUNCE_SPAM_CONTENT },
	{ "virus", BOUNCE_SPAM_CONTENT },
	{ "malware", BOUNCE_SPAM_CONTENT },
	{ "phishing", BOUNCE_SPAM_CONTENT },
	{ "content rejected", BOUNCE_SPAM_CONTENT },
	{ "message content", BOUNCE_SPAM_CONTENT },
	/* mailbox state */
	{ "over quota", BOUNCE_MAILBOX_FULL },
	{ "quota exceeded", BOUNCE_MAILBOX_FULL },
	{ "exceeded quota", BOUNCE_MAILBOX_FULL },
	{ "mailbox full", BOUNCE_MAILBOX_FULL },
	{ "mailbox is full", BOUNCE_MAILBOX_FULL },
	{ "full mailbox", BOUNCE_MAILBOX_FULL },
	{ "insufficient storage", BOUNCE_MAILBOX_FULL },
	{ "storage allocation", BOUNCE_MAILBOX_FULL },
	{ "out of storage", BOUNCE_MAILBOX_FULL },
	{ "too large", BOUNCE_MESSAGE_TOO_LARGE },
	{ "too big", BOUNCE_MESSAGE_TOO_LARGE },
	{ "size exceeds", BOUNCE_MESSAGE_TOO_LARGE },
	{ "exceeds size", BOUNCE_MESSAGE_TOO_LARGE },
	{ "size limit", BOUNCE_MESSAGE_TOO_LARGE },
	{ "maximum message size", BOUNCE_MESSAGE_TOO_LARGE },
	{ "disabled", BOUNCE_INACTIVE_MAILBOX },
	{ "inactive", BOUNCE_INACTIVE_MAILBOX },
	{ "deactivated", BOUNCE_INACTIVE_MAILBOX },
	{ "suspended", BOUNCE_INACTIVE_MAILBOX },
	{ "no longer active", BOUNCE_INACTIVE_MAILBOX },
	{ "no longer in use", BOUNCE_INACTIVE_MAILBOX },
	{ "expired account", BOUNCE_INACTIVE_MAILBOX },
	/* the address */
	{ "domain not found", BOUNCE_BAD_DOMAIN },
	{ "domain does not exist", BOUNCE_BAD_DOMAIN },
	{ "host not found", BOUNCE_BAD_DOMAIN },
	{ "host unknown", BOUNCE_BAD_DOMAIN },
	{ "no mx", BOUNCE_BAD_DOMAIN },
	{ "null mx", BOUNCE_BAD_DOMAIN },
	{ "does not exist", BOUNCE_BAD_MAILBOX },
	{ "doesn't exist", BOUNCE_BAD_MAILBOX },
	{ "doesn't have a", BOUNCE_BAD_MAILBOX },	/* Yahoo: "doesn't have a yahoo.com account" */
	{ "no such user", BOUNCE_BAD_MAILBOX },
	{ "no such mailbox", BOUNCE_BAD_MAILBOX },
	{ "no such recipient", BOUNCE_BAD_MAILBOX },
	{ "user unknown", BOUNCE_BAD_MAILBOX },
	{ "unknown user", BOUNCE_BAD_MAILBOX },
	{ "unknown recipient", BOUNCE_BAD_MAILBOX },
	{ "recipient unknown", BOUNCE_BAD_MAILBOX },
	{ "recipientnotfound", BOUNCE_BAD_MAILBOX },
	{ "recipient not found", BOUNCE_BAD_MAILBOX },
	{ "user not found", BOUNCE_BAD_MAILBOX },
	{ "address not found", BOUNCE_BAD_MAILBOX },
	{ "mailbox not found", BOUNCE_BAD_MAILBOX },
	{ "mailbox unavailable", BOUNCE_BAD_MAILBOX },
	{ "invalid recipient", BOUNCE_BAD_MAILBOX },
	{ "invalid mailbox", BOUNCE_BAD_MAILBOX },
	{ "bad destination mailbox", BOUNCE_BAD_MAILBOX },
	{ "unrouteable address", BOUNCE_BAD_MAILBOX },
	{ "no mailbox", BOUNCE_BAD_MAILBOX },
	/* transport */
	{ "starttls", BOUNCE_TLS },
	{ "tls", BOUNCE_TLS },
	{ "encryption", BOUNCE_TLS },
	/* whatever is left that says no */
	{ "policy", BOUNCE_POLICY },
	{ "relay", BOUNCE_POLICY },
	{ "not permitted", BOUNCE_POLICY },
	{ "not allowed", BOUNCE_POLICY },
	{ "access denied", BOUNCE_POLICY },
	{ "blocked", BOUNCE_SPAM_BLOCK },
};

/* 3. The generic meaning of each enhanced subject (RFC 3463 3.x). */
static const struct bounce_code_rule generic[] = {
	{ 1, -1, BOUNCE_BAD_MAILBOX },
	{ 2, 1, BOUNCE_INACTIVE_MAILBOX },
	{ 2, 2, BOUNCE_MAILBOX_FULL },
	{ 2, -1, BOUNCE_OTHER },
	{ 3, -1, BOUNCE_OTHER },
	{ 4, 4, BOUNCE_DNS_FAILURE },
	{ 4, -1, BOUNCE_NETWORK },
	{ 5, -1, BOUNCE_OTHER },
	{ 6, -1, BOUNCE_OTHER },
	{ 7, -1, BOUNCE_POLICY },
};

/* 4. Basic reply codes. */
static const struct {
	int			 code;
	enum bounce_category	 category;
} basic[] = {
	{ 421, BOUNCE_OTHER },
	{ 450, BOUNCE_OTHER },
	{ 451, BOUNCE_OTHER },
	{ 452, BOUNCE_MAILBOX_FULL },	/* insufficient system storage */
	{ 530, BOUNCE_AUTH_FAILURE },
	{ 535, BOUNCE_AUTH_FAILURE },
	{ 550, BOUNCE_BAD_MAILBOX },	/* mailbox unavailable */
	{ 551, BOUNCE_BAD_MAILBOX },
	{ 552, BOUNCE_MAILBOX_FULL },	/* exceeded storage allocation */
	{ 553, BOUNCE_BAD_MAILBOX },	/* mailbox name not allowed */
	{ 554, BOUNCE_OTHER },
	{ 556, BOUNCE_BAD_DOMAIN },	/* RFC 7504 */
};

static const char *class_names[] = { "soft", "hard" };
static const char *category_names[] = {
	"bad-mailbox", "bad-domain", "inactive-mailbox", "mailbox-full", "message-too-large",
	"spam-block", "spam-content", "policy", "rate-limited", "auth-failure", "dns-failure",
	"network", "tls", "expired", "other",
};

const char *
bounce_class_name(enum bounce_class c)
{
	return (unsigned)c < 2 ? class_names[c] : "soft";
}

const char *
bounce_category_name(enum bounce_category c)
{
	return (unsigned)c < sizeof(category_names) / sizeof(category_names[0]) ?
	    category_names[c] : "other";
}

/* parse_enhanced() reads "C.S.D" (RFC 3463: class 2/4/5, 1-3 digits each). */
static int
parse_enhanced(const char *e, int *subject, int *detail)
{
	int v[3] = { 0, 0, 0 };
	int part = 0, digits = 0;

	if (e == NULL)
		return -1;
	for (const char *p = e; ; p++) {
		if (isdigit((unsigned char)*p)) {
			if (++digits > 3)
				return -1;
			v[part] = v[part] * 10 + (*p - '0');
		} else if (*p == '.' && digits > 0 && part < 2) {
			part++;
			digits = 0;
		} else if ((*p == '\0' || *p == ' ') && digits > 0 && part == 2) {
			break;
		} else {
			return -1;
		}
	}
	if (v[0] != 2 && v[0] != 4 && v[0] != 5)
		return -1;
	*subject = v[1];
	*detail = v[2];
	return 0;
}

/* contains() is a case-insensitive search of a lower-case needle in
 * text[0..len). */
static int
contains(const char *text, size_t len, const char *needle)
{
	size_t n = strlen(needle);

	if (n > len)
		return 0;
	for (size_t i = 0; i + n <= len; i++) {
		size_t k = 0;
		while (k < n && tolower((unsigned char)text[i + k]) == needle[k])
			k++;
		if (k == n)
			return 1;
	}
	return 0;
}

static int
code_rule(const struct bounce_code_rule *t, size_t n, int subject, int detail,
    enum bounce_category *out)
{
	for (size_t i = 0; i < n; i++)
		if (t[i].subject == subject && (t[i].detail == -1 || t[i].detail == detail)) {
			*out = t[i].category;
			return 1;
		}
	return 0;
}

static enum bounce_category
categorise(int code, const char *enhanced, const char *text, size_t len, enum bounce_local local)
{
	enum bounce_category c;
	int subject, detail, have = parse_enhanced(enhanced, &subject, &detail) == 0;

	switch (local) {
	case BOUNCE_LOCAL_NXDOMAIN:
	case BOUNCE_LOCAL_NULLMX:
	case BOUNCE_LOCAL_NOADDR:
		return BOUNCE_BAD_DOMAIN;
	case BOUNCE_LOCAL_DNS:
		return BOUNCE_DNS_FAILURE;
	case BOUNCE_LOCAL_NETWORK:
		return BOUNCE_NETWORK;
	case BOUNCE_LOCAL_TLS:
		return BOUNCE_TLS;
	case BOUNCE_LOCAL_PROTOCOL:
		return BOUNCE_OTHER;
	case BOUNCE_LOCAL_EXPIRED:
		return BOUNCE_EXPIRED;
	case BOUNCE_LOCAL_MESSAGE:
	case BOUNCE_LOCAL_NONE:
		break;
	}
	if (have && code_rule(specific, sizeof(specific) / sizeof(specific[0]), subject, detail, &c))
		return c;
	if (text != NULL)
		for (size_t i = 0; i < sizeof(phrases) / sizeof(phrases[0]); i++)
			if (contains(text, len, phrases[i].phrase))
				return phrases[i].category;
	if (have && code_rule(generic, sizeof(generic) / sizeof(generic[0]), subject, detail, &c))
		return c;
	for (size_t i = 0; i < sizeof(basic) / sizeof(basic[0]); i++)
		if (basic[i].code == code)
			return basic[i].category;
	return BOUNCE_OTHER;
}

void
bounce_classify(int code, const char *enhanced, const char *text, size_t len,
    enum bounce_local local, struct bounce_info *out)
{
	out->category = categorise(code, enhanced, text, len, local);
	out->cls = BOUNCE_SOFT;
	if (code >= 500 && code < 600) {
		switch (out->category) {
		case BOUNCE_BAD_MAILBOX:
		case BOUNCE_BAD_DOMAIN:
		case BOUNCE_INACTIVE_MAILBOX:
		case BOUNCE_DNS_FAILURE:
		case BOUNCE_OTHER:
			out->cls = BOUNCE_HARD;
			break;
		default:
			break;
		}
	}
}
