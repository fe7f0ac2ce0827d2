/* spool: durable message storage: the index, the API and recovery.
 *
 * DESIGN
 *
 * Layout. DIR holds log segments seg-00000001.log, seg-00000002.log, ...
 * Each is a sequence of records (spool_record.h): a 16-byte header with a
 * magic, type, payload length and a crc32 over header and payload, then the
 * payload. A MSG record holds a whole message: envelope, recipients and body.
 * RCPT, HOLD, RELEASE and DELETE records change a message recorded earlier.
 * Only one thread writes (spool_writer.c), only ever at the end of the newest
 * segment; a new run of the daemon always starts a new segment.
 *
 * Acknowledgement. spool_submit() encodes the record and queues it for the
 * writer; the writer appends every pending record with pwritev, then calls
 * fdatasync once for the batch, and only after fdatasync returned 0 does the
 * loop run the batch's callbacks with err 0; the message enters the index
 * at the same moment. So a 250/202 is only ever said about bytes that
 * fdatasync has put on stable storage (with the file size needed to read
 * them back, which fdatasync covers as it covers any metadata needed to
 * retrieve the data).
 *
 * New segments. fdatasync does not make the file's name durable: a segment
 * created and synced could vanish with its directory entry after a power
 * loss. So the writer fsyncs the new file and then the directory before it
 * writes the first record there; a record can only be acknowledged in a
 * segment whose name is already durable. (spool_open() likewise syncs the
 * parent of the spool directory, which the first start creates.)
 *
 * kill -9 (or power loss) at any instant. What is on disk is: every
 * acknowledged batch whole (synced), then possibly a prefix of the batch in
 * flight, in any state: torn anywhere, bytes missing in the middle if the
 * kernel wrote pages out of order, or preallocated zeros. Recovery reads each
 * segment from the start and accepts a record only if its header is sane, it
 * lies whole inside the file and its crc32 matches; at the first record that
 * fails it stops reading that segment and cuts the file there (ftruncate and
 * fsync). Everything before that point was accepted whole; a half-written
 * message is never indexed because its crc covers every byte of it. Nothing
 * acknowledged is lost because acknowledged batches precede the batch in
 * flight in the same segment, and everything in earlier segments was synced
 * before the writer moved on. (crc32 misses a random corruption once in 2^32;
 * a torn write is not adversarial, and the header's magic, version and length
 * checks come first.)
 *
 * Failed writes. When pwritev or fdatasync fails (ENOSPC, EIO) every op of
 * that batch fails with the error and no callback says success. The tail may
 * hold part of the batch, and after a failed fdatasync the kernel may have
 * dropped dirty pages, so the writer cuts the segment back to the end of the
 * last good batch and abandons it: the next batch goes to a new segment and
 * is never appended behind a possibly torn record (recovery stops at the
 * first bad record of a segment, so anything behind one would be lost). If
 * the cut itself failed, a refused record may survive whole and come back
 * after a restart: a possible duplicate, never a loss.
 *
 * Updates and deletions. Replay applies records in log order (segments in
 * number order, records in file order), which is the order the loop queued
 * them. The index changes at once when an update is called, its record
 * follows with the next group commit (a crash before that forgets the update:
 * the message comes back in its previous state; delivery is at-least-once).
 *
 * Reclaiming space (spool_reclaim.c). A DELETE or final RCPT record in
 * segment M may be all that keeps a message of an earlier segment N from
 * coming back at recovery, so segments are unlinked strictly oldest first, a
 * segment only when no queued message lives in it, each unlink followed by a
 * directory fsync before the next (and refused while the segment before it
 * is still on disk, should that unlink have failed). To keep long-lived
 * messages from pinning every later segment, old segments are compacted when
 * little of them is live (or the spool holds over twice what is live): their
 * live messages are copied forward as fresh MSG records with their current
 * state (ordered in the log before any later update of them), and a segment
 * is unlinked only after its copies are durable. Between the two, both copies
 * exist: recovery lets the later MSG record of an id replace the earlier.
 * Disk use stays within about twice the live data plus two segments.
 *
 * Memory. A queued message is one allocation: struct spool_msg (176 bytes:
 * the public envelope, hash and list links, its record's place), its
 * recipients (48 bytes each) and its strings; last_reply strings apart, plus
 * 8 to 16 bytes of hash bucket. Measured (bench/spool_bench -M 1000000):
 * 328 bytes of heap per queued one-recipient message with typical strings,
 * so a million queued messages take about 330 MB, recovered in 1 to 2 s. The
 * body stays on disk and spool_read() preads it on the thread pool. */
#include "spool/spool_int.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/xalloc.h"
#include "util/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static void on_async(uv_async_t *h);

char *
spool_seg_path(const struct spool *sp, uint32_t no)
{
	return xasprintf("%s/seg-%08u.log", sp->dir, no);
}

struct spool_seg *
spool_seg_find(struct spool *sp, uint32_t no)
{
	size_t lo = 0, hi = sp->nsegs;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (sp->segs[mid].no == no)
			return &sp->segs[mid];
		if (sp->segs[mid].no < no)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* seg_add() appends a segment the loop did not know yet (numbers only grow). */
static struct spool_seg *
seg_add(struct spool *sp, uint32_t no, int fd)
{
	struct spool_seg *s;

	sp->segs = xrealloc(sp->segs, (sp->nsegs + 1) * sizeof(*sp->segs));
	s = &sp->segs[sp->nsegs++];
	memset(s, 0, sizeof(*s));
	s->no = no;
	s->fd = fd;
	return s;
}

/* seg_known() returns the segment, opening it for reading the first time
 * the writer reports a record there. */
static struct spool_seg *
seg_known(struct spool *sp, uint32_t no)
{
	struct spool_seg *s = spool_seg_find(sp, no);
	char *path;
	int fd;

	if (s)
		return s;
	path = spool_seg_path(sp, no);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		log_error("spool", "cannot open %s for reading: %s", path, strerror(errno));
	free(path);
	if (no > sp->cur_seg)
		sp->cur_seg = no;
	return seg_add(sp, no, fd);
}

/* The index. */

static uint64_t
id_hash(const char *id)
{
	uint64_t h = 1469598103934665603ull;

	for (int i = 0; i < ID_LEN && id[i]; i++)
		h = (h ^ (unsigned char)id[i]) * 1099511628211ull;
	return h;
}

struct spool_msg *
spool_index_get(struct spool *sp, const char *id)
{
	struct spool_msg *m;

	if (id == NULL || strlen(id) != ID_LEN)
		return NULL;
	for (m = sp->buckets[id_hash(id) & (sp->nbuckets - 1)]; m; m = m->hnext)
		if (memcmp(m->env.id, id, ID_LEN) == 0)
			return m;
	return NULL;
}

static void
index_grow(struct spool *sp)
{
	size_t nb = sp->nbuckets * 2;
	struct spool_msg **b = xcalloc(nb, sizeof(*b));

	for (size_t i = 0; i < sp->nbuckets; i++) {
		struct spool_msg *m = sp->buckets[i], *next;

		for (; m; m = next) {
			size_t j = id_hash(m->env.id) & (nb - 1);

			next = m->hnext;
			m->hnext = b[j];
			b[j] = m;
		}
	}
	free(sp->buckets);
	sp->buckets = b;
	sp->nbuckets = nb;
}

static void
live_add(struct spool *sp, struct spool_msg *m, int sign)
{
	struct spool_seg *s = spool_seg_find(sp, m->seg);

	if (s == NULL)
		return;
	if (sign > 0) {
		s->live++;
		s->live_bytes += m->reclen;
	} else {
		s->live--;
		s->live_bytes -= m->reclen;
	}
}

/* index_insert() adds m at the end of the queue order. */
static void
index_insert(struct spool *sp, struct spool_msg *m)
{
	size_t j;

	if (sp->count >= sp->nbuckets)
		index_grow(sp);
	j = id_hash(m->env.id) & (sp->nbuckets - 1);
	m->hnext = sp->buckets[j];
	sp->buckets[j] = m;
	m->next = NULL;
	m->prev = sp->tail;
	if (sp->tail)
		sp->tail->next = m;
	else
		sp->head = m;
	sp->tail = m;
	sp->count++;
	live_add(sp, m, +1);
}

/* index_unlink() takes m out of the index without freeing it. */
static void
index_unlink(struct spool *sp, struct spool_msg *m)
{
	struct spool_msg **pp = &sp->buckets[id_hash(m->env.id) & (sp->nbuckets - 1)];

	while (*pp != m)
		pp = &(*pp)->hnext;
	*pp = m->hnext;
	if (m->prev)
		m->prev->next = m->next;
	else
		sp->head = m->next;
	if (m->next)
		m->next->prev = m->prev;
	else
		sp->tail = m->prev;
	sp->count--;
	live_add(sp, m, -1);
}

static void
notify(struct spool *sp, enum spool_change what, const char *id, const struct spool_env *env)
{
	if (sp->change_fn)
		sp->change_fn(what, id, env, sp->change_arg);
}

static int
rcpt_final(enum spool_rcpt_state s)
{
	return s == SPOOL_RCPT_DELIVERED || s == SPOOL_RCPT_BOUNCED || s == SPOOL_RCPT_EXPIRED ||
	    s == SPOOL_RCPT_DROPPED;
}

static int
all_final(const struct spool_env *env)
{
	for (size_t i = 0; i < env->nrcpt; i++)
		if (!rcpt_final(env->rcpt[i].state))
			return 0;
	return 1;
}

static void
rcpt_apply(struct spool_rcpt *dst, const struct spool_rcpt *src)
{
	/* Copy before freeing: src may be the caller's copy of dst, sharing
	 * its last_reply pointer. */
	char *reply = src->last_reply ? xstrdup(src->last_reply) : NULL;

	dst->state = src->state;
	dst->attempts = src->attempts;
	dst->next_attempt = src->next_attempt;
	free(dst->last_reply);
	dst->last_reply = reply;
}

/* Recovery. */

/* replay() applies one record read back from segment no at offset off. */
static void
replay(struct spool *sp, uint32_t no, uint64_t off, long reclen, unsigned type,
    const uint8_t *p, uint32_t len, size_t *bad)
{
	char id[ID_LEN + 1];
	struct spool_msg *m, *old;
	struct spool_rcpt r;
	uint32_t idx;

	switch (type) {
	case SPOOL_REC_MSG:
		if (spool_rec_decode_msg(p, len, &m) < 0)
			goto malformed;
		m->seg = no;
		m->off = off;
		m->reclen = (uint32_t)reclen;
		m->body_rel = (uint32_t)((uint64_t)reclen - m->env.size);
		/* A later MSG record of an id is a compaction copy: it wins. */
		if ((old = spool_index_get(sp, m->env.id)) != NULL) {
			index_unlink(sp, old);
			spool_msg_free(old);
		}
		if (all_final(&m->env))	/* nothing to deliver: never queued */
			spool_msg_free(m);
		else
			index_insert(sp, m);
		return;
	case SPOOL_REC_RCPT:
		if (spool_rec_decode_rcpt(p, len, id, &idx, &r) < 0)
			goto malformed;
		if ((m = spool_index_get(sp, id)) != NULL && idx < m->env.nrcpt) {
			rcpt_apply(&m->env.rcpt[idx], &r);
			if (all_final(&m->env)) {
				index_unlink(sp, m);
				spool_msg_free(m);
			}
		}
		free(r.last_reply);
		return;
	default:
		if (spool_rec_decode_id(p, len, id) < 0)
			goto malformed;
		if ((m = spool_index_get(sp, id)) == NULL)
			return;
		if (type == SPOOL_REC_HOLD)
			m->env.flags |= SPOOL_F_HELD;
		else if (type == SPOOL_REC_RELEASE)
			m->env.flags &= ~(unsigned)SPOOL_F_HELD;
		else {
			index_unlink(sp, m);
			spool_msg_free(m);
		}
		return;
	}
malformed:
	/* The crc held, so this is no torn write but a record this version
	 * cannot read: skip it, say so. */
	(*bad)++;
	log_error("spool", "segment %u offset %llu: malformed record of type %u skipped", no,
	    (unsigned long long)off, type);
}

/* recover_segment() replays one segment and cuts a torn or corrupt tail. */
static int
recover_segment(struct spool *sp, uint32_t no, char **err)
{
	char *path = spool_seg_path(sp, no);
	struct stat st;
	uint8_t *map = NULL;
	uint64_t off = 0, size;
	size_t nrec = 0, bad = 0;
	int fd, rc = -1;

	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		*err = xasprintf("%s: %s", path, strerror(errno));
		goto out;
	}
	size = (uint64_t)st.st_size;
	/* read(2), not mmap: a bad block then fails the start with an error
	 * naming the file instead of killing it with SIGBUS. */
	map = xmalloc(size ? size : 1);
	for (uint64_t got = 0; got < size;) {
		ssize_t n = pread(fd, map + got, size - got, (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*err = xasprintf("%s: read: %s", path, n < 0 ? strerror(errno) : "short file");
			goto out;
		}
		got += (uint64_t)n;
	}
	seg_add(sp, no, -1);
	while (off < size) {
		const uint8_t *payload;
		uint32_t plen;
		unsigned type;
		long n = spool_rec_parse(map + off, size - off, &type, &payload, &plen);

		if (n <= 0) {
			int zeros = 1;

			for (uint64_t i = off; i < size && zeros; i++)
				zeros = map[i] == 0;
			if (!zeros)
				log_warn("spool", "segment %u: %s record at offset %llu, %llu bytes cut",
				    no, n < 0 ? "corrupt" : "torn", (unsigned long long)off,
				    (unsigned long long)(size - off));
			break;
		}
		replay(sp, no, off, n, type, payload, plen, &bad);
		off += (uint64_t)n;
		nrec++;
	}
	if (off < size) {
		if (ftruncate(fd, (off_t)off) < 0 || fsync(fd) < 0) {
			*err = xasprintf("%s: cannot cut the tail: %s", path, strerror(errno));
			goto out;
		}
	}
	spool_seg_find(sp, no)->size = off;
	close(fd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		*err = xasprintf("%s: %s", path, strerror(errno));
		goto out;
	}
	spool_seg_find(sp, no)->fd = fd;
	fd = -1;
	rc = 0;
out:
	free(map);
	if (fd >= 0)
		close(fd);
	free(path);
	return rc;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int
recover(struct spool *sp, char **err)
{
	DIR *d = opendir(sp->dir);
	struct dirent *de;
	uint32_t *nos = NULL, maxno = 0;
	size_t n = 0, cap = 0;
	int rc = 0;

	if (d == NULL) {
		*err = xasprintf("%s: %s", sp->dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		unsigned no;
		char tail;

		if (sscanf(de->d_name, "seg-%8u.lo%c", &no, &tail) != 2 || tail != 'g' ||
		    strlen(de->d_name) != 16 || no == 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			nos = xrealloc(nos, cap * sizeof(*nos));
		}
		nos[n++] = no;
	}
	closedir(d);
	if (n > 1)
		qsort(nos, n, sizeof(*nos), cmp_u32);
	for (size_t i = 0; i < n && rc == 0; i++) {
		rc = recover_segment(sp, nos[i], err);
		maxno = nos[i];
	}
	free(nos);
	sp->w.next_seg = maxno + 1;
	sp->cur_seg = 0;	/* every recovered segment is old: none is written again */
	return rc;
}

/* Opening and closing. */

static void
spool_unref(struct spool *sp)
{
	if (--sp->refs > 0)
		return;
	for (struct spool_msg *m = sp->head, *next; m; m = next) {
		next = m->next;
		spool_msg_free(m);
	}
	for (size_t i = 0; i < sp->nsegs; i++)
		if (sp->segs[i].fd >= 0)
			close(sp->segs[i].fd);
	free(sp->segs);
	free(sp->buckets);
	if (sp->dirfd >= 0)
		close(sp->dirfd);
	pthread_mutex_destroy(&sp->w.mu);
	pthread_cond_destroy(&sp->w.cv);
	free(sp->dir);
	free(sp);
}

static void
on_async_closed(uv_handle_t *h)
{
	struct spool *sp = h->data;

	free(h);
	spool_unref(sp);
}

int
spool_open_opts(struct spool **out, const char *dir, uv_loop_t *loop,
    const struct spool_opts *opts, char **err)
{
	struct spool *sp = xcalloc(1, sizeof(*sp));
	int e;

	*out = NULL;
	sp->loop = loop;
	sp->dir = xstrdup(dir);
	sp->dirfd = -1;
	sp->refs = 1;
	if (opts)
		sp->opts = *opts;
	if (sp->opts.segment_size == 0)
		sp->opts.segment_size = SPOOL_SEGMENT_SIZE;
	sp->nbuckets = 1024;
	sp->buckets = xcalloc(sp->nbuckets, sizeof(*sp->buckets));
	pthread_mutex_init(&sp->w.mu, NULL);
	pthread_cond_init(&sp->w.cv, NULL);

	if (fs_mkdirs(dir, 0700) < 0) {
		*err = xasprintf("%s: %s", dir, strerror(errno));
		goto fail;
	}
	/* The spool directory's own name must be durable before anything in
	 * it is acknowledged (the first start creates it). */
	{
		char *parent = xstrdup(dir), *slash = strrchr(parent, '/');

		if (slash && slash != parent)
			*slash = '\0';
		else
			strcpy(parent, slash ? "/" : ".");
		if (fs_fsync_dir(parent) < 0) {
			*err = xasprintf("%s: fsync: %s", parent, strerror(errno));
			free(parent);
			goto fail;
		}
		free(parent);
	}
	sp->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sp->dirfd < 0) {
		*err = xasprintf("%s: %s", dir, strerror(errno));
		goto fail;
	}
	/* Two writers would interleave records: one process owns a spool. The
	 * lock goes with the process, kill -9 included. */
	if (flock(sp->dirfd, LOCK_EX | LOCK_NB) < 0) {
		*err = errno == EWOULDBLOCK ?
		    xasprintf("%s: in use by another hermod process", dir) :
		    xasprintf("%s: lock: %s", dir, strerror(errno));
		goto fail;
	}
	if (recover(sp, err) < 0)
		goto fail;
	sp->async = xcalloc(1, sizeof(*sp->async));
	if ((e = uv_async_init(loop, sp->async, on_async)) < 0) {
		free(sp->async);
		sp->async = NULL;
		*err = xasprintf("uv_async_init: %s", uv_strerror(e));
		goto fail;
	}
	sp->async->data = sp;
	sp->refs++;
	if ((e = spool_writer_start(sp)) < 0) {
		*err = xasprintf("cannot start the spool writer: %s", strerror(-e));
		uv_close((uv_handle_t *)sp->async, on_async_closed);
		spool_unref(sp);
		return -1;
	}
	log_info("spool", "recovered %zu messages from %zu segments in %s", sp->count, sp->nsegs,
	    dir);
	spool_reclaim(sp);
	*out = sp;
	return 0;
fail:
	spool_unref(sp);
	return -1;
}

int
spool_open(struct spool **out, const char *dir, uv_loop_t *loop, char **err)
{
	return spool_open_opts(out, dir, loop, NULL, err);
}

/* complete() runs on the loop thread for each op the writer finished. */
static void
complete(struct spool *sp, struct spool_op *op)
{
	struct spool_seg *s;

	if (op->err == 0 && op->kind != SPOOL_OP_UNLINK) {
		s = seg_known(sp, op->seg);
		if (op->off + op->rec.len + op->body_len > s->size)
			s->size = op->off + op->rec.len + op->body_len;
	}
	switch (op->what) {
	case SPOOL_W_SUBMIT:
		/* A message born with no recipient left to deliver to (all
		 * dropped, or none) is durable but not queued, as recovery
		 * will see it. */
		if (op->err == 0 && !all_final(&op->m->env)) {
			op->m->seg = op->seg;
			op->m->off = op->off;
			index_insert(sp, op->m);
			op->m = NULL;
		}
		if (op->cb)
			op->cb(op->err, op->id, op->arg);
		if (op->err == 0 && spool_index_get(sp, op->id))
			notify(sp, SPOOL_ADDED, op->id, &spool_index_get(sp, op->id)->env);
		break;
	case SPOOL_W_UPDATE:
		if (op->cb)
			op->cb(op->err, op->id, op->arg);
		break;
	case SPOOL_W_COPY:
	case SPOOL_W_UNLINK:
		spool_reclaim_done(sp, op);
		break;
	}
	spool_msg_free(op->m);
	spool_op_free(op);
}

static void
drain(struct spool *sp)
{
	struct spool_op *op, *next;

	for (op = spool_writer_take(sp); op; op = next) {
		next = op->next;
		complete(sp, op);
	}
	/* After any batch: an update may have emptied the oldest segment, a
	 * submission may have made the writer move to a new one. */
	if (!sp->closing)
		spool_reclaim(sp);
}

static void
on_async(uv_async_t *h)
{
	drain(h->data);
}

void
spool_close(struct spool *sp)
{
	if (sp == NULL)
		return;
	sp->closing = 1;
	spool_writer_stop(sp);
	drain(sp);
	uv_close((uv_handle_t *)sp->async, on_async_closed);
	spool_unref(sp);
}

/* The API. */

int
spool_submit(struct spool *sp, const struct spool_env *env, const void *msg, size_t len,
    spool_commit_cb cb, void *arg)
{
	struct spool_op *op;
	char id[ID_LEN + 1];

	if (sp->closing)
		return -ESHUTDOWN;
	if (len > SPOOL_REC_MAX / 2)
		return -EFBIG;
	for (size_t i = 0; i < env->nrcpt; i++)
		if (env->rcpt[i].addr == NULL)
			return -EINVAL;
	do
		id_new(id);
	while (spool_index_get(sp, id));
	op = spool_op_new(SPOOL_OP_REC, SPOOL_W_SUBMIT);
	op->m = spool_msg_new(env, id, time_now_ms(), len);
	spool_rec_encode_msg(&op->rec, &op->m->env, msg, len, &op->m->body_rel);
	op->m->reclen = (uint32_t)op->rec.len;
	memcpy(op->id, id, sizeof(id));
	op->cb = cb;
	op->arg = arg;
	spool_writer_push(sp, op);
	return 0;
}

const struct spool_env *
spool_get(struct spool *sp, const char *id)
{
	struct spool_msg *m = spool_index_get(sp, id);

	return m ? &m->env : NULL;
}

void
spool_foreach(struct spool *sp, int (*fn)(const struct spool_env *env, void *arg), void *arg)
{
	/* next is taken before fn runs, so fn may remove the message it got. */
	for (struct spool_msg *m = sp->head, *next; m; m = next) {
		next = m->next;
		if (fn(&m->env, arg))
			break;
	}
}

size_t
spool_count(struct spool *sp)
{
	return sp->count;
}

static void
push_update(struct spool *sp, struct spool_op *op, const char *id, spool_commit_cb cb, void *arg)
{
	memcpy(op->id, id, ID_LEN + 1);
	op->cb = cb;
	op->arg = arg;
	spool_writer_push(sp, op);
}

int
spool_set_rcpt(struct spool *sp, const char *id, size_t idx, const struct spool_rcpt *r,
    spool_commit_cb cb, void *arg)
{
	struct spool_msg *m = spool_index_get(sp, id);
	struct spool_op *op;
	char mid[ID_LEN + 1];

	if (m == NULL)
		return -ENOENT;
	if (idx >= m->env.nrcpt || r->state > SPOOL_RCPT_DROPPED)
		return -EINVAL;
	if (sp->closing)
		return -ESHUTDOWN;
	memcpy(mid, m->env.id, sizeof(mid));
	rcpt_apply(&m->env.rcpt[idx], r);
	op = spool_op_new(SPOOL_OP_REC, SPOOL_W_UPDATE);
	spool_rec_encode_rcpt(&op->rec, mid, (uint32_t)idx, &m->env.rcpt[idx]);
	push_update(sp, op, mid, cb, arg);
	if (all_final(&m->env)) {
		index_unlink(sp, m);
		spool_msg_free(m);
		notify(sp, SPOOL_REMOVED, mid, NULL);
	}
	return 0;
}

static int
simple_update(struct spool *sp, const char *id, enum spool_rec_type type, spool_commit_cb cb,
    void *arg)
{
	struct spool_msg *m = spool_index_get(sp, id);
	struct spool_op *op;
	char mid[ID_LEN + 1];

	if (m == NULL)
		return -ENOENT;
	if (sp->closing)
		return -ESHUTDOWN;
	memcpy(mid, m->env.id, sizeof(mid));
	op = spool_op_new(SPOOL_OP_REC, SPOOL_W_UPDATE);
	spool_rec_encode_id(&op->rec, type, mid);
	push_update(sp, op, mid, cb, arg);
	switch (type) {
	case SPOOL_REC_HOLD:
		m->env.flags |= SPOOL_F_HELD;
		notify(sp, SPOOL_HELD, mid, &m->env);
		break;
	case SPOOL_REC_RELEASE:
		m->env.flags &= ~(unsigned)SPOOL_F_HELD;
		notify(sp, SPOOL_RELEASED, mid, &m->env);
		break;
	default:
		index_unlink(sp, m);
		spool_msg_free(m);
		notify(sp, SPOOL_REMOVED, mid, NULL);
		break;
	}
	return 0;
}

int
spool_hold(struct spool *sp, const char *id, spool_commit_cb cb, void *arg)
{
	return simple_update(sp, id, SPOOL_REC_HOLD, cb, arg);
}

int
spool_release(struct spool *sp, const char *id, spool_commit_cb cb, void *arg)
{
	return simple_update(sp, id, SPOOL_REC_RELEASE, cb, arg);
}

int
spool_delete(struct spool *sp, const char *id, spool_commit_cb cb, void *arg)
{
	return simple_update(sp, id, SPOOL_REC_DELETE, cb, arg);
}

/* Reading a body on the thread pool. */

struct read_req {
	uv_work_t	 work;
	struct spool	*sp;
	uint32_t	 seg;
	int		 fd;
	uint64_t	 off;
	size_t		 len;
	char		*data;
	int		 err;
	char		 id[ID_LEN + 1];
	spool_read_cb	 cb;
	void		*arg;
};

static void
read_work(uv_work_t *w)
{
	struct read_req *r = w->data;
	size_t got = 0;

	r->data = xmalloc(r->len + 1);
	while (got < r->len) {
		ssize_t n = pread(r->fd, r->data + got, r->len - got, (off_t)(r->off + got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r->err = n < 0 ? -errno : -EIO;
			return;
		}
		got += (size_t)n;
	}
	r->data[r->len] = '\0';
}

static void
read_done(uv_work_t *w, int status)
{
	struct read_req *r = w->data;
	struct spool *sp = r->sp;
	struct spool_seg *s = spool_seg_find(sp, r->seg);

	if (status < 0 && r->err == 0)
		r->err = status;
	if (s)
		s->readers--;
	r->cb(r->err, r->id, r->err ? NULL : r->data, r->err ? 0 : r->len, r->arg);
	free(r->data);
	free(r);
	if (!sp->closing)
		spool_reclaim(sp);
	spool_unref(sp);
}

int
spool_read(struct spool *sp, const char *id, spool_read_cb cb, void *arg)
{
	struct spool_msg *m = spool_index_get(sp, id);
	struct spool_seg *s;
	struct read_req *r;
	int e;

	if (m == NULL)
		return -ENOENT;
	s = spool_seg_find(sp, m->seg);
	if (s == NULL || s->fd < 0)
		return -EIO;
	r = xcalloc(1, sizeof(*r));
	r->work.data = r;
	r->sp = sp;
	r->seg = s->no;
	r->fd = s->fd;
	r->off = m->off + m->body_rel;
	r->len = m->env.size;
	memcpy(r->id, m->env.id, sizeof(r->id));
	r->cb = cb;
	r->arg = arg;
	if ((e = uv_queue_work(sp->loop, &r->work, read_work, read_done)) < 0) {
		free(r);
		return e;
	}
	s->readers++;
	sp->refs++;
	return 0;
}

void
spool_on_change(struct spool *sp,
    void (*fn)(enum spool_change what, const char *id, const struct spool_env *env, void *arg),
    void *arg)
{
	sp->change_fn = fn;
	sp->change_arg = arg;
}

void
spool_stats(struct spool *sp, struct spool_stats *out)
{
	pthread_mutex_lock(&sp->w.mu);
	*out = sp->w.st;
	pthread_mutex_unlock(&sp->w.mu);
	out->messages = sp->count;
	out->segments = sp->nsegs;
	out->disk_bytes = out->live_bytes = 0;
	for (size_t i = 0; i < sp->nsegs; i++) {
		out->disk_bytes += sp->segs[i].size;
		out->live_bytes += sp->segs[i].live_bytes;
	}
}

void
spool_env_free(struct spool_env *env)
{
	if (env == NULL)
		return;
	free(env->account);
	free(env->mail_from);
	free(env->envid);
	free(env->message_id);
	free(env->client);
	free(env->meta_json);
	for (size_t i = 0; i < env->nrcpt; i++) {
		free(env->rcpt[i].addr);
		free(env->rcpt[i].orcpt);
		free(env->rcpt[i].last_reply);
	}
	free(env->rcpt);
	memset(env, 0, sizeof(*env));
}

const char *
spool_rcpt_state_name(enum spool_rcpt_state s)
{
	static const char *names[] = { "queued", "deferred", "delivered", "bounced", "expired",
	    "dropped" };

	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "unknown";
}
