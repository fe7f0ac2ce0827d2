/* ctl: the control socket, server and client (protocol in ctl.h).
 *
 * Server: a libuv pipe listener on data_dir/hermod.sock, mode 0600, so only
 * the daemon's user (and root) can manage the queue. Each connection is one
 * request: a line of at most CTL_MAX_REQUEST bytes within CTL_TIMEOUT_MS,
 * parsed with jansson, dispatched through the command table, answered with
 * one JSON line, closed. A handler may answer later (after a spool commit);
 * the request stays alive until it has answered, even if the client left.
 *
 * Client: ctl_call(), blocking, with a timeout, for the CLI. */
#include "ctl/ctl.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/xalloc.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define CTL_MAX_REQUEST	(64 * 1024)
#define CTL_TIMEOUT_MS	10000		/* server: to send the request line */
#define CTL_CALL_TIMEOUT_MS 60000	/* client: for the whole answer */
#define CTL_MAX_ANSWER	(1024 * 1024 * 1024)

struct ctl_cmd {
	char		*name;
	ctl_handler	 fn;
	void		*arg;
};

struct ctl {
	uv_loop_t	*loop;
	uv_pipe_t	 listener;
	char		*path;
	struct ctl_cmd	*cmds;
	size_t		 ncmds;
	int		 refs;		/* ctl_start's, the listener, each request */
	int		 stopped;
	struct ctl_request *reqs;	/* open requests, for ctl_stop() */
};

struct ctl_request {
	struct ctl	*c;
	struct ctl_request *next, **prevp;
	uv_pipe_t	 pipe;
	uv_timer_t	 timer;
	uv_write_t	 wreq;
	struct buf	 in;
	struct buf	 out;
	ctl_stream_fn	 stream;	/* a streamed answer in progress, or NULL */
	void		*stream_arg;
	int		 open_handles;	/* pipe and timer until closed */
	int		 dispatched;	/* the handler runs: it owes a ctl_reply() */
	int		 replied;
	int		 closing;
};

static void
ctl_unref(struct ctl *c)
{
	if (--c->refs > 0)
		return;
	for (size_t i = 0; i < c->ncmds; i++)
		free(c->cmds[i].name);
	free(c->cmds);
	free(c->path);
	free(c);
}

static void
req_maybe_free(struct ctl_request *r)
{
	struct ctl *c = r->c;

	if (r->open_handles > 0 || (r->dispatched && !r->replied))
		return;
	if (r->prevp) {
		*r->prevp = r->next;
		if (r->next)
			r->next->prevp = r->prevp;
	}
	buf_free(&r->in);
	buf_free(&r->out);
	free(r);
	ctl_unref(c);
}

static void
req_handle_closed(uv_handle_t *h)
{
	struct ctl_request *r = h->data;

	r->open_handles--;
	req_maybe_free(r);
}

/* stream_abort() lets a streaming handler free its state when the answer
 * cannot be finished (the client left, the daemon stops). */
static void
stream_abort(struct ctl_request *r)
{
	ctl_stream_fn fn = r->stream;

	if (fn == NULL)
		return;
	r->stream = NULL;
	fn(NULL, 1, r->stream_arg);
}

static void
req_close(struct ctl_request *r)
{
	if (r->closing)
		return;
	r->closing = 1;
	stream_abort(r);
	uv_timer_stop(&r->timer);
	uv_close((uv_handle_t *)&r->timer, req_handle_closed);
	uv_close((uv_handle_t *)&r->pipe, req_handle_closed);
}

static void stream_next(struct ctl_request *r);

static void
req_written(uv_write_t *w, int status)
{
	struct ctl_request *r = w->data;

	if (status == 0 && r->stream) {
		stream_next(r);
		return;
	}
	req_close(r);
}

/* stream_next() writes the next part of a streamed answer; the write's
 * completion asks for the one after, so a slow reader holds back the
 * producer and memory stays at one part. */
static void
stream_next(struct ctl_request *r)
{
	uv_buf_t b;
	int more;

	buf_reset(&r->out);
	more = r->stream(&r->out, 0, r->stream_arg);
	if (!more) {
		r->stream = NULL;
		buf_puts(&r->out, "}\n");
	}
	b = uv_buf_init(r->out.data, (unsigned)r->out.len);
	r->wreq.data = r;
	if (uv_write(&r->wreq, (uv_stream_t *)&r->pipe, &b, 1, req_written) < 0)
		req_close(r);
}

void
ctl_reply_stream(struct ctl_request *r, ctl_stream_fn fn, void *arg)
{
	uv_buf_t b;

	if (r->replied) {
		fn(NULL, 1, arg);
		return;
	}
	r->replied = 1;
	if (r->closing) {
		fn(NULL, 1, arg);
		req_maybe_free(r);
		return;
	}
	r->stream = fn;
	r->stream_arg = arg;
	buf_puts(&r->out, "{\"ok\":true,\"result\":");
	b = uv_buf_init(r->out.data, (unsigned)r->out.len);
	r->wreq.data = r;
	if (uv_write(&r->wreq, (uv_stream_t *)&r->pipe, &b, 1, req_written) < 0)
		req_close(r);
	req_maybe_free(r);
}

static void
req_send(struct ctl_request *r, json_t *answer)
{
	char *s = json_dumps(answer, JSON_COMPACT);
	uv_buf_t b;

	json_decref(answer);
	if (s == NULL || r->closing) {
		free(s);
		req_close(r);
		return;
	}
	buf_puts(&r->out, s);
	buf_putc(&r->out, '\n');
	free(s);
	b = uv_buf_init(r->out.data, (unsigned)r->out.len);
	r->wreq.data = r;
	if (uv_write(&r->wreq, (uv_stream_t *)&r->pipe, &b, 1, req_written) < 0)
		req_close(r);
}

void
ctl_reply(struct ctl_request *r, json_t *result, const char *error)
{
	json_t *answer;

	if (r->replied) {
		json_decref(result);
		return;
	}
	r->replied = 1;
	if (error) {
		json_decref(result);
		answer = json_pack("{s:b, s:s}", "ok", 0, "error", error);
	} else
		answer = json_pack("{s:b, s:o}", "ok", 1, "result", result ? result : json_null());
	req_send(r, answer);
	req_maybe_free(r);
}

static void
reply_now(struct ctl_request *r, const char *error)
{
	r->replied = 1;
	req_send(r, json_pack("{s:b, s:s}", "ok", 0, "error", error));
}

static void
dispatch(struct ctl_request *r, const char *line, size_t len)
{
	struct ctl *c = r->c;
	json_error_t jerr;
	json_t *req, *args;
	const char *cmd;

	uv_read_stop((uv_stream_t *)&r->pipe);
	uv_timer_stop(&r->timer);
	req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (req == NULL || !json_is_object(req) ||
	    (cmd = json_string_value(json_object_get(req, "cmd"))) == NULL) {
		json_decref(req);
		reply_now(r, "bad request: want {\"cmd\": NAME, \"args\": {...}}");
		return;
	}
	args = json_object_get(req, "args");
	if (args != NULL && !json_is_object(args)) {
		json_decref(req);
		reply_now(r, "bad request: args must be an object");
		return;
	}
	for (size_t i = 0; i < c->ncmds; i++) {
		if (strcmp(c->cmds[i].name, cmd) != 0)
			continue;
		if (args == NULL)
			json_object_set_new(req, "args", json_object());
		args = json_object_get(req, "args");
		log_debug("ctl", "command %s", cmd);
		r->dispatched = 1;
		c->cmds[i].fn(r, args, c->cmds[i].arg);
		json_decref(req);
		return;
	}
	{
		char *e = xasprintf("unknown command %s", cmd);

		json_decref(req);
		reply_now(r, e);
		free(e);
	}
}

static void
req_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	struct ctl_request *r = h->data;

	(void)hint;
	buf_reserve(&r->in, 4096);
	*b = uv_buf_init(r->in.data + r->in.len, (unsigned)(r->in.cap - r->in.len - 1));
}

static void
req_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct ctl_request *r = s->data;
	char *nl;

	(void)b;
	if (n < 0) {
		req_close(r);
		return;
	}
	r->in.len += (size_t)n;
	r->in.data[r->in.len] = '\0';
	if ((nl = memchr(r->in.data, '\n', r->in.len)) != NULL) {
		dispatch(r, r->in.data, (size_t)(nl - r->in.data));
		return;
	}
	if (r->in.len > CTL_MAX_REQUEST) {
		uv_read_stop(s);
		reply_now(r, "request too long");
	}
}

static void
req_timeout(uv_timer_t *t)
{
	struct ctl_request *r = t->data;

	uv_read_stop((uv_stream_t *)&r->pipe);
	reply_now(r, "timeout");
}

static void
on_connection(uv_stream_t *server, int status)
{
	struct ctl *c = server->data;
	struct ctl_request *r;

	if (status < 0 || c->stopped)
		return;
	r = xcalloc(1, sizeof(*r));
	r->c = c;
	c->refs++;
	uv_pipe_init(c->loop, &r->pipe, 0);
	uv_timer_init(c->loop, &r->timer);
	r->pipe.data = r->timer.data = r;
	r->open_handles = 2;
	r->next = c->reqs;
	if (c->reqs)
		c->reqs->prevp = &r->next;
	r->prevp = &c->reqs;
	c->reqs = r;
	if (uv_accept(server, (uv_stream_t *)&r->pipe) < 0) {
		req_close(r);
		return;
	}
	uv_timer_start(&r->timer, req_timeout, CTL_TIMEOUT_MS, 0);
	uv_read_start((uv_stream_t *)&r->pipe, req_alloc, req_read);
}

/* daemon_alive() tells whether something answers on path already. */
static int
daemon_alive(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), rc;

	if (fd < 0)
		return 0;
	strncpy(sun.sun_path, path, sizeof(sun.sun_path) - 1);
	rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	return rc == 0;
}

static void
listener_closed(uv_handle_t *h)
{
	ctl_unref(h->data);
}

int
ctl_start(uv_loop_t *loop, const char *sock_path, struct ctl **out, char **err)
{
	struct ctl *c;
	int e;

	*out = NULL;
	if (strlen(sock_path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		*err = xasprintf("%s: path too long for a unix socket", sock_path);
		return -1;
	}
	if (daemon_alive(sock_path)) {
		*err = xasprintf("%s: another daemon is running", sock_path);
		return -1;
	}
	/* A socket left by a daemon that died: nothing answers on it. */
	unlink(sock_path);
	c = xcalloc(1, sizeof(*c));
	c->loop = loop;
	c->path = xstrdup(sock_path);
	c->refs = 2;
	uv_pipe_init(loop, &c->listener, 0);
	c->listener.data = c;
	if ((e = uv_pipe_bind(&c->listener, sock_path)) < 0 ||
	    (e = chmod(sock_path, 0600) < 0 ? uv_translate_sys_error(errno) : 0) < 0 ||
	    (e = uv_listen((uv_stream_t *)&c->listener, 64, on_connection)) < 0) {
		*err = xasprintf("%s: %s", sock_path, uv_strerror(e));
		uv_close((uv_handle_t *)&c->listener, listener_closed);
		unlink(sock_path);
		ctl_unref(c);
		return -1;
	}
	*out = c;
	return 0;
}

void
ctl_stop(struct ctl *c)
{
	if (c == NULL || c->stopped)
		return;
	c->stopped = 1;
	unlink(c->path);
	uv_close((uv_handle_t *)&c->listener, listener_closed);
	/* Requests still open lose their connection; a handler that answers
	 * later finds it closed and only frees the request. */
	for (struct ctl_request *r = c->reqs; r; r = r->next)
		req_close(r);
	ctl_unref(c);
}

void
ctl_register(struct ctl *c, const char *cmd, ctl_handler fn, void *arg)
{
	c->cmds = xrealloc(c->cmds, (c->ncmds + 1) * sizeof(*c->cmds));
	c->cmds[c->ncmds].name = xstrdup(cmd);
	c->cmds[c->ncmds].fn = fn;
	c->cmds[c->ncmds].arg = arg;
	c->ncmds++;
}

/* The client. */

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* io_wait() waits for fd to be ready for events until deadline; 0 or -1. */
static int
io_wait(int fd, short events, uint64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		uint64_t now = now_ms();
		int n;

		if (now >= deadline)
			return -1;
		n = poll(&p, 1, (int)(deadline - now));
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

/* call_open() connects to the daemon and sends the request; the socket, or
 * -1 and *err. */
static int
call_open(const char *sock_path, const char *cmd, json_t *args, uint64_t deadline, char **err)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	json_t *req;
	char *line;
	size_t off = 0, len;
	int fd;

	if (strlen(sock_path) >= sizeof(sun.sun_path)) {
		*err = xasprintf("%s: path too long for a unix socket", sock_path);
		return -1;
	}
	strcpy(sun.sun_path, sock_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		*err = xasprintf("socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		if (errno == ENOENT || errno == ECONNREFUSED)
			*err = xasprintf("daemon not running (no control socket at %s)", sock_path);
		else
			*err = xasprintf("%s: %s", sock_path, strerror(errno));
		close(fd);
		return -1;
	}
	req = json_pack("{s:s, s:o}", "cmd", cmd, "args", args ? json_incref(args) : json_object());
	line = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	len = strlen(line);
	line = xrealloc(line, len + 2);
	line[len++] = '\n';
	while (off < len) {
		ssize_t n = send(fd, line + off, len - off, MSG_NOSIGNAL);

		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR) && io_wait(fd, POLLOUT, deadline) == 0)
			continue;
		*err = xasprintf("%s: %s", sock_path, n < 0 ? strerror(errno) : "closed");
		free(line);
		close(fd);
		return -1;
	}
	free(line);
	return fd;
}

/* call_read() reads more of the answer into in; 1 on data, 0 at the end,
 * -1 and *err on failure. */
static int
call_read(int fd, struct buf *in, uint64_t deadline, const char *sock_path, char **err)
{
	for (;;) {
		ssize_t n;

		buf_reserve(in, 65536);
		n = recv(fd, in->data + in->len, in->cap - in->len - 1, 0);
		if (n > 0) {
			in->len += (size_t)n;
			in->data[in->len] = '\0';
			if (in->len > CTL_MAX_ANSWER) {
				*err = xstrdup("answer too long");
				return -1;
			}
			return 1;
		}
		if (n == 0)
			return 0;
		if ((errno == EAGAIN || errno == EINTR) && io_wait(fd, POLLIN, deadline) == 0)
			continue;
		*err = xasprintf("%s: %s", sock_path,
		    errno == EAGAIN ? "no answer from the daemon" : strerror(errno));
		return -1;
	}
}

/* answer_parse() checks a whole answer; its result (new reference), or NULL
 * and *err. */
static json_t *
answer_parse(const char *text, size_t len, char **err)
{
	json_error_t jerr;
	json_t *ans = json_loadb(text, len, 0, &jerr), *res;

	if (ans == NULL || !json_is_object(ans)) {
		json_decref(ans);
		*err = xstrdup("the daemon's answer is not JSON");
		return NULL;
	}
	if (!json_is_true(json_object_get(ans, "ok"))) {
		const char *e = json_string_value(json_object_get(ans, "error"));

		*err = xstrdup(e ? e : "the daemon refused the request");
		json_decref(ans);
		return NULL;
	}
	res = json_incref(json_object_get(ans, "result"));
	json_decref(ans);
	return res ? res : json_null();
}

int
ctl_call(const char *sock_path, const char *cmd, json_t *args, json_t **result, char **err)
{
	uint64_t deadline = now_ms() + CTL_CALL_TIMEOUT_MS;
	struct buf in = { 0 };
	int fd, n;

	*result = NULL;
	*err = NULL;
	if ((fd = call_open(sock_path, cmd, args, deadline, err)) < 0)
		return -1;
	while ((n = call_read(fd, &in, deadline, sock_path, err)) > 0)
		;
	close(fd);
	if (n == 0)
		*result = answer_parse(in.data ? in.data : "", in.len, err);
	buf_free(&in);
	return *result ? 0 : -1;
}

#define STREAM_HEAD "{\"ok\":true,\"result\":["

/* each_line() handles one line of an answer to ctl_call_each(): the head of
 * a streamed array, one element (with its separating comma), its end, or a
 * whole answer. 0 to go on, 1 at the end, -1 and *err. */
static int
each_line(char *line, size_t len, int *streaming, int (*each)(json_t *, void *), void *arg,
    char **err)
{
	json_error_t jerr;
	json_t *v;
	size_t i;
	int rc = 0;

	if (!*streaming) {
		if (len == strlen(STREAM_HEAD) && memcmp(line, STREAM_HEAD, len) == 0) {
			*streaming = 1;
			return 0;
		}
		/* An answer in one piece: an error, or a result not streamed. */
		if ((v = answer_parse(line, len, err)) == NULL)
			return -1;
		if (!json_is_array(v)) {
			json_decref(v);
			*err = xstrdup("the daemon's answer is not a list");
			return -1;
		}
		for (i = 0; i < json_array_size(v); i++)
			if (each(json_array_get(v, i), arg) != 0)
				break;
		json_decref(v);
		return 1;
	}
	if (len == 2 && memcmp(line, "]}", 2) == 0)
		return 1;
	if (len > 0 && line[len - 1] == ',')
		len--;
	if (len == 0)
		return 0;
	if ((v = json_loadb(line, len, 0, &jerr)) == NULL) {
		*err = xstrdup("the daemon's answer is not JSON");
		return -1;
	}
	if (each(v, arg) != 0)
		rc = 1;
	json_decref(v);
	return rc;
}

int
ctl_call_each(const char *sock_path, const char *cmd, json_t *args,
    int (*each)(json_t *elem, void *arg), void *arg, char **err)
{
	uint64_t deadline = now_ms() + CTL_CALL_TIMEOUT_MS;
	struct buf in = { 0 };
	int fd, n = 1, streaming = 0, rc = 0;

	*err = NULL;
	if ((fd = call_open(sock_path, cmd, args, deadline, err)) < 0)
		return -1;
	while (rc == 0) {
		size_t off = 0;
		char *nl;

		while (rc == 0 && off < in.len &&
		    (nl = memchr(in.data + off, '\n', in.len - off)) != NULL) {
			size_t len = (size_t)(nl - (in.data + off));

			rc = each_line(in.data + off, len, &streaming, each, arg, err);
			off += len + 1;
		}
		buf_consume(&in, off);
		if (rc != 0)
			break;
		if (n == 0) {
			/* The end without a final newline or "]}": cut short. */
			if (in.len > 0)
				rc = each_line(in.data, in.len, &streaming, each, arg, err);
			if (rc == 0) {
				*err = xstrdup("the daemon's answer was cut short");
				rc = -1;
			}
			break;
		}
		if ((n = call_read(fd, &in, deadline, sock_path, err)) < 0)
			rc = -1;
	}
	close(fd);
	buf_free(&in);
	return rc < 0 ? -1 : 0;
}
