/* dkim_sign: DKIM signatures (RFC 6376) with rsa-sha256 and ed25519-sha256
 * (RFC 8463), relaxed/relaxed, over a message held in memory.
 *
 * Pure computation: no sockets, no event loop, no file I/O except in
 * dkim_key_load(). Signing is CPU work (about 1 ms for RSA-2048), so callers
 * run it on a worker thread, once per message, never per recipient. */
#ifndef HERMOD_DKIM_SIGN_H
#define HERMOD_DKIM_SIGN_H
#include <stddef.h>

#include "util/buf.h"

/* Algorithms, as bits so that a domain can ask for both (dual signing). */
#define DKIM_ALGO_RSA		1	/* rsa-sha256, RSA-2048 keys */
#define DKIM_ALGO_ED25519	2	/* ed25519-sha256 (RFC 8463) */

/* A parsed private key with the domain (d=) and selector (s=) it signs for.
 * Immutable once loaded: one key may sign from many threads at once (each
 * signature makes its own EVP_MD_CTX; the EVP_PKEY is only read). */
struct dkim_key;

/* dkim_key_from_pem() parses a PEM private key (PKCS#8 or traditional RSA;
 * RSA of at least 1024 bits, or Ed25519) for domain and selector. 0, or -1
 * with *err set (caller frees). */
int	dkim_key_from_pem(struct dkim_key **out, const char *domain, const char *selector,
	    const char *pem, size_t len, char **err);
/* dkim_key_load() is dkim_key_from_pem() on the file at path (blocking). */
int	dkim_key_load(struct dkim_key **out, const char *domain, const char *selector,
	    const char *path, char **err);
void	dkim_key_free(struct dkim_key *key);
/* dkim_key_algo() is DKIM_ALGO_RSA or DKIM_ALGO_ED25519. */
int	dkim_key_algo(const struct dkim_key *key);
const char *dkim_key_domain(const struct dkim_key *key);
const char *dkim_key_selector(const struct dkim_key *key);
/* dkim_key_txt() appends the DNS TXT value that publishes the key's public
 * half: "v=DKIM1; k=rsa; p=..." (p= is the SubjectPublicKeyInfo) or
 * "v=DKIM1; k=ed25519; p=..." (p= is the raw 32-byte key, RFC 8463 4.2). */
void	dkim_key_txt(const struct dkim_key *key, struct buf *out);

/* dkim_sign() signs msg (len bytes: header, empty line, body; CRLF line
 * ends) once with each of the nkeys keys and appends their DKIM-Signature
 * header fields to out, each ending with CRLF, ready to be prepended to the
 * message. Signed: From, To, Cc, Subject, Date, Message-ID, Reply-To,
 * MIME-Version, Content-Type, List-Unsubscribe, List-Unsubscribe-Post (each
 * instance present), From and Subject once more (oversigned: no one can add
 * a second one unnoticed); relaxed/relaxed, t=now, no l=. The body hash is
 * computed once for all keys. 0, or -1 with *err set (a message without a
 * From field cannot be signed). */
int	dkim_sign(struct dkim_key *const *keys, size_t nkeys, const char *msg, size_t len,
	    long long now, struct buf *out, char **err);

/* dkim_sign_head() is the core of dkim_sign(), exposed for exact test vectors:
 * head is the start of the DKIM-Signature field as it will appear (name,
 * colon, tags, folding), ending just before where "bh=" goes; names are the
 * h= list in order. It appends head, "bh=...;", a folded "b=..." and CRLF. */
int	dkim_sign_head(const struct dkim_key *key, const char *msg, size_t len,
	    const char *const *names, size_t nnames, const char *head, struct buf *out,
	    char **err);

/* dkim_body_hash() computes the base64 SHA-256 of the relaxed canonical body
 * of msg into b64 (at least 45 bytes). */
void	dkim_body_hash(const char *msg, size_t len, char b64[45]);

#endif
