/* webhook_sign: the Standard Webhooks signature. A secret is "whsec_" + the
 * base64 of an HMAC key; each attempt is signed as
 *	webhook-signature: v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>
 * with the timestamp of that attempt (unix seconds), so a receiver can
 * refuse old replays. libsodium does the HMAC and the base64. */
#include "webhook/webhook.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

void
webhook_secret_new(char out[WEBHOOK_SECRET_LEN + 1])
{
	unsigned char key[WEBHOOK_KEY_LEN];

	randombytes_buf(key, sizeof key);
	memcpy(out, WEBHOOK_SECRET_PREFIX, sizeof WEBHOOK_SECRET_PREFIX - 1);
	sodium_bin2base64(out + sizeof WEBHOOK_SECRET_PREFIX - 1,
	    WEBHOOK_SECRET_LEN + 1 - (sizeof WEBHOOK_SECRET_PREFIX - 1), key, sizeof key,
	    sodium_base64_VARIANT_ORIGINAL);
	sodium_memzero(key, sizeof key);
}

int
webhook_secret_key(const char *secret, unsigned char key[WEBHOOK_KEY_MAX])
{
	const size_t plen = sizeof WEBHOOK_SECRET_PREFIX - 1;
	const char *b64;
	size_t n = 0, len;

	if (secret == NULL)
		return -1;
	b64 = strncmp(secret, WEBHOOK_SECRET_PREFIX, plen) == 0 ? secret + plen : secret;
	len = strlen(b64);
	/* Padded or not: other senders' secrets come both ways. */
	if (len == 0 || (sodium_base642bin(key, WEBHOOK_KEY_MAX, b64, len, NULL, &n, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0 &&
	    sodium_base642bin(key, WEBHOOK_KEY_MAX, b64, len, NULL, &n, NULL,
	    sodium_base64_VARIANT_ORIGINAL_NO_PADDING) != 0) || n == 0)
		return -1;
	return (int)n;
}

int
webhook_sign(const char *secret, const char *msg_id, int64_t timestamp, const char *body,
    size_t len, char out[WEBHOOK_SIG_LEN + 1])
{
	unsigned char key[WEBHOOK_KEY_MAX], mac[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_state h;
	char ts[24];
	int klen;

	if ((klen = webhook_secret_key(secret, key)) < 0)
		return -1;
	snprintf(ts, sizeof ts, "%" PRId64, timestamp);
	crypto_auth_hmacsha256_init(&h, key, (size_t)klen);
	crypto_auth_hmacsha256_update(&h, (const unsigned char *)msg_id, strlen(msg_id));
	crypto_auth_hmacsha256_update(&h, (const unsigned char *)".", 1);
	crypto_auth_hmacsha256_update(&h, (const unsigned char *)ts, strlen(ts));
	crypto_auth_hmacsha256_update(&h, (const unsigned char *)".", 1);
	crypto_auth_hmacsha256_update(&h, (const unsigned char *)body, len);
	crypto_auth_hmacsha256_final(&h, mac);
	memcpy(out, "v1,", 3);
	sodium_bin2base64(out + 3, WEBHOOK_SIG_LEN + 1 - 3, mac, sizeof mac,
	    sodium_base64_VARIANT_ORIGINAL);
	sodium_memzero(key, sizeof key);
	sodium_memzero(&h, sizeof h);
	return 0;
}
