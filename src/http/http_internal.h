/* http_internal: what the server core (http_server.c), the routes
 * (http_routes.c) and the idempotency map (http_idem.c) share. Not for use
 * outside src/http. */
#ifndef HERMOD_HTTP_INTERNAL_H
#define HERMOD_HTTP_INTERNAL_H
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <microhttpd.h>
#include <uv.h>

#include "http/http_json.h"
#include "util/buf.h"

struct config;
struct spool;
struct store;
struct http_req;
struct http_idem;
struct dkim_keyring;
struct account_state;
struct suppress;

enum http_method { HTTP_GET, HTTP_POST, HTTP_DELETE, HTTP_OTHER };

/* A route: method and path (one {param} segment at most), the scope the key
 * needs (NULL: no authentication), work() on a worker thread, then done()
 * on the loop thread (NULL: answer what work() set). */
struct http_route {
	enum http_method method;
	const char	*path;
	const char	*scope;
	int		 idempotent;	/* honours Idempotency-Key */
	void		(*work)(struct http_req *r);
	void		(*done)(struct http_req *r);
};

extern const struct http_route http_routes[];

struct http_server {
	uv_loop_t	*loop;
	const struct config *cfg;
	struct spool	*sp;
	struct store	*st;
	struct MHD_Daemon *mhd;
	int		 lfd;
	uv_poll_t	 poll;
	uv_timer_t	 timer;
	uv_timer_t	 sweep;
	int		 nclosing;
	int		 stopping;
	size_t		 inflight;	/* suspended requests */
	void		(*stop_done)(void *arg);
	void		*stop_arg;
	struct http_idem *idem;
	struct dkim_keyring *dkim;	/* DKIM keys, loaded on first use (src/dkim) */
	uv_work_t	 expire_work;
	int		 expiring;
	struct account_state *accounts;	/* limits, pauses (src/account); NULL: none */
	struct suppress	*suppress;	/* suppression lists (src/suppress); NULL: none */
};

enum http_req_state { REQ_READING, REQ_WORKING, REQ_DONE };

/* One message of a send (a single POST has one, a batch up to 500). */
struct http_job {
	int		 status;	/* 0 = to submit; else the final status */
	json_t		*result;	/* 202 body or problem */
	struct buf	 msg;		/* built message */
	char		*message_id;
	char		*mail_from;
	char		*meta_json;
	char		**rcpts;
	size_t		 nrcpt;
	int		 smtputf8;
	struct http_req	*req;
	char		**dropped;	/* suppressed recipients, taken out of rcpts */
	size_t		 ndropped;
};

struct http_req {
	struct http_server *srv;
	struct MHD_Connection *conn;
	enum http_req_state state;
	enum http_method method;
	char		*path;
	const struct http_route *route;
	char		*param;		/* the {param} of the path, decoded */
	struct buf	 body;
	int		 too_large;
	int		 queued;	/* the response was handed to MHD */
	char		*token;		/* bearer token */
	char		*idem_key;
	unsigned char	 body_hash[16];
	char		 client[64];
	uv_work_t	 work;
	uint64_t	 started;
	/* set by the worker / the route */
	char		*account;
	char		*scope;
	int		 status;	/* HTTP status, 0 = not answered yet */
	json_t		*resp;		/* response body */
	int		 problem;	/* resp is application/problem+json */
	char		*raw;		/* a non-JSON body (raw message), raw_len bytes */
	size_t		 raw_len;
	const char	*raw_type;	/* its Content-Type; NULL: message/rfc822 */
	struct http_job	*jobs;
	size_t		 njobs;
	size_t		 pending;	/* spool commits outstanding */
	int		 batch;
	json_t		*json;		/* a large batch's request, kept while its chunks run */
	void		*chunks;	/* the batch's work items (http_routes.c) */
	size_t		 chunks_left;
	char		*stored_answer;	/* idempotency record found in the store */
	int		 stored_status;
	int		 stored_mismatch; /* the store has the key with another body */
	struct http_req	*next_waiter;	/* idempotency: same key, waiting */
	unsigned	 retry_after;	/* seconds, sent as Retry-After when set */
};

/* http_req_answer() sets the answer (takes the reference to body). */
void	http_req_answer(struct http_req *r, int status, json_t *body);
/* http_req_problem() sets a problem+json answer. */
void	http_req_problem(struct http_req *r, int status, const char *slug, const char *title,
	    const char *detail, struct http_errors *e);
/* http_req_finish() resumes the suspended request so its answer is sent. */
void	http_req_finish(struct http_req *r);

/* GET /metrics (http_metrics.c): work() checks the key when
 * http.metrics_public is off; done() renders on the loop thread. */
void	http_metrics_work(struct http_req *r);
void	http_metrics_done(struct http_req *r);

/* Idempotency (http_idem.c): a map on the loop thread of recent keys, in
 * flight or answered; answered ones are also written to the store so a
 * repeat after a restart gets the same answer. */
struct http_idem *http_idem_new(void);
void	http_idem_free(struct http_idem *m);
/* http_idem_begin() is called on the loop thread after the worker ran. It
 * returns 1 when r was answered or parked behind the same key in flight (the
 * caller stops), 0 when r owns the key now and must go on. */
int	http_idem_begin(struct http_server *srv, struct http_req *r);
/* http_idem_end() records r's final answer, answers the requests parked
 * behind it, and persists the answer. */
void	http_idem_end(struct http_server *srv, struct http_req *r);
/* http_idem_complete() persists r's answer (on a worker), then calls
 * http_idem_end() and http_req_finish(): the way a keyed request ends. */
void	http_idem_complete(struct http_server *srv, struct http_req *r);
/* http_idem_expire_store() deletes store records older than 24 h (worker). */
void	http_idem_expire_store(struct http_server *srv);
/* http_idem_sweep() forgets answered entries older than HTTP_IDEM_MEM_MS
 * (the store still has them). */
void	http_idem_sweep(struct http_idem *m, uint64_t now_ms);
/* Worker side: look the key up in the store (may set r->stored_answer). */
void	http_idem_lookup_store(struct http_server *srv, struct http_req *r);

/* Account limits (http_account.c). http_account_take() takes j's
 * recipients from the account's limits before j goes to the spool: 0 when
 * they may go, else j is answered 429 (with r->retry_after) and -1 is
 * returned. http_account_give_back() returns them when the spool refused
 * the message. Loop thread. */
int	http_account_take(struct http_req *r, struct http_job *j);
void	http_account_give_back(struct http_req *r, struct http_job *j);
/* The /v1/account routes (http_account.c; docs/openapi.yaml). */
void	http_account_get(struct http_req *r);
void	http_account_limits_work(struct http_req *r);
void	http_account_limits_done(struct http_req *r);
void	http_account_pause(struct http_req *r);
void	http_account_resume(struct http_req *r);

#define HTTP_IDEM_TTL_MS	(24ULL * 3600 * 1000)	/* in the store */
#define HTTP_IDEM_MEM_MS	(10ULL * 60 * 1000)	/* in the loop's map */

/* Suppressions in a send (http_suppress.c). http_suppress_filter() moves
 * the account's suppressed recipients of a prepared job from rcpts to
 * dropped (worker). http_suppress_answer() appends them to a 202's
 * "recipients"; http_suppress_events() emits their `dropped` events (id:
 * the queue id, NULL when nothing was queued); http_suppress_all_dropped()
 * is the answer (200) of a job none of whose recipients is left, events
 * included. */
void	http_suppress_filter(struct http_req *r, struct http_job *j);
void	http_suppress_answer(const struct http_job *j, json_t *recipients);
void	http_suppress_events(const struct http_req *r, const struct http_job *j, const char *id);
json_t *http_suppress_all_dropped(const struct http_req *r, const struct http_job *j);
/* The /v1/suppressions routes' work() functions (worker). */
void	http_suppress_route_list(struct http_req *r);
void	http_suppress_route_add(struct http_req *r);
void	http_suppress_route_delete(struct http_req *r);

#endif
