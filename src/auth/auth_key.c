/* auth_key: API key tokens: making them from the kernel CSPRNG, their
 * printable form, SHA-256 hashing and constant-time comparison. auth.h says
 * why the format and the hash are what they are. */
#include "auth/auth.h"
#include "util/id.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* 32 bytes give 42 full sextets and 4 bits: 43 characters, the last of which
 * encodes 4 bits followed by two zero bits. */
static void
encode_b64url(const unsigned char *in, size_t n, char *out)
{
	size_t i, o = 0;
	unsigned acc = 0;
	int bits = 0;

	for (i = 0; i < n; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[o++] = b64url[(acc >> bits) & 63];
		}
	}
	if (bits > 0)
		out[o++] = b64url[(acc << (6 - bits)) & 63];
	out[o] = '\0';
}

void
auth_key_new(char secret[AUTH_KEY_LEN + 1])
{
	unsigned char raw[AUTH_KEY_BYTES];

	id_random_bytes(raw, sizeof(raw));
	memcpy(secret, AUTH_KEY_PREFIX, strlen(AUTH_KEY_PREFIX));
	encode_b64url(raw, sizeof(raw), secret + strlen(AUTH_KEY_PREFIX));
	auth_wipe(raw, sizeof(raw));
}

int
auth_key_wellformed(const char *s, size_t len)
{
	size_t plen = strlen(AUTH_KEY_PREFIX), i;

	if (len != AUTH_KEY_LEN || memcmp(s, AUTH_KEY_PREFIX, plen) != 0)
		return 0;
	for (i = plen; i < len; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_'))
			return 0;
	}
	return 1;
}

void
auth_key_hash(const char *secret, size_t len, unsigned char out[AUTH_KEY_HASH_LEN])
{
	unsigned int outlen = 0;

	/* EVP_Digest only fails when OpenSSL cannot allocate or is broken:
	 * there is no safe way on, like an allocation failure (STYLE 5). */
	if (EVP_Digest(secret, len, out, &outlen, EVP_sha256(), NULL) != 1 ||
	    outlen != AUTH_KEY_HASH_LEN) {
		fprintf(stderr, "auth: SHA-256 failed\n");
		abort();
	}
}

int
auth_key_hash_equal(const unsigned char *a, const unsigned char *b)
{
	return CRYPTO_memcmp(a, b, AUTH_KEY_HASH_LEN) == 0;
}

void
auth_wipe(void *p, size_t n)
{
	OPENSSL_cleanse(p, n);
}

int
auth_scope_valid(const char *scope)
{
	return scope != NULL && (!strcmp(scope, "send") || !strcmp(scope, "admin"));
}

int
auth_scope_allows(const char *have, const char *need)
{
	if (!auth_scope_valid(have) || !auth_scope_valid(need))
		return 0;
	return !strcmp(have, "admin") || !strcmp(need, "send");
}
