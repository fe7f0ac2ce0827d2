/* webhook: an account's event subscriptions, delivered as signed HTTP POSTs
 * (SPEC.md "Webhooks", the Standard Webhooks convention).
 *
 * Three parts behind this header:
 *   - pure helpers: the signing secret and the signature (webhook_sign.c),
 *     the address classifier of the SSRF guard (webhook_addr.c), the target
 *     URL check (webhook_url.c);
 *   - the dispatcher (webhook.c): reads the events store by cursor for each
 *     subscription and keeps its retry state in the store, so delivery is
 *     at-least-once across endpoint outages and daemon restarts;
 *   - the transport (webhook_curl.c): libcurl's multi interface driven by
 *     the libuv loop, never blocking it.
 *
 * Secrets: a subscription's secret is "whsec_" followed by the base64 of a
 * 32-byte random HMAC key. It must be recoverable to sign, so the store keeps
 * it (the store file is mode 0600, readable by the daemon's user alone); it
 * is shown once, in the answer to POST /v1/webhooks, and never logged. */
#ifndef HERMOD_WEBHOOK_H
#define HERMOD_WEBHOOK_H
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <uv.h>

struct config;
struct store;

#define WEBHOOK_KEY_LEN		32	/* bytes of HMAC key in a new secret */
#define WEBHOOK_KEY_MAX		64	/* the longest key a secret may carry */
#define WEBHOOK_SECRET_PREFIX	"whsec_"
#define WEBHOOK_SECRET_LEN	50	/* "whsec_" + 44 characters of padded base64 */
#define WEBHOOK_SIG_LEN		47	/* "v1," + 44 characters of padded base64 */
#define WEBHOOK_ID_PREFIX	"wh_"

/* ---- signing (webhook_sign.c) ---- */

/* webhook_secret_new() writes a new secret: "whsec_" + base64 (standard
 * alphabet, padded) of WEBHOOK_KEY_LEN random bytes from libsodium. The
 * caller wipes it (sodium_memzero) when done. */
void	webhook_secret_new(char out[WEBHOOK_SECRET_LEN + 1]);

/* webhook_secret_key() decodes the HMAC key of a secret (the base64 after
 * "whsec_"; a secret without the prefix is taken as bare base64, as the
 * Standard Webhooks libraries do). Returns the key length (1 to
 * WEBHOOK_KEY_MAX), or -1 for a malformed secret. */
int	webhook_secret_key(const char *secret, unsigned char key[WEBHOOK_KEY_MAX]);

/* webhook_sign() writes the webhook-signature header value for one attempt:
 * "v1," + base64 of HMAC-SHA256(key, "<msg_id>.<timestamp>.<body>"). 0, or
 * -1 for a malformed secret. Pure. */
int	webhook_sign(const char *secret, const char *msg_id, int64_t timestamp,
	    const char *body, size_t len, char out[WEBHOOK_SIG_LEN + 1]);

/* ---- the SSRF guard (webhook_addr.c) ---- */

enum webhook_addr_class {
	WEBHOOK_ADDR_PUBLIC,		/* allowed */
	WEBHOOK_ADDR_LOOPBACK,		/* 127/8, ::1 */
	WEBHOOK_ADDR_PRIVATE,		/* RFC 1918, fc00::/7, fec0::/10 */
	WEBHOOK_ADDR_LINKLOCAL,		/* 169.254/16, fe80::/10 */
	WEBHOOK_ADDR_CGNAT,		/* 100.64/10 (RFC 6598) */
	WEBHOOK_ADDR_UNSPECIFIED,	/* 0/8, :: */
	WEBHOOK_ADDR_MULTICAST,		/* 224/4, ff00::/8 */
	WEBHOOK_ADDR_RESERVED,		/* 240/4, broadcast, 192.0.0/24, 198.18/15, 100::/64 */
	WEBHOOK_ADDR_INVALID		/* not IPv4 or IPv6 */
};

/* webhook_addr_classify() classifies an address the way the guard needs:
 * an IPv6 address that carries an IPv4 one (IPv4-mapped ::ffff:a.b.c.d,
 * IPv4-compatible ::a.b.c.d, NAT64 64:ff9b::/96, 6to4 2002::/16) gets the
 * class of the IPv4 address inside, since that is where the packets go.
 * family is AF_INET (addr: 4 bytes, network order) or AF_INET6 (16). Pure. */
enum webhook_addr_class webhook_addr_classify(int family, const unsigned char *addr);
/* webhook_addr_classify_sa() is the same for a sockaddr (sin or sin6). */
enum webhook_addr_class webhook_addr_classify_sa(const struct sockaddr *sa);
/* webhook_addr_class_name() is a short word for logs and API errors. */
const char *webhook_addr_class_name(enum webhook_addr_class c);

/* ---- target URLs (webhook_url.c) ---- */

#define WEBHOOK_URL_MAX		2048

/* webhook_url_check() validates a subscription's target: an absolute http
 * or https URL (parsed with libcurl's URL API) with a host, no user
 * credentials, at most WEBHOOK_URL_MAX bytes. A host written as an IP
 * address is classified now: a non-public one is refused unless
 * allow_private. Names are checked at connect time (the resolved address),
 * not here. 0, or -1 with *why (static text) saying what is wrong. */
int	webhook_url_check(const char *url, int allow_private, const char **why);

/* ---- the dispatcher (webhook.c) ---- */

struct webhook;

/* webhook_start() creates the dispatcher on loop: it subscribes to the
 * events pipeline (so call it before events_start()), learns where the
 * events store ends, and starts delivering. Blocks on the store while it
 * starts (call it at daemon start, before the loop runs). 0, or -1 with
 * *err set (caller frees). */
int	webhook_start(uv_loop_t *loop, const struct config *cfg, struct store *st,
	    struct webhook **out, char **err);
/* webhook_stop() stops starting transfers, abandons those in flight (they
 * are retried after a restart: the store still has them), and calls
 * done(arg) once every handle is closed. The loop must keep running. */
void	webhook_stop(struct webhook *wh, void (*done)(void *arg), void *arg);
/* webhook_free() frees a stopped dispatcher (NULL: no-op). */
void	webhook_free(struct webhook *wh);

/* webhook_changed() tells the running dispatcher that subscriptions were
 * added or removed (the HTTP API calls it). Thread safe; a no-op when no
 * dispatcher runs. */
void	webhook_changed(void);
/* webhook_head_seq() is the newest event sequence number the dispatcher
 * knows of: a new subscription starts after it. Thread safe; 0 when no
 * dispatcher runs. */
int64_t	webhook_head_seq(void);

/* Counters since start, for logs, tests and metrics. */
struct webhook_stats {
	uint64_t	delivered;	/* 2xx answers */
	uint64_t	failed;		/* attempts that will be retried */
	uint64_t	gave_up;	/* events dropped after webhooks.max_lifetime */
	uint64_t	refused;	/* connections refused by the SSRF guard */
	uint64_t	disabled;	/* subscriptions disabled by 410 Gone */
};
void	webhook_get_stats(struct webhook_stats *out);

#endif
