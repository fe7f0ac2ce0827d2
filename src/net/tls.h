/* tls: OpenSSL contexts for the listeners and the delivery client. */
#ifndef HERMOD_TLS_H
#define HERMOD_TLS_H
#include <openssl/ssl.h>

/* tls_server_ctx() loads a PEM certificate chain and key; TLS 1.2 or newer,
 * forward-secret AEAD suites, no compression, no renegotiation, session
 * resumption on. NULL with *err set (caller frees) on failure. */
SSL_CTX *tls_server_ctx(const char *cert_path, const char *key_path, char **err);
/* tls_client_ctx() is a client context with the system trust store loaded
 * (verification is reported by io_tls_peer_verified, not enforced: policy
 * decides). TLS 1.2 or newer. NULL with *err set on failure. */
SSL_CTX *tls_client_ctx(char **err);
/* tls_make_selfsigned() writes a new self-signed pair for hostname (EC P-256,
 * SAN DNS:hostname, ten years; key 0600, both written atomically) unless both
 * files exist. Blocking: call it at startup. 0 or -1 with *err. */
int	tls_make_selfsigned(const char *cert_path, const char *key_path, const char *hostname,
	    char **err);

#endif
