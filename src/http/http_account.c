/* http_account: the account's own view and controls (issue 7):
 *   GET  /v1/account           (send)  limits, usage per window, reputation
 *   POST /v1/account/limits    (admin) set the account's limits
 *   POST /v1/account/pause     (admin) pause sending (mail is held)
 *   POST /v1/account/resume    (admin) resume; held mail is delivered
 * and the limit check of every send (http_account_take). A key acts on its
 * own account only. docs/openapi.yaml and docs/accounts.md describe them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account/account_state.h"
#include "http/http_internal.h"
#include "http/http_server.h"
#include "store/store.h"
#include "util/log.h"
#include "util/xalloc.h"

void
http_server_set_accounts(struct http_server *srv, struct account_state *a)
{
	srv->accounts = a;
}

int
http_account_take(struct http_req *r, struct http_job *j)
{
	struct limiter_refusal why;
	unsigned secs;
	char *detail;

	if (r->srv->accounts == NULL ||
	    account_state_take(r->srv->accounts, r->account, j->nrcpt, &why) == 0)
		return 0;
	/* Retry-After in whole seconds, rounded up: never "0", which would
	 * invite an immediate retry that fails again */
	secs = (unsigned)((why.retry_ms + 999) / 1000);
	if (secs == 0)
		secs = 1;
	if (secs > r->retry_after)
		r->retry_after = secs;
	detail = xasprintf("account %s is over its limit of %llu recipients per %s; nothing of "
	    "this message was queued: retry in %u s", r->account, (unsigned long long)why.limit,
	    account_window_name(why.window), secs);
	j->status = 429;
	j->result = http_problem(429, "rate-limited", "Too Many Requests", detail, NULL);
	json_object_set_new(j->result, "retry_after", json_integer(secs));
	json_object_set_new(j->result, "limit", json_pack("{s:s, s:I}", "window",
	    account_window_name(why.window), "recipients", (json_int_t)why.limit));
	free(detail);
	buf_free(&j->msg);
	{
		struct log_line *l = log_begin(LOG_INFO, "http");
		log_str(l, "msg", "over the account limit");
		log_str(l, "account", r->account);
		log_str(l, "message_id", j->message_id);
		log_int(l, "recipients", (int64_t)j->nrcpt);
		log_str(l, "window", account_window_name(why.window));
		log_int(l, "retry_after", secs);
		log_end(l);
	}
	return -1;
}

void
http_account_give_back(struct http_req *r, struct http_job *j)
{
	if (r->srv->accounts != NULL)
		account_state_give_back(r->srv->accounts, r->account, j->nrcpt);
}

/* no_accounts() answers when the daemon runs without account state. */
static int
no_accounts(struct http_req *r)
{
	if (r->srv->accounts != NULL)
		return 0;
	http_req_problem(r, 503, "unavailable", "Service Unavailable",
	    "account limits are not available in this daemon", NULL);
	return 1;
}

void
http_account_get(struct http_req *r)
{
	if (!no_accounts(r))
		http_req_answer(r, 200, account_state_json(r->srv->accounts, r->account));
	http_req_finish(r);
}

/* limit_field() reads one limit of the body: absent keeps the current
 * value, null returns to the config's default, else a whole number >= 0. */
static int64_t
limit_field(json_t *body, const char *key, struct http_errors *e)
{
	json_t *v = json_object_get(body, key);

	if (v == NULL)
		return STORE_LIMIT_KEEP;
	if (json_is_null(v))
		return STORE_LIMIT_DEFAULT;
	if (!json_is_integer(v) || json_integer_value(v) < 0) {
		http_errors_add(e, key, "a whole number >= 0 (0: unlimited), or null for the default");
		return STORE_LIMIT_KEEP;
	}
	return (int64_t)json_integer_value(v);
}

/* Worker: validate and write the limits; the loop applies them (done). */
void
http_account_limits_work(struct http_req *r)
{
	json_error_t jerr;
	const char *why = NULL, *k;
	struct http_errors e = { 0 };
	json_t *body, *x;
	int64_t v[3] = { STORE_LIMIT_KEEP, STORE_LIMIT_KEEP, STORE_LIMIT_KEEP };
	char *err = NULL;
	int rc;

	body = http_json_load(r->body.data ? r->body.data : "", r->body.len, &jerr, &why);
	if (body == NULL) {
		http_errors_add(&e, "body", "%s", why);
		http_req_problem(r, 400, "malformed-json", "Malformed JSON", why, &e);
		return;
	}
	if (!json_is_object(body)) {
		http_errors_add(&e, "body", "a JSON object {\"per_second\", \"per_hour\", \"per_day\"}");
	} else {
		json_object_foreach(body, k, x)
			if (strcmp(k, "per_second") && strcmp(k, "per_hour") && strcmp(k, "per_day"))
				http_errors_add(&e, k, "unknown field");
		v[0] = limit_field(body, "per_second", &e);
		v[1] = limit_field(body, "per_hour", &e);
		v[2] = limit_field(body, "per_day", &e);
	}
	json_decref(body);
	if (http_errors_count(&e) > 0) {
		http_req_problem(r, 422, "invalid-request", "Invalid request", NULL, &e);
		return;
	}
	rc = store_account_limits_set(r->srv->st, r->account, v[0], v[1], v[2], &err);
	if (rc != 0) {
		log_error("http", "account %s: setting limits failed: %s", r->account,
		    err ? err : "?");
		http_req_problem(r, 503, "unavailable", "Service Unavailable", "the store failed", NULL);
		free(err);
		return;
	}
	log_info("http", "account %s: limits set through the API", r->account);
	r->json = json_pack("[I, I, I]", (json_int_t)v[0], (json_int_t)v[1], (json_int_t)v[2]);
}

void
http_account_limits_done(struct http_req *r)
{
	if (!no_accounts(r)) {
		account_state_set_limits(r->srv->accounts, r->account,
		    json_integer_value(json_array_get(r->json, 0)),
		    json_integer_value(json_array_get(r->json, 1)),
		    json_integer_value(json_array_get(r->json, 2)));
		http_req_answer(r, 200, account_state_json(r->srv->accounts, r->account));
	}
	http_req_finish(r);
}

/* Pause and resume answer once the store has the change. */
static void
changed(int rc, const char *msg, void *arg)
{
	struct http_req *r = arg;

	if (rc == 0)
		http_req_answer(r, 200, account_state_json(r->srv->accounts, r->account));
	else if (rc == 1)
		http_req_problem(r, 409, "conflict", "Conflict", msg, NULL);
	else
		http_req_problem(r, 503, "unavailable", "Service Unavailable",
		    msg ? msg : "the store failed", NULL);
	http_req_finish(r);
}

void
http_account_pause(struct http_req *r)
{
	if (no_accounts(r)) {
		http_req_finish(r);
		return;
	}
	if (account_state_pause(r->srv->accounts, r->account, "paused by an administrator",
	    changed, r) < 0) {
		http_req_problem(r, 503, "unavailable", "Service Unavailable", NULL, NULL);
		http_req_finish(r);
	}
}

void
http_account_resume(struct http_req *r)
{
	if (no_accounts(r)) {
		http_req_finish(r);
		return;
	}
	if (account_state_resume(r->srv->accounts, r->account, changed, r) < 0) {
		http_req_problem(r, 503, "unavailable", "Service Unavailable", NULL, NULL);
		http_req_finish(r);
	}
}
