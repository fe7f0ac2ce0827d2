/* webhook_curl: the webhook transport, libcurl's multi interface on the
 * libuv loop.
 *
 * DESIGN
 * libcurl's "multi_socket" API lets an application own the event loop:
 * curl says which sockets it wants watched (CURLMOPT_SOCKETFUNCTION) and
 * when it next needs a call (CURLMOPT_TIMERFUNCTION); we map each socket to
 * a uv_poll and the timeout to a uv_timer, and call
 * curl_multi_socket_action() when either fires. DNS runs in curl's own
 * resolver thread, TLS and HTTP in non-blocking steps, so the loop never
 * waits on an endpoint.
 *
 * The SSRF guard sits in CURLOPT_OPENSOCKETFUNCTION: curl calls it with the
 * resolved address it is about to connect to, for every address it tries,
 * so a name that resolves (or rebinds) to a private address is refused
 * whatever the name looked like at POST time. Proxies from the environment
 * are switched off (a proxy would connect on our behalf, past the guard)
 * and redirects are not followed.
 *
 * Answers are read and discarded (the status is what counts) up to
 * WH_BODY_MAX bytes; a longer answer ends the transfer, keeping the status. */
#include "webhook/webhook.h"
#include "webhook/webhook_int.h"
#include "util/config.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#define WH_BODY_MAX	(64 * 1024)

struct wh_curl {
	uv_loop_t	*loop;
	const struct config *cfg;
	CURLM		*multi;
	uv_timer_t	 timer;
	int		 closing;
	int		 open_handles;	/* uv handles not closed yet */
	void		(*done)(void *arg);
	void		*done_arg;
	struct xfer	*xfers;		/* in flight */
	struct sock	*socks;		/* watched */
};

struct xfer {
	struct wh_curl	*c;
	CURL		*easy;
	struct curl_slist *headers;
	wh_post_cb	 cb;
	void		*arg;
	size_t		 received;
	uint64_t	 started;
	struct wh_result res;
	struct xfer	*next, **prevp;
};

/* One watched socket. */
struct sock {
	uv_poll_t	 poll;
	struct wh_curl	*c;
	curl_socket_t	 fd;
	struct sock	*next, **prevp;
};

static void check_done(struct wh_curl *c);

/* handle_closed(): the last handle closed after wh_curl_close() frees the
 * transport and reports. */
static void
handle_closed(uv_handle_t *h)
{
	struct wh_curl *c = h->data;

	if (h->type == UV_POLL)
		free(h);	/* struct sock starts with its poll */
	if (--c->open_handles == 0 && c->closing) {
		void (*done)(void *) = c->done;
		void *arg = c->done_arg;

		free(c);
		if (done != NULL)
			done(arg);
	}
}

static void
sock_close(struct sock *s)
{
	*s->prevp = s->next;
	if (s->next != NULL)
		s->next->prevp = s->prevp;
	uv_poll_stop(&s->poll);
	uv_close((uv_handle_t *)&s->poll, handle_closed);
}

static void
on_poll(uv_poll_t *p, int status, int events)
{
	struct sock *s = (struct sock *)p;
	struct wh_curl *c = s->c;
	int flags = 0, running;

	if (status < 0)
		flags = CURL_CSELECT_ERR;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(c->multi, s->fd, flags, &running);
	check_done(c);
}

static void
on_timer(uv_timer_t *t)
{
	struct wh_curl *c = t->data;
	int running;

	curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(c);
}

/* socket_cb: curl wants fd watched for what (or forgotten). */
static int
socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct wh_curl *c = userp;
	struct sock *s = socketp;
	int events = 0;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (s != NULL) {
			sock_close(s);
			curl_multi_assign(c->multi, fd, NULL);
		}
		return 0;
	}
	if (s == NULL) {
		s = xcalloc(1, sizeof *s);
		s->c = c;
		s->fd = fd;
		if (uv_poll_init_socket(c->loop, &s->poll, fd) != 0) {
			free(s);
			return -1;
		}
		s->poll.data = c;
		c->open_handles++;
		s->next = c->socks;
		if (s->next != NULL)
			s->next->prevp = &s->next;
		c->socks = s;
		s->prevp = &c->socks;
		curl_multi_assign(c->multi, fd, s);
	}
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		events |= UV_READABLE;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		events |= UV_WRITABLE;
	uv_poll_start(&s->poll, events, on_poll);
	return 0;
}

/* timer_cb: curl wants a call in timeout_ms (-1: no timer). A 0 timeout is
 * served from the next loop iteration: curl must not be re-entered from
 * inside its own callback. */
static int
timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct wh_curl *c = userp;

	(void)multi;
	if (timeout_ms < 0)
		uv_timer_stop(&c->timer);
	else
		uv_timer_start(&c->timer, on_timer, (uint64_t)timeout_ms, 0);
	return 0;
}

/* open_socket: the SSRF guard (see DESIGN). */
static curl_socket_t
open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct xfer *x = clientp;
	enum webhook_addr_class cls;

	if (purpose != CURLSOCKTYPE_IPCXN)
		return CURL_SOCKET_BAD;
	cls = webhook_addr_classify_sa(&a->addr);
	if (cls != WEBHOOK_ADDR_PUBLIC && !x->c->cfg->allow_private_targets) {
		x->res.refused = 1;
		snprintf(x->res.refused_class, sizeof x->res.refused_class, "%s",
		    webhook_addr_class_name(cls));
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

static size_t
discard(char *p, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;

	(void)p;
	x->received += size * n;
	return x->received > WH_BODY_MAX ? 0 : size * n;
}

static void
xfer_free(struct xfer *x)
{
	if (x->prevp != NULL) {
		*x->prevp = x->next;
		if (x->next != NULL)
			x->next->prevp = x->prevp;
	}
	if (x->easy != NULL) {
		curl_multi_remove_handle(x->c->multi, x->easy);
		curl_easy_cleanup(x->easy);
	}
	curl_slist_free_all(x->headers);
	free(x);
}

/* check_done() hands finished transfers to their callbacks. */
static void
check_done(struct wh_curl *c)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
		struct xfer *x = NULL;
		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		x->res.curl_code = (int)m->data.result;
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->res.status);
		/* an answer cut short by WH_BODY_MAX still has its status */
		if (x->res.curl_code == CURLE_WRITE_ERROR && x->res.status > 0)
			x->res.curl_code = 0;
		if (x->res.curl_code != 0 && x->res.error[0] == '\0')
			snprintf(x->res.error, sizeof x->res.error, "%s",
			    curl_easy_strerror((CURLcode)x->res.curl_code));
		x->res.ms = time_mono_ms() - x->started;
		x->cb(&x->res, x->arg);
		xfer_free(x);
	}
}

struct wh_curl *
wh_curl_new(uv_loop_t *loop, const struct config *cfg)
{
	struct wh_curl *c = xcalloc(1, sizeof *c);

	c->loop = loop;
	c->cfg = cfg;
	if ((c->multi = curl_multi_init()) == NULL)
		log_fatal("webhook", "curl_multi_init failed");
	uv_timer_init(loop, &c->timer);
	c->timer.data = c;
	c->open_handles = 1;
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)cfg->wh_max_connections);
	curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
	    (long)cfg->wh_max_connections_per_endpoint);
	return c;
}

int
wh_curl_post(struct wh_curl *c, const char *url, const char *msg_id, int64_t timestamp,
    const char *signature, const char *body, size_t len, wh_post_cb cb, void *arg)
{
	struct xfer *x;
	char h[512];

	if (c->closing)
		return -1;
	x = xcalloc(1, sizeof *x);
	x->c = c;
	x->cb = cb;
	x->arg = arg;
	x->started = time_mono_ms();
	if ((x->easy = curl_easy_init()) == NULL) {
		free(x);
		return -1;
	}
	x->headers = curl_slist_append(x->headers, "Content-Type: application/json");
	snprintf(h, sizeof h, "webhook-id: %s", msg_id);
	x->headers = curl_slist_append(x->headers, h);
	snprintf(h, sizeof h, "webhook-timestamp: %" PRId64, timestamp);
	x->headers = curl_slist_append(x->headers, h);
	snprintf(h, sizeof h, "webhook-signature: %s", signature);
	x->headers = curl_slist_append(x->headers, h);
	x->headers = curl_slist_append(x->headers, "User-Agent: hermod/" HERMOD_VERSION);
	x->headers = curl_slist_append(x->headers, "Expect:");	/* no 100-continue wait */

	curl_easy_setopt(x->easy, CURLOPT_URL, url);
	curl_easy_setopt(x->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(x->easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(x->easy, CURLOPT_PROXY, "");		/* never a proxy: see DESIGN */
	curl_easy_setopt(x->easy, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->headers);
	curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(x->easy, CURLOPT_COPYPOSTFIELDS, body);
	curl_easy_setopt(x->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)c->cfg->wh_connect_timeout);
	curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, (long)c->cfg->wh_timeout);
	curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
	if (c->cfg->wh_ca_file != NULL)
		curl_easy_setopt(x->easy, CURLOPT_CAINFO, c->cfg->wh_ca_file);
	curl_easy_setopt(x->easy, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	curl_easy_setopt(x->easy, CURLOPT_OPENSOCKETDATA, x);
	curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->res.error);
	curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
	if (curl_multi_add_handle(c->multi, x->easy) != CURLM_OK) {
		curl_easy_cleanup(x->easy);
		curl_slist_free_all(x->headers);
		free(x);
		return -1;
	}
	x->next = c->xfers;
	if (x->next != NULL)
		x->next->prevp = &x->next;
	c->xfers = x;
	x->prevp = &c->xfers;
	return 0;
}

void
wh_curl_close(struct wh_curl *c, void (*done)(void *arg), void *arg)
{
	c->closing = 1;
	c->done = done;
	c->done_arg = arg;
	/* removing a handle makes curl close its sockets: socket_cb closes
	 * their polls */
	while (c->xfers != NULL)
		xfer_free(c->xfers);
	curl_multi_cleanup(c->multi);
	c->multi = NULL;
	/* sockets of cached connections curl did not report closing */
	while (c->socks != NULL)
		sock_close(c->socks);
	uv_timer_stop(&c->timer);
	uv_close((uv_handle_t *)&c->timer, handle_closed);
}
