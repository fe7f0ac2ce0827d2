/* inbound_process: one received report becomes events (on a worker).
 *
 * Mapping, best evidence first:
 *  1. the VERP address the report came to (the envelope RCPT): queue id and
 *     recipient index, signed by us, so the original recipient comes from
 *     the store (store_event_recipient) whatever the report's text says;
 *  2. a VERP address in the returned message's Return-Path (ARF reports
 *     quote the delivered message, which carries it; so do some bounces);
 *  3. the returned message's Message-ID (store_event_find_message), with
 *     the DSN's Final-Recipient (or ARF Original-Rcpt-To) as the recipient when it is one of the message's.
 *
 * A DSN emits one `bounced` event per failed recipient it maps; "delayed",
 * "delivered", "relayed" and "expanded" actions emit nothing (hermod's own
 * `deferred` events are about its own attempts; a remote delay notice says
 * the message is still on its way, and a failure, if it comes, is a DSN of
 * its own). An ARF report emits one `complained` event. A report that maps
 * to nothing, or is no report at all, is logged, counted and moved to
 * data_dir/inbound/unmatched/ for an operator. */
#include "inbound/inbound.h"
#include "deliver/bounce.h"
#include "events/events.h"
#include "feedback/fb_parse.h"
#include "metrics/metrics.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/xalloc.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define INBOUND_FILE_MAX	(64u << 20)	/* a report file read back; the listener caps far lower */
#define INBOUND_SCAN_RCPTS	1000		/* recipient indices searched by address */

struct envelope {
	const char	*from;
	const char	*rcpt[64];
	size_t		 nrcpt;
	const char	*msg;
	size_t		 len;
};

/* A mapped original: hermod's id, the account, the recipient. */
struct target {
	char	*message_id;
	char	*account;
	char	*recipient;
	int	 rcpt_index;
	const char *via;	/* "verp", "return-path", "message-id" */
	char	*meta_json;	/* {"tags", "metadata"} of the original, or NULL */
};

static void
target_free(struct target *t)
{
	free(t->message_id);
	free(t->account);
	free(t->recipient);
	free(t->meta_json);
	memset(t, 0, sizeof(*t));
}

/* parse_envelope() splits the file inbound.c wrote; the strings point into
 * data, whose line ends are overwritten with NULs. 0 or -1. */
static int
parse_envelope(char *data, size_t len, struct envelope *e)
{
	char *p = data, *end = data + len;
	int first = 1;

	memset(e, 0, sizeof(*e));
	e->from = "";
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *line = p;
		if (nl == NULL)
			return -1;
		*nl = '\0';
		if (nl > p && nl[-1] == '\r')
			nl[-1] = '\0';
		p = nl + 1;
		if (first) {
			if (strcmp(line, "hermod-inbound 1") != 0)
				return -1;
			first = 0;
		} else if (line[0] == '\0') {
			e->msg = p;
			e->len = (size_t)(end - p);
			return 0;
		} else if (strncmp(line, "from ", 5) == 0) {
			e->from = line + 5;
		} else if (strncmp(line, "to ", 3) == 0 && e->nrcpt < sizeof(e->rcpt) / sizeof(e->rcpt[0])) {
			e->rcpt[e->nrcpt++] = line + 3;
		}
	}
	return -1;
}

/* map_verp() maps a VERP address to its original recipient: 0, or -1. */
static int
map_verp(struct store *st, const struct verp_key *key, const char *addr, const char *via,
    struct target *t)
{
	struct verp_addr va;
	char *err = NULL;
	int rc;

	if (addr == NULL || verp_parse(key, addr, strlen(addr), &va) != VERP_OK)
		return -1;
	rc = store_event_recipient(st, va.id, (int)va.rcpt_index, &t->account, &t->recipient, &err);
	if (rc != 0) {
		log_warn("inbound", "VERP address of message %s recipient %zu: not in the store (%s)",
		    va.id, va.rcpt_index, rc == STORE_NOTFOUND ? "expired or unknown" : (err ? err : "error"));
		free(err);
		target_free(t);
		return -1;
	}
	t->message_id = xstrdup(va.id);
	t->rcpt_index = (int)va.rcpt_index;
	t->via = via;
	return 0;
}

/* map_message_id() maps the returned message's Message-ID and a recipient
 * address to the original: 0, or -1. */
static int
map_message_id(struct store *st, const char *header_message_id, const char *recipient,
    struct target *t)
{
	char *err = NULL;

	if (header_message_id == NULL || recipient == NULL || recipient[0] == '\0')
		return -1;
	if (store_event_find_message(st, header_message_id, &t->message_id, &t->account, &err) != 0) {
		free(err);
		return -1;
	}
	t->recipient = xstrdup(recipient);
	t->rcpt_index = -1;
	t->via = "message-id";
	/* The recipient must be one of the message's (bounded search): unlike
	 * a VERP address, the Message-ID and the report's recipient are
	 * whatever the sender of the report wrote, and any recipient of a
	 * message knows its Message-ID. Without this check, one forged report
	 * to a feedback address would bounce (and suppress) any address it
	 * names under the sender's account. */
	for (int i = 0; i < INBOUND_SCAN_RCPTS; i++) {
		char *acc = NULL, *r = NULL;
		int rc = store_event_recipient(st, t->message_id, i, &acc, &r, &err);
		int same = rc == 0 && r != NULL && strcasecmp(r, recipient) == 0;
		free(acc);
		free(r);
		free(err);
		err = NULL;
		if (rc != 0 && rc != STORE_NOTFOUND)
			break;
		/* not found: past the last recipient, or one dropped before it
		 * was queued (no event names its index); look on */
		if (same) {
			t->rcpt_index = i;
			break;
		}
	}
	if (t->rcpt_index < 0) {
		log_warn("inbound", "report for message %s names a recipient it was not sent to",
		    t->message_id);
		target_free(t);
		return -1;
	}
	return 0;
}

static void
json_member(struct buf *b, const char *key, const char *val)
{
	if (val == NULL)
		return;
	buf_putc(b, b->len > 1 ? ',' : '{');
	buf_json_str(b, key, strlen(key));
	buf_putc(b, ':');
	buf_json_str(b, val, strlen(val));
}

static char *
json_end(struct buf *b)
{
	if (b->len == 0)
		buf_putc(b, '{');
	buf_putc(b, '}');
	return buf_steal(b, NULL);
}

static void
count(const char *kind, const char *result)
{
	static struct metrics_family *f;

	if (f == NULL)
		f = metrics_counter(NULL, "hermod_inbound_reports_total",
		    "Reports taken by the inbound listener, by kind and what became of them.", "kind,result");
	metrics_inc(metrics_series(f, kind, result));
}

static void
emit_bounce(const struct fb_report *rep, const struct fb_rcpt *r, const struct target *t)
{
	struct bounce_info bi;
	struct event ev;
	struct buf x;
	char enh[16];
	int code = r->smtp_code;
	char *extra;

	snprintf(enh, sizeof(enh), "%s", r->status);
	if (code == 0)
		code = enh[0] == '4' ? 450 : 550;
	if (enh[0] == '\0')
		snprintf(enh, sizeof(enh), "%c.0.0", code / 100 == 4 ? '4' : '5');
	bounce_classify(code, enh, r->diagnostic, r->diagnostic ? strlen(r->diagnostic) : 0,
	    BOUNCE_LOCAL_NONE, &bi);
	buf_init(&x);
	json_member(&x, "source", "inbound");
	json_member(&x, "report_format", rep->format);
	json_member(&x, "mapped_by", t->via);
	json_member(&x, "reporting_mta", rep->reporting_mta);
	if (r->recipient && strcasecmp(r->recipient, t->recipient) != 0)
		json_member(&x, "final_recipient", r->recipient);
	extra = json_end(&x);
	memset(&ev, 0, sizeof(ev));
	ev.type = EVENT_BOUNCED;
	ev.account = t->account;
	ev.message_id = t->message_id;
	ev.header_message_id = rep->orig_message_id;
	ev.recipient = t->recipient;
	ev.rcpt_index = t->rcpt_index;
	ev.meta_json = t->meta_json;
	ev.mx = r->remote_mta;
	ev.smtp_code = code;
	ev.smtp_enhanced = enh;
	ev.smtp_text = r->diagnostic ? r->diagnostic : "";
	ev.bounce_class = bounce_class_name(bi.cls);
	ev.bounce_category = bounce_category_name(bi.category);
	ev.extra_json = extra;
	events_emit(&ev);
	free(extra);
}

static void
emit_complaint(const struct fb_report *rep, const struct target *t)
{
	struct event ev;
	struct buf x;
	char *extra;

	buf_init(&x);
	json_member(&x, "source", "inbound");
	json_member(&x, "feedback_type", rep->feedback_type ? rep->feedback_type : "abuse");
	json_member(&x, "user_agent", rep->user_agent);
	json_member(&x, "source_ip", rep->source_ip);
	json_member(&x, "reporting_mta", rep->reporting_mta);
	json_member(&x, "mapped_by", t->via);
	extra = json_end(&x);
	memset(&ev, 0, sizeof(ev));
	ev.type = EVENT_COMPLAINED;
	ev.account = t->account;
	ev.message_id = t->message_id;
	ev.header_message_id = rep->orig_message_id;
	ev.recipient = t->recipient;
	ev.rcpt_index = t->rcpt_index;
	ev.meta_json = t->meta_json;
	ev.extra_json = extra;
	events_emit(&ev);
	free(extra);
}

/* attach_meta() gives t the tags and metadata the original was sent with,
 * from its first event, so a late bounce or complaint carries them like the
 * delivery events do. Nothing when the events are gone (retention). */
static void
attach_meta(struct store *st, struct target *t)
{
	char *json = NULL, *err = NULL;
	json_t *root, *out;

	if (store_event_first_json(st, t->message_id, &json, &err) != 0) {
		free(err);
		return;
	}
	if ((root = json_loads(json, 0, NULL)) != NULL) {
		out = json_object();
		if (json_is_array(json_object_get(root, "tags")))
			json_object_set(out, "tags", json_object_get(root, "tags"));
		if (json_is_object(json_object_get(root, "metadata")))
			json_object_set(out, "metadata", json_object_get(root, "metadata"));
		t->meta_json = json_dumps(out, JSON_COMPACT);
		json_decref(out);
		json_decref(root);
	}
	free(json);
}

/* map_one() maps recipient addr of report rep (arrived at envelope e). */
static int
map_one(struct store *st, const struct verp_key *key, const struct envelope *e,
    const struct fb_report *rep, const char *addr, struct target *t)
{
	memset(t, 0, sizeof(*t));
	/* The VERP address it came to: with several, the one for addr. */
	for (size_t i = 0; i < e->nrcpt; i++) {
		if (map_verp(st, key, e->rcpt[i], "verp", t) < 0)
			continue;
		if (e->nrcpt == 1 || addr == NULL || strcasecmp(t->recipient, addr) == 0)
			return 0;
		target_free(t);
	}
	if (map_verp(st, key, rep->orig_return_path, "return-path", t) == 0)
		return 0;
	return map_message_id(st, rep->orig_message_id, addr, t);
}

static int
handle(struct store *st, const struct verp_key *key, const struct envelope *e,
    const struct fb_report *rep, const char **kind)
{
	struct target t;
	int n = 0;

	if (rep->kind == FB_ARF) {
		*kind = "arf";
		if (map_one(st, key, e, rep, rep->orig_rcpt_to, &t) == 0) {
			attach_meta(st, &t);
			emit_complaint(rep, &t);
			target_free(&t);
			n++;
		}
		return n;
	}
	*kind = "dsn";
	for (size_t i = 0; i < rep->nrcpt; i++) {
		const struct fb_rcpt *r = &rep->rcpts[i];
		if (r->action == NULL || strcmp(r->action, "failed") != 0)
			continue;
		if (map_one(st, key, e, rep, r->recipient, &t) < 0)
			continue;
		/* One VERP address names one recipient: a report that lists
		 * several failures for it still bounces it once. */
		if (n > 0 && strcmp(t.via, "message-id") != 0) {
			target_free(&t);
			break;
		}
		attach_meta(st, &t);
		emit_bounce(rep, r, &t);
		target_free(&t);
		n++;
	}
	return n;
}

static int
only_informative(const struct fb_report *rep)
{
	if (rep->kind != FB_DSN || rep->nrcpt == 0)
		return 0;
	for (size_t i = 0; i < rep->nrcpt; i++)
		if (rep->rcpts[i].action == NULL || strcmp(rep->rcpts[i].action, "failed") == 0)
			return 0;
	return 1;
}

int
inbound_process_file(const char *data_dir, struct store *st, const struct verp_key *key,
    const char *path)
{
	char *data = NULL;
	size_t len = 0;
	struct envelope e;
	struct fb_report rep;
	const char *kind = "other", *base = strrchr(path, '/');
	struct events_mark mark = events_mark();
	int n = 0;

	base = base ? base + 1 : path;
	if (fs_read_file(path, INBOUND_FILE_MAX, &data, &len) < 0) {
		log_error("inbound", "cannot read report %s", path);
		return 0;
	}
	memset(&rep, 0, sizeof(rep));
	if (parse_envelope(data, len, &e) == 0 && fb_parse(e.msg, e.len, &rep) == 0)
		n = handle(st, key, &e, &rep, &kind);
	{
		struct log_line *l = log_begin(n ? LOG_INFO : LOG_WARN, "inbound");
		log_str(l, "msg", n ? "report processed" : only_informative(&rep) ?
		    "report needs no event" : "report matches no message: kept in inbound/unmatched");
		log_str(l, "report", base);
		log_str(l, "kind", kind);
		log_str(l, "format", rep.format);
		log_str(l, "original_message_id", rep.orig_message_id);
		log_int(l, "events", n);
		log_end(l);
	}
	if (n > 0 && events_wait_stored(&mark) < 0) {
		/* The file is the report's only durable record until its events
		 * are in the store: removed earlier, a crash or a stop (the
		 * drain's timeout, events_stop() while this worker runs) would
		 * lose them. Kept in new/, the next start processes it again. */
		log_warn("inbound", "report %s: its events are not stored; kept for the next start",
		    base);
		count(kind, "deferred");
	} else if (n > 0 || only_informative(&rep)) {
		count(kind, n ? "matched" : "ignored");
		unlink(path);
	} else {
		char *dst = xasprintf("%s/inbound/unmatched/%s", data_dir, base);
		count(kind, "unmatched");
		if (rename(path, dst) < 0)
			log_error("inbound", "cannot move report %s to %s", path, dst);
		free(dst);
	}
	fb_report_free(&rep);
	free(data);
	return n;
}
