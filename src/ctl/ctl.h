/* ctl: the daemon's local control socket (data_dir/hermod.sock, mode 0600),
 * through which `hermod queue ...` talks to the running daemon, as postqueue
 * talks to Postfix's showq. One request a connection: the client writes one
 * JSON object a line, {"cmd": "queue.list", "args": {...}}; the server answers
 * one JSON object, {"ok": true, "result": ...} or {"ok": false, "error": "..."},
 * ending with a newline (a streamed result may hold newlines between array
 * elements), and closes. Handlers run on the loop thread. */
#ifndef HERMOD_CTL_H
#define HERMOD_CTL_H
#include <jansson.h>
#include <uv.h>

struct ctl;
struct ctl_request;

/* A handler answers now or later with ctl_reply(); exactly once. */
typedef void (*ctl_handler)(struct ctl_request *req, json_t *args, void *arg);

/* ctl_start() listens on sock_path (mode 0600), replacing a stale socket but
 * refusing when a daemon answers there. The process must ignore SIGPIPE: a
 * client may leave before its answer is written. 0, or -1 with *err. */
int	ctl_start(uv_loop_t *loop, const char *sock_path, struct ctl **out, char **err);
/* ctl_stop() closes the socket (and unlinks it) and every open request;
 * handlers still owing an answer may call ctl_reply() later, harmlessly. */
void	ctl_stop(struct ctl *c);
/* ctl_register() adds a command ("queue.list"); arg is passed to the handler. */
void	ctl_register(struct ctl *c, const char *cmd, ctl_handler fn, void *arg);
/* ctl_reply() sends result (stolen; NULL for none) or, when error is not NULL,
 * the error text, and finishes the request. */
void	ctl_reply(struct ctl_request *req, json_t *result, const char *error);

/* ctl_stream_fn appends the next part of a result's JSON text to out and
 * returns 1 while more follows, 0 after the last part. Called with out NULL
 * and abort 1 instead when the answer cannot be finished (client gone). It
 * frees its own state after returning 0 or on abort. */
struct buf;
typedef int (*ctl_stream_fn)(struct buf *out, int abort, void *arg);
/* ctl_reply_stream() answers {"ok": true, "result": PARTS} with a result too
 * large to build at once (a million queued messages): fn is asked for the
 * next part each time the previous one has been written. The answer is still
 * one JSON value; fn may put newlines between the elements of an array,
 * which ctl_call_each() uses to read it one element at a time. */
void	ctl_reply_stream(struct ctl_request *req, ctl_stream_fn fn, void *arg);

/* ctl_call() is the client side, for the CLI: blocking. Returns 0 and the
 * result (caller decrefs), or -1 and *err ("daemon not running", or the
 * daemon's error). */
int	ctl_call(const char *sock_path, const char *cmd, json_t *args, json_t **result, char **err);

/* ctl_call_each() is ctl_call() for a command whose result is an array: each
 * element is handed to each() (borrowed) as it is read, whether the daemon
 * streamed it one element a line or answered in one piece, so the client's
 * memory stays at one element. each() returns 0 to go on. 0, or -1 and *err. */
int	ctl_call_each(const char *sock_path, const char *cmd, json_t *args,
	    int (*each)(json_t *elem, void *arg), void *arg, char **err);

#endif
