/* Unit tests for the control socket and the queue commands: a loop thread
 * serves a real spool over a real unix socket (as `hermod serve` does), the
 * test thread asks with ctl_call() and with the CLI's own entry point. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include "cli/cli.h"
#include "ctl/ctl.h"
#include "queue/queue_ctl.h"
#include "spool/spool.h"
#include "util/config.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

#define NMSG 5

static char tmpdir[64];
static uv_loop_t loop;
static uv_async_t stopper;
static struct spool *sp;
static struct ctl *ctl;
static struct config cfg;
static char ids[NMSG][ID_LEN + 1];
static int committed;
static char flushed_id[ID_LEN + 1];
static int flush_calls;

static void
commit_cb(int err, const char *id, void *arg)
{
	int i = (int)(intptr_t)arg;

	assert_int_equal(err, 0);
	memcpy(ids[i], id, ID_LEN + 1);
	committed++;
}

static int
flush_hook(const char *id, void *arg)
{
	(void)arg;
	flush_calls++;
	if (id)
		memcpy(flushed_id, id, ID_LEN + 1);
	return id ? 1 : NMSG;
}

/* test.fill {"n": N}: queues N more messages on the loop thread, answers
 * when all are durable. test.clear: deletes everything. */
struct fill {
	struct ctl_request *req;
	int		 left;
};

static void
fill_cb(int err, const char *id, void *arg)
{
	struct fill *f = arg;

	(void)id;
	assert_int_equal(err, 0);
	if (--f->left == 0) {
		ctl_reply(f->req, NULL, NULL);
		free(f);
	}
}

static void
h_fill(struct ctl_request *req, json_t *args, void *arg)
{
	struct spool_rcpt r = { .addr = "bulk@z.example" };
	struct spool_env env = { .account = "bulk", .mail_from = "", .rcpt = &r, .nrcpt = 1 };
	struct fill *f = xcalloc(1, sizeof(*f));
	int n = (int)json_integer_value(json_object_get(args, "n"));

	(void)arg;
	f->req = req;
	f->left = n;
	for (int i = 0; i < n; i++)
		assert_int_equal(spool_submit(sp, &env, "x", 1, fill_cb, f), 0);
}

static int
clear_one(const struct spool_env *env, void *arg)
{
	(void)arg;
	assert_int_equal(spool_delete(sp, env->id, NULL, NULL), 0);
	return 0;
}

static void
h_clear(struct ctl_request *req, json_t *args, void *arg)
{
	(void)args; (void)arg;
	spool_foreach(sp, clear_one, NULL);
	ctl_reply(req, NULL, NULL);
}

static void
stop_cb(uv_async_t *h)
{
	ctl_stop(ctl);
	spool_close(sp);
	uv_close((uv_handle_t *)h, NULL);
}

static void *
loop_main(void *arg)
{
	(void)arg;
	uv_run(&loop, UV_RUN_DEFAULT);
	return NULL;
}

static char *
sock_path(void)
{
	return cli_ctl_path(&cfg);
}

static int
setup(void **state)
{
	struct spool_env env = { 0 };
	struct spool_rcpt r[2] = { { .addr = "a@x.example" }, { .addr = "b@y.example" } };
	char *dir, *err = NULL, *path;
	pthread_t *t = xmalloc(sizeof(*t));

	log_set_level(LOG_ERROR);
	signal(SIGPIPE, SIG_IGN);	/* as `hermod serve` does: clients may leave */
	strcpy(tmpdir, "/tmp/hermod-qctl-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	config_defaults(&cfg, tmpdir);
	uv_loop_init(&loop);
	dir = xasprintf("%s/spool", cfg.data_dir);
	if (spool_open(&sp, dir, &loop, &err) < 0)
		fail_msg("spool_open: %s", err);
	free(dir);
	env.account = "shop";
	env.mail_from = "orders@shop.example";
	env.message_id = "m1@shop.example";
	env.rcpt = r;
	env.nrcpt = 2;
	for (int i = 0; i < NMSG; i++)
		assert_int_equal(spool_submit(sp, &env, "Subject: hi\r\n\r\nhello\r\n", 22, commit_cb,
		    (void *)(intptr_t)i), 0);
	while (committed < NMSG)
		uv_run(&loop, UV_RUN_ONCE);
	path = sock_path();
	if (ctl_start(&loop, path, &ctl, &err) < 0)
		fail_msg("ctl_start: %s", err);
	free(path);
	queue_ctl_register(ctl, sp);
	ctl_register(ctl, "test.fill", h_fill, NULL);
	ctl_register(ctl, "test.clear", h_clear, NULL);
	uv_async_init(&loop, &stopper, stop_cb);
	assert_int_equal(pthread_create(t, NULL, loop_main, NULL), 0);
	*state = t;
	return 0;
}

static int
teardown(void **state)
{
	pthread_t *t = *state;
	char cmd[128];

	uv_async_send(&stopper);
	pthread_join(*t, NULL);
	free(t);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	config_free(&cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

/* call() is ctl_call() on the test socket; returns the result or NULL and
 * leaves the error in *err. */
static json_t *
call(const char *cmd, const char *id, char **err)
{
	json_t *args = json_object(), *res = NULL;
	char *path = sock_path();

	*err = NULL;
	if (id)
		json_object_set_new(args, "id", json_string(id));
	if (ctl_call(path, cmd, args, &res, err) < 0)
		res = NULL;
	json_decref(args);
	free(path);
	return res;
}

static void
test_list_show(void **state)
{
	char *err;
	json_t *l, *m, *r;

	(void)state;
	l = call("queue.list", NULL, &err);
	assert_non_null(l);
	assert_int_equal(json_array_size(l), NMSG);
	m = json_array_get(l, 0);
	assert_non_null(json_string_value(json_object_get(m, "id")));
	assert_string_equal(json_string_value(json_object_get(m, "message_id")), "m1@shop.example");
	assert_string_equal(json_string_value(json_object_get(m, "account")), "shop");
	assert_string_equal(json_string_value(json_object_get(m, "from")), "orders@shop.example");
	assert_int_equal(json_integer_value(json_object_get(m, "size")), 22);
	assert_true(json_is_string(json_object_get(m, "queued_at")));
	r = json_array_get(json_object_get(m, "recipients"), 1);
	assert_string_equal(json_string_value(json_object_get(r, "email")), "b@y.example");
	assert_string_equal(json_string_value(json_object_get(r, "state")), "queued");
	assert_int_equal(json_integer_value(json_object_get(r, "attempts")), 0);
	assert_true(json_is_null(json_object_get(r, "next_attempt")));
	assert_true(json_is_null(json_object_get(r, "last_reply")));
	json_decref(l);

	m = call("queue.show", ids[2], &err);
	assert_non_null(m);
	assert_string_equal(json_string_value(json_object_get(m, "id")), ids[2]);
	json_decref(m);

	assert_null(call("queue.show", "00000000000000000000", &err));
	assert_non_null(strstr(err, "no such message"));
	free(err);
	assert_null(call("queue.show", "../../etc/passwd", &err));
	assert_non_null(strstr(err, "not a queue id"));
	free(err);
	assert_null(call("queue.show", NULL, &err));
	assert_non_null(strstr(err, "required"));
	free(err);
	assert_null(call("queue.nosuch", NULL, &err));
	assert_non_null(strstr(err, "unknown command"));
	free(err);
}

static void
test_hold_release_delete(void **state)
{
	char *err;
	json_t *res;

	(void)state;
	res = call("queue.hold", ids[1], &err);
	assert_non_null(res);
	assert_string_equal(json_string_value(json_object_get(res, "done")), "held");
	json_decref(res);
	res = call("queue.show", ids[1], &err);
	assert_true(json_is_true(json_object_get(res, "held")));
	json_decref(res);
	res = call("queue.release", ids[1], &err);
	assert_non_null(res);
	json_decref(res);
	res = call("queue.show", ids[1], &err);
	assert_true(json_is_false(json_object_get(res, "held")));
	json_decref(res);

	res = call("queue.delete", ids[4], &err);
	assert_non_null(res);
	json_decref(res);
	assert_null(call("queue.show", ids[4], &err));
	free(err);
	assert_null(call("queue.delete", ids[4], &err));
	assert_non_null(strstr(err, "no such message"));
	free(err);
	res = call("queue.list", NULL, &err);
	assert_int_equal(json_array_size(res), NMSG - 1);
	json_decref(res);
}

static void
test_flush(void **state)
{
	char *err;
	json_t *res;

	(void)state;
	assert_null(call("queue.flush", NULL, &err));
	assert_non_null(strstr(err, "no delivery"));
	free(err);
	queue_ctl_set_flush_hook(flush_hook, NULL);
	res = call("queue.flush", ids[0], &err);
	assert_non_null(res);
	assert_int_equal(json_integer_value(json_object_get(res, "scheduled")), 1);
	assert_string_equal(flushed_id, ids[0]);
	json_decref(res);
	res = call("queue.flush", NULL, &err);
	assert_int_equal(json_integer_value(json_object_get(res, "scheduled")), NMSG);
	json_decref(res);
	assert_int_equal(flush_calls, 2);
	queue_ctl_set_flush_hook(NULL, NULL);
}

/* raw() sends bytes on the socket and returns the answer line. */
static char *
raw(const char *req, size_t len)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char *path = sock_path(), *ans = xcalloc(1, 4096);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	size_t got = 0;
	ssize_t n;

	strcpy(sun.sun_path, path);
	free(path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	for (size_t off = 0; off < len; off += (size_t)n) {
		n = send(fd, req + off, len - off, MSG_NOSIGNAL);
		if (n <= 0)
			break;	/* the server may close on us once it has answered */
	}
	while (got < 4095 && (n = recv(fd, ans + got, 4095 - got, 0)) > 0)
		got += (size_t)n;
	close(fd);
	return ans;
}

static void
test_bad_requests(void **state)
{
	char *a, *big;
	struct stat st;
	char *path = sock_path();

	(void)state;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	free(path);
	a = raw("not json\n", 9);
	assert_non_null(strstr(a, "\"ok\":false"));
	free(a);
	a = raw("[1,2]\n", 6);
	assert_non_null(strstr(a, "bad request"));
	free(a);
	a = raw("{\"cmd\":\"queue.list\",\"args\":7}\n", 30);
	assert_non_null(strstr(a, "args must be an object"));
	free(a);
	big = xmalloc(200000);
	memset(big, 'x', 200000);
	a = raw(big, 200000);
	assert_non_null(strstr(a, "too long"));
	free(a);
	free(big);
	/* A client that leaves before its answer (which waits for a commit). */
	for (int i = 0; i < 20; i++) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		char line[128], *p = sock_path();
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		int n = snprintf(line, sizeof(line),
		    "{\"cmd\":\"queue.%s\",\"args\":{\"id\":\"%s\"}}\n",
		    i % 2 ? "release" : "hold", ids[3]);

		strcpy(sun.sun_path, p);
		free(p);
		assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
		assert_int_equal(send(fd, line, (size_t)n, MSG_NOSIGNAL), n);
		close(fd);
	}
	/* Still serving after all that. */
	a = raw("{\"cmd\":\"queue.list\"}\n", 21);
	assert_non_null(strstr(a, "\"ok\":true"));
	free(a);
}

/* run_cli() runs `hermod queue ARGS` in this process, stdout captured. */
static int
run_cli(char **out, int argc, char **argv)
{
	char tmpl[] = "/tmp/hermod-qcli-XXXXXX";
	int fd = mkstemp(tmpl), saved, rc;
	size_t n;

	fflush(stdout);
	saved = dup(1);
	dup2(fd, 1);
	rc = cli_queue(&cfg, argc, argv);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	n = (size_t)lseek(fd, 0, SEEK_END);
	*out = xcalloc(1, n + 1);
	assert_int_equal(pread(fd, *out, n, 0), (ssize_t)n);
	close(fd);
	unlink(tmpl);
	return rc;
}

static void
test_cli(void **state)
{
	char *out;
	char *list[] = { "queue", "list" };
	char *listj[] = { "queue", "list", "--json" };
	char *hold[] = { "queue", "hold", ids[0] };
	char *show[] = { "queue", "show", ids[0], "--json" };
	char *bogus[] = { "queue", "frobnicate" };
	json_t *j;
	json_error_t jerr;

	(void)state;
	assert_int_equal(run_cli(&out, 3, hold), 0);
	free(out);
	assert_int_equal(run_cli(&out, 2, list), 0);
	if (getenv("SHOW_CLI"))
		print_message("%s", out);
	assert_non_null(strstr(out, ids[0]));
	assert_non_null(strstr(out, "a@x.example (queued)"));
	assert_non_null(strstr(out, "orders@shop.example"));
	assert_non_null(strstr(out, "Request"));
	{
		char held[ID_LEN + 2];

		snprintf(held, sizeof(held), "%s!", ids[0]);
		assert_non_null(strstr(out, held));
	}
	free(out);
	assert_int_equal(run_cli(&out, 3, listj), 0);
	j = json_loads(out, 0, &jerr);
	assert_non_null(j);
	assert_true(json_is_array(j));
	assert_true(json_array_size(j) >= 1);
	json_decref(j);
	free(out);
	assert_int_equal(run_cli(&out, 4, show), 0);
	j = json_loads(out, 0, &jerr);
	assert_string_equal(json_string_value(json_object_get(j, "id")), ids[0]);
	json_decref(j);
	free(out);
	{
		char *showh[] = { "queue", "show", ids[0] };

		assert_int_equal(run_cli(&out, 3, showh), 0);
		assert_non_null(strstr(out, "message-id:  m1@shop.example\n"));
		assert_non_null(strstr(out, "held:        yes\n"));
		assert_non_null(strstr(out, "  b@y.example: queued, 0 attempts\n"));
		free(out);
	}
	assert_int_equal(run_cli(&out, 2, bogus), 1);
	free(out);
}

static int
count_each(json_t *m, void *arg)
{
	int *n = arg;

	assert_true(json_is_string(json_object_get(m, "id")));
	(*n)++;
	return 0;
}

/* A long list streams in many parts; both readers see every entry. */
static void
test_long_list(void **state)
{
	json_t *args = json_pack("{s:i}", "n", 3000), *res = NULL;
	char *err = NULL, *path = sock_path(), *out;
	char *list[] = { "queue", "list" };
	char *listj[] = { "queue", "list", "--json" };
	json_error_t jerr;
	int n = 0, before;

	(void)state;
	assert_int_equal(ctl_call(path, "queue.list", NULL, &res, &err), 0);
	before = (int)json_array_size(res);
	json_decref(res);
	assert_int_equal(ctl_call(path, "test.fill", args, &res, &err), 0);
	json_decref(res);
	json_decref(args);
	assert_int_equal(ctl_call_each(path, "queue.list", NULL, count_each, &n, &err), 0);
	assert_int_equal(n, before + 3000);
	assert_int_equal(ctl_call(path, "queue.list", NULL, &res, &err), 0);
	assert_int_equal(json_array_size(res), before + 3000);
	json_decref(res);
	assert_int_equal(run_cli(&out, 3, listj), 0);
	res = json_loads(out, 0, &jerr);
	assert_int_equal(json_array_size(res), before + 3000);
	json_decref(res);
	free(out);

	/* A reader that leaves in the middle of a long answer. */
	for (int i = 0; i < 5; i++) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		const char *q = "{\"cmd\":\"queue.list\"}\n";
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		char b[1000];

		strcpy(sun.sun_path, path);
		assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
		assert_int_equal(send(fd, q, strlen(q), MSG_NOSIGNAL), (ssize_t)strlen(q));
		assert_true(recv(fd, b, sizeof(b), MSG_WAITALL) > 0);
		close(fd);
	}
	n = 0;
	assert_int_equal(ctl_call_each(path, "queue.list", NULL, count_each, &n, &err), 0);
	assert_int_equal(n, before + 3000);

	/* And an empty queue. */
	assert_int_equal(ctl_call(path, "test.clear", NULL, &res, &err), 0);
	json_decref(res);
	n = 0;
	assert_int_equal(ctl_call_each(path, "queue.list", NULL, count_each, &n, &err), 0);
	assert_int_equal(n, 0);
	assert_int_equal(run_cli(&out, 2, list), 0);
	assert_string_equal(out, "Mail queue is empty\n");
	free(out);
	assert_int_equal(run_cli(&out, 3, listj), 0);
	assert_string_equal(out, "[]\n");
	free(out);
	/* Errors still come through the streaming reader. */
	assert_int_equal(ctl_call_each(path, "queue.nosuch", NULL, count_each, &n, &err), -1);
	assert_non_null(strstr(err, "unknown command"));
	free(err);
	free(path);
}

static void
test_not_running(void **state)
{
	json_t *res = NULL;
	char *err = NULL, *path = xasprintf("%s/nosuch.sock", tmpdir);

	(void)state;
	assert_int_equal(ctl_call(path, "queue.list", NULL, &res, &err), -1);
	assert_non_null(strstr(err, "daemon not running"));
	free(err);
	free(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_show),
		cmocka_unit_test(test_hold_release_delete),
		cmocka_unit_test(test_flush),
		cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_cli),
		cmocka_unit_test(test_long_list),
		cmocka_unit_test(test_not_running),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
