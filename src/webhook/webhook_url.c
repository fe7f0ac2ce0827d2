/* webhook_url: the check of a subscription's target URL, at POST time.
 * libcurl's URL API parses it (the same parser that will send to it), so
 * what we check is what curl will use. Literal addresses meet the SSRF
 * classifier here for a clear 422; names can only be judged once resolved,
 * which the dispatcher does at connect time. */
#include "webhook/webhook.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

/* literal_class() classifies host when it is an IP address in any form a
 * resolver would take as one ("127.1" and "0x7f000001" included: inet_aton
 * is deliberately lenient here), else returns WEBHOOK_ADDR_INVALID. */
static enum webhook_addr_class
literal_class(const char *host)
{
	unsigned char a6[16];
	struct in_addr a4;
	char tmp[64];
	size_t n = strlen(host);

	if (n >= 2 && host[0] == '[' && host[n - 1] == ']' && n - 2 < sizeof tmp) {
		memcpy(tmp, host + 1, n - 2);
		tmp[n - 2] = '\0';
		if (inet_pton(AF_INET6, tmp, a6) == 1)
			return webhook_addr_classify(AF_INET6, a6);
		return WEBHOOK_ADDR_INVALID;
	}
	if (inet_pton(AF_INET6, host, a6) == 1)
		return webhook_addr_classify(AF_INET6, a6);
	if (inet_aton(host, &a4) == 1)
		return webhook_addr_classify(AF_INET, (const unsigned char *)&a4);
	return WEBHOOK_ADDR_INVALID;
}

int
webhook_url_check(const char *url, int allow_private, const char **why)
{
	CURLU *u;
	char *scheme = NULL, *host = NULL, *user = NULL;
	enum webhook_addr_class c;
	int rc = -1;

	*why = NULL;
	if (url == NULL || url[0] == '\0') {
		*why = "required";
		return -1;
	}
	if (strlen(url) > WEBHOOK_URL_MAX) {
		*why = "longer than 2048 bytes";
		return -1;
	}
	if ((u = curl_url()) == NULL) {
		*why = "out of memory";
		return -1;
	}
	/* NON_SUPPORT_SCHEME: parse anything, so the scheme error is ours. */
	if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
		*why = "not a valid absolute URL";
		goto out;
	}
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcasecmp(scheme, "https") != 0 && strcasecmp(scheme, "http") != 0)) {
		*why = "the scheme must be https or http";
		goto out;
	}
	if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || host[0] == '\0') {
		*why = "the URL has no host";
		goto out;
	}
	if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
		*why = "credentials in the URL are not accepted (the signature authenticates us)";
		goto out;
	}
	c = literal_class(host);
	if (c != WEBHOOK_ADDR_INVALID && c != WEBHOOK_ADDR_PUBLIC && !allow_private) {
		switch (c) {
		case WEBHOOK_ADDR_LOOPBACK:
			*why = "a loopback address is not allowed (webhooks.allow_private_targets)";
			break;
		case WEBHOOK_ADDR_PRIVATE:
			*why = "a private address is not allowed (webhooks.allow_private_targets)";
			break;
		case WEBHOOK_ADDR_LINKLOCAL:
			*why = "a link-local address is not allowed (webhooks.allow_private_targets)";
			break;
		default:
			*why = "this address is not allowed as a webhook target "
			    "(webhooks.allow_private_targets)";
			break;
		}
		goto out;
	}
	rc = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(user);
	curl_url_cleanup(u);
	return rc;
}
