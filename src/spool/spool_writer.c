/* spool_writer: the spool's one writer thread and its group commit.
 *
 * The loop thread queues ops (spool_writer_push); the writer takes every op
 * pending at once, appends their records to the current segment with as few
 * pwritev calls as the iovec limit allows, makes the whole batch durable with
 * one fdatasync, and hands the batch back (spool_writer_take) through one
 * uv_async_send: N concurrent submissions cost one sync, and while one sync
 * runs the next batch gathers. The crash-safety argument is in spool.c. */
#include "spool/spool_int.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

const double spool_sync_bucket_le[SPOOL_SYNC_NBUCKETS] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0,
};

#define WRITER_IOV 512		/* iovecs per pwritev call (IOV_MAX is 1024) */

struct spool_op *
spool_op_new(enum spool_op_kind kind, enum spool_op_what what)
{
	struct spool_op *op = xcalloc(1, sizeof(*op));

	op->kind = kind;
	op->what = what;
	op->src_fd = -1;
	return op;
}

void
spool_op_free(struct spool_op *op)
{
	if (op == NULL)
		return;
	buf_free(&op->rec);
	free(op->body);
	free(op);
}

static uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* open_segment() creates the next segment and makes its directory entry
 * durable before any record in it is acknowledged: fdatasync covers the
 * file's data and size, not the name that leads to it. */
static int
open_segment(struct spool *sp)
{
	struct spool_writer *w = &sp->w;
	char *path = spool_seg_path(sp, w->next_seg);
	int fd, e;

	/* O_TRUNC: a file by this name can only be a segment whose creation
	 * failed half-way; nothing in it was ever acknowledged. */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		e = -errno;
		goto fail;
	}
	/* Preallocation spares the file system a size update on each sync;
	 * failing to preallocate (no space, no support) is no reason to stop.
	 * fallocate(2), not posix_fallocate(): no emulation writing zeros. */
	if (!sp->opts.no_prealloc)
		(void)fallocate(fd, 0, 0, (off_t)sp->opts.segment_size);
	if (fsync(fd) < 0 || fsync(sp->dirfd) < 0) {
		e = -errno;
		close(fd);
		unlink(path);
		goto fail;
	}
	free(path);
	w->fd = fd;
	w->seg = w->next_seg++;
	w->off = 0;
	return 0;
fail:
	log_error("spool", "cannot create segment %s: %s", path, strerror(-e));
	free(path);
	return e;
}

/* abandon_segment() follows a failed write or sync: the tail past w->off may
 * hold part of a record, so it is cut (best effort) and the segment closed;
 * the next batch starts a new segment and never lands behind a torn record. */
static void
abandon_segment(struct spool *sp)
{
	struct spool_writer *w = &sp->w;

	if (w->off == 0) {
		/* Nothing good in it: remove it and reuse its number, so a disk
		 * that stays full does not collect one empty file per batch. */
		char *path = spool_seg_path(sp, w->seg);

		(void)ftruncate(w->fd, 0);
		close(w->fd);
		w->fd = -1;
		if (unlink(path) == 0)
			w->next_seg = w->seg;
		free(path);
		return;
	}
	if (ftruncate(w->fd, (off_t)w->off) < 0)
		log_warn("spool", "cannot cut segment %u back: %s", w->seg, strerror(errno));
	close(w->fd);
	w->fd = -1;
}

/* load_copy() reads the body an op copies and seals its record's crc. */
static int
load_copy(struct spool_op *op)
{
	size_t got = 0;

	op->body = xmalloc(op->body_len ? op->body_len : 1);
	while (got < op->body_len) {
		ssize_t n = pread(op->src_fd, op->body + got, op->body_len - got,
		    (off_t)(op->src_off + got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		got += (size_t)n;
	}
	spool_rec_seal((uint8_t *)op->rec.data,
	    (uint32_t)crc32(crc32(0L, NULL, 0), (const Bytef *)op->body, (uInt)op->body_len),
	    op->body_len);
	return 0;
}

static int
write_all(int fd, struct iovec *iov, int n, uint64_t off)
{
	while (n > 0) {
		ssize_t k = pwritev(fd, iov, n, (off_t)off);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		off += (uint64_t)k;
		while (n > 0 && (size_t)k >= iov->iov_len) {
			k -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + k;
			iov->iov_len -= (size_t)k;
		}
	}
	return 0;
}

static void
record_sync(struct spool_writer *w, uint64_t ns, uint64_t records, uint64_t bytes)
{
	pthread_mutex_lock(&w->mu);
	w->st.commits++;
	w->st.records += records;
	w->st.bytes += bytes;
	w->st.sync_ns_total += ns;
	if (ns > w->st.sync_ns_max)
		w->st.sync_ns_max = ns;
	for (int i = 0; i < SPOOL_SYNC_NBUCKETS; i++)
		if ((double)ns / 1e9 <= spool_sync_bucket_le[i])
			w->st.sync_buckets[i]++;
	pthread_mutex_unlock(&w->mu);
}

/* commit_batch() appends the records of every write op in the chain and
 * syncs once. Each op gets err and, on success, seg and off. */
static void
commit_batch(struct spool *sp, struct spool_op *batch)
{
	struct spool_writer *w = &sp->w;
	struct iovec iov[WRITER_IOV];
	uint64_t total = 0, records = 0, start, off, wrote;
	struct spool_op *op;
	int niov = 0, e = 0;

	for (op = batch; op; op = op->next) {
		if (op->kind == SPOOL_OP_UNLINK)
			continue;
		if (op->kind == SPOOL_OP_COPY && (op->err = load_copy(op)) < 0)
			continue;
		total += op->rec.len + (op->kind == SPOOL_OP_COPY ? op->body_len : 0);
		records++;
	}
	if (records == 0)
		return;
	/* Rotate when this batch would overflow the segment; a batch larger
	 * than a segment still goes whole into a fresh one. */
	if (w->fd >= 0 && w->off > 0 && w->off + total > sp->opts.segment_size) {
		close(w->fd);
		w->fd = -1;
	}
	if (w->fd < 0 && (e = open_segment(sp)) < 0)
		goto fail;

	off = wrote = w->off;
	for (op = batch; op; op = op->next) {
		if (op->kind == SPOOL_OP_UNLINK || op->err)
			continue;
		op->seg = w->seg;
		op->off = off;
		off += op->rec.len + (op->kind == SPOOL_OP_COPY ? op->body_len : 0);
		if (niov + 2 > WRITER_IOV) {
			if ((e = write_all(w->fd, iov, niov, wrote)) < 0)
				goto fail_cut;
			wrote = op->off;
			niov = 0;
		}
		iov[niov].iov_base = op->rec.data;
		iov[niov++].iov_len = op->rec.len;
		if (op->kind == SPOOL_OP_COPY) {
			iov[niov].iov_base = op->body;
			iov[niov++].iov_len = op->body_len;
		}
	}
	if (niov && (e = write_all(w->fd, iov, niov, wrote)) < 0)
		goto fail_cut;
	start = mono_ns();
	if (fdatasync(w->fd) < 0) {
		e = -errno;
		goto fail_cut;
	}
	w->off = off;
	record_sync(w, mono_ns() - start, records, total);
	return;

fail_cut:
	/* Nothing of this batch is acknowledged; w->off is still the end of
	 * the last good batch, where abandon_segment() cuts. */
	abandon_segment(sp);
fail:
	log_error("spool", "write failed, %llu records refused: %s",
	    (unsigned long long)records, strerror(-e));
	pthread_mutex_lock(&w->mu);
	w->st.failures++;
	pthread_mutex_unlock(&w->mu);
	for (op = batch; op; op = op->next)
		if (op->kind != SPOOL_OP_UNLINK && op->err == 0)
			op->err = e;
}

static void
do_unlinks(struct spool *sp, struct spool_op *batch)
{
	for (struct spool_op *op = batch; op; op = op->next) {
		char *path;

		if (op->kind != SPOOL_OP_UNLINK)
			continue;
		/* Segments go oldest first, one directory sync each: a later
		 * segment's deletions must not go while an earlier segment
		 * lives. So if the one before is still there (its unlink
		 * failed), this one stays too. */
		if (op->useg_prev) {
			path = spool_seg_path(sp, op->useg_prev);
			if (access(path, F_OK) == 0)
				op->err = -EAGAIN;
			free(path);
			if (op->err)
				continue;
		}
		path = spool_seg_path(sp, op->useg);
		if (unlink(path) < 0 && errno != ENOENT)
			op->err = -errno;
		else if (fsync(sp->dirfd) < 0)
			op->err = -errno;
		free(path);
	}
}

static void *
writer_main(void *arg)
{
	struct spool *sp = arg;
	struct spool_writer *w = &sp->w;
	struct spool_op *batch;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (w->pend == NULL && !w->stop)
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->pend == NULL)
			break;
		batch = w->pend;
		w->pend = NULL;
		w->pend_tail = &w->pend;
		pthread_mutex_unlock(&w->mu);

		commit_batch(sp, batch);
		do_unlinks(sp, batch);

		pthread_mutex_lock(&w->mu);
		*w->done_tail = batch;
		while (*w->done_tail)
			w->done_tail = &(*w->done_tail)->next;
		uv_async_send(sp->async);
	}
	pthread_mutex_unlock(&w->mu);
	if (w->fd >= 0) {
		/* Hand back the preallocated space past the last record. */
		if (ftruncate(w->fd, (off_t)w->off) == 0)
			(void)fdatasync(w->fd);
		close(w->fd);
		w->fd = -1;
	}
	return NULL;
}

int
spool_writer_start(struct spool *sp)
{
	struct spool_writer *w = &sp->w;
	int e;

	w->pend_tail = &w->pend;
	w->done_tail = &w->done;
	w->fd = -1;
	if ((e = pthread_create(&w->thread, NULL, writer_main, sp)) != 0)
		return -e;
	w->running = 1;
	return 0;
}

void
spool_writer_push(struct spool *sp, struct spool_op *op)
{
	struct spool_writer *w = &sp->w;

	pthread_mutex_lock(&w->mu);
	*w->pend_tail = op;
	while (*w->pend_tail)
		w->pend_tail = &(*w->pend_tail)->next;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

void
spool_writer_stop(struct spool *sp)
{
	struct spool_writer *w = &sp->w;

	if (!w->running)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	w->running = 0;
}

struct spool_op *
spool_writer_take(struct spool *sp)
{
	struct spool_writer *w = &sp->w;
	struct spool_op *list;

	pthread_mutex_lock(&w->mu);
	list = w->done;
	w->done = NULL;
	w->done_tail = &w->done;
	pthread_mutex_unlock(&w->mu);
	return list;
}
