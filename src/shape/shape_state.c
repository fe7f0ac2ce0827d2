/* shape_state: what the shaper keeps across a restart, so that a restart
 * neither lifts a receiver's suspension nor gives a warm-up a fresh day:
 * each destination's suspension (until, reply, rule) and its warm-up counts
 * of the current day, in data_dir/shaping.state, one JSON object.
 *
 * Saved at most every SHAPE_SAVE_MS when something changed, and once more
 * when delivery stops: the JSON is built on the loop thread (a few hundred
 * bytes per destination with state, usually a handful), written by a worker
 * (write to a temporary file, fsync, rename), so the file is either the old
 * or the new one. Read once when delivery starts, before the loop serves
 * anything (like the configuration). Rates and connection counts are not
 * kept: they start afresh. */
#include "shape/shape_int.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SHAPE_SAVE_MS	2000

/* One save in flight: owns its bytes and paths, touches no shaper state,
 * so it may outlive the shaper (the loop runs until it is done). */
struct save_job {
	uv_work_t	 req;
	struct shape	*sh;		/* NULL once the shaper is gone */
	char		*path, *tmp, *text;
	int		 err;
};

static void
save_work(uv_work_t *req)
{
	struct save_job *j = req->data;
	size_t len = strlen(j->text), off = 0;
	int fd = open(j->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0) {
		j->err = errno;
		return;
	}
	while (off < len) {
		ssize_t n = write(fd, j->text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			j->err = n < 0 ? errno : EIO;
			break;
		}
		off += (size_t)n;
	}
	if (j->err == 0 && fsync(fd) < 0)
		j->err = errno;
	if (close(fd) < 0 && j->err == 0)
		j->err = errno;
	if (j->err == 0 && rename(j->tmp, j->path) < 0)
		j->err = errno;
	if (j->err)
		unlink(j->tmp);
}

static void
save_done(uv_work_t *req, int status)
{
	struct save_job *j = req->data;

	(void)status;
	if (j->err)
		log_warn("shape", "cannot save %s: %s", j->path, strerror(j->err));
	if (j->sh)
		j->sh->saving = NULL;
	free(j->path);
	free(j->tmp);
	free(j->text);
	free(j);
}

/* snapshot() is the JSON of every destination with a suspension or a
 * warm-up count in force. */
static char *
snapshot(struct shape *sh, uint64_t now)
{
	json_t *root = json_object(), *keys = json_array();
	char *text;

	for (struct skey *k = sh->key_list; k; k = k->next) {
		json_t *o = NULL, *wu = NULL;
		if (k->suspended_until > now) {
			o = json_object();
			json_object_set_new(o, "suspended_until", json_integer((json_int_t)k->suspended_until));
			json_object_set_new(o, "reason", json_string(k->reason));
			json_object_set_new(o, "rule", json_string(k->rule ? k->rule : ""));
		}
		for (size_t i = 0; i < sh->conf.nwarmups; i++) {
			if (k->wu_count[i] == 0 || k->wu_day_end[i] <= now)
				continue;
			if (wu == NULL)
				wu = json_object();
			json_object_set_new(wu, sh->conf.warmups[i].name, json_pack("{s:I, s:I}",
			    "day_end", (json_int_t)k->wu_day_end[i], "count", (json_int_t)k->wu_count[i]));
		}
		if (o == NULL && wu == NULL)
			continue;
		if (o == NULL)
			o = json_object();
		if (wu)
			json_object_set_new(o, "warmup", wu);
		json_object_set_new(o, "name", json_string(k->name));
		json_object_set_new(o, "provider", json_boolean(k->prov != NULL));
		json_array_append_new(keys, o);
	}
	json_object_set_new(root, "saved_at", json_integer((json_int_t)now));
	json_object_set_new(root, "destinations", keys);
	text = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	return text;
}

static void
save_now(struct shape *sh)
{
	struct save_job *j;

	if (sh->saving || sh->state_path == NULL || !sh->dirty)
		return;
	j = xcalloc(1, sizeof(*j));
	j->sh = sh;
	j->path = xstrdup(sh->state_path);
	j->tmp = xasprintf("%s.tmp", sh->state_path);
	j->text = snapshot(sh, time_now_ms());
	if (j->text == NULL)
		j->text = xstrdup("{}");
	j->req.data = j;
	if (uv_queue_work(sh->loop, &j->req, save_work, save_done) != 0) {
		free(j->path);
		free(j->tmp);
		free(j->text);
		free(j);
		return;
	}
	sh->saving = j;
	sh->dirty = 0;
}

static void
on_save_timer(uv_timer_t *t)
{
	save_now(t->data);
}

/* find_key() is the key named name (a provider's, or a domain's own). */
static struct skey *
find_key(struct shape *sh, const char *name, int provider)
{
	if (provider) {
		for (size_t i = 0; i < sh->conf.nproviders; i++)
			if (!strcmp(sh->conf.providers[i].name, name))
				return shape_provider_key(sh, &sh->conf.providers[i]);
		return NULL;	/* no longer configured */
	}
	return shape_dom_get(sh, name)->self;
}

/* rule_name() is the configuration's copy of a rule's name (the key keeps
 * a pointer), or a fixed text when the rule is gone. */
static const char *
rule_name(const struct shape *sh, const char *name)
{
	for (size_t i = 0; i < sh->conf.nrules; i++)
		if (!strcmp(sh->conf.rules[i].name, name))
			return sh->conf.rules[i].name;
	return "(removed rule)";
}

int
shape_state_load(struct shape *sh, const char *path, uint64_t now)
{
	json_error_t jerr;
	json_t *root, *dests, *o;
	size_t i, n = 0;

	if (access(path, F_OK) != 0)
		return 0;
	if ((root = json_load_file(path, 0, &jerr)) == NULL) {
		log_warn("shape", "ignoring %s: %s", path, jerr.text);
		return -1;
	}
	dests = json_object_get(root, "destinations");
	json_array_foreach(dests, i, o) {
		const char *name = json_string_value(json_object_get(o, "name"));
		struct skey *k;
		json_t *wu;
		uint64_t until = (uint64_t)json_integer_value(json_object_get(o, "suspended_until"));

		if (name == NULL || (k = find_key(sh, name, json_is_true(json_object_get(o, "provider")))) == NULL)
			continue;
		if (until > now) {
			k->suspended_until = until;
			k->suspend_ms = until - now;
			snprintf(k->reason, sizeof(k->reason), "%s",
			    json_string_value(json_object_get(o, "reason")) ?: "");
			k->rule = rule_name(sh, json_string_value(json_object_get(o, "rule")) ?: "");
		}
		if ((wu = json_object_get(o, "warmup")) != NULL)
			for (size_t w = 0; w < sh->conf.nwarmups; w++) {
				json_t *c = json_object_get(wu, sh->conf.warmups[w].name);
				uint64_t end = (uint64_t)json_integer_value(json_object_get(c, "day_end"));
				if (c == NULL || end <= now)
					continue;
				k->wu_day_end[w] = end;
				k->wu_count[w] = (uint64_t)json_integer_value(json_object_get(c, "count"));
			}
		n++;
	}
	json_decref(root);
	log_info("shape", "%zu destinations restored from %s", n, path);
	return 0;
}

void
shape_state_start(struct shape *sh, uv_loop_t *loop, const char *path)
{
	sh->loop = loop;
	sh->state_path = xstrdup(path);
	sh->save_timer = xmalloc(sizeof(*sh->save_timer));
	uv_timer_init(loop, sh->save_timer);
	sh->save_timer->data = sh;
	uv_timer_start(sh->save_timer, on_save_timer, SHAPE_SAVE_MS, SHAPE_SAVE_MS);
	uv_unref((uv_handle_t *)sh->save_timer);	/* never keeps the loop alive alone */
}

static void
timer_close_free(uv_handle_t *h)
{
	free(h);
}

void
shape_state_stop(struct shape *sh)
{
	if (sh->save_timer == NULL)
		return;
	uv_timer_stop(sh->save_timer);
	uv_close((uv_handle_t *)sh->save_timer, timer_close_free);
	sh->save_timer = NULL;
	/* the last word: a save in flight is followed by none, so wait for
	 * nothing and write what is known now when it changed since */
	if (sh->saving == NULL)
		save_now(sh);
	else if (sh->dirty)
		log_warn("shape", "a save is in flight: the last changes to %s are not saved", sh->state_path);
}

void
shape_state_free(struct shape *sh)
{
	if (sh->saving)
		sh->saving->sh = NULL;	/* it finishes on its own */
	free(sh->state_path);
}
