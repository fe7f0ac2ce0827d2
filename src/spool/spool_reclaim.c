/* spool_reclaim: giving disk space back. Segments are unlinked oldest first
 * and only when no queued message lives in them; the oldest segment is
 * compacted (its live messages copied forward) when it holds little live
 * data or when the spool's files hold much more than what is live. Why this
 * order keeps recovery right is argued in spool.c's DESIGN. Loop thread. */
#include "spool/spool_int.h"
#include "util/log.h"

#include <string.h>
#include <unistd.h>

/* compact() queues a copy of every live message of segment s. */
static void
compact(struct spool *sp, struct spool_seg *s)
{
	struct spool_op *chain = NULL, **tail = &chain;
	size_t n = 0;

	for (struct spool_msg *m = sp->head; m; m = m->next) {
		struct spool_op *op;

		if (m->seg != s->no)
			continue;
		op = spool_op_new(SPOOL_OP_COPY, SPOOL_W_COPY);
		spool_rec_encode_msg_head(&op->rec, &m->env, m->env.size, &op->body_rel);
		op->src_fd = s->fd;
		op->src_off = m->off + m->body_rel;
		op->body_len = m->env.size;
		op->src_seg = s->no;
		memcpy(op->id, m->env.id, sizeof(op->id));
		*tail = op;
		tail = &op->next;
		n++;
	}
	if (n == 0)
		return;
	s->readers += (uint32_t)n;
	sp->compacting += (int)n;
	log_info("spool", "compacting segment %u: copying %zu live messages forward", s->no, n);
	spool_writer_push(sp, chain);
}

/* Copies queued by one pass at most: enough to clear many small segments at
 * once, little enough to keep the writer's batches short for submissions. */
#define RECLAIM_COPY_BUDGET (8u << 20)

void
spool_reclaim(struct spool *sp)
{
	uint64_t total = 0, live = 0, budget = RECLAIM_COPY_BUDGET;
	size_t i;

	if (sp->reclaim_off || sp->closing || sp->nsegs == 0)
		return;
	if (sp->reclaim_stuck) {
		if (sp->stuck_at == sp->cur_seg)
			return;
		sp->reclaim_stuck = 0;
	}
	/* Unlink the oldest segments that hold nothing queued, in order: the
	 * writer runs the unlinks one after the other, each with its
	 * directory sync. The writer may still append to the newest segment
	 * it reported: never that one. */
	for (i = 0; i < sp->nsegs; i++) {
		struct spool_seg *s = &sp->segs[i];
		struct spool_op *op;

		if (s->no == sp->cur_seg || s->live > 0 || s->readers > 0)
			break;
		if (s->unlinking)
			continue;
		op = spool_op_new(SPOOL_OP_UNLINK, SPOOL_W_UNLINK);
		op->useg = s->no;
		op->useg_prev = i > 0 ? sp->segs[i - 1].no : 0;
		s->unlinking = 1;
		spool_writer_push(sp, op);
	}
	if (i > 0 || sp->compacting)
		return;
	for (i = 0; i < sp->nsegs; i++) {
		total += sp->segs[i].size;
		live += sp->segs[i].live_bytes;
	}
	/* Compact the oldest segment when little of it lives or when the
	 * spool holds much more than what is live; then the segments after it
	 * that are mostly dead too, within the budget. */
	for (i = 0; i < sp->nsegs && budget > 0; i++) {
		struct spool_seg *s = &sp->segs[i];
		int pressed = i == 0 && total > 2 * live + 2 * sp->opts.segment_size;

		if (s->no == sp->cur_seg || s->fd < 0 || s->unlinking)
			break;
		if (!pressed && s->live_bytes * 2 >= s->size)
			break;
		compact(sp, s);
		budget = s->live_bytes >= budget ? 0 : budget - s->live_bytes;
	}
}

static void
stuck(struct spool *sp)
{
	sp->reclaim_stuck = 1;
	sp->stuck_at = sp->cur_seg;
}

void
spool_reclaim_done(struct spool *sp, struct spool_op *op)
{
	struct spool_seg *s;
	struct spool_msg *m;

	if (op->what == SPOOL_W_COPY) {
		sp->compacting--;
		if ((s = spool_seg_find(sp, op->src_seg)) != NULL)
			s->readers--;
		if (op->err) {
			stuck(sp);
			return;
		}
		/* The message may have gone meanwhile; then its copy is followed
		 * in the log by the record that removed it. */
		m = spool_index_get(sp, op->id);
		if (m == NULL || m->seg != op->src_seg)
			return;
		if ((s = spool_seg_find(sp, m->seg)) != NULL) {
			s->live--;
			s->live_bytes -= m->reclen;
		}
		m->seg = op->seg;
		m->off = op->off;
		m->body_rel = op->body_rel;
		m->reclen = (uint32_t)(op->rec.len + op->body_len);
		if ((s = spool_seg_find(sp, m->seg)) != NULL) {
			s->live++;
			s->live_bytes += m->reclen;
		}
		pthread_mutex_lock(&sp->w.mu);
		sp->w.st.compacted++;
		pthread_mutex_unlock(&sp->w.mu);
		return;
	}
	s = spool_seg_find(sp, op->useg);
	if (s == NULL)
		return;
	if (op->err) {
		log_error("spool", "cannot unlink segment %u: %s", op->useg, strerror(-op->err));
		s->unlinking = 0;
		stuck(sp);
		return;
	}
	if (s->fd >= 0)
		close(s->fd);
	memmove(s, s + 1, (size_t)(sp->segs + sp->nsegs - (s + 1)) * sizeof(*s));
	sp->nsegs--;
	pthread_mutex_lock(&sp->w.mu);
	sp->w.st.segments_unlinked++;
	pthread_mutex_unlock(&sp->w.mu);
}
