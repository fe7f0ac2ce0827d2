/* http_suppress: the suppression list over the API (SPEC.md "HTTP API",
 * docs/suppressions.md) and its part in a send.
 *
 *   GET    /v1/suppressions?limit=&cursor=&reason=   (scope send)
 *   POST   /v1/suppressions   {"email", "reason"?} or an array of them (send)
 *   DELETE /v1/suppressions/{address}                (scope admin)
 *
 * Adding takes a send key (it can only make the account send less);
 * removing takes an admin key, since it makes mail flow again to people
 * who complained or bounced. Every handler runs on a worker (the store).
 *
 * In a send, http_suppress_filter() takes the account's suppressed
 * addresses out of a prepared message (worker), the 202 lists them as
 * {"email", "status": "dropped", "reason": "suppressed"}, and each gets a
 * `dropped` event. A message whose every recipient is suppressed is not
 * queued: it is answered 200 (not 202: nothing was accepted for delivery;
 * not an error: the list did what it is for) with "id": null. */
#include <stdlib.h>
#include <string.h>

#include "http/http_internal.h"
#include "http/http_server.h"
#include "store/store.h"
#include "suppress/suppress.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

#define HTTP_SUPPRESS_LIST_DEFAULT	100
#define HTTP_SUPPRESS_LIST_MAX		1000
#define HTTP_SUPPRESS_ADD_MAX		1000	/* addresses in one POST */

void
http_server_set_suppress(struct http_server *srv, struct suppress *sp)
{
	srv->suppress = sp;
}

/* ---- sends ---- */

void
http_suppress_filter(struct http_req *r, struct http_job *j)
{
	size_t i, k = 0;

	if (r->srv->suppress == NULL)
		return;
	for (i = 0; i < j->nrcpt; i++) {
		if (suppress_check(r->srv->suppress, r->account, j->rcpts[i])) {
			j->dropped = xrealloc(j->dropped, (j->ndropped + 1) * sizeof(*j->dropped));
			j->dropped[j->ndropped++] = j->rcpts[i];
		} else {
			j->rcpts[k++] = j->rcpts[i];
		}
	}
	j->nrcpt = k;
}

void
http_suppress_answer(const struct http_job *j, json_t *recipients)
{
	for (size_t i = 0; i < j->ndropped; i++)
		json_array_append_new(recipients, json_pack("{s:s, s:s, s:s}", "email",
		    j->dropped[i], "status", "dropped", "reason", "suppressed"));
}

void
http_suppress_events(const struct http_req *r, const struct http_job *j, const char *id)
{
	for (size_t i = 0; i < j->ndropped; i++)
		suppress_drop_event(r->account, id, j->message_id, j->dropped[i], -1, j->meta_json);
}

json_t *
http_suppress_all_dropped(const struct http_req *r, const struct http_job *j)
{
	json_t *o = json_object(), *rc = json_array();

	http_suppress_answer(j, rc);
	json_object_set_new(o, "id", json_null());
	json_object_set_new(o, "message_id", json_string(j->message_id));
	json_object_set_new(o, "recipients", rc);
	http_suppress_events(r, j, NULL);
	{
		struct log_line *l = log_begin(LOG_INFO, "http");
		log_str(l, "msg", "not queued: every recipient is suppressed");
		log_str(l, "message_id", j->message_id);
		log_str(l, "account", r->account);
		log_int(l, "dropped", (int64_t)j->ndropped);
		log_end(l);
	}
	return o;
}

/* ---- the list ---- */

static json_t *
suppression_json(const struct store_suppression *s)
{
	char when[40];

	time_iso8601((uint64_t)s->created, 0, when, sizeof when);
	return json_pack("{s:s, s:s, s:s?, s:s, s:s}", "email", s->address, "reason", s->reason,
	    "source", s->source, "who", s->who, "created", when);
}

static void
store_failed(struct http_req *r, const char *what, char *err)
{
	log_error("http", "suppressions: %s: %s", what, err ? err : "?");
	free(err);
	http_req_problem(r, 503, "unavailable", "Service Unavailable", "the store failed", NULL);
}

static const char *
query(struct http_req *r, const char *key)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

static int
parse_int(const char *s, long long lo, long long hi, long long *out)
{
	char *end;
	long long v;

	if (s == NULL || *s == '\0')
		return -1;
	v = strtoll(s, &end, 10);
	if (*end != '\0' || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static void
suppressions_list(struct http_req *r)
{
	const char *limit = query(r, "limit"), *cursor = query(r, "cursor"), *reason = query(r, "reason");
	struct http_errors e = { 0 };
	struct store_suppression *v = NULL;
	long long lim = HTTP_SUPPRESS_LIST_DEFAULT, after = 0;
	size_t n = 0, i;
	char *err = NULL;
	json_t *arr;

	if (limit != NULL && parse_int(limit, 1, HTTP_SUPPRESS_LIST_MAX, &lim) < 0)
		http_errors_add(&e, "limit", "an integer from 1 to %d", HTTP_SUPPRESS_LIST_MAX);
	if (cursor != NULL && parse_int(cursor, 0, INT64_MAX, &after) < 0)
		http_errors_add(&e, "cursor", "the \"next\" of a previous page");
	if (reason != NULL && !suppress_reason_valid(reason))
		http_errors_add(&e, "reason", "one of hard_bounce, soft_bounce, complaint, "
		    "unsubscribe, manual");
	if (http_errors_count(&e) > 0) {
		http_req_problem(r, 422, "invalid-request", "Invalid request", NULL, &e);
		return;
	}
	if (store_suppress_list(r->srv->st, r->account, reason, after, (size_t)lim, &v, &n,
	    &err) != 0) {
		store_failed(r, "list", err);
		return;
	}
	arr = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(arr, suppression_json(&v[i]));
	{
		/* a full page may have a next one; the cursor is the last row's id */
		char next[32];
		snprintf(next, sizeof next, "%lld", n > 0 ? (long long)v[n - 1].id : 0LL);
		http_req_answer(r, 200, json_pack("{s:o, s:o}", "suppressions", arr, "next",
		    n == (size_t)lim ? json_string(next) : json_null()));
	}
	store_suppression_list_free(v, n);
}

/* check_item() validates one {"email", "reason"?}; field names in errors
 * are prefixed with "[i]." for a list. */
static void
check_item(json_t *it, const char *prefix, struct http_errors *e)
{
	json_t *em = json_object_get(it, "email"), *rs = json_object_get(it, "reason"), *x;
	const char *why = NULL, *k;
	char field[320], *norm;

	if (!json_is_object(it)) {
		http_errors_add(e, prefix[0] ? prefix : "body", "an object {\"email\", \"reason\"}");
		return;
	}
	json_object_foreach(it, k, x) {
		if (strcmp(k, "email") != 0 && strcmp(k, "reason") != 0) {
			snprintf(field, sizeof field, "%s%s", prefix, k);
			http_errors_add(e, field, "unknown field");
		}
	}
	snprintf(field, sizeof field, "%semail", prefix);
	if (!json_is_string(em)) {
		http_errors_add(e, field, "required string");
	} else if ((norm = suppress_addr_normalize(json_string_value(em), &why)) == NULL) {
		http_errors_add(e, field, "%s", why ? why : "not an email address");
	} else {
		free(norm);
	}
	snprintf(field, sizeof field, "%sreason", prefix);
	if (rs != NULL && !json_is_null(rs) && (!json_is_string(rs) ||
	    !suppress_reason_valid(json_string_value(rs))))
		http_errors_add(e, field, "one of hard_bounce, soft_bounce, complaint, unsubscribe, "
		    "manual");
}

static void
suppressions_add(struct http_req *r)
{
	json_error_t jerr;
	const char *why = NULL;
	json_t *v = http_json_load(r->body.data ? r->body.data : "", r->body.len, &jerr, &why);
	json_t *results, *it;
	struct http_errors e = { 0 };
	size_t i, n;
	int single;

	if (v == NULL) {
		http_errors_add(&e, "body", "%s", why);
		http_req_problem(r, 400, "malformed-json", "Malformed JSON", why, &e);
		return;
	}
	single = !json_is_array(v);
	n = single ? 1 : json_array_size(v);
	if (!single && (n == 0 || n > HTTP_SUPPRESS_ADD_MAX)) {
		http_errors_add(&e, "body", "an array of 1 to %d suppressions", HTTP_SUPPRESS_ADD_MAX);
	} else if (single) {
		check_item(v, "", &e);
	} else {
		json_array_foreach(v, i, it) {
			char prefix[32];
			snprintf(prefix, sizeof prefix, "[%zu].", i);
			check_item(it, prefix, &e);
		}
	}
	if (http_errors_count(&e) > 0) {
		http_req_problem(r, 422, "invalid-request", "Invalid request", NULL, &e);
		json_decref(v);
		return;
	}
	results = json_array();
	for (i = 0; i < n; i++) {
		json_t *item = single ? v : json_array_get(v, i);
		const char *email = json_string_value(json_object_get(item, "email"));
		const char *reason = json_string_value(json_object_get(item, "reason"));
		struct store_suppression row;
		char *err = NULL;
		int rc;

		if (reason == NULL)
			reason = "manual";
		rc = suppress_add(r->srv->suppress, r->account, email, reason, NULL, "api", &err);
		if (rc != 0 && rc != STORE_EXISTS) {
			store_failed(r, "add", err);
			json_decref(results);
			json_decref(v);
			return;
		}
		if (store_suppress_get(r->srv->st, r->account, email, &row, NULL) == 0) {
			json_t *o = suppression_json(&row);
			json_object_set_new(o, "status", json_string(rc == 0 ? "added" : "exists"));
			json_array_append_new(results, o);
			store_suppression_free(&row);
		}
	}
	json_decref(v);
	if (single) {
		json_t *o = json_incref(json_array_get(results, 0));
		int added = o && strcmp(json_string_value(json_object_get(o, "status")), "added") == 0;
		json_decref(results);
		if (o == NULL)
			http_req_problem(r, 503, "unavailable", "Service Unavailable", "the store failed",
			    NULL);
		else
			http_req_answer(r, added ? 201 : 200, o);
	} else {
		http_req_answer(r, 200, json_pack("{s:o}", "results", results));
	}
}

static void
suppression_delete(struct http_req *r)
{
	char *err = NULL;
	int rc = suppress_remove(r->srv->suppress, r->account, r->param, "api", &err);

	if (rc == STORE_NOTFOUND) {
		free(err);
		http_req_problem(r, 404, "not-found", "Not Found",
		    "this address is not on your account's suppression list", NULL);
	} else if (rc != 0) {
		store_failed(r, "remove", err);
	} else {
		http_req_answer(r, 200, json_pack("{s:s, s:s}", "email", r->param, "status",
		    "removed"));
	}
}

/* The route table's entries (http_routes.c lists them). */
void
http_suppress_route_list(struct http_req *r)
{
	suppressions_list(r);
}

void
http_suppress_route_add(struct http_req *r)
{
	if (r->srv->suppress == NULL) {
		http_req_problem(r, 503, "unavailable", "Service Unavailable",
		    "suppressions are not available", NULL);
		return;
	}
	suppressions_add(r);
}

void
http_suppress_route_delete(struct http_req *r)
{
	if (r->srv->suppress == NULL) {
		http_req_problem(r, 503, "unavailable", "Service Unavailable",
		    "suppressions are not available", NULL);
		return;
	}
	suppression_delete(r);
}
