/* spool_bench: how many messages a second the spool makes durable with group
 * commit. N submitters each keep one message in flight (submit, wait for the
 * durable callback, submit again), as N SMTP sessions would; messages are
 * SIZE bytes with a two-recipient envelope. Prints messages/s, group commits,
 * the mean batch and the mean fdatasync time.
 *
 *	build/spool_bench [-n SUBMITTERS] [-s SIZE] [-t SECONDS] [-d DIR] [-P]
 *
 * -P: no preallocation of segments (to compare).
 *
 *	build/spool_bench -M COUNT [-s SIZE] [-d DIR]
 *
 * -M: queue COUNT messages (one recipient), reopen the spool and report the
 * recovery time and the heap the index takes per queued message.
 *
 * DIR (default build/bench-spool) must be on the disk being measured: a
 * tmpfs makes fdatasync free and the figure meaningless. */
#include "spool/spool.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

struct bench {
	struct spool	*sp;
	struct spool_env env;
	char		*body;
	size_t		 size;
	uint64_t	 deadline;
	uint64_t	 done, failed;
	int		 inflight;
	int		 stopping;
};

static void submit(struct bench *b);
static int memory_mode(const char *dir, size_t count, size_t size);

static void
on_commit(int err, const char *id, void *arg)
{
	struct bench *b = arg;

	(void)id;
	b->inflight--;
	if (err)
		b->failed++;
	else
		b->done++;
	if (time_mono_ms() < b->deadline)
		submit(b);
}

static void
submit(struct bench *b)
{
	if (spool_submit(b->sp, &b->env, b->body, b->size, on_commit, b) < 0) {
		fprintf(stderr, "spool_submit failed\n");
		exit(1);
	}
	b->inflight++;
}

int
main(int argc, char **argv)
{
	const char *dir = "build/bench-spool";
	struct spool_rcpt rcpt[2] = { { .addr = "a@x.example" }, { .addr = "b@y.example" } };
	struct bench b = { 0 };
	struct spool_stats st;
	struct spool_opts opts = { 0 };
	uv_loop_t loop;
	int n = 20, secs = 5, c;
	size_t mem_count = 0;
	uint64_t t0, t1;
	char *err = NULL, cmd[512];

	b.size = 4096;
	while ((c = getopt(argc, argv, "n:s:t:d:PM:")) != -1) {
		switch (c) {
		case 'n': n = atoi(optarg); break;
		case 's': b.size = (size_t)atol(optarg); break;
		case 't': secs = atoi(optarg); break;
		case 'd': dir = optarg; break;
		case 'P': opts.no_prealloc = 1; break;
		case 'M': mem_count = (size_t)atol(optarg); break;
		default:
			fprintf(stderr, "usage: spool_bench [-n SUBMITTERS] [-s SIZE] [-t SECONDS] [-d DIR] [-P]\n");
			return 2;
		}
	}
	if (n < 1 || secs < 1)
		return 2;
	log_set_level(LOG_WARN);
	if (mem_count)
		return memory_mode(dir, mem_count, b.size);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		return 1;
	uv_loop_init(&loop);
	if (spool_open_opts(&b.sp, dir, &loop, &opts, &err) < 0) {
		fprintf(stderr, "spool_open: %s\n", err);
		return 1;
	}
	b.body = xmalloc(b.size);
	for (size_t i = 0; i < b.size; i++)
		b.body[i] = (i % 78 == 77) ? '\n' : (char)('a' + i % 26);
	b.env.account = "bench";
	b.env.mail_from = "sender@bench.example";
	b.env.message_id = "bench@bench.example";
	b.env.rcpt = rcpt;
	b.env.nrcpt = 2;

	t0 = time_mono_ms();
	b.deadline = t0 + (uint64_t)secs * 1000;
	for (int i = 0; i < n; i++)
		submit(&b);
	while (b.inflight > 0)
		uv_run(&loop, UV_RUN_ONCE);
	t1 = time_mono_ms();
	spool_stats(b.sp, &st);
	printf("submitters=%d size=%zu seconds=%.2f durable=%llu failed=%llu\n", n, b.size,
	    (double)(t1 - t0) / 1000, (unsigned long long)b.done, (unsigned long long)b.failed);
	printf("messages/s=%.0f MB/s=%.1f commits=%llu mean_batch=%.1f mean_sync_ms=%.3f max_sync_ms=%.3f\n",
	    (double)b.done * 1000 / (double)(t1 - t0),
	    (double)st.bytes / 1048576 * 1000 / (double)(t1 - t0),
	    (unsigned long long)st.commits, st.commits ? (double)st.records / (double)st.commits : 0,
	    st.commits ? (double)st.sync_ns_total / (double)st.commits / 1e6 : 0,
	    (double)st.sync_ns_max / 1e6);
	spool_close(b.sp);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	free(b.body);
	if (system(cmd) != 0)
		return 1;
	return b.failed ? 1 : 0;
}

struct mem {
	size_t	 done;
	int	 inflight;
};

static void
mem_commit(int err, const char *id, void *arg)
{
	struct mem *m = arg;

	(void)id;
	if (err) {
		fprintf(stderr, "submit failed: %d\n", err);
		exit(1);
	}
	m->done++;
	m->inflight--;
}

static int
memory_mode(const char *dir, size_t count, size_t size)
{
	struct spool_rcpt rcpt = { .addr = "someone.else@example.com" };
	struct spool_env env = { 0 };
	struct mem m = { 0 };
	struct spool *sp;
	uv_loop_t loop;
	char *body = xmalloc(size), *err = NULL, cmd[512];
	struct mallinfo2 a, b;
	uint64_t t0, t1;
	size_t queued = 0;

	memset(body, 'x', size);
	env.account = "shop";
	env.mail_from = "orders@shop.example";
	env.message_id = "20261126180000.1234567@shop.example";
	env.client = "127.0.0.1";
	env.rcpt = &rcpt;
	env.nrcpt = 1;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		return 1;
	uv_loop_init(&loop);
	if (spool_open(&sp, dir, &loop, &err) < 0) {
		fprintf(stderr, "spool_open: %s\n", err);
		return 1;
	}
	while (queued < count) {
		while (m.inflight < 512 && queued < count) {
			if (spool_submit(sp, &env, body, size, mem_commit, &m) < 0)
				return 1;
			m.inflight++;
			queued++;
		}
		uv_run(&loop, UV_RUN_ONCE);
	}
	while (m.inflight > 0)
		uv_run(&loop, UV_RUN_ONCE);
	spool_close(sp);
	uv_run(&loop, UV_RUN_DEFAULT);

	malloc_trim(0);
	a = mallinfo2();
	t0 = time_mono_ms();
	if (spool_open(&sp, dir, &loop, &err) < 0) {
		fprintf(stderr, "spool_open: %s\n", err);
		return 1;
	}
	t1 = time_mono_ms();
	b = mallinfo2();
	printf("queued=%zu recovered=%zu recovery_s=%.2f index_bytes=%zu bytes_per_message=%.0f\n",
	    count, spool_count(sp), (double)(t1 - t0) / 1000, b.uordblks - a.uordblks,
	    (double)(b.uordblks - a.uordblks) / (double)count);
	spool_close(sp);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	free(body);
	return system(cmd) == 0 ? 0 : 1;
}
