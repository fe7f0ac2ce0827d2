/* http_idem: Idempotency-Key for the send endpoints.
 *
 * A repeat within 24 h gets the first answer and queues nothing, also when
 * repeats arrive at the same moment. The map lives on the loop thread, so
 * there is no race between concurrent repeats: the first request to reach
 * http_idem_begin() owns the key (INFLIGHT); later ones park behind it and
 * get a copy of its answer when it has one. 5xx answers are given to the
 * waiters but not kept, so a retry after a spool failure can succeed.
 *
 * Answers (2xx and 4xx) are written to the store before they are sent and
 * stay there 24 h; the map keeps them only HTTP_IDEM_MEM_MS, which bounds
 * its memory. Why the map keeps them at all: a repeat's worker may have
 * looked in the store just before the first answer was written; the map,
 * checked afterwards on the loop thread, still has it then (a worker would
 * have to run for minutes to miss both).
 *
 * The key is scoped to the account and the route; the request body's hash is
 * kept too, and a repeat with another body is refused (422), as a silent
 * "first answer" would hide a client bug. */
#include <stdlib.h>
#include <string.h>

#include "http/http_internal.h"
#include "store/store.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

#define IDEM_BUCKETS	4096

enum idem_state { IDEM_INFLIGHT, IDEM_DONE };

struct idem_entry {
	struct idem_entry *next;
	char		*key;
	unsigned char	 hash[16];
	enum idem_state	 state;
	int		 status;
	int		 problem;
	json_t		*answer;
	uint64_t	 created_ms;
	struct http_req	*waiters;
};

struct http_idem {
	struct idem_entry *b[IDEM_BUCKETS];
	size_t		 n;
};

struct http_idem *
http_idem_new(void)
{
	return xcalloc(1, sizeof(struct http_idem));
}

static void
entry_free(struct idem_entry *e)
{
	free(e->key);
	json_decref(e->answer);
	free(e);
}

void
http_idem_free(struct http_idem *m)
{
	size_t i;

	for (i = 0; i < IDEM_BUCKETS; i++) {
		while (m->b[i]) {
			struct idem_entry *e = m->b[i];
			m->b[i] = e->next;
			entry_free(e);
		}
	}
	free(m);
}

static char *
make_key(const struct http_req *r)
{
	return xasprintf("%s\x1f%s\x1f%s", r->account, r->route->path, r->idem_key);
}

static size_t
bucket(const char *k)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *k; k++)
		h = (h ^ (unsigned char)*k) * 1099511628211ULL;
	return (size_t)(h % IDEM_BUCKETS);
}

static struct idem_entry **
find(struct http_idem *m, const char *k)
{
	struct idem_entry **pp;

	for (pp = &m->b[bucket(k)]; *pp; pp = &(*pp)->next)
		if (strcmp((*pp)->key, k) == 0)
			return pp;
	return NULL;
}

static void
answer_copy(struct http_req *w, int status, int problem, json_t *answer)
{
	http_req_answer(w, status, json_deep_copy(answer));
	w->problem = problem;
}

int
http_idem_begin(struct http_server *srv, struct http_req *r)
{
	char *k = make_key(r);
	struct idem_entry **pp = find(srv->idem, k), *e;

	if (pp != NULL || r->stored_mismatch) {
		e = pp ? *pp : NULL;
		free(k);
		if (e == NULL || memcmp(e->hash, r->body_hash, sizeof e->hash) != 0) {
			struct http_errors errs = { 0 };
			http_errors_add(&errs, "Idempotency-Key",
			    "already used with a different request body");
			http_req_problem(r, 422, "idempotency-mismatch", "Idempotency-Key reused",
			    NULL, &errs);
			http_req_finish(r);
			return 1;
		}
		if (e->state == IDEM_DONE) {
			answer_copy(r, e->status, e->problem, e->answer);
			http_req_finish(r);
		} else {
			r->next_waiter = e->waiters;
			e->waiters = r;
		}
		return 1;
	}
	e = xcalloc(1, sizeof *e);
	e->key = k;
	memcpy(e->hash, r->body_hash, sizeof e->hash);
	e->state = IDEM_INFLIGHT;
	e->created_ms = time_now_ms();
	e->next = srv->idem->b[bucket(k)];
	srv->idem->b[bucket(k)] = e;
	srv->idem->n++;
	if (r->stored_answer != NULL) {
		/* Answered before a restart: the store's record is the answer. */
		json_error_t jerr;
		json_t *a = json_loads(r->stored_answer, 0, &jerr);
		if (a != NULL) {
			http_req_answer(r, r->stored_status, a);
			r->problem = r->stored_status >= 400;
			http_idem_complete(srv, r);
			return 1;
		}
	}
	return 0;
}

void
http_idem_end(struct http_server *srv, struct http_req *r)
{
	char *k = make_key(r);
	struct idem_entry **pp = find(srv->idem, k), *e;
	struct http_req *w, *next;

	free(k);
	if (pp == NULL)
		return;
	e = *pp;
	if (e->state == IDEM_DONE)
		return;
	for (w = e->waiters; w; w = next) {
		next = w->next_waiter;
		answer_copy(w, r->status, r->problem, r->resp);
		http_req_finish(w);
	}
	e->waiters = NULL;
	if (r->status >= 500 || r->status == 429) {
		*pp = e->next;
		srv->idem->n--;
		entry_free(e);
		return;
	}
	e->state = IDEM_DONE;
	e->status = r->status;
	e->problem = r->problem;
	e->answer = json_deep_copy(r->resp);
}

void
http_idem_sweep(struct http_idem *m, uint64_t now_ms)
{
	size_t i;

	for (i = 0; i < IDEM_BUCKETS; i++) {
		struct idem_entry **pp = &m->b[i];
		while (*pp) {
			struct idem_entry *e = *pp;
			if (e->state == IDEM_DONE && now_ms - e->created_ms > HTTP_IDEM_MEM_MS) {
				*pp = e->next;
				m->n--;
				entry_free(e);
			} else {
				pp = &e->next;
			}
		}
	}
}

static char *
store_key(const struct http_req *r)
{
	return xasprintf("%s\x1f%s", r->route->path, r->idem_key);
}

void
http_idem_lookup_store(struct http_server *srv, struct http_req *r)
{
	struct store_idem rec;
	char *k = store_key(r), *err = NULL;
	int rc;

	rc = store_idem_get(srv->st, r->account, k, (int64_t)(time_now_ms() - HTTP_IDEM_TTL_MS),
	    &rec, &err);
	if (rc == 0) {
		if (memcmp(rec.hash, r->body_hash, sizeof r->body_hash) != 0) {
			r->stored_mismatch = 1;
			store_idem_free(&rec);
		} else {
			r->stored_answer = rec.answer;
			r->stored_status = rec.status;
		}
	} else if (rc != STORE_NOTFOUND) {
		/* Without the record we cannot promise "queued once": refuse. */
		log_error("http", "idempotency lookup failed: %s", err ? err : "?");
		http_req_problem(r, 503, "unavailable", "Service Unavailable", "the store failed", NULL);
	}
	free(err);
	free(k);
}

/* Persisting: on a worker, before the answer goes out, so a repeat after a
 * crash finds it (SQLite commits with fsync). */
static void
persist_work(uv_work_t *w)
{
	struct http_req *r = w->data;
	char *k = store_key(r), *err = NULL, *answer = json_dumps(r->resp, JSON_COMPACT);

	if (answer == NULL || store_idem_put(r->srv->st, r->account, k, r->body_hash, r->status,
	    answer, (int64_t)HTTP_IDEM_TTL_MS, &err) != 0)
		log_error("http", "idempotency record not saved: %s", err ? err : "?");
	free(answer);
	free(err);
	free(k);
}

static void
persist_done(uv_work_t *w, int status)
{
	struct http_req *r = w->data;

	http_idem_end(r->srv, r);
	http_req_finish(r);
}

void
http_idem_complete(struct http_server *srv, struct http_req *r)
{
	if (r->status >= 500 || r->status == 429 || r->stored_answer != NULL) {
		http_idem_end(srv, r);
		http_req_finish(r);
		return;
	}
	r->work.data = r;
	if (uv_queue_work(srv->loop, &r->work, persist_work, persist_done) != 0) {
		http_idem_end(srv, r);
		http_req_finish(r);
	}
}

static void
expire_work(uv_work_t *w)
{
	struct http_server *srv = w->data;
	char *err = NULL;

	if (store_idem_expire(srv->st, (int64_t)(time_now_ms() - HTTP_IDEM_TTL_MS), &err) != 0)
		log_warn("http", "idempotency expiry failed: %s", err ? err : "?");
	free(err);
}

static void
expire_done(uv_work_t *w, int status)
{
	struct http_server *srv = w->data;

	srv->expiring = 0;
}

void
http_idem_expire_store(struct http_server *srv)
{
	if (srv->expiring)
		return;
	srv->expiring = 1;
	srv->expire_work.data = srv;
	if (uv_queue_work(srv->loop, &srv->expire_work, expire_work, expire_done) != 0)
		srv->expiring = 0;
}
