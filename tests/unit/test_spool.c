/* Unit tests for the spool: group commit, recovery, torn and corrupt tails,
 * replayed updates, segment rotation, unlinking and compaction, a full disk
 * (a real tmpfs), and kill -9 at random moments while a child submits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "spool/spool.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

#define MAXIDS 20000

struct ctx {
	int	 done, ok, fail, last_err;
	char	 (*ids)[ID_LEN + 1];	/* by submission order (arg is the index) */
	int	*err;
};

struct sub {
	struct ctx	*c;
	int		 i;
};

static char tmpdir[128];

static void
mk_tmp(void)
{
	strcpy(tmpdir, "/tmp/hermod-spool-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
}

static void
rm_tmp(void)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	assert_int_equal(system(cmd), 0);
}

static char *
spool_dir(void)
{
	return xasprintf("%s/spool", tmpdir);
}

static void
ctx_init(struct ctx *c, int n)
{
	memset(c, 0, sizeof(*c));
	c->ids = xcalloc((size_t)n, sizeof(*c->ids));
	c->err = xcalloc((size_t)n, sizeof(*c->err));
}

static void
ctx_free(struct ctx *c)
{
	free(c->ids);
	free(c->err);
}

static void
commit_cb(int err, const char *id, void *arg)
{
	struct sub *s = arg;
	struct ctx *c = s->c;

	c->done++;
	memcpy(c->ids[s->i], id, ID_LEN + 1);
	c->err[s->i] = err;
	if (err) {
		c->fail++;
		c->last_err = err;
	} else
		c->ok++;
	free(s);
}

static void
update_cb(int err, const char *id, void *arg)
{
	struct ctx *c = arg;

	(void)id;
	c->done++;
	if (err)
		c->fail++;
}

static void
run_until(uv_loop_t *loop, int *counter, int want)
{
	uint64_t t0 = time_mono_ms();

	while (*counter < want) {
		uv_run(loop, UV_RUN_NOWAIT);
		if (*counter >= want)
			break;
		usleep(200);
		if (time_mono_ms() - t0 > 30000)
			fail_msg("timed out: %d of %d", *counter, want);
	}
}

static void
make_env(struct spool_env *env, int nrcpt)
{
	memset(env, 0, sizeof(*env));
	env->account = xstrdup("shop");
	env->mail_from = xstrdup("orders@shop.example");
	env->message_id = xstrdup("abc@shop.example");
	env->client = xstrdup("127.0.0.1");
	env->flags = SPOOL_F_DSN;
	env->ret = SPOOL_RET_HDRS;
	env->nrcpt = (size_t)nrcpt;
	env->rcpt = xcalloc((size_t)nrcpt, sizeof(*env->rcpt));
	for (int i = 0; i < nrcpt; i++) {
		env->rcpt[i].addr = xasprintf("r%d@x.example", i);
		env->rcpt[i].notify = SPOOL_NOTIFY_FAILURE;
	}
	env->rcpt[0].orcpt = xstrdup("rfc822;r0@x.example");
}

/* body() is a message whose bytes depend on n: NULs, CR, LF included. */
static char *
body(int n, size_t len)
{
	char *b = xmalloc(len);

	for (size_t i = 0; i < len; i++)
		b[i] = (char)((i * 31 + (size_t)n * 7) & 0xff);
	if (len > 16)
		snprintf(b, 16, "seq %d\r\n", n);
	return b;
}

static void
submit_n(struct spool *sp, struct ctx *c, int from, int n, size_t len)
{
	struct spool_env env;

	make_env(&env, 2);
	for (int i = from; i < from + n; i++) {
		struct sub *s = xmalloc(sizeof(*s));
		char *b = body(i, len);

		s->c = c;
		s->i = i;
		assert_int_equal(spool_submit(sp, &env, b, len, commit_cb, s), 0);
		free(b);
	}
	spool_env_free(&env);
}

static struct spool *
open_spool(uv_loop_t *loop, const struct spool_opts *o)
{
	struct spool *sp = NULL;
	char *dir = spool_dir(), *err = NULL;

	if (spool_open_opts(&sp, dir, loop, o, &err) < 0)
		fail_msg("spool_open: %s", err);
	free(dir);
	return sp;
}

static void
close_spool(uv_loop_t *loop, struct spool *sp)
{
	spool_close(sp);
	uv_run(loop, UV_RUN_DEFAULT);
}

static int
count_segments(void)
{
	char *dir = spool_dir();
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		n += strncmp(de->d_name, "seg-", 4) == 0;
	closedir(d);
	free(dir);
	return n;
}

struct readback {
	int	 done;
	int	 bad;
	int	 n;
	size_t	 len;
};

static void
read_cb(int err, const char *id, const char *msg, size_t len, void *arg)
{
	struct readback *r = arg;
	char *want = body(r->n, r->len);

	(void)id;
	if (err || len != r->len || memcmp(msg, want, len) != 0)
		r->bad++;
	free(want);
	r->done++;
}

static void
check_read(uv_loop_t *loop, struct spool *sp, const char *id, int n, size_t len)
{
	struct readback r = { 0, 0, n, len };

	assert_int_equal(spool_read(sp, id, read_cb, &r), 0);
	run_until(loop, &r.done, 1);
	assert_int_equal(r.bad, 0);
}

static void
test_submit_recover(void **state)
{
	uv_loop_t loop;
	struct spool *sp;
	struct ctx c;
	const struct spool_env *e;
	int n = 50;

	(void)state;
	mk_tmp();
	uv_loop_init(&loop);
	ctx_init(&c, n);
	sp = open_spool(&loop, NULL);
	submit_n(sp, &c, 0, n, 4096);
	run_until(&loop, &c.done, n);
	assert_int_equal(c.ok, n);
	assert_int_equal(spool_count(sp), n);
	e = spool_get(sp, c.ids[7]);
	assert_non_null(e);
	assert_string_equal(e->account, "shop");
	assert_string_equal(e->rcpt[1].addr, "r1@x.example");
	assert_string_equal(e->rcpt[0].orcpt, "rfc822;r0@x.example");
	assert_null(e->rcpt[1].orcpt);
	assert_null(e->envid);
	assert_int_equal(e->size, 4096);
	check_read(&loop, sp, c.ids[7], 7, 4096);
	{
		/* One process owns a spool. */
		struct spool *sp2 = NULL;
		char *dir = spool_dir(), *err = NULL;

		assert_int_equal(spool_open(&sp2, dir, &loop, &err), -1);
		assert_non_null(strstr(err, "in use"));
		free(err);
		free(dir);
	}
	close_spool(&loop, sp);

	sp = open_spool(&loop, NULL);
	assert_int_equal(spool_count(sp), n);
	for (int i = 0; i < n; i++)
		assert_non_null(spool_get(sp, c.ids[i]));
	e = spool_get(sp, c.ids[9]);
	assert_string_equal(e->mail_from, "orders@shop.example");
	assert_string_equal(e->message_id, "abc@shop.example");
	assert_int_equal(e->ret, SPOOL_RET_HDRS);
	assert_int_equal(e->flags, SPOOL_F_DSN);
	assert_int_equal(e->rcpt[0].notify, SPOOL_NOTIFY_FAILURE);
	check_read(&loop, sp, c.ids[n - 1], n - 1, 4096);
	check_read(&loop, sp, c.ids[0], 0, 4096);
	close_spool(&loop, sp);
	uv_loop_close(&loop);
	ctx_free(&c);
	rm_tmp();
}

static void
test_group_commit(void **state)
{
	uv_loop_t loop;
	struct spool *sp;
	struct spool_stats st;
	struct ctx c;
	int n = 4000;

	(void)state;
	mk_tmp();
	uv_loop_init(&loop);
	ctx_init(&c, n);
	sp = open_spool(&loop, NULL);
	submit_n(sp, &c, 0, n, 4096);
	run_until(&loop, &c.done, n);
	assert_int_equal(c.ok, n);
	spool_stats(sp, &st);
	print_message("%d messages, %llu commits\n", n, (unsigned long long)st.commits);
	assert_int_equal(st.records, n);
	assert_true(st.commits < (uint64_t)n / 4);
	assert_true(st.commits >= 1);
	assert_true(st.sync_buckets[SPOOL_SYNC_NBUCKETS - 1] <= st.commits);
	assert_int_equal(st.messages, n);
	{
		struct buf b = { 0 };
		char want[64];

		spool_stats_prometheus(&st, &b);
		snprintf(want, sizeof(want), "hermod_spool_sync_seconds_count %llu\n",
		    (unsigned long long)st.commits);
		assert_non_null(strstr(b.data, want));
		assert_non_null(strstr(b.data, "# TYPE hermod_spool_sync_seconds histogram\n"));
		assert_non_null(strstr(b.data, "hermod_spool_sync_seconds_bucket{le=\"0.001\"} "));
		assert_non_null(strstr(b.data, "hermod_spool_records_total 4000\n"));
		buf_free(&b);
	}
	close_spool(&loop, sp);
	uv_loop_close(&loop);
	ctx_free(&c);
	rm_tmp();
}

static char *
only_segment(void)
{
	char *dir = spool_dir();
	DIR *d = opendir(dir);
	struct dirent *de;
	char *path = NULL;
	int n = 0;

	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "seg-", 4) == 0) {
			free(path);
			path = xasprintf("%s/%s", dir, de->d_name);
			n++;
		}
	}
	closedir(d);
	free(dir);
	assert_int_equal(n, 1);
	return path;
}

static void
test_torn_and_corrupt(void **state)
{
	uv_loop_t loop;
	struct spool *sp;
	struct ctx c;
	struct stat st;
	char *path;
	off_t reclen;
	int n = 10, fd;
	char x;

	(void)state;
	mk_tmp();
	uv_loop_init(&loop);
	ctx_init(&c, n);
	sp = open_spool(&loop, NULL);
	/* One at a time, so the records lie in submission order. */
	for (int i = 0; i < n; i++) {
		submit_n(sp, &c, i, 1, 1000);
		run_until(&loop, &c.done, i + 1);
	}
	close_spool(&loop, sp);
	path = only_segment();
	assert_int_equal(stat(path, &st), 0);
	reclen = st.st_size / n;
	assert_int_equal(reclen * n, st.st_size);	/* preallocation was cut on close */

	/* A torn last record: cut in its middle. */
	assert_int_equal(truncate(path, st.st_size - 100), 0);
	sp = open_spool(&loop, NULL);
	assert_int_equal(spool_count(sp), n - 1);
	for (int i = 0; i < n - 1; i++)
		assert_non_null(spool_get(sp, c.ids[i]));
	assert_null(spool_get(sp, c.ids[n - 1]));
	close_spool(&loop, sp);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, reclen * (n - 1));	/* the tail was cut */

	/* One flipped byte in the 5th record's body: it and all after go. */
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &x, 1, 4 * reclen + reclen / 2), 1);
	x ^= 0x40;
	assert_int_equal(pwrite(fd, &x, 1, 4 * reclen + reclen / 2), 1);
	close(fd);
	sp = open_spool(&loop, NULL);
	assert_int_equal(spool_count(sp), 4);
	for (int i = 0; i < 4; i++) {
		assert_non_null(spool_get(sp, c.ids[i]));
		check_read(&loop, sp, c.ids[i], i, 1000);
	}
	assert_null(spool_get(sp, c.ids[4]));
	/* New mail after a cut tail is kept too. */
	submit_n(sp, &c, 0, 1, 1000);
	run_until(&loop, &c.done, n + 1);
	close_spool(&loop, sp);
	sp = open_spool(&loop, NULL);
	assert_int_equal(spool_count(sp), 5);
	close_spool(&loop, sp);

	free(path);
	uv_loop_close(&loop);
	ctx_free(&c);
	rm_tmp();
}

struct changes {
	int added, held, released, removed;
};

static void
on_change(enum spool_change what, const char *id, const struct spool_env *env, void *arg)
{
	struct changes *ch = arg;

	assert_non_null(id);
	switch (what) {
	case SPOOL_ADDED: ch->added++; assert_non_null(env); break;
	case SPOOL_HELD: ch->held++; assert_non_null(env); break;
	case SPOOL_RELEASED: ch->released++; break;
	case SPOOL_REMOVED: ch->removed++; assert_null(env); break;
	}
}

static void
test_updates_replayed(void **state)
{
	uv_loop_t loop;
	struct spool *sp;
	struct ctx c, u;
	struct changes ch = { 0 };
	struct spool_env env;
	struct spool_rcpt r = { 0 };
	const struct spool_env *e;
	char id[ID_LEN + 1], id2[ID_LEN + 1];

	(void)state;
	mk_tmp();
	uv_loop_init(&loop);
	ctx_init(&c, 3);
	memset(&u, 0, sizeof(u));
	sp = open_spool(&loop, NULL);
	spool_on_change(sp, on_change, &ch);
	make_env(&env, 3);
	for (int i = 0; i < 2; i++) {
		struct sub *s = xmalloc(sizeof(*s));

		s->c = &c;
		s->i = i;
		assert_int_equal(spool_submit(sp, &env, "hello\r\n", 7, commit_cb, s), 0);
	}
	/* A recipient without address: refused. Every recipient dropped:
	 * durable, not queued. */
	{
		size_t nr = env.nrcpt;
		struct sub *s = xmalloc(sizeof(*s));
		char *a0 = env.rcpt[0].addr;

		env.rcpt[0].addr = NULL;
		assert_int_equal(spool_submit(sp, &env, "x", 1, update_cb, &u), -EINVAL);
		env.rcpt[0].addr = a0;
		for (size_t i = 0; i < nr; i++)
			env.rcpt[i].state = SPOOL_RCPT_DROPPED;
		s->c = &c;
		s->i = 2;
		assert_int_equal(spool_submit(sp, &env, "x", 1, commit_cb, s), 0);
		for (size_t i = 0; i < nr; i++)
			env.rcpt[i].state = SPOOL_RCPT_QUEUED;
	}
	spool_env_free(&env);
	run_until(&loop, &c.done, 3);
	assert_int_equal(c.ok, 3);
	assert_null(spool_get(sp, c.ids[2]));
	assert_int_equal(spool_count(sp), 2);
	assert_int_equal(ch.added, 2);
	memcpy(id, c.ids[0], sizeof(id));
	memcpy(id2, c.ids[1], sizeof(id2));

	r.state = SPOOL_RCPT_DELIVERED;
	r.attempts = 1;
	r.last_reply = "250 2.0.0 ok";
	assert_int_equal(spool_set_rcpt(sp, id, 0, &r, update_cb, &u), 0);
	assert_int_equal(spool_set_rcpt(sp, id, 3, &r, update_cb, &u), -EINVAL);
	assert_int_equal(spool_hold(sp, id, update_cb, &u), 0);
	assert_int_equal(spool_hold(sp, "nosuchid", update_cb, &u), -ENOENT);
	assert_int_equal(spool_delete(sp, id2, update_cb, &u), 0);
	assert_null(spool_get(sp, id2));
	run_until(&loop, &u.done, 3);
	assert_int_equal(u.fail, 0);
	assert_int_equal(ch.held, 1);
	assert_int_equal(ch.removed, 1);
	close_spool(&loop, sp);

	sp = open_spool(&loop, NULL);
	assert_int_equal(spool_count(sp), 1);
	assert_null(spool_get(sp, id2));
	e = spool_get(sp, id);
	assert_non_null(e);
	assert_true(e->flags & SPOOL_F_HELD);
	assert_int_equal(e->rcpt[0].state, SPOOL_RCPT_DELIVERED);
	assert_string_equal(e->rcpt[0].last_reply, "250 2.0.0 ok");
	assert_int_equal(e->rcpt[1].state, SPOOL_RCPT_QUEUED);

	u.done = 0;
	assert_int_equal(spool_release(sp, id, update_cb, &u), 0);
	r.state = SPOOL_RCPT_BOUNCED;
	r.last_reply = "550 5.1.1 no such user";
	assert_int_equal(spool_set_rcpt(sp, id, 1, &r, update_cb, &u), 0);
	r.state = SPOOL_RCPT_DEFERRED;
	r.attempts = 2;
	r.next_attempt = 1234567;
	r.last_reply = NULL;
	assert_int_equal(spool_set_rcpt(sp, id, 2, &r, update_cb, &u), 0);
	run_until(&loop, &u.done, 3);
	close_spool(&loop, sp);

	sp = open_spool(&loop, NULL);
	e = spool_get(sp, id);
	assert_non_null(e);
	assert_false(e->flags & SPOOL_F_HELD);
	assert_int_equal(e->rcpt[1].state, SPOOL_RCPT_BOUNCED);
	assert_int_equal(e->rcpt[2].state, SPOOL_RCPT_DEFERRED);
	assert_int_equal(e->rcpt[2].attempts, 2);
	assert_int_equal(e->rcpt[2].next_attempt, 1234567);
	assert_null(e->rcpt[2].last_reply);
	/* The last recipient final: the message leaves the spool. */
	u.done = 0;
	r.state = SPOOL_RCPT_DELIVERED;
	assert_int_equal(spool_set_rcpt(sp, id, 2, &r, update_cb, &u), 0);
	assert_null(spool_get(sp, id));
	run_until(&loop, &u.done, 1);
	close_spool(&loop, sp);
	sp = open_spool(&loop, NULL);
	assert_int_equal(spool_count(sp), 0);
	close_spool(&loop, sp);

	uv_loop_close(&loop);
	ctx_free(&c);
	rm_tmp();
}

static void
wait_segments(uv_loop_t *loop, struct spool *sp, size_t want)
{
	struct spool_stats st;
	uint64_t t0 = time_mono_ms();

	for (;;) {
		uv_run(loop, UV_RUN_NOWAIT);
		spool_stats(sp, &st);
		if (st.segments <= want)
			return;
		usleep(500);
		if (time_mono_ms() - t0 > 20000)
			fail_msg("still %zu segments, want %zu", st.segments, want);
	}
}

static void
test_rotation_unlink(void **state)
{
	struct spool_opts o = { .segment_size = 64 * 1024 };
	uv_loop_t loop;
	struct spool *sp;
	struct spool_stats st;
	struct ctx c, u;
	int n = 200;

	(void)state;
	mk_tmp();
	uv_loop_init(&loop);
	ctx_init(&c, n);
	memset(&u, 0, sizeof(u));
	sp = open_spool(&loop, &o);
	for (int i = 0; i < n; i += 10) {
		submit_n(sp, &c, i, 10, 4000);
		run_until(&loop, &c.done, i + 10);
	}
	assert_int_equal(c.ok, n);
	assert_true(count_segments() >= 10);
	for (int i = 0; i < n; i++)
		assert_int_equal(spool_delete(sp, c.ids[i], update_cb, &u), 0);
	run_until(&loop, &u.done, n);
	/* All but the segment the writer is on go away. */
	wait_segments(&loop, sp, 1);
	spool_stats(sp, &st);
	assert_true(st.segments_unlinked >= 9);
	close_spool(&loop, sp);
	assert_true(count_segments() <= 1);
	sp = open_spool(&loop, &o);
	assert_int_equal(spool_count(sp), 0);
	wait_segments(&loop, sp, 0);
	close_spool(&loop, sp);
	assert_int_equal(count_segments(), 0);
	uv_loop_close(&loop);
	ctx_free(&c);
	rm_tmp();
}

static void
test_compaction(void **state)
{
	struct spool_opts o = { .segment_size = 64 * 1024 };
	uv_loop_t loop;
	struct spool *sp;
	struct spool_stats st;
	struct ctx c, u;
	struct spool_rcpt r = { .state = SPOOL_RCPT_DEFERRED, .attempts = 3,
	    .last_reply = "451 later" };
	int n = 120;

	(void)state;
	mk_tmp();
	uv_loop_init(&loop);
	ctx_init(&c, n);
	memset(&u, 0, sizeof(u));
	sp = open_spool(&loop, &o);
	for (int i = 0; i < n; i += 10) {
		submit_n(sp, &c, i, 10, 4000);
		run_until(&loop, &c.done, i + 10);
	}
	/* Keep messages 0 and 1 (in the oldest segment), one of them updated;
	 * delete everything else. */
	assert_int_equal(spool_set_rcpt(sp, c.ids[1], 0, &r, update_cb, &u), 0);
	for (int i = 2; i < n; i++)
		assert_int_equal(spool_delete(sp, c.ids[i], update_cb, &u), 0);
	run_until(&loop, &u.done, n - 1);
	wait_segments(&loop, sp, 1);
	spool_stats(sp, &st);
	assert_int_equal(st.compacted, 2);
	check_read(&loop, sp, c.ids[0], 0, 4000);
	check_read(&loop, sp, c.ids[1], 1, 4000);
	close_spool(&loop, sp);
	assert_int_equal(count_segments(), 1);

	sp = open_spool(&loop, &o);
	assert_int_equal(spool_count(sp), 2);
	assert_int_equal(spool_get(sp, c.ids[1])->rcpt[0].state, SPOOL_RCPT_DEFERRED);
	assert_int_equal(spool_get(sp, c.ids[1])->rcpt[0].attempts, 3);
	assert_string_equal(spool_get(sp, c.ids[1])->rcpt[0].last_reply, "451 later");
	check_read(&loop, sp, c.ids[0], 0, 4000);
	check_read(&loop, sp, c.ids[1], 1, 4000);
	close_spool(&loop, sp);
	uv_loop_close(&loop);
	ctx_free(&c);
	rm_tmp();
}

/* A full disk, for real: a 1 MiB tmpfs. Needs root (skipped otherwise). */
static void
test_enospc(void **state)
{
	struct spool_opts o = { .segment_size = 256 * 1024 };
	uv_loop_t loop;
	struct spool *sp;
	struct ctx c, u;
	int n = 40, acked = 0;

	(void)state;
	mk_tmp();
	if (mount("tmpfs", tmpdir, "tmpfs", 0, "size=1m") < 0) {
		print_message("cannot mount a tmpfs (%s): skipped\n", strerror(errno));
		rm_tmp();
		skip();
	}
	uv_loop_init(&loop);
	ctx_init(&c, n * 3);
	memset(&u, 0, sizeof(u));
	log_set_level(LOG_FATAL);	/* the write errors are expected */
	sp = open_spool(&loop, &o);
	/* 40 x 60 KiB is more than the file system holds. */
	for (int i = 0; i < n; i++) {
		submit_n(sp, &c, i, 1, 60 * 1024);
		run_until(&loop, &c.done, i + 1);
	}
	assert_true(c.fail > 0);
	assert_true(c.ok > 5);
	assert_int_equal(c.last_err, -ENOSPC);
	acked = c.ok;
	close_spool(&loop, sp);

	/* Everything acknowledged is there, nothing refused came back. */
	sp = open_spool(&loop, &o);
	assert_int_equal(spool_count(sp), acked);
	for (int i = 0; i < n; i++) {
		if (c.err[i] == 0) {
			assert_non_null(spool_get(sp, c.ids[i]));
			check_read(&loop, sp, c.ids[i], i, 60 * 1024);
		} else
			assert_null(spool_get(sp, c.ids[i]));
	}
	/* Space comes back when the queue drains. */
	for (int i = 0; i < n; i++)
		if (c.err[i] == 0)
			assert_int_equal(spool_delete(sp, c.ids[i], update_cb, &u), 0);
	run_until(&loop, &u.done, acked);
	wait_segments(&loop, sp, 1);
	c.done = c.ok = c.fail = 0;
	for (int i = 0; i < 5; i++) {
		submit_n(sp, &c, n + i, 1, 60 * 1024);
		run_until(&loop, &c.done, i + 1);
	}
	assert_int_equal(c.ok, 5);
	close_spool(&loop, sp);
	log_set_level(LOG_ERROR);
	uv_loop_close(&loop);
	ctx_free(&c);
	assert_int_equal(umount(tmpdir), 0);
	rm_tmp();
}

/* The crash test: a child submits steadily and prints each id once its
 * callback said durable; the parent kills it with SIGKILL at a random
 * moment, several times; every printed id must then be queued, once, with
 * its bytes intact. */
struct crash_child {
	struct spool	*sp;
	int		 out;
	int		 seq;
	int		 inflight;
};

static void crash_submit(struct crash_child *cc);

static void
crash_cb(int err, const char *id, void *arg)
{
	struct crash_child *cc = arg;
	char line[64];
	int n;

	cc->inflight--;
	if (err == 0) {
		n = snprintf(line, sizeof(line), "%s\n", id);
		if (write(cc->out, line, (size_t)n) != n)
			_exit(3);
	}
	crash_submit(cc);
}

static void
crash_submit(struct crash_child *cc)
{
	struct spool_env env;

	make_env(&env, 1);
	while (cc->inflight < 16) {
		char *b = body(1000, 2048);

		if (spool_submit(cc->sp, &env, b, 2048, crash_cb, cc) < 0)
			_exit(4);
		free(b);
		cc->inflight++;
	}
	spool_env_free(&env);
}

static void
crash_child_main(int out)
{
	struct crash_child cc = { .out = out };
	struct spool_opts o = { .segment_size = 256 * 1024 };
	uv_loop_t loop;
	char *dir = spool_dir(), *err = NULL;

	uv_loop_init(&loop);
	if (spool_open_opts(&cc.sp, dir, &loop, &o, &err) < 0)
		_exit(2);
	crash_submit(&cc);
	uv_run(&loop, UV_RUN_DEFAULT);
	_exit(5);
}

struct seen {
	int	 n;
	int	 dup;
};

static int
count_env(const struct spool_env *env, void *arg)
{
	struct seen *s = arg;

	(void)env;
	s->n++;
	return 0;
}

static void
test_crash_kill9(void **state)
{
	char (*printed)[ID_LEN + 1] = xcalloc(MAXIDS, sizeof(*printed));
	int nprinted = 0;
	uv_loop_t loop;
	struct spool *sp;
	struct seen s = { 0, 0 };
	unsigned seed = (unsigned)time(NULL);

	(void)state;
	mk_tmp();
	print_message("crash test seed %u\n", seed);
	srand(seed);
	for (int round = 0; round < 6; round++) {
		int p[2], status;
		pid_t pid;
		char buf[4096], part[64];
		size_t partlen = 0;
		uint64_t t0;
		int delay_ms = 50 + rand() % 400;

		assert_int_equal(pipe(p), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(p[0]);
			crash_child_main(p[1]);
		}
		close(p[1]);
		fcntl(p[0], F_SETFL, O_NONBLOCK);
		t0 = time_mono_ms();
		for (;;) {
			ssize_t k = read(p[0], buf, sizeof(buf));

			if (k > 0) {
				for (ssize_t i = 0; i < k; i++) {
					if (buf[i] == '\n') {
						assert_int_equal(partlen, ID_LEN);
						if (nprinted < MAXIDS) {
							memcpy(printed[nprinted], part, ID_LEN);
							printed[nprinted++][ID_LEN] = '\0';
						}
						partlen = 0;
					} else if (partlen < sizeof(part))
						part[partlen++] = buf[i];
				}
				continue;
			}
			if (k == 0)
				break;	/* the child is dead and the pipe drained */
			if (pid > 0 && time_mono_ms() - t0 >= (uint64_t)delay_ms) {
				kill(pid, SIGKILL);
				waitpid(pid, &status, 0);
				assert_true(WIFSIGNALED(status));
				pid = 0;
			}
			if (k < 0)
				usleep(1000);
		}
		close(p[0]);
		/* A partial line is an id the child was still writing: ignore it. */
	}
	print_message("%d acknowledged ids over 6 kills\n", nprinted);
	assert_true(nprinted > 100);

	uv_loop_init(&loop);
	sp = open_spool(&loop, NULL);
	for (int i = 0; i < nprinted; i++) {
		if (spool_get(sp, printed[i]) == NULL)
			fail_msg("acknowledged id %s lost", printed[i]);
	}
	spool_foreach(sp, count_env, &s);
	assert_int_equal((size_t)s.n, spool_count(sp));
	assert_true(spool_count(sp) >= (size_t)nprinted);
	/* A few bodies read back intact. */
	for (int i = 0; i < nprinted; i += nprinted / 10 + 1)
		check_read(&loop, sp, printed[i], 1000, 2048);
	close_spool(&loop, sp);
	uv_loop_close(&loop);
	free(printed);
	rm_tmp();
}

/* The format, as an independent writer produced it (tests/golden/
 * spool_record/segment.bin, made by a Python script from the layout in
 * spool_record.h): MSG, RCPT, HOLD, RELEASE, DELETE. */
static void
test_golden_segment(void **state)
{
	uv_loop_t loop;
	struct spool *sp;
	const struct spool_env *e;
	char *data = NULL, *dir, *path;
	size_t len = 0;
	FILE *f;

	(void)state;
	mk_tmp();
	f = fopen("tests/golden/spool_record/segment.bin", "rb");
	if (f == NULL)
		skip();
	data = xmalloc(4096);
	len = fread(data, 1, 4096, f);
	fclose(f);
	dir = spool_dir();
	assert_int_equal(mkdir(dir, 0700), 0);
	path = xasprintf("%s/seg-00000001.log", dir);
	/* Without the final DELETE record (16 + 20 bytes): the message stays. */
	f = fopen(path, "wb");
	assert_int_equal(fwrite(data + 1, 1, len - 1 - 36, f), len - 1 - 36);
	fclose(f);
	uv_loop_init(&loop);
	sp = open_spool(&loop, NULL);
	assert_int_equal(spool_count(sp), 1);
	e = spool_get(sp, "01m8cm5d0dwat5q64spg");
	assert_non_null(e);
	assert_string_equal(e->account, "shop");
	assert_string_equal(e->meta_json, "{\"tags\":[\"a\"]}");
	assert_null(e->envid);
	assert_int_equal(e->ret, SPOOL_RET_HDRS);
	assert_int_equal(e->flags, SPOOL_F_DSN);	/* held, then released */
	assert_int_equal(e->queued_at, 1764183000000ull);
	assert_int_equal(e->nrcpt, 2);
	assert_string_equal(e->rcpt[0].orcpt, "rfc822;a@x.example");
	assert_int_equal(e->rcpt[0].state, SPOOL_RCPT_QUEUED);
	assert_int_equal(e->rcpt[1].state, SPOOL_RCPT_DELIVERED);
	assert_int_equal(e->rcpt[1].attempts, 3);
	assert_string_equal(e->rcpt[1].last_reply, "250 ok");
	assert_int_equal(e->size, 22);
	close_spool(&loop, sp);
	/* Whole: the DELETE removes it. */
	f = fopen(path, "wb");
	assert_int_equal(fwrite(data + 1, 1, len - 1, f), len - 1);
	fclose(f);
	sp = open_spool(&loop, NULL);
	assert_int_equal(spool_count(sp), 0);
	close_spool(&loop, sp);
	uv_loop_close(&loop);
	free(path);
	free(dir);
	free(data);
	rm_tmp();
}

/* fdatasync failing after pwritev succeeded, for real: an ext4 file system
 * on a loop device whose backing file lies on a 3 MiB tmpfs (thin
 * provisioning running out). Writes land in the page cache, writeback then
 * fails and fdatasync reports it. Needs root, losetup and mkfs.ext4. */
static int
sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static void
test_sync_failure(void **state)
{
	struct spool_opts o = { .segment_size = 1024 * 1024 };
	char outer[64];
	uv_loop_t loop;
	struct spool *sp;
	struct ctx c;
	int n = 80, acked, i;

	(void)state;
	mk_tmp();
	strcpy(outer, tmpdir);
	if (sh("set -e; cd %s; mkdir back mnt; mount -t tmpfs -o size=3m tmpfs back;"
	    "truncate -s 64M back/img; losetup -f --show back/img > loopdev;"
	    "mkfs.ext4 -q -O ^has_journal $(cat loopdev) >/dev/null 2>&1;"
	    "mount -o errors=continue $(cat loopdev) mnt", outer) != 0) {
		sh("cd %s; umount mnt; [ -s loopdev ] && losetup -d $(cat loopdev); umount back",
		    outer);
		print_message("no loop device or ext4 here: skipped\n");
		rm_tmp();
		skip();
	}
	snprintf(tmpdir, sizeof(tmpdir), "%s/mnt", outer);
	uv_loop_init(&loop);
	ctx_init(&c, n + 5);
	log_set_level(LOG_FATAL);
	sp = open_spool(&loop, &o);
	for (i = 0; i < n; i++) {
		submit_n(sp, &c, i, 1, 60 * 1024);
		run_until(&loop, &c.done, i + 1);
		if (c.fail >= 5)
			break;
	}
	n = i < n ? i + 1 : n;
	print_message("%d acknowledged, %d refused (last error %d)\n", c.ok, c.fail, c.last_err);
	assert_true(c.ok > 3);
	assert_true(c.fail > 0);
	acked = c.ok;
	close_spool(&loop, sp);
	/* The disk grows again: everything acknowledged is there and intact,
	 * nothing refused came back, and new mail is accepted. */
	assert_int_equal(sh("mount -o remount,size=64m %s/back", outer), 0);
	sp = open_spool(&loop, &o);
	assert_int_equal(spool_count(sp), acked);
	for (i = 0; i < n; i++) {
		if (c.err[i] == 0) {
			assert_non_null(spool_get(sp, c.ids[i]));
			check_read(&loop, sp, c.ids[i], i, 60 * 1024);
		} else
			assert_null(spool_get(sp, c.ids[i]));
	}
	c.done = c.ok = c.fail = 0;
	submit_n(sp, &c, n, 1, 60 * 1024);
	run_until(&loop, &c.done, 1);
	assert_int_equal(c.ok, 1);
	close_spool(&loop, sp);
	log_set_level(LOG_ERROR);
	uv_loop_close(&loop);
	ctx_free(&c);
	assert_int_equal(sh("cd %s; umount mnt && losetup -d $(cat loopdev) && umount back", outer), 0);
	strcpy(tmpdir, outer);
	rm_tmp();
}

/* The churn crash test: a child submits, updates, holds and deletes at
 * random on tiny segments (so rotation, compaction and unlinking run all
 * the time) and prints each operation when it starts (lower case) and when
 * the spool says it is durable (upper case); it is killed with SIGKILL at
 * random moments. Afterwards: every acknowledged message not being removed
 * is there, every acknowledged removal stuck (no message came back from an
 * unlinked or compacted segment), and no acknowledged update was lost. */
#define CHURN_MAX 4096

struct churn {
	struct spool	*sp;
	int		 out;
	int		 inflight;
	char		 live[CHURN_MAX][ID_LEN + 1];
	uint32_t	 attempts[CHURN_MAX];
	int		 nlive;
	unsigned	 seed;
};

static void
churn_say(struct churn *ch, char op, const char *id, uint32_t n)
{
	char line[64];
	int k = snprintf(line, sizeof(line), "%c %s %u\n", op, id, n);

	if (write(ch->out, line, (size_t)k) != k)
		_exit(3);
}

static void churn_step(struct churn *ch);

static void
churn_submitted(int err, const char *id, void *arg)
{
	struct churn *ch = arg;

	ch->inflight--;
	if (err == 0) {
		churn_say(ch, 'S', id, 0);
		if (ch->nlive < CHURN_MAX) {
			memcpy(ch->live[ch->nlive], id, ID_LEN + 1);
			ch->attempts[ch->nlive++] = 0;
		}
	}
	churn_step(ch);
}

struct churn_op {
	struct churn	*ch;
	char		 op;
	uint32_t	 n;
};

static void
churn_updated(int err, const char *id, void *arg)
{
	struct churn_op *o = arg;

	if (err == 0)
		churn_say(o->ch, (char)(o->op - 'a' + 'A'), id, o->n);
	free(o);
}

static void
churn_step(struct churn *ch)
{
	struct spool_env env;

	make_env(&env, 1);
	while (ch->inflight < 8) {
		char *b = body(7, 1500);

		if (spool_submit(ch->sp, &env, b, 1500, churn_submitted, ch) < 0)
			_exit(4);
		free(b);
		ch->inflight++;
	}
	spool_env_free(&env);
	/* A few changes per acknowledged submission; removals win as the
	 * queue grows, so it stays around a hundred messages. */
	for (int k = 0; k < 2 && ch->nlive > 0; k++) {
		int i = (int)(rand_r(&ch->seed) % (unsigned)ch->nlive);
		unsigned dice = rand_r(&ch->seed) % 100;

		/* Removals mostly take recent mail: newer segments then die
		 * before older ones, whose removed messages are kept from
		 * coming back only by records in those newer segments. */
		if (dice < 60 && rand_r(&ch->seed) % 4 != 0 && ch->nlive > 10)
			i = ch->nlive - 1 - (int)(rand_r(&ch->seed) % 10);
		struct churn_op *o = xmalloc(sizeof(*o));
		char id[ID_LEN + 1];

		memcpy(id, ch->live[i], sizeof(id));
		o->ch = ch;
		o->n = 0;
		if (dice < (ch->nlive > 100 ? 60u : 20u)) {
			/* delete, or the recipient delivered: both remove it */
			o->op = dice % 2 ? 'd' : 'f';
			churn_say(ch, o->op, id, 0);
			if (o->op == 'd') {
				if (spool_delete(ch->sp, id, churn_updated, o) < 0)
					_exit(6);
			} else {
				struct spool_rcpt r = { .state = SPOOL_RCPT_DELIVERED, .attempts = 1 };

				if (spool_set_rcpt(ch->sp, id, 0, &r, churn_updated, o) < 0)
					_exit(6);
			}
			ch->nlive--;
			memmove(ch->live[i], ch->live[i + 1], (size_t)(ch->nlive - i) * sizeof(ch->live[0]));
			memmove(&ch->attempts[i], &ch->attempts[i + 1],
			    (size_t)(ch->nlive - i) * sizeof(ch->attempts[0]));
		} else if (dice < 90) {
			struct spool_rcpt r = { .state = SPOOL_RCPT_DEFERRED, .last_reply = "451 later" };

			r.attempts = o->n = ++ch->attempts[i];
			o->op = 'u';
			churn_say(ch, 'u', id, o->n);
			if (spool_set_rcpt(ch->sp, id, 0, &r, churn_updated, o) < 0)
				_exit(6);
		} else {
			o->op = 'h';
			churn_say(ch, 'h', id, 0);
			if ((dice % 2 ? spool_hold : spool_release)(ch->sp, id, churn_updated, o) < 0)
				_exit(6);
		}
	}
}

static int
churn_load(const struct spool_env *env, void *arg)
{
	struct churn *ch = arg;

	if (ch->nlive < CHURN_MAX) {
		memcpy(ch->live[ch->nlive], env->id, ID_LEN + 1);
		ch->attempts[ch->nlive++] = env->rcpt[0].attempts;
	}
	return 0;
}

static void
churn_child(int out, unsigned seed)
{
	struct churn *ch = xcalloc(1, sizeof(*ch));
	struct spool_opts o = { .segment_size = 32 * 1024 };
	uv_loop_t loop;
	char *dir = spool_dir(), *err = NULL;

	ch->out = out;
	ch->seed = seed;
	uv_loop_init(&loop);
	if (spool_open_opts(&ch->sp, dir, &loop, &o, &err) < 0)
		_exit(2);
	spool_foreach(ch->sp, churn_load, ch);
	churn_step(ch);
	uv_run(&loop, UV_RUN_DEFAULT);
	_exit(5);
}

/* What the parent learnt about one id. */
struct churn_fact {
	char		 id[ID_LEN + 1];
	int		 acked;		/* S seen */
	int		 removing;	/* d or f seen */
	int		 removed;	/* D or F seen */
	uint32_t	 min_attempts;	/* highest U */
	uint32_t	 max_attempts;	/* highest u */
};

static struct churn_fact *
fact_get(struct churn_fact *f, int *n, const char *id)
{
	for (int i = *n - 1; i >= 0; i--)
		if (strcmp(f[i].id, id) == 0)
			return &f[i];
	if (*n >= MAXIDS)
		return NULL;
	memset(&f[*n], 0, sizeof(f[0]));
	memcpy(f[*n].id, id, ID_LEN + 1);
	return &f[(*n)++];
}

static void
test_crash_churn(void **state)
{
	struct churn_fact *facts = xcalloc(MAXIDS, sizeof(*facts));
	int nfacts = 0, present = 0, removed = 0, updated = 0;
	unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
	struct spool_opts o = { .segment_size = 32 * 1024 };
	struct spool_stats st;
	uv_loop_t loop;
	struct spool *sp;

	(void)state;
	mk_tmp();
	print_message("churn test seed %u\n", seed);
	srand(seed);
	for (int round = 0; round < 10; round++) {
		int p[2], status;
		pid_t pid;
		char buf[8192], line[80];
		size_t linelen = 0;
		uint64_t t0;
		int delay_ms = 100 + rand() % 400;

		assert_int_equal(pipe(p), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(p[0]);
			churn_child(p[1], seed + (unsigned)round);
		}
		close(p[1]);
		fcntl(p[0], F_SETFL, O_NONBLOCK);
		t0 = time_mono_ms();
		for (;;) {
			ssize_t k = read(p[0], buf, sizeof(buf));

			if (k > 0) {
				for (ssize_t i = 0; i < k; i++) {
					struct churn_fact *f;
					char op, id[ID_LEN + 1];
					unsigned n;

					if (buf[i] != '\n') {
						if (linelen < sizeof(line) - 1)
							line[linelen++] = buf[i];
						continue;
					}
					line[linelen] = '\0';
					linelen = 0;
					if (sscanf(line, "%c %20s %u", &op, id, &n) != 3 ||
					    (f = fact_get(facts, &nfacts, id)) == NULL)
						continue;
					switch (op) {
					case 'S': f->acked = 1; break;
					case 'd': case 'f': f->removing = 1; break;
					case 'D': case 'F': f->removed = 1; break;
					case 'u': if (n > f->max_attempts) f->max_attempts = n; break;
					case 'U': if (n > f->min_attempts) f->min_attempts = n; break;
					}
				}
			}
			if (k == 0)
				break;
			/* The deadline is checked after every read, not only when the
			 * pipe is empty: a child that writes faster than we parse
			 * would otherwise never be killed. */
			if (pid > 0 && time_mono_ms() - t0 >= (uint64_t)delay_ms) {
				kill(pid, SIGKILL);
				waitpid(pid, &status, 0);
				assert_true(WIFSIGNALED(status));
				pid = 0;
			}
			if (k < 0)
				usleep(1000);
		}
		close(p[0]);
	}

	uv_loop_init(&loop);
	sp = open_spool(&loop, &o);
	for (int i = 0; i < nfacts; i++) {
		struct churn_fact *f = &facts[i];
		const struct spool_env *e = spool_get(sp, f->id);

		if (f->removed && e != NULL)
			fail_msg("%s: its removal was acknowledged, yet it is back", f->id);
		if (f->acked && !f->removing && e == NULL)
			fail_msg("%s: acknowledged, never removed, yet lost", f->id);
		if (e != NULL && e->rcpt[0].attempts < f->min_attempts)
			fail_msg("%s: attempts %u, but %u was acknowledged", f->id,
			    e->rcpt[0].attempts, f->min_attempts);
		if (e != NULL && e->rcpt[0].attempts > f->max_attempts)
			fail_msg("%s: attempts %u, never written", f->id, e->rcpt[0].attempts);
		present += e != NULL;
		removed += f->removed;
		updated += f->min_attempts > 0;
	}
	spool_stats(sp, &st);
	print_message("%d ids: %d queued, %d removals and %d updates checked; %zu segments\n",
	    nfacts, present, removed, updated, st.segments);
	assert_true(removed > 50);
	assert_true(updated > 50);
	/* Space was reclaimed as it went: far fewer segments than written
	 * (a few hundred of 32 KiB). */
	assert_true(st.segments < 40);
	close_spool(&loop, sp);
	uv_loop_close(&loop);
	free(facts);
	rm_tmp();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_submit_recover),
		cmocka_unit_test(test_group_commit),
		cmocka_unit_test(test_torn_and_corrupt),
		cmocka_unit_test(test_updates_replayed),
		cmocka_unit_test(test_rotation_unlink),
		cmocka_unit_test(test_compaction),
		cmocka_unit_test(test_enospc),
		cmocka_unit_test(test_sync_failure),
		cmocka_unit_test(test_golden_segment),
		cmocka_unit_test(test_crash_kill9),
		cmocka_unit_test(test_crash_churn),
	};

	log_set_level(LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
