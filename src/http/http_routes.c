/* http_routes: the API endpoints (SPEC.md "HTTP API"). Each route has a
 * work() run on a worker thread (authentication has run before it: r->account
 * and r->scope are set) and an optional done() on the loop thread for what
 * must happen there (the spool). docs/openapi.yaml documents this table; a
 * test keeps the two in step. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/auth.h"
#include "auth/auth_domain_check.h"
#include "dkim/dkim_keys.h"
#include "events/events.h"
#include "http/http_events.h"
#include "http/http_internal.h"
#include "http/http_msg.h"
#include "http/http_webhooks.h"
#include "metrics/metrics.h"
#include "mime/mime_build.h"
#include "spool/spool.h"
#include "store/store.h"
#include "util/config.h"
#include "util/id.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

#define HTTP_BATCH_MAX	500
/* A batch larger than HTTP_BATCH_INLINE is prepared (validated, built,
 * signed) in up to HTTP_BATCH_CHUNKS work items at once, so one client's
 * batch uses every core, not one worker. */
#define HTTP_BATCH_INLINE	64
#define HTTP_BATCH_CHUNKS	4

/* ---- sending ---- */

/* The account's sending domains, read once per request (a batch repeats
 * the check for every message). */
struct domcache {
	int			 loaded;
	int			 failed;
	struct store_domain	*v;
	size_t			 n;
};

/* domain_check(): 1 when domain is one of the account's domains or a
 * subdomain of one (auth_domain_allowed, as for SMTP), 0 when
 * not, -1 when it is but not verified and server.require_verified_domains is
 * on, -2 when the store failed. */
static int
domain_check(struct http_req *r, const char *domain, struct domcache *dc)
{
	size_t i;
	int found = 0, verified = 0;

	if (!dc->loaded) {
		char *err = NULL;
		dc->loaded = 1;
		if (store_domain_list_info(r->srv->st, r->account, &dc->v, &dc->n, &err) != 0) {
			log_error("http", "domain lookup failed: %s", err ? err : "?");
			dc->failed = 1;
		}
		free(err);
	}
	if (dc->failed)
		return -2;
	for (i = 0; i < dc->n; i++) {
		/* the one rule for "a domain of the account" (SMTP uses it too) */
		char *one[2] = { dc->v[i].domain, NULL };
		if (auth_domain_allowed(one, domain)) {
			found = 1;
			verified |= dc->v[i].verified;
		}
	}
	if (!found)
		return 0;
	return verified || !r->srv->cfg->require_verified_domains ? 1 : -1;
}

static void
domcache_free(struct domcache *dc)
{
	if (dc->v != NULL)
		store_domain_list_info_free(dc->v, dc->n);
}

static void
random_token(char *out, size_t n)
{
	static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char rnd[64];
	size_t i;

	id_random_bytes(rnd, n);
	for (i = 0; i < n; i++)
		out[i] = alnum[rnd[i] % 62];
	out[n] = '\0';
}

/* prepare_job() validates one message and builds it; on any problem the
 * job gets a 4xx/5xx status and a problem document as its result. */
static void
prepare_job(struct http_req *r, json_t *v, struct http_job *j, struct domcache *dc)
{
	struct http_errors e = { 0 };
	struct http_send s;
	const struct config *cfg = r->srv->cfg;
	char qid[ID_LEN + 1], token[25], date[64], *why = NULL;
	unsigned flags = 0;
	int ok;

	j->req = r;
	if (http_send_parse(v, cfg->max_recipients, &s, &e) < 0) {
		j->status = 422;
		j->result = http_problem(422, "invalid-message", "Invalid message", NULL, &e);
		return;
	}
	ok = domain_check(r, s.from_domain, dc);
	if (ok != 1) {
		if (ok == -2) {
			j->status = 503;
			j->result = http_problem(503, "unavailable", "Service Unavailable",
			    "the store failed", NULL);
		} else {
			http_errors_add(&e, "from", ok == 0 ?
			    "the domain %s is not a sending domain of your account" :
			    "the domain %s is not verified yet (see GET /v1/domains/{domain})",
			    s.from_domain);
			j->status = 422;
			j->result = http_problem(422, "invalid-message", "Invalid message", NULL, &e);
		}
		http_send_free(&s);
		return;
	}
	id_new(qid);
	j->message_id = xasprintf("%s@%s", qid, cfg->hostname);
	random_token(token, 24);
	time_rfc5322(time_now_ms(), date, sizeof date);
	s.mime.message_id = j->message_id;
	s.mime.date_ms = time_now_ms();
	s.mime.boundary_token = token;
	{
		char *prefix = xasprintf("Received: from [%s] by %s (hermod) with HTTP;\r\n\t%s\r\n",
		    r->client[0] ? r->client : "unknown", cfg->hostname, date);
		s.mime.prefix = prefix;
		if (mime_build(&s.mime, &j->msg, &flags, &why) < 0) {
			http_errors_add(&e, why ? why : "", "cannot be encoded");
			j->status = 422;
			j->result = http_problem(422, "invalid-message", "Invalid message", NULL, &e);
		}
		free(prefix);
	}
	free(why);
	if (j->status == 0 && j->msg.len > cfg->max_message_size) {
		http_errors_add(&e, "attachments", "the message (%zu bytes) is over max_message_size",
		    j->msg.len);
		j->status = 422;
		j->result = http_problem(422, "invalid-message", "Invalid message", NULL, &e);
	}
	if (j->status == 0) {
		/* DKIM: signed once, here on the worker, before the spool; a
		 * domain without a key goes unsigned (DKIM_KEYS_NOKEY) */
		char *derr = NULL;

		if (dkim_keyring_sign_message(r->srv->dkim, &j->msg,
		    (long long)(time_now_ms() / 1000), &derr) < 0) {
			/* the domain has a key that cannot sign now: refuse, as
			 * SMTP does with 451, rather than send it unsigned */
			log_error("http", "DKIM signing failed for %s: %s", j->message_id,
			    derr ? derr : "?");
			j->status = 503;
			j->result = http_problem(503, "signing-failed", "Service Unavailable",
			    "DKIM signing failed; try again later", NULL);
		}
		free(derr);
	}
	if (j->status == 0) {
		j->mail_from = s.from_email;
		s.from_email = NULL;
		j->meta_json = s.meta_json;
		s.meta_json = NULL;
		j->rcpts = s.rcpts;
		j->nrcpt = s.nrcpt;
		s.rcpts = NULL;
		s.nrcpt = 0;
		j->smtputf8 = s.smtputf8 || (flags & MIME_F_SMTPUTF8);
		/* the account's suppression list: dropped, listed in the answer */
		http_suppress_filter(r, j);
	} else {
		buf_free(&j->msg);
	}
	http_send_free(&s);
}

static json_t *
load_body(struct http_req *r)
{
	json_error_t jerr;
	const char *why = NULL;
	json_t *v = http_json_load(r->body.data ? r->body.data : "", r->body.len, &jerr, &why);

	if (v == NULL) {
		struct http_errors e = { 0 };
		http_errors_add(&e, "body", "%s", why);
		http_req_problem(r, 400, "malformed-json", "Malformed JSON", why, &e);
	}
	return v;
}

static void
send_work(struct http_req *r)
{
	json_t *v = load_body(r);
	struct domcache dc = { 0 };

	if (v == NULL)
		return;
	r->jobs = xcalloc(1, sizeof *r->jobs);
	r->njobs = 1;
	prepare_job(r, v, &r->jobs[0], &dc);
	domcache_free(&dc);
	json_decref(v);
	if (r->jobs[0].status != 0) {
		http_req_answer(r, r->jobs[0].status, json_incref(r->jobs[0].result));
		r->problem = 1;
	}
}

static void
batch_work(struct http_req *r)
{
	json_t *v = load_body(r), *msgs;
	struct domcache dc = { 0 };
	size_t i;
	struct http_errors e = { 0 };

	if (v == NULL)
		return;
	r->batch = 1;
	msgs = json_object_get(v, "messages");
	if (!json_is_object(v) || !json_is_array(msgs) || json_array_size(msgs) == 0) {
		http_errors_add(&e, "messages", "required: an array of 1 to %d messages", HTTP_BATCH_MAX);
	} else if (json_array_size(msgs) > HTTP_BATCH_MAX) {
		http_errors_add(&e, "messages", "more than %d messages", HTTP_BATCH_MAX);
	} else if (json_object_size(v) != 1) {
		http_errors_add(&e, "", "only \"messages\" is allowed at the top level");
	}
	if (http_errors_count(&e) > 0) {
		http_req_problem(r, 422, "invalid-request", "Invalid request", NULL, &e);
		json_decref(v);
		return;
	}
	r->njobs = json_array_size(msgs);
	r->jobs = xcalloc(r->njobs, sizeof *r->jobs);
	if (r->njobs > HTTP_BATCH_INLINE) {
		r->json = v;		/* batch_done() splits the work */
		return;
	}
	for (i = 0; i < r->njobs; i++)
		prepare_job(r, json_array_get(msgs, i), &r->jobs[i], &dc);
	domcache_free(&dc);
	json_decref(v);
}

struct batch_chunk {
	uv_work_t	 work;
	struct http_req	*r;
	size_t		 start, end;
};

/* chunk_work() prepares jobs [start, end) on a worker. Chunks touch
 * disjoint messages of the shared JSON tree (and only read the rest), so no
 * lock is needed; each has its own domain cache. */
static void
chunk_work(uv_work_t *w)
{
	struct batch_chunk *c = w->data;
	json_t *msgs = json_object_get(c->r->json, "messages");
	struct domcache dc = { 0 };
	size_t i;

	for (i = c->start; i < c->end; i++)
		prepare_job(c->r, json_array_get(msgs, i), &c->r->jobs[i], &dc);
	domcache_free(&dc);
}

static void send_done(struct http_req *r);

static void
chunk_after(uv_work_t *w, int status)
{
	struct batch_chunk *c = w->data;
	struct http_req *r = c->r;

	if (--r->chunks_left > 0)
		return;
	json_decref(r->json);
	r->json = NULL;
	send_done(r);
}

/* batch_done() runs on the loop after authentication and the top-level
 * checks: a large batch is prepared in chunks, then submitted. */
static void
batch_done(struct http_req *r)
{
	struct batch_chunk *chunks;
	size_t n = r->njobs, k, nchunks;

	if (r->json == NULL) {
		send_done(r);
		return;
	}
	nchunks = (n + HTTP_BATCH_INLINE - 1) / HTTP_BATCH_INLINE;
	if (nchunks > HTTP_BATCH_CHUNKS)
		nchunks = HTTP_BATCH_CHUNKS;
	chunks = xcalloc(nchunks, sizeof *chunks);
	r->chunks = chunks;
	r->chunks_left = nchunks;
	for (k = 0; k < nchunks; k++) {
		chunks[k].r = r;
		chunks[k].start = k * n / nchunks;
		chunks[k].end = (k + 1) * n / nchunks;
		chunks[k].work.data = &chunks[k];
		if (uv_queue_work(r->srv->loop, &chunks[k].work, chunk_work, chunk_after) != 0) {
			chunk_work(&chunks[k].work);	/* cannot happen with a live loop */
			chunk_after(&chunks[k].work, 0);
		}
	}
}

static json_t *
accepted_body(const struct http_job *j, const char *id)
{
	json_t *o = json_object(), *rc = json_array();
	size_t i;

	json_object_set_new(o, "id", json_string(id));
	json_object_set_new(o, "message_id", json_string(j->message_id));
	for (i = 0; i < j->nrcpt; i++)
		json_array_append_new(rc, json_pack("{s:s, s:s}", "email", j->rcpts[i], "status",
		    "queued"));
	http_suppress_answer(j, rc);
	json_object_set_new(o, "recipients", rc);
	return o;
}

/* send_complete() answers once every job of r is final. */
static void
send_complete(struct http_req *r)
{
	size_t i;

	if (r->batch) {
		json_t *res = json_array();
		for (i = 0; i < r->njobs; i++) {
			json_t *x = json_deep_copy(r->jobs[i].result);
			json_object_set_new(x, "index", json_integer((json_int_t)i));
			json_object_set_new(x, "status", json_integer(r->jobs[i].status));
			json_array_append_new(res, x);
		}
		http_req_answer(r, 200, json_pack("{s:o}", "results", res));
	} else {
		http_req_answer(r, r->jobs[0].status, json_incref(r->jobs[0].result));
		r->problem = r->jobs[0].status >= 400;
	}
	if (r->idem_key != NULL) {
		http_idem_complete(r->srv, r);
		return;
	}
	http_req_finish(r);
}

static void
on_committed(int err, const char *id, void *arg)
{
	struct http_job *j = arg;
	struct http_req *r = j->req;

	if (err != 0) {
		j->status = 503;
		j->result = http_problem(503, "spool-failed", "Service Unavailable",
		    "the message could not be stored; nothing was queued, try again", NULL);
		log_error("http", "spool write failed: %s", strerror(-err));
		http_account_give_back(r, j);
	} else {
		struct log_line *l = log_begin(LOG_INFO, "http");
		j->status = 202;
		j->result = accepted_body(j, id);
		/* durable now: one queued event per recipient (events.h) */
		events_emit_queued(spool_get(r->srv->sp, id));
		http_suppress_events(r, j, id);
		metrics_accepted("http", j->nrcpt);
		log_str(l, "msg", "accepted");
		log_str(l, "id", id);
		log_str(l, "message_id", j->message_id);
		log_str(l, "account", r->account);
		log_int(l, "recipients", (int64_t)j->nrcpt);
		log_int(l, "size", (int64_t)j->msg.len);
		log_end(l);
	}
	buf_free(&j->msg);
	if (--r->pending == 0)
		send_complete(r);
}

static void
send_done(struct http_req *r)
{
	size_t i, k;

	r->pending = 1;		/* held while submitting, so no early completion */
	for (i = 0; i < r->njobs; i++) {
		struct http_job *j = &r->jobs[i];
		struct spool_env env;
		struct spool_rcpt *rc;
		int err;

		if (j->status != 0)
			continue;
		if (j->nrcpt == 0) {
			/* every recipient suppressed: nothing to queue */
			j->status = 200;
			j->result = http_suppress_all_dropped(r, j);
			buf_free(&j->msg);
			continue;
		}
		/* the account's limits: over them, this message is answered 429
		 * and the others of a batch go on */
		if (http_account_take(r, j) != 0)
			continue;
		memset(&env, 0, sizeof env);
		rc = xcalloc(j->nrcpt, sizeof *rc);
		for (k = 0; k < j->nrcpt; k++)
			rc[k].addr = j->rcpts[k];
		env.account = r->account;
		env.mail_from = j->mail_from;
		env.ret = SPOOL_RET_NONE;
		env.flags = j->smtputf8 ? SPOOL_F_SMTPUTF8 : 0;
		env.message_id = j->message_id;
		env.client = r->client;
		env.meta_json = j->meta_json;
		env.size = j->msg.len;
		env.nrcpt = j->nrcpt;
		env.rcpt = rc;
		r->pending++;
		err = spool_submit(r->srv->sp, &env, j->msg.data, j->msg.len, on_committed, j);
		free(rc);
		if (err != 0) {
			r->pending--;
			http_account_give_back(r, j);
			j->status = 503;
			j->result = http_problem(503, "spool-failed", "Service Unavailable",
			    "the spool refused the message; nothing was queued", NULL);
		}
	}
	if (--r->pending == 0)
		send_complete(r);
}

/* ---- messages ---- */

static void
on_raw(int err, const char *id, const char *msg, size_t len, void *arg)
{
	struct http_req *r = arg;

	if (err != 0) {
		http_req_problem(r, err == -ENOENT ? 404 : 503, err == -ENOENT ? "not-found" :
		    "unavailable", err == -ENOENT ? "Not Found" : "Service Unavailable",
		    "the message could not be read", NULL);
	} else {
		r->raw = xmalloc(len + 1);
		memcpy(r->raw, msg, len);
		r->raw_len = len;
		r->status = 200;
	}
	http_req_finish(r);
}

/* message_raw(): the message as queued, like Postfix's postcat -q. */
static void
message_raw(struct http_req *r)
{
	const struct spool_env *env = id_valid(r->param) ? spool_get(r->srv->sp, r->param) : NULL;

	if (env == NULL || env->account == NULL || strcmp(env->account, r->account) != 0 ||
	    spool_read(r->srv->sp, env->id, on_raw, r) != 0) {
		http_req_problem(r, 404, "not-found", "Not Found",
		    "no queued message with this id in your account", NULL);
		http_req_finish(r);
	}
}

/* ---- domains ---- */

/* domain_json() describes a domain with the DNS records to publish. With
 * a DKIM selector recorded, the key is loaded (dkim_domain_setup() reuses
 * existing keys, never replaces them); without one only SPF, DMARC and the
 * bounce MX are listed. Runs on a worker (key files). */
static json_t *
domain_json(struct http_req *r, const char *domain, int verified, const char *selector,
    const char *algo)
{
	const struct config *cfg = r->srv->cfg;
	struct dkim_records recs = { 0 };
	struct buf b = { 0 };
	json_t *o, *parsed;
	json_error_t jerr;
	char *err = NULL;

	if (selector != NULL) {
		int algos = algo == NULL ? DKIM_ALGO_RSA : (strstr(algo, "rsa") ? DKIM_ALGO_RSA : 0) |
		    (strstr(algo, "ed25519") ? DKIM_ALGO_ED25519 : 0);
		if (dkim_domain_setup(cfg->data_dir, domain, selector, algos, cfg->hostname,
		    cfg->in_bounce_domain, &recs, &err) < 0) {
			log_error("http", "DKIM records for %s: %s", domain, err ? err : "?");
			free(err);
			memset(&recs, 0, sizeof recs);
			selector = NULL;
		}
	}
	if (selector == NULL) {
		struct dkim_records_params p = { .domain = domain, .hostname = cfg->hostname };
		dkim_records_build(&p, &recs);
	}
	dkim_records_json(&recs, &b);
	dkim_records_free(&recs);
	parsed = json_loadb(b.data ? b.data : "", b.len, 0, &jerr);
	buf_free(&b);
	o = json_pack("{s:s, s:b}", "domain", domain, "verified", verified);
	json_object_set(o, "records", parsed && json_is_array(json_object_get(parsed, "records")) ?
	    json_object_get(parsed, "records") : json_array());
	json_decref(parsed);
	return o;
}

static void
domains_list(struct http_req *r)
{
	struct store_domain *v = NULL;
	char *err = NULL;
	size_t i, n = 0;
	json_t *arr;

	if (store_domain_list_info(r->srv->st, r->account, &v, &n, &err) != 0) {
		log_error("http", "domain list failed: %s", err ? err : "?");
		http_req_problem(r, 503, "unavailable", "Service Unavailable", "the store failed", NULL);
		free(err);
		return;
	}
	arr = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(arr, domain_json(r, v[i].domain, v[i].verified,
		    v[i].dkim_selector, v[i].dkim_algo));
	store_domain_list_info_free(v, n);
	http_req_answer(r, 200, json_pack("{s:o}", "domains", arr));
}

static void
domain_get(struct http_req *r)
{
	struct store_domain d = { 0 };
	char *norm = auth_domain_normalize(r->param, NULL), *err = NULL;
	int rc = norm ? store_domain_get(r->srv->st, norm, &d, &err) : STORE_NOTFOUND;

	if (rc == 0 && strcmp(d.account, r->account) == 0) {
		/* Look every record up now (this runs on a worker) and report ok /
		 * missing / wrong per record; the check also records whether the
		 * domain is verified. If DNS cannot be asked, answer the records to
		 * publish with the stored state and say why in "check_error". */
		struct buf report;
		char *cerr = NULL;
		int verified = 0;
		json_t *o = NULL;

		buf_init(&report);
		if (auth_domain_check(r->srv->cfg, r->srv->st, d.domain, 1, &report, &verified,
		    &cerr) == 0)
			o = json_loadb(report.data ? report.data : "", report.len, 0, NULL);
		if (o == NULL) {
			o = domain_json(r, d.domain, d.verified, d.dkim_selector, d.dkim_algo);
			json_object_set_new(o, "check_error", json_string(cerr ? cerr : "DNS check failed"));
		}
		http_req_answer(r, 200, o);
		buf_free(&report);
		free(cerr);
	} else if (rc == 0 || rc == STORE_NOTFOUND) {
		http_req_problem(r, 404, "not-found", "Not Found", "no such domain in your account", NULL);
	} else {
		http_req_problem(r, 503, "unavailable", "Service Unavailable", "the store failed", NULL);
	}
	if (rc == 0)
		store_domain_free(&d);
	free(norm);
	free(err);
}

static void
domain_add(struct http_req *r)
{
	json_t *v = load_body(r), *d, *x;
	struct http_errors e = { 0 };
	char *norm = NULL, *err = NULL, sel[64];
	const char *k;
	int rc;

	if (v == NULL)
		return;
	d = json_object_get(v, "domain");
	if (!json_is_object(v) || !json_is_string(d)) {
		http_errors_add(&e, "domain", "required string");
	} else {
		json_object_foreach(v, k, x)
			if (strcmp(k, "domain") != 0)
				http_errors_add(&e, k, "unknown field");
		if ((norm = auth_domain_normalize(json_string_value(d), &err)) == NULL)
			http_errors_add(&e, "domain", "%s", err ? err : "not a valid domain name");
		free(err);
		err = NULL;
	}
	json_decref(v);
	if (http_errors_count(&e) > 0) {
		http_req_problem(r, 422, "invalid-request", "Invalid request", NULL, &e);
		free(norm);
		return;
	}
	/* The key first (a domain is never listed without one), unless the
	 * domain is taken: its records are not ours to show. */
	{
		struct store_domain old = { 0 };
		rc = store_domain_get(r->srv->st, norm, &old, NULL);
		if (rc == 0)
			store_domain_free(&old);
	}
	if (rc == 0) {
		rc = STORE_EXISTS;
	} else {
		struct dkim_records recs = { 0 };
		dkim_keys_default_selector(sel, sizeof sel, (long long)(time_now_ms() / 1000));
		if (dkim_domain_setup(r->srv->cfg->data_dir, norm, sel, DKIM_ALGO_RSA,
		    r->srv->cfg->hostname, r->srv->cfg->in_bounce_domain, &recs, &err) < 0) {
			log_error("http", "DKIM key for %s: %s", norm, err ? err : "?");
			http_req_problem(r, 500, "dkim-failed", "Internal Server Error",
			    "the DKIM key could not be made; nothing was registered", NULL);
			free(norm);
			free(err);
			return;
		}
		dkim_records_free(&recs);
		rc = store_domain_add(r->srv->st, r->account, norm, &err);
		if (rc == 0 && store_domain_set_dkim(r->srv->st, norm, sel, "rsa", NULL) != 0)
			log_warn("http", "domain %s: could not record its DKIM selector", norm);
	}
	if (rc == STORE_EXISTS) {
		http_errors_add(&e, "domain", "already registered");
		http_req_problem(r, 409, "conflict", "Conflict", "the domain is already registered", &e);
	} else if (rc != 0) {
		log_error("http", "domain add failed: %s", err ? err : "?");
		http_req_problem(r, 503, "unavailable", "Service Unavailable", "the store failed", NULL);
	} else {
		log_info("http", "domain %s added for account %s", norm, r->account);
		http_req_answer(r, 201, domain_json(r, norm, 0, sel, "rsa"));
	}
	free(norm);
	free(err);
}

/* ---- health ---- */

static void
healthz(struct http_req *r)
{
	http_req_answer(r, 200, json_pack("{s:s, s:I}", "status", "ok", "queued",
	    (json_int_t)spool_count(r->srv->sp)));
	http_req_finish(r);
}

const struct http_route http_routes[] = {
	{ HTTP_GET, "/healthz", NULL, 0, NULL, healthz },
	{ HTTP_GET, "/metrics", NULL, 0, http_metrics_work, http_metrics_done },
	{ HTTP_POST, "/v1/messages", "send", 1, send_work, send_done },
	{ HTTP_POST, "/v1/messages/batch", "send", 1, batch_work, batch_done },
	{ HTTP_GET, "/v1/messages/{id}", "send", 0, http_message_get_work, http_message_get },
	{ HTTP_GET, "/v1/messages/{id}/raw", "send", 0, NULL, message_raw },
	{ HTTP_GET, "/v1/events", "send", 0, http_events_list, NULL },
	{ HTTP_GET, "/v1/stats", "send", 0, http_stats, NULL },
	{ HTTP_GET, "/v1/domains", "send", 0, domains_list, NULL },
	{ HTTP_POST, "/v1/domains", "admin", 0, domain_add, NULL },
	{ HTTP_GET, "/v1/domains/{domain}", "send", 0, domain_get, NULL },
	{ HTTP_GET, "/v1/account", "send", 0, NULL, http_account_get },
	{ HTTP_POST, "/v1/account/limits", "admin", 0, http_account_limits_work,
	    http_account_limits_done },
	{ HTTP_POST, "/v1/account/pause", "admin", 0, NULL, http_account_pause },
	{ HTTP_POST, "/v1/account/resume", "admin", 0, NULL, http_account_resume },
	{ HTTP_GET, "/v1/suppressions", "send", 0, http_suppress_route_list, NULL },
	{ HTTP_POST, "/v1/suppressions", "send", 0, http_suppress_route_add, NULL },
	{ HTTP_DELETE, "/v1/suppressions/{address}", "admin", 0, http_suppress_route_delete, NULL },
	{ HTTP_GET, "/v1/webhooks", "send", 0, http_webhooks_list, NULL },
	{ HTTP_POST, "/v1/webhooks", "admin", 0, http_webhooks_create, NULL },
	{ HTTP_DELETE, "/v1/webhooks/{id}", "admin", 0, http_webhooks_delete, NULL },
	{ HTTP_OTHER, NULL, NULL, 0, NULL, NULL },
};

const char *const *
http_route_names(void)
{
	static char *names[sizeof http_routes / sizeof http_routes[0]];
	size_t i;

	if (names[0] == NULL)
		for (i = 0; http_routes[i].path != NULL; i++)
			names[i] = xasprintf("%s %s", http_routes[i].method == HTTP_GET ? "GET" :
			    http_routes[i].method == HTTP_POST ? "POST" : "DELETE", http_routes[i].path);
	return (const char *const *)names;
}
