/* queue_ctl: queue management over the control socket, like Postfix's showq
 * (list, show) and postsuper (delete, hold, release). Reads come straight
 * from the spool's index; changes answer once the spool has made them
 * durable, so `hermod queue delete` returning means the message is gone for
 * good. Loop thread only. */
#include "queue/queue_ctl.h"
#include "ctl/ctl.h"
#include "spool/spool.h"
#include "util/buf.h"
#include "util/id.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static queue_flush_hook flush_fn;
static void *flush_arg;
static queue_hold_reason_fn hold_fn;
static void *hold_arg;

void
queue_ctl_set_hold_reason(queue_hold_reason_fn fn, void *arg)
{
	hold_fn = fn;
	hold_arg = arg;
}

static queue_why_hook why_fn;
static void *why_arg;
static queue_dest_hook dest_fn;
static void *dest_arg;

void
queue_ctl_set_why_hook(queue_why_hook fn, void *arg)
{
	why_fn = fn;
	why_arg = arg;
}

void
queue_ctl_set_dest_hook(queue_dest_hook fn, void *arg)
{
	dest_fn = fn;
	dest_arg = arg;
}

static queue_resume_hook resume_fn;
static void *resume_arg;

void
queue_ctl_set_resume_hook(queue_resume_hook fn, void *arg)
{
	resume_fn = fn;
	resume_arg = arg;
}

void
queue_ctl_set_flush_hook(queue_flush_hook fn, void *arg)
{
	flush_fn = fn;
	flush_arg = arg;
}

static json_t *
str_or_null(const char *s)
{
	/* Envelope strings are bytes as the client sent them; jansson wants
	 * UTF-8, so anything else becomes a string with the bad bytes escaped. */
	json_t *j;

	if (s == NULL)
		return json_null();
	if ((j = json_string(s)) != NULL)
		return j;
	{
		size_t n = strlen(s);
		char *t = xmalloc(n * 4 + 1), *w = t;

		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)s[i];

			if (c < 0x80)
				*w++ = (char)c;
			else
				w += sprintf(w, "\\x%02x", c);
		}
		*w = '\0';
		j = json_string(t);
		free(t);
		return j ? j : json_null();
	}
}

static json_t *
time_or_null(uint64_t ms)
{
	char t[40];

	if (ms == 0)
		return json_null();
	time_iso8601(ms, 0, t, sizeof(t));
	return json_string(t);
}

json_t *
queue_ctl_env_json(const struct spool_env *env)
{
	json_t *o = json_object(), *rcpts = json_array();

	json_object_set_new(o, "id", json_string(env->id));
	json_object_set_new(o, "message_id", str_or_null(env->message_id));
	json_object_set_new(o, "account", str_or_null(env->account));
	json_object_set_new(o, "from", str_or_null(env->mail_from ? env->mail_from : ""));
	for (size_t i = 0; i < env->nrcpt; i++) {
		const struct spool_rcpt *r = &env->rcpt[i];
		json_t *jr = json_object();

		json_object_set_new(jr, "email", str_or_null(r->addr));
		json_object_set_new(jr, "state", json_string(spool_rcpt_state_name(r->state)));
		json_object_set_new(jr, "attempts", json_integer(r->attempts));
		json_object_set_new(jr, "next_attempt", time_or_null(r->next_attempt));
		json_object_set_new(jr, "last_reply", str_or_null(r->last_reply));
		/* DSN (RFC 3461) parameters kept with the recipient. */
		if (r->notify) {
			json_t *n = json_array();
			if (r->notify & SPOOL_NOTIFY_NEVER)
				json_array_append_new(n, json_string("NEVER"));
			if (r->notify & SPOOL_NOTIFY_SUCCESS)
				json_array_append_new(n, json_string("SUCCESS"));
			if (r->notify & SPOOL_NOTIFY_FAILURE)
				json_array_append_new(n, json_string("FAILURE"));
			if (r->notify & SPOOL_NOTIFY_DELAY)
				json_array_append_new(n, json_string("DELAY"));
			json_object_set_new(jr, "notify", n);
		}
		if (r->orcpt)
			json_object_set_new(jr, "orcpt", json_string(r->orcpt));
		if (why_fn && (r->state == SPOOL_RCPT_QUEUED || r->state == SPOOL_RCPT_DEFERRED) &&
		    !(env->flags & SPOOL_F_HELD) && r->addr && strrchr(r->addr, '@')) {
			char *why = why_fn(env->id, strrchr(r->addr, '@') + 1, why_arg);
			if (why) {
				json_object_set_new(jr, "waiting", str_or_null(why));
				free(why);
			}
		}
		json_array_append_new(rcpts, jr);
	}
	json_object_set_new(o, "recipients", rcpts);
	json_object_set_new(o, "size", json_integer((json_int_t)env->size));
	json_object_set_new(o, "queued_at", time_or_null(env->queued_at));
	{
		const char *paused = hold_fn && env->account ? hold_fn(hold_arg, env->account) : NULL;

		json_object_set_new(o, "held", json_boolean((env->flags & SPOOL_F_HELD) || paused));
		if (paused) {
			char *r = xasprintf("account paused (%s)", paused);
			json_object_set_new(o, "hold_reason", json_string(r));
			free(r);
		}
	}
	/* Present only when set: the DSN envelope and the body's needs. */
	if (env->envid)
		json_object_set_new(o, "envid", json_string(env->envid));
	if (env->ret != SPOOL_RET_NONE)
		json_object_set_new(o, "ret", json_string(env->ret == SPOOL_RET_FULL ? "FULL" : "HDRS"));
	if (env->flags & SPOOL_F_SMTPUTF8)
		json_object_set_new(o, "smtputf8", json_true());
	if (env->flags & SPOOL_F_8BITMIME)
		json_object_set_new(o, "8bitmime", json_true());
	return o;
}

/* queue.list streams: the ids are taken at once (21 bytes a message) and the
 * entries are written a few at a time, each looked up again when its turn
 * comes, so a message that left meanwhile is skipped and the daemon never
 * holds the whole answer. One entry a line (see ctl_call_each()). */
#define LIST_PART_BYTES (64 * 1024)

struct list_state {
	struct spool	*sp;
	char		(*ids)[ID_LEN + 1];
	size_t		 n, next, cap;
	int		 started, any;
};

static int
list_collect(const struct spool_env *env, void *arg)
{
	struct list_state *ls = arg;

	if (ls->n == ls->cap) {
		ls->cap = ls->cap ? ls->cap * 2 : 256;
		ls->ids = xrealloc(ls->ids, ls->cap * sizeof(*ls->ids));
	}
	memcpy(ls->ids[ls->n++], env->id, ID_LEN + 1);
	return 0;
}

static int
list_part(struct buf *out, int abort, void *arg)
{
	struct list_state *ls = arg;

	if (abort)
		goto done;
	if (!ls->started) {
		buf_puts(out, "[");
		ls->started = 1;
	}
	while (ls->next < ls->n && out->len < LIST_PART_BYTES) {
		const struct spool_env *env = spool_get(ls->sp, ls->ids[ls->next++]);
		json_t *j;
		char *text;

		if (env == NULL)
			continue;
		j = queue_ctl_env_json(env);
		text = json_dumps(j, JSON_COMPACT);
		json_decref(j);
		if (text == NULL)
			continue;
		buf_puts(out, ls->any ? ",\n" : "\n");
		ls->any = 1;
		buf_puts(out, text);
		free(text);
	}
	if (ls->next < ls->n)
		return 1;
	buf_puts(out, "\n]");
done:
	free(ls->ids);
	free(ls);
	return 0;
}

static void
h_list(struct ctl_request *req, json_t *args, void *arg)
{
	struct list_state *ls = xcalloc(1, sizeof(*ls));

	(void)args;
	ls->sp = arg;
	spool_foreach(arg, list_collect, ls);
	ctl_reply_stream(req, list_part, ls);
}

/* arg_id() returns args.id when it is a well-formed queue id, else replies
 * with the error and returns NULL. */
static const char *
arg_id(struct ctl_request *req, json_t *args)
{
	const char *id = json_string_value(json_object_get(args, "id"));

	if (id == NULL) {
		ctl_reply(req, NULL, "a queue id is required");
		return NULL;
	}
	if (!id_valid(id)) {
		char *e = xasprintf("%.40s: not a queue id", id);

		ctl_reply(req, NULL, e);
		free(e);
		return NULL;
	}
	return id;
}

static void
no_such(struct ctl_request *req, const char *id)
{
	char *e = xasprintf("%s: no such message in the queue", id);

	ctl_reply(req, NULL, e);
	free(e);
}

static void
h_show(struct ctl_request *req, json_t *args, void *arg)
{
	const struct spool_env *env;
	const char *id = arg_id(req, args);

	if (id == NULL)
		return;
	if ((env = spool_get(arg, id)) == NULL) {
		no_such(req, id);
		return;
	}
	ctl_reply(req, queue_ctl_env_json(env), NULL);
}

/* A change answers when its record is durable. */
struct pending {
	struct ctl_request *req;
	const char	*what;
};

static void
changed(int err, const char *id, void *arg)
{
	struct pending *p = arg;

	if (err) {
		char *e = xasprintf("%s: %s failed: %s", id, p->what, strerror(-err));

		ctl_reply(p->req, NULL, e);
		free(e);
	} else {
		log_info("queue", "%s %s by the administrator", id, p->what);
		ctl_reply(p->req, json_pack("{s:s, s:s}", "id", id, "done", p->what), NULL);
	}
	free(p);
}

static void
change(struct ctl_request *req, json_t *args, struct spool *sp, const char *what,
    int (*fn)(struct spool *, const char *, spool_commit_cb, void *))
{
	const char *id = arg_id(req, args);
	struct pending *p;
	int e;

	if (id == NULL)
		return;
	p = xmalloc(sizeof(*p));
	p->req = req;
	p->what = what;
	if ((e = fn(sp, id, changed, p)) < 0) {
		free(p);
		if (e == -ENOENT)
			no_such(req, id);
		else {
			char *m = xasprintf("%s: %s failed: %s", id, what, strerror(-e));

			ctl_reply(req, NULL, m);
			free(m);
		}
	}
}

static void
h_delete(struct ctl_request *req, json_t *args, void *arg)
{
	change(req, args, arg, "deleted", spool_delete);
}

static void
h_hold(struct ctl_request *req, json_t *args, void *arg)
{
	change(req, args, arg, "held", spool_hold);
}

static void
h_release(struct ctl_request *req, json_t *args, void *arg)
{
	change(req, args, arg, "released", spool_release);
}

static void
h_flush(struct ctl_request *req, json_t *args, void *arg)
{
	const char *id = NULL;
	int n;

	if (json_object_get(args, "id") && (id = arg_id(req, args)) == NULL)
		return;
	if (id && spool_get(arg, id) == NULL) {
		no_such(req, id);
		return;
	}
	if (flush_fn == NULL) {
		ctl_reply(req, NULL, "flush: no delivery runs in this daemon; mail stays queued");
		return;
	}
	n = flush_fn(id, flush_arg);
	if (n == -ENOENT) {
		no_such(req, id ? id : "");
		return;
	}
	if (n < 0) {
		char *e = xasprintf("flush failed: %s", strerror(-n));

		ctl_reply(req, NULL, e);
		free(e);
		return;
	}
	ctl_reply(req, json_pack("{s:i}", "scheduled", n), NULL);
}

static void
h_destinations(struct ctl_request *req, json_t *args, void *arg)
{
	(void)args;
	(void)arg;
	if (dest_fn == NULL) {
		ctl_reply(req, NULL, "destinations: no delivery runs in this daemon");
		return;
	}
	ctl_reply(req, dest_fn(dest_arg), NULL);
}

static void
h_resume(struct ctl_request *req, json_t *args, void *arg)
{
	const char *name = json_string_value(json_object_get(args, "id"));

	(void)arg;
	if (resume_fn == NULL) {
		ctl_reply(req, NULL, "resume: no delivery runs in this daemon");
		return;
	}
	if (name == NULL || resume_fn(name, resume_arg) < 0) {
		char *e = xasprintf("resume: no destination %s (see hermod queue destinations)",
		    name ? name : "");
		ctl_reply(req, NULL, e);
		free(e);
		return;
	}
	ctl_reply(req, json_pack("{s:s}", "done", "resumed"), NULL);
}

void
queue_ctl_register(struct ctl *c, struct spool *sp)
{
	ctl_register(c, "queue.resume", h_resume, sp);
	ctl_register(c, "queue.destinations", h_destinations, sp);
	ctl_register(c, "queue.list", h_list, sp);
	ctl_register(c, "queue.show", h_show, sp);
	ctl_register(c, "queue.delete", h_delete, sp);
	ctl_register(c, "queue.hold", h_hold, sp);
	ctl_register(c, "queue.release", h_release, sp);
	ctl_register(c, "queue.flush", h_flush, sp);
}
