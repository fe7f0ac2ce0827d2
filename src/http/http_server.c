/* http_server: libmicrohttpd inside the libuv loop, request life cycle and
 * route dispatch.
 *
 * DESIGN
 *
 * MHD runs in "external event loop" mode with epoll: MHD_start_daemon()
 * without MHD_USE_INTERNAL_POLLING_THREAD gives us one epoll fd that becomes
 * readable whenever MHD has something to do (new connection, socket ready, a
 * resumed request signalled through MHD's inter-thread channel). A uv_poll
 * watches it and calls MHD_run(); after every run a uv_timer is armed with
 * MHD_get_timeout() (connection timeouts, and 0 when MHD has buffered work it
 * wants to continue without waiting for the kernel: MHD uses edge-triggered
 * epoll inside).
 *
 * A request's life: MHD calls the access handler once with the headers
 * (we create struct http_req, refuse a too large Content-Length at once), then
 * with body pieces (copied into r->body up to http.max_body_size), then with
 * upload_data_size 0. There we look up the route, suspend the connection and
 * queue work on the thread pool: authentication (store_key_verify), then the
 * route's work() (JSON, validation, SQLite, MIME). The after-work callback on
 * the loop runs the route's done() (idempotency map, spool_submit) which
 * either answers or waits for the spool's durable callback; the answer is
 * then stored in r and the connection resumed; MHD calls the handler again
 * and we queue the response. MHD only lets a response be queued from inside
 * the handler, hence the resume-and-call-again dance.
 *
 * Stopping: MHD_quiesce_daemon() closes the listening socket for new
 * connections; once no request is suspended (every spool callback came
 * back) MHD is stopped and the uv handles closed. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "auth/auth.h"
#include "dkim/dkim_keys.h"
#include "http/http_internal.h"
#include "http/http_server.h"
#include "metrics/metrics.h"
#include "store/store.h"
#include "util/config.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

#define HTTP_MEMORY_LIMIT	(64 * 1024)	/* per connection: caps the request head */
#define HTTP_MAX_CONNECTIONS	2000

static void kick(struct http_server *srv);

static void
run_mhd(struct http_server *srv)
{
	if (srv->mhd == NULL)
		return;
	MHD_run(srv->mhd);
	kick(srv);
}

static void
on_timer(uv_timer_t *t)
{
	run_mhd(t->data);
}

/* kick() rearms the timer from MHD's own timeout. */
static void
kick(struct http_server *srv)
{
	MHD_UNSIGNED_LONG_LONG to;

	if (srv->mhd == NULL)
		return;
	if (MHD_get_timeout(srv->mhd, &to) == MHD_YES)
		uv_timer_start(&srv->timer, on_timer, (uint64_t)to, 0);
	else
		uv_timer_stop(&srv->timer);
}

static void
on_poll(uv_poll_t *p, int status, int events)
{
	run_mhd(p->data);
}

static enum http_method
method_of(const char *m)
{
	if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0)
		return HTTP_GET;
	if (strcmp(m, "POST") == 0)
		return HTTP_POST;
	if (strcmp(m, "DELETE") == 0)
		return HTTP_DELETE;
	return HTTP_OTHER;
}

/* route_match() matches path against a pattern with at most one {param}
 * segment (which must not be empty or contain '/'). */
static int
route_match(const char *pattern, const char *path, char **param)
{
	const char *open = strchr(pattern, '{'), *close;
	size_t pre, post, plen = strlen(path), vlen;

	if (open == NULL)
		return strcmp(pattern, path) == 0;
	close = strchr(open, '}');
	pre = (size_t)(open - pattern);
	post = strlen(close + 1);
	if (plen < pre + post + 1 || strncmp(pattern, path, pre) != 0 ||
	    strcmp(path + plen - post, close + 1) != 0)
		return 0;
	vlen = plen - pre - post;
	if (memchr(path + pre, '/', vlen) != NULL)
		return 0;
	*param = xstrndup(path + pre, vlen);
	return 1;
}

void
http_req_answer(struct http_req *r, int status, json_t *body)
{
	json_decref(r->resp);
	r->status = status;
	r->resp = body;
	r->problem = 0;
}

void
http_req_problem(struct http_req *r, int status, const char *slug, const char *title,
    const char *detail, struct http_errors *e)
{
	http_req_answer(r, status, http_problem(status, slug, title, detail, e));
	r->problem = 1;
}

static enum MHD_Result
queue_answer(struct http_req *r)
{
	struct MHD_Response *resp;
	char *text;
	size_t len;
	enum MHD_Result rc;

	if (r->raw != NULL && r->status == 200) {
		resp = MHD_create_response_from_buffer(r->raw_len, r->raw, MHD_RESPMEM_MUST_FREE);
		r->raw = NULL;
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
		    r->raw_type ? r->raw_type : "message/rfc822");
	} else {
		text = r->resp ? json_dumps(r->resp, JSON_COMPACT) : strdup("");
		if (text == NULL)
			abort();
		len = strlen(text);
		/* A body line end keeps curl output and logs readable. */
		text = xrealloc(text, len + 2);
		if (len > 0)
			text[len++] = '\n';
		text[len] = '\0';
		resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
		    r->problem ? "application/problem+json" : "application/json");
	}
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	if (r->retry_after > 0) {
		char ra[24];
		snprintf(ra, sizeof ra, "%u", r->retry_after);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
	}
	if (r->status == 401)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"hermod\"");
	rc = MHD_queue_response(r->conn, (unsigned)r->status, resp);
	MHD_destroy_response(resp);
	r->state = REQ_DONE;
	r->queued = 1;
	/* the pattern, never the raw path: the label set stays bounded */
	metrics_http_request(r->route ? r->route->path : NULL, r->status);
	{
		struct log_line *l = log_begin(LOG_DEBUG, "http");
		log_str(l, "method", r->method == HTTP_POST ? "POST" : r->method == HTTP_GET ? "GET" : "other");
		log_str(l, "path", r->path);
		log_int(l, "status", r->status);
		log_int(l, "ms", (int64_t)(time_mono_ms() - r->started));
		log_end(l);
	}
	return rc;
}

void
http_req_finish(struct http_req *r)
{
	struct http_server *srv = r->srv;

	if (r->state != REQ_WORKING)
		return;
	r->state = REQ_DONE;
	srv->inflight--;
	MHD_resume_connection(r->conn);
	uv_timer_start(&srv->timer, on_timer, 0, 0);	/* MHD_run() soon: it sends the answer */
}

/* authenticate() runs on a worker: the bearer token to an account and scope. */
static void
authenticate(struct http_req *r)
{
	char *err = NULL;
	int rc;

	if (r->token == NULL) {
		http_req_problem(r, 401, "unauthorized", "Unauthorized",
		    "an API key is required: Authorization: Bearer KEY", NULL);
		return;
	}
	rc = store_key_verify(r->srv->st, r->token, &r->account, &r->scope, &err);
	if (rc == STORE_NOTFOUND) {
		http_req_problem(r, 401, "unauthorized", "Unauthorized", "unknown API key", NULL);
	} else if (rc != 0) {
		log_error("http", "key check failed: %s", err ? err : "?");
		http_req_problem(r, 503, "unavailable", "Service Unavailable", "the store failed", NULL);
	} else if (!auth_scope_allows(r->scope, r->route->scope)) {
		char d[80];
		snprintf(d, sizeof d, "this endpoint needs a key of scope %s", r->route->scope);
		http_req_problem(r, 403, "forbidden", "Forbidden", d, NULL);
	}
	free(err);
}

static void
work_cb(uv_work_t *w)
{
	struct http_req *r = w->data;

	if (r->route->scope != NULL)
		authenticate(r);
	if (r->status == 0 && r->route->idempotent && r->idem_key != NULL)
		http_idem_lookup_store(r->srv, r);
	if (r->status == 0 && r->route->work != NULL)
		r->route->work(r);
}

static void
after_work_cb(uv_work_t *w, int status)
{
	struct http_req *r = w->data;

	if (status != 0 && r->status == 0)
		http_req_problem(r, 503, "unavailable", "Service Unavailable", "cancelled", NULL);
	if (r->route->idempotent && r->idem_key != NULL && r->account != NULL &&
	    r->status != 401 && r->status != 403 && r->status < 500) {
		if (http_idem_begin(r->srv, r))
			return;
	}
	if (r->status == 0 && r->route->done != NULL) {
		r->route->done(r);
		return;
	}
	if (r->status == 0)
		http_req_problem(r, 500, "internal", "Internal Server Error", "no answer", NULL);
	if (r->route->idempotent && r->idem_key != NULL && r->account != NULL) {
		http_idem_complete(r->srv, r);
		return;
	}
	http_req_finish(r);
}

static void
start_request(struct http_req *r)
{
	struct http_server *srv = r->srv;
	const char *auth, *idem;
	const struct http_route *rt;
	int path_known = 0;

	for (rt = http_routes; rt->path != NULL; rt++) {
		char *param = NULL;
		if (!route_match(rt->path, r->path, &param))
			continue;
		path_known = 1;
		if (rt->method == r->method) {
			r->route = rt;
			r->param = param;
			break;
		}
		free(param);
	}
	if (r->route == NULL) {
		if (path_known)
			http_req_problem(r, 405, "method-not-allowed", "Method Not Allowed", NULL, NULL);
		else
			http_req_problem(r, 404, "not-found", "Not Found", "no such endpoint", NULL);
		r->state = REQ_DONE;
		return;
	}
	auth = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (auth != NULL && strncasecmp(auth, "Bearer ", 7) == 0) {
		auth += 7;
		while (*auth == ' ')
			auth++;
		r->token = xstrdup(auth);
	}
	idem = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Idempotency-Key");
	if (idem != NULL && r->route->idempotent) {
		size_t n = strlen(idem), i;
		int ok = n > 0 && n <= 255;
		for (i = 0; i < n; i++)
			if ((unsigned char)idem[i] < 0x21 || (unsigned char)idem[i] > 0x7e)
				ok = 0;
		if (!ok) {
			struct http_errors e = { 0 };
			http_errors_add(&e, "Idempotency-Key", "1 to 255 printable ASCII characters");
			http_req_problem(r, 422, "invalid-request", "Invalid request", NULL, &e);
			r->state = REQ_DONE;
			return;
		}
		r->idem_key = xstrdup(idem);
		crypto_generichash(r->body_hash, sizeof r->body_hash,
		    (const unsigned char *)r->body.data, r->body.len, NULL, 0);
	}
	r->state = REQ_WORKING;
	srv->inflight++;
	MHD_suspend_connection(r->conn);
	r->work.data = r;
	if (uv_queue_work(srv->loop, &r->work, work_cb, after_work_cb) != 0) {
		http_req_problem(r, 503, "unavailable", "Service Unavailable", NULL, NULL);
		http_req_finish(r);
	}
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
    const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct http_server *srv = cls;
	struct http_req *r = *con_cls;

	if (r == NULL) {
		const char *cl;
		const union MHD_ConnectionInfo *ci;
		r = xcalloc(1, sizeof *r);
		r->srv = srv;
		r->conn = conn;
		r->method = method_of(method);
		r->path = xstrdup(url);
		r->started = time_mono_ms();
		ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		if (ci != NULL && ci->client_addr != NULL) {
			const struct sockaddr *sa = ci->client_addr;
			if (sa->sa_family == AF_INET)
				inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, r->client,
				    sizeof r->client);
			else if (sa->sa_family == AF_INET6)
				inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr,
				    r->client, sizeof r->client);
		}
		*con_cls = r;
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl != NULL && strtoull(cl, NULL, 10) > srv->cfg->http_max_body_size) {
			char d[96];
			snprintf(d, sizeof d, "the body is over http.max_body_size (%llu bytes)",
			    (unsigned long long)srv->cfg->http_max_body_size);
			http_req_problem(r, 413, "too-large", "Payload Too Large", d, NULL);
			r->too_large = 1;
			return queue_answer(r);
		}
		return MHD_YES;
	}
	if (r->state == REQ_READING && *upload_data_size > 0) {
		if (r->too_large) {
			/* already answered; MHD discards the rest */
		} else if (r->body.len + *upload_data_size > srv->cfg->http_max_body_size) {
			r->too_large = 1;
			buf_free(&r->body);
		} else {
			buf_append(&r->body, upload_data, *upload_data_size);
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (r->state == REQ_READING) {
		if (r->too_large) {
			if (r->queued)
				return MHD_YES;	/* the 413 went with the headers */
			http_req_problem(r, 413, "too-large", "Payload Too Large",
			    "the body is over http.max_body_size", NULL);
			return queue_answer(r);
		}
		if (srv->stopping) {
			http_req_problem(r, 503, "unavailable", "Service Unavailable", "shutting down", NULL);
			return queue_answer(r);
		}
		start_request(r);
		if (r->state == REQ_DONE)
			return queue_answer(r);
		return MHD_YES;
	}
	if (r->state == REQ_DONE && !r->queued)
		return queue_answer(r);
	return MHD_YES;
}

static void
req_free(struct http_req *r)
{
	size_t i;

	buf_free(&r->body);
	free(r->path);
	free(r->param);
	free(r->token);
	free(r->idem_key);
	free(r->account);
	free(r->scope);
	free(r->stored_answer);
	free(r->raw);
	free(r->chunks);
	json_decref(r->json);
	json_decref(r->resp);
	for (i = 0; i < r->njobs; i++) {
		struct http_job *j = &r->jobs[i];
		size_t k;
		json_decref(j->result);
		buf_free(&j->msg);
		free(j->message_id);
		free(j->mail_from);
		free(j->meta_json);
		for (k = 0; k < j->nrcpt; k++)
			free(j->rcpts[k]);
		free(j->rcpts);
		for (k = 0; k < j->ndropped; k++)
			free(j->dropped[k]);
		free(j->dropped);
	}
	free(r->jobs);
	free(r);
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct http_req *r = *con_cls;

	if (r == NULL)
		return;
	*con_cls = NULL;
	/* A request still working belongs to its worker or the spool: they free
	 * it when done (the connection cannot finish while suspended). */
	if (r->state != REQ_WORKING)
		req_free(r);
}

static int
listen_socket(const char *addr, int *fdp, char **err)
{
	struct sockaddr_storage ss;
	char host[128];
	const char *colon = strrchr(addr, ':');
	socklen_t sl;
	int fd, one = 1;
	long port;

	memset(&ss, 0, sizeof ss);
	if (colon == NULL || (port = strtol(colon + 1, NULL, 10)) <= 0 || port > 65535 ||
	    (size_t)(colon - addr) >= sizeof host) {
		*err = xasprintf("http.listen: bad address %s", addr);
		return -1;
	}
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		host[strlen(host) - 1] = '\0';
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1) {
			*err = xasprintf("http.listen: bad address %s", addr);
			return -1;
		}
		sl = sizeof *s6;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		if (strcmp(host, "*") == 0 || host[0] == '\0')
			s4->sin_addr.s_addr = htonl(INADDR_ANY);
		else if (inet_pton(AF_INET, host, &s4->sin_addr) != 1) {
			*err = xasprintf("http.listen: bad address %s", addr);
			return -1;
		}
		sl = sizeof *s4;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*err = xasprintf("http.listen: socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 1024) < 0) {
		*err = xasprintf("http.listen: %s: %s", addr, strerror(errno));
		close(fd);
		return -1;
	}
	*fdp = fd;
	return 0;
}

/* mhd_log() sends libmicrohttpd's own complaints (a malformed request, a
 * socket error) to our log as warnings, one JSON line each. */
static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	vsnprintf(msg, sizeof msg, fmt, ap);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	log_warn("http", "libmicrohttpd: %s", msg);
}

static void
on_sweep(uv_timer_t *t)
{
	struct http_server *srv = t->data;

	http_idem_sweep(srv->idem, time_now_ms());
	http_idem_expire_store(srv);
}

int
http_server_start(uv_loop_t *loop, const struct config *cfg, struct spool *sp, struct store *st,
    struct dkim_keyring *keyring, struct http_server **out, char **err)
{
	struct http_server *srv;
	const union MHD_DaemonInfo *di;
	unsigned timeout_s;

	if (sodium_init() < 0) {
		*err = xstrdup("libsodium failed to initialise");
		return -1;
	}
	srv = xcalloc(1, sizeof *srv);
	srv->loop = loop;
	srv->cfg = cfg;
	srv->sp = sp;
	srv->st = st;
	if (listen_socket(cfg->http_listen, &srv->lfd, err) < 0) {
		free(srv);
		return -1;
	}
	timeout_s = (unsigned)((cfg->http_timeout + 999) / 1000);
	srv->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG,
	    0, NULL, NULL, on_request, srv,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, srv,	/* first, or MHD logs to stderr before it */
	    MHD_OPTION_LISTEN_SOCKET, srv->lfd,
	    MHD_OPTION_CONNECTION_TIMEOUT, timeout_s,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_MEMORY_LIMIT,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_MAX_CONNECTIONS,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
	    MHD_OPTION_END);
	if (srv->mhd == NULL) {
		*err = xasprintf("http: libmicrohttpd failed to start on %s", cfg->http_listen);
		close(srv->lfd);
		free(srv);
		return -1;
	}
	di = MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (di == NULL || uv_poll_init(loop, &srv->poll, di->epoll_fd) != 0) {
		*err = xstrdup("http: cannot watch libmicrohttpd's epoll fd");
		MHD_stop_daemon(srv->mhd);
		close(srv->lfd);
		free(srv);
		return -1;
	}
	srv->idem = http_idem_new();
	srv->dkim = keyring;	/* the daemon's: shared with SMTP, freed by serve */
	srv->poll.data = srv;
	uv_timer_init(loop, &srv->timer);
	srv->timer.data = srv;
	uv_timer_init(loop, &srv->sweep);
	srv->sweep.data = srv;
	uv_poll_start(&srv->poll, UV_READABLE, on_poll);
	uv_timer_start(&srv->sweep, on_sweep, 60000, 60000);
	kick(srv);
	log_info("http", "listening on %s", cfg->http_listen);
	*out = srv;
	return 0;
}

static void
on_closed(uv_handle_t *h)
{
	struct http_server *srv = h->data;

	if (--srv->nclosing > 0)
		return;
	http_idem_free(srv->idem);
	if (srv->stop_done != NULL)
		srv->stop_done(srv->stop_arg);
	free(srv);
}

static void
stop_check(uv_timer_t *t)
{
	struct http_server *srv = t->data;

	if (srv->inflight > 0 || srv->expiring) {
		uv_timer_start(&srv->sweep, stop_check, 20, 0);
		return;
	}
	/* Let MHD send what it still holds, then stop it. */
	MHD_run(srv->mhd);
	MHD_stop_daemon(srv->mhd);
	srv->mhd = NULL;
	close(srv->lfd);
	srv->nclosing = 3;
	uv_close((uv_handle_t *)&srv->poll, on_closed);
	uv_close((uv_handle_t *)&srv->timer, on_closed);
	uv_close((uv_handle_t *)&srv->sweep, on_closed);
}

void
http_server_stop(struct http_server *srv, void (*done)(void *arg), void *arg)
{
	srv->stopping = 1;
	srv->stop_done = done;
	srv->stop_arg = arg;
	MHD_quiesce_daemon(srv->mhd);
	uv_timer_stop(&srv->sweep);
	uv_timer_start(&srv->sweep, stop_check, 0, 0);
}
