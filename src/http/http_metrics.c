/* http_metrics: GET /metrics, the Prometheus scrape (src/metrics renders).
 *
 * Access: with http.metrics_public = yes (the default) anyone who reaches
 * the HTTP listener may scrape, as with Postfix and KumoMTA exporters: the
 * figures name no account, address or message, and http.listen defaults to
 * loopback (put a firewall or a reverse proxy in front when it does not).
 * With no, the scrape needs an API key of any scope as a Bearer token
 * (Prometheus: `authorization: { credentials_file: ... }`).
 *
 * The text is rendered in done(), on the loop thread, because the
 * registry's hooks read loop-owned state (queue sizes, spool figures). */
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "http/http_internal.h"
#include "metrics/metrics.h"
#include "store/store.h"
#include "util/config.h"
#include "util/log.h"

/* http_metrics_work() runs on a worker: the key check when one is needed. */
void
http_metrics_work(struct http_req *r)
{
	char *err = NULL;
	int rc;

	if (r->srv->cfg->http_metrics_public)
		return;
	if (r->token == NULL) {
		http_req_problem(r, 401, "unauthorized", "Unauthorized",
		    "http.metrics_public is off: an API key is required: Authorization: Bearer KEY",
		    NULL);
		return;
	}
	rc = store_key_verify(r->srv->st, r->token, &r->account, &r->scope, &err);
	if (rc == STORE_NOTFOUND) {
		http_req_problem(r, 401, "unauthorized", "Unauthorized", "unknown API key", NULL);
	} else if (rc != 0) {
		log_error("http", "key check failed: %s", err ? err : "?");
		http_req_problem(r, 503, "unavailable", "Service Unavailable", "the store failed", NULL);
	}
	free(err);
}

/* http_metrics_done() renders the registry on the loop thread and answers. */
void
http_metrics_done(struct http_req *r)
{
	struct buf b = { 0 };

	metrics_render(NULL, &b);
	r->raw = buf_steal(&b, &r->raw_len);
	r->raw_type = METRICS_CONTENT_TYPE;
	r->status = 200;
	http_req_finish(r);
}
