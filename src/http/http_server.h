/* http_server: the HTTP/1.1 API server (SPEC.md "HTTP API"). libmicrohttpd
 * does the protocol; it runs inside our libuv loop (its epoll fd watched by a
 * uv_poll, its timeouts by a uv_timer; no MHD threads), so every handler runs
 * on the loop thread. Slow work (key checks, SQLite, JSON, building MIME)
 * goes to the libuv thread pool while the request is suspended, and a send
 * is answered 202 only from the spool's durable-commit callback.
 *
 * Used by `hermod serve` (src/daemon). */
#ifndef HERMOD_HTTP_SERVER_H
#define HERMOD_HTTP_SERVER_H
#include <uv.h>

struct config;
struct spool;
struct store;
struct dkim_keyring;
struct http_server;
struct suppress;

/* http_server_start() listens on cfg->http_listen and serves the API with
 * sp (submissions) and st (keys, domains, idempotency records). cfg, sp and
 * st must outlive the server. 0, or -1 with *err (caller frees); on failure
 * nothing is left running. */
int	http_server_start(uv_loop_t *loop, const struct config *cfg, struct spool *sp,
	    struct store *st, struct dkim_keyring *keyring, struct http_server **out, char **err);

/* http_server_stop() stops accepting, lets requests in flight finish (their
 * spool commits included), closes every handle and frees the server, then
 * calls done (may be NULL) on the loop thread. Drain before closing the
 * spool and the store. */
void	http_server_stop(struct http_server *srv, void (*done)(void *arg), void *arg);

/* http_server_set_accounts() gives the server the accounts' limits and
 * pause state (src/account): sends are then limited and /v1/account
 * answers. Call right after http_server_start(). */
struct account_state;
void	http_server_set_accounts(struct http_server *srv, struct account_state *a);
/* http_server_set_suppress() gives the server the suppression lists
 * (src/suppress): sends drop suppressed recipients, /v1/suppressions
 * works. Call before the loop runs. */
void	http_server_set_suppress(struct http_server *srv, struct suppress *sp);

/* http_route_names() lists "METHOD /path" for every route the server
 * serves, NULL-ended (path parameters as {name}): the OpenAPI test keeps
 * docs/openapi.yaml in step with it. */
const char *const *http_route_names(void);

#endif
