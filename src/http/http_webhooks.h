/* http_webhooks: the /v1/webhooks endpoints (SPEC.md "HTTP API"): an
 * account's event subscriptions. Route handlers for http_routes.c's table;
 * each runs on a worker thread, after authentication. */
#ifndef HERMOD_HTTP_WEBHOOKS_H
#define HERMOD_HTTP_WEBHOOKS_H

struct http_req;

/* GET /v1/webhooks: the account's subscriptions, never their secrets. */
void	http_webhooks_list(struct http_req *r);
/* POST /v1/webhooks {"url", "events"}: 201 with the subscription and its
 * signing secret, shown this once. */
void	http_webhooks_create(struct http_req *r);
/* DELETE /v1/webhooks/{id}: 204, or 404 for another account's or no id. */
void	http_webhooks_delete(struct http_req *r);

#endif
