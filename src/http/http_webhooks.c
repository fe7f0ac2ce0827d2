/* http_webhooks: the /v1/webhooks endpoints. Validation happens here (the
 * URL through webhook_url_check, the types through event_type_parse); the
 * store keeps the subscriptions, the dispatcher (src/webhook) is told of a
 * change with webhook_changed() and picks it up on its own loop. */
#include "http/http_webhooks.h"
#include "events/events.h"
#include "http/http_internal.h"
#include "store/store.h"
#include "util/config.h"
#include "util/id.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/xalloc.h"
#include "webhook/webhook.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

/* webhook_json() describes a subscription; secret is added when not NULL
 * (the create answer only). */
static json_t *
webhook_json(const struct store_webhook *w, const char *secret)
{
	json_t *o = json_object(), *ev = json_array();
	char when[40], *types = xstrdup(w->events), *save = NULL, *t;

	for (t = strtok_r(types, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save))
		json_array_append_new(ev, json_string(t));
	free(types);
	json_object_set_new(o, "id", json_string(w->id));
	json_object_set_new(o, "url", json_string(w->url));
	json_object_set_new(o, "events", ev);
	time_iso8601((uint64_t)w->created, 0, when, sizeof when);
	json_object_set_new(o, "created", json_string(when));
	json_object_set_new(o, "status", json_string(w->disabled ? "disabled" : "active"));
	if (w->disabled) {
		time_iso8601((uint64_t)w->disabled, 0, when, sizeof when);
		json_object_set_new(o, "disabled_at", json_string(when));
		json_object_set_new(o, "disabled_reason", w->disabled_reason ?
		    json_string(w->disabled_reason) : json_null());
	}
	if (secret != NULL)
		json_object_set_new(o, "secret", json_string(secret));
	return o;
}

void
http_webhooks_list(struct http_req *r)
{
	struct store_webhook *v = NULL;
	char *err = NULL;
	size_t i, n = 0;
	json_t *arr;

	if (store_webhook_list(r->srv->st, r->account, &v, &n, &err) != 0) {
		log_error("http", "webhook list failed: %s", err ? err : "?");
		http_req_problem(r, 503, "unavailable", "Service Unavailable", "the store failed", NULL);
		free(err);
		return;
	}
	arr = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(arr, webhook_json(&v[i], NULL));
	store_webhook_list_free(v, n);
	http_req_answer(r, 200, json_pack("{s:o}", "webhooks", arr));
}

/* parse_events() turns the "events" array into the stored list ("a,b"), in
 * the order of events.h, each once; field errors go to e. */
static char *
parse_events(json_t *a, struct http_errors *e)
{
	int want[EVENT__COUNT] = { 0 };
	struct buf b = { 0 };
	size_t i;
	json_t *x;

	if (!json_is_array(a) || json_array_size(a) == 0) {
		http_errors_add(e, "events", "required: an array of event types");
		return NULL;
	}
	json_array_foreach(a, i, x) {
		enum event_type t;
		if (!json_is_string(x) || event_type_parse(json_string_value(x), &t) < 0) {
			http_errors_add(e, "events", "events[%zu] is not an event type", i);
			continue;
		}
		want[t] = 1;
	}
	if (http_errors_count(e) > 0)
		return NULL;
	for (int t = 0; t < EVENT__COUNT; t++)
		if (want[t])
			buf_printf(&b, "%s%s", b.len ? "," : "", event_type_name((enum event_type)t));
	return buf_steal(&b, NULL);
}

void
http_webhooks_create(struct http_req *r)
{
	const struct config *cfg = r->srv->cfg;
	struct http_errors e = { 0 };
	struct store_webhook w = { 0 };
	json_error_t jerr;
	const char *why = NULL, *k;
	char id[ID_LEN + 1], secret[WEBHOOK_SECRET_LEN + 1], *events = NULL, *err = NULL;
	json_t *v, *url, *x;
	int rc;

	v = http_json_load(r->body.data ? r->body.data : "", r->body.len, &jerr, &why);
	if (v == NULL) {
		http_errors_add(&e, "body", "%s", why);
		http_req_problem(r, 400, "malformed-json", "Malformed JSON", why, &e);
		return;
	}
	if (!json_is_object(v)) {
		http_errors_add(&e, "body", "a JSON object {\"url\", \"events\"} is expected");
		goto invalid;
	}
	json_object_foreach(v, k, x)
		if (strcmp(k, "url") != 0 && strcmp(k, "events") != 0)
			http_errors_add(&e, k, "unknown field");
	url = json_object_get(v, "url");
	if (!json_is_string(url))
		http_errors_add(&e, "url", "required string");
	else if (webhook_url_check(json_string_value(url), cfg->allow_private_targets, &why) < 0)
		http_errors_add(&e, "url", "%s", why);
	events = parse_events(json_object_get(v, "events"), &e);
	if (http_errors_count(&e) > 0)
		goto invalid;

	id_new(id);
	webhook_secret_new(secret);
	w.id = xasprintf("%s%s", WEBHOOK_ID_PREFIX, id);
	w.account = r->account;
	w.url = (char *)json_string_value(url);
	w.events = events;
	w.secret = secret;
	/* a new subscription gets the events that happen from now on */
	w.cursor = webhook_head_seq();
	rc = store_webhook_create(r->srv->st, &w, (size_t)cfg->wh_max_per_account, &err);
	if (rc == 0) {
		struct log_line *l;

		w.created = (int64_t)time_now_ms();
		http_req_answer(r, 201, webhook_json(&w, secret));
		l = log_begin(LOG_INFO, "webhook");
		log_str(l, "msg", "subscription created");
		log_str(l, "webhook", w.id);
		log_str(l, "account", r->account);
		/* without query and fragment: receivers put tokens there */
		log_strn(l, "url", w.url, strcspn(w.url, "?#"));
		log_str(l, "events", events);
		log_end(l);
		webhook_changed();
	} else if (rc == STORE_FULL) {
		http_errors_add(&e, "url", "the account has %llu subscriptions already "
		    "(webhooks.max_per_account)", (unsigned long long)cfg->wh_max_per_account);
		http_req_problem(r, 422, "too-many-webhooks", "Too many webhooks", NULL, &e);
	} else if (rc == STORE_NOTFOUND) {
		http_req_problem(r, 403, "forbidden", "Forbidden", "the account no longer exists", NULL);
	} else {
		log_error("http", "webhook create failed: %s", err ? err : "?");
		http_req_problem(r, 503, "unavailable", "Service Unavailable", "the store failed", NULL);
	}
	sodium_memzero(secret, sizeof secret);
	free(w.id);
	free(events);
	free(err);
	json_decref(v);
	return;
invalid:
	http_req_problem(r, 422, "invalid-request", "Invalid request", NULL, &e);
	free(events);
	json_decref(v);
}

void
http_webhooks_delete(struct http_req *r)
{
	char *err = NULL;
	int rc = store_webhook_delete(r->srv->st, r->account, r->param, &err);

	if (rc == 0) {
		log_info("webhook", "subscription %s deleted by account %s", r->param, r->account);
		http_req_answer(r, 204, NULL);
		webhook_changed();
	} else if (rc == STORE_NOTFOUND) {
		http_req_problem(r, 404, "not-found", "Not Found", "no such webhook in your account",
		    NULL);
	} else {
		log_error("http", "webhook delete failed: %s", err ? err : "?");
		http_req_problem(r, 503, "unavailable", "Service Unavailable", "the store failed", NULL);
	}
	free(err);
}
