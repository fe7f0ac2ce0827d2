/* tls: OpenSSL contexts. The server context serves submission (STARTTLS and
 * implicit TLS) and inbound SMTP; the client context serves delivery, where
 * TLS is mostly opportunistic: a certificate that does not verify is recorded
 * (io_tls_peer_verified) rather than refused, because refusing it would only
 * push the message to plaintext. tls_make_selfsigned() gives a fresh install
 * a certificate so STARTTLS works from the first start. */
#include "net/tls.h"
#include "util/fsutil.h"
#include "util/xalloc.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* TLS 1.2 suites: forward secrecy and AEAD only. TLS 1.3 suites are all
 * fine and keep OpenSSL's default order. */
#define TLS_CIPHERS_12	"ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:!aNULL:!eNULL"
#define TLS_SELFSIGNED_DAYS	3650

/* tls_err() formats "what: first OpenSSL error" and clears the queue. */
static char *
tls_err(const char *what, const char *path)
{
	unsigned long e = ERR_get_error();
	char txt[200] = "";

	if (e)
		ERR_error_string_n(e, txt, sizeof(txt));
	ERR_clear_error();
	if (path)
		return xasprintf("%s: %s%s%s", path, what, e ? ": " : "", txt);
	return xasprintf("%s%s%s", what, e ? ": " : "", txt);
}

/* tls_ctx_common() applies what both sides share: TLS 1.2 minimum, no
 * compression (CRIME), no renegotiation, small idle footprint. */
static int
tls_ctx_common(SSL_CTX *ctx)
{
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION))
		return -1;
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
	/* idle sessions keep no 34 KiB of record buffers */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (!SSL_CTX_set_cipher_list(ctx, TLS_CIPHERS_12))
		return -1;
	return 0;
}

SSL_CTX *
tls_server_ctx(const char *cert_path, const char *key_path, char **err)
{
	static const unsigned char sid_ctx[] = "hermod";
	SSL_CTX *ctx;

	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		*err = tls_err("SSL_CTX_new", NULL);
		return NULL;
	}
	if (tls_ctx_common(ctx) < 0) {
		*err = tls_err("TLS settings", NULL);
		goto fail;
	}
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_dh_auto(ctx, 1);
	/* session resumption (tickets and the cache) needs an id context */
	SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_path) != 1) {
		*err = tls_err("cannot load certificate", cert_path);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key_path, SSL_FILETYPE_PEM) != 1) {
		*err = tls_err("cannot load private key", key_path);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		*err = tls_err("private key does not match the certificate", key_path);
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

SSL_CTX *
tls_client_ctx(char **err)
{
	SSL_CTX *ctx;

	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		*err = tls_err("SSL_CTX_new", NULL);
		return NULL;
	}
	if (tls_ctx_common(ctx) < 0) {
		*err = tls_err("TLS settings", NULL);
		SSL_CTX_free(ctx);
		return NULL;
	}
	/* SSL_VERIFY_NONE on a client still verifies the chain and stores the
	 * result (SSL_get_verify_result); it just does not abort the handshake */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	if (SSL_CTX_set_default_verify_paths(ctx) != 1)
		ERR_clear_error();	/* no system store: nothing verifies, TLS still works */
	return ctx;
}

/* tls_selfsigned_build() makes an EC P-256 key and a certificate for
 * hostname (an address literal becomes an IP SAN), valid from an hour ago
 * for ten years. */
static int
tls_selfsigned_build(const char *hostname, EVP_PKEY **pkeyp, X509 **certp)
{
	EVP_PKEY *pkey = NULL;
	X509 *x = NULL;
	X509_NAME *name;
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	char *san = NULL;
	static const char *exts[][2] = {
		{ "basicConstraints", "critical,CA:FALSE" },
		{ "keyUsage", "critical,digitalSignature" },
		{ "extendedKeyUsage", "serverAuth" },
		{ "subjectKeyIdentifier", "hash" },
	};
	size_t i;
	int rc = -1;

	if ((pkey = EVP_EC_gen("P-256")) == NULL)
		goto out;
	if ((x = X509_new()) == NULL || !X509_set_version(x, 2))
		goto out;
	if (RAND_bytes(serial, sizeof(serial)) != 1)
		goto out;
	serial[0] &= 0x7f;	/* positive */
	if ((bn = BN_bin2bn(serial, sizeof(serial), NULL)) == NULL ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL)
		goto out;
	if (!X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
	    !X509_time_adj_ex(X509_getm_notAfter(x), TLS_SELFSIGNED_DAYS, 0, NULL))
		goto out;
	if (!X509_set_pubkey(x, pkey))
		goto out;
	name = X509_get_subject_name(x);
	if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	    (const unsigned char *)hostname, -1, -1, 0) || !X509_set_issuer_name(x, name))
		goto out;
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	{
		unsigned char addr[16];
		int ip = inet_pton(AF_INET, hostname, addr) == 1 ||
		    inet_pton(AF_INET6, hostname, addr) == 1;

		/* a host known by its address gets an IP SAN: clients verify those */
		san = xasprintf("%s:%s", ip ? "IP" : "DNS", hostname);
	}
	if ((ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san)) == NULL)
		goto out;
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	for (i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		if ((ext = X509V3_EXT_conf(NULL, &v3, exts[i][0], exts[i][1])) == NULL)
			goto out;
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	if (!X509_sign(x, pkey, EVP_sha256()))
		goto out;
	*pkeyp = pkey;
	*certp = x;
	pkey = NULL;
	x = NULL;
	rc = 0;
out:
	free(san);
	BN_free(bn);
	X509_free(x);
	EVP_PKEY_free(pkey);
	return rc;
}

/* tls_pem() serialises a key (x == NULL) or a certificate into a string. */
static char *
tls_pem(EVP_PKEY *pkey, X509 *x, size_t *lenp)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *copy = NULL;
	long n;
	int ok;

	if (b == NULL)
		return NULL;
	ok = x ? PEM_write_bio_X509(b, x) :
	    PEM_write_bio_PrivateKey(b, pkey, NULL, NULL, 0, NULL, NULL);
	if (ok && (n = BIO_get_mem_data(b, &data)) > 0) {
		copy = xmalloc((size_t)n);
		memcpy(copy, data, (size_t)n);
		*lenp = (size_t)n;
	}
	BIO_free(b);
	return copy;
}

int
tls_make_selfsigned(const char *cert_path, const char *key_path, const char *hostname,
    char **err)
{
	EVP_PKEY *pkey = NULL;
	X509 *x = NULL;
	char *kpem = NULL, *cpem = NULL;
	size_t klen = 0, clen = 0;
	int rc = -1;

	/* both there: an earlier start made them (or the operator did). One
	 * alone is a start that died between the two writes: make both again. */
	if (access(cert_path, F_OK) == 0 && access(key_path, F_OK) == 0)
		return 0;
	ERR_clear_error();
	if (tls_selfsigned_build(hostname, &pkey, &x) < 0) {
		*err = tls_err("cannot make a self-signed certificate", NULL);
		goto out;
	}
	if ((kpem = tls_pem(pkey, NULL, &klen)) == NULL ||
	    (cpem = tls_pem(NULL, x, &clen)) == NULL) {
		*err = tls_err("cannot encode the self-signed pair", NULL);
		goto out;
	}
	/* the key first: a certificate never exists without its key */
	if (fs_write_atomic(key_path, kpem, klen, 0600) < 0) {
		*err = xasprintf("%s: cannot write: %m", key_path);
		goto out;
	}
	if (fs_write_atomic(cert_path, cpem, clen, 0644) < 0) {
		*err = xasprintf("%s: cannot write: %m", cert_path);
		goto out;
	}
	rc = 0;
out:
	if (kpem) {
		OPENSSL_cleanse(kpem, klen);
		free(kpem);
	}
	free(cpem);
	X509_free(x);
	EVP_PKEY_free(pkey);
	return rc;
}
