/* auth: the pure half of authentication: API key tokens (making, hashing,
 * checking their shape), scopes, account names, and which sending domains an
 * account may use. No I/O and no store access: the store calls these to make
 * and verify keys; the SMTP session and the HTTP API call them to check a
 * sender's domain.
 *
 * API keys. A key is 256 bits from the kernel's CSPRNG (getrandom(2)), printed
 * as "hm_" followed by the 43-character unpadded base64url encoding of those
 * 32 bytes (RFC 4648 section 5): 46 characters, shell- and URL-safe, and a
 * valid SASL PLAIN/LOGIN password. The "hm_" prefix lets secret scanners and
 * humans recognise a hermod key. Only SHA-256(key string) is stored.
 *
 * Why SHA-256 (OpenSSL EVP) rather than BLAKE2b or a password hash: the token
 * already has 256 bits of entropy, so nothing can be brute-forced and a slow
 * KDF would only slow every SMTP AUTH and HTTP request; SHA-256 is what
 * store.h promised callers, operators can reproduce it with sha256sum, and
 * OpenSSL is linked anyway. */
#ifndef HERMOD_AUTH_H
#define HERMOD_AUTH_H
#include <stddef.h>

#define AUTH_KEY_PREFIX		"hm_"
#define AUTH_KEY_BYTES		32	/* random bytes in a key */
#define AUTH_KEY_LEN		46	/* "hm_" + 43 base64url characters */
#define AUTH_KEY_HASH_LEN	32	/* SHA-256 */
#define AUTH_KEY_SHOW_LEN	11	/* "hm_" + 8: the part shown in listings */
#define AUTH_ACCOUNT_MAX	64
#define AUTH_DOMAIN_MAX		253	/* RFC 1035, without the trailing dot */

/* auth_key_new() writes a fresh key (AUTH_KEY_LEN characters and a NUL) into
 * secret. The caller must wipe it (auth_wipe) once shown. */
void	auth_key_new(char secret[AUTH_KEY_LEN + 1]);
/* auth_key_wellformed() tells whether s (len bytes) has the shape of a key:
 * the prefix and 43 base64url characters. Checked before hashing so garbage
 * never reaches the store. */
int	auth_key_wellformed(const char *s, size_t len);
/* auth_key_hash() is SHA-256 of the len bytes of secret. */
void	auth_key_hash(const char *secret, size_t len, unsigned char out[AUTH_KEY_HASH_LEN]);
/* auth_key_hash_equal() compares two hashes in constant time; 1 if equal. */
int	auth_key_hash_equal(const unsigned char *a, const unsigned char *b);
/* auth_wipe() clears memory in a way the compiler may not drop. */
void	auth_wipe(void *p, size_t n);

/* auth_scope_valid() accepts "send" and "admin". auth_scope_allows() tells
 * whether a key of scope have may do what needs scope need: admin keys may
 * also send (as in the managed email APIs), send keys may only send. */
int	auth_scope_valid(const char *scope);
int	auth_scope_allows(const char *have, const char *need);

/* auth_account_name_valid() accepts 1 to 64 characters of [a-z0-9._-]. */
int	auth_account_name_valid(const char *name);

/* auth_domain_normalize() turns a user-supplied domain into the form the
 * store keeps: lower case, no trailing dot, non-ASCII names converted to
 * their IDNA A-label (libidn2, IDNA2008 with UTS #46 mapping), then checked
 * as a host name: LDH labels of 1 to 63 octets, no leading or trailing
 * hyphen, at least two labels, at most 253 octets. Returns the new string, or
 * NULL with *err set when err is not NULL (caller frees either). */
char   *auth_domain_normalize(const char *domain, char **err);
/* auth_selector_valid() accepts a DKIM selector: one or more DNS labels
 * (RFC 6376 3.1) of lower-case letters, digits and inner hyphens, at most 63
 * octets in all. */
int	auth_selector_valid(const char *selector);
/* auth_domain_allowed() tells whether addr_domain (the part after '@' of a
 * sender address, any case, possibly a U-label) is one of domains (a
 * NULL-ended array of normalized domains, as the store returns them) or a
 * subdomain of one. 1 allowed, 0 not. Address literals are never allowed. */
int	auth_domain_allowed(char **domains, const char *addr_domain);

#endif
