/* spool_int: what the spool's own files share (spool.c: index, API and
 * recovery; spool_writer.c: the writer thread and its group commit;
 * spool_reclaim.c: unlinking and compacting old segments). Private to
 * src/spool/. */
#ifndef HERMOD_SPOOL_INT_H
#define HERMOD_SPOOL_INT_H
#include <pthread.h>
#include <stdint.h>
#include <uv.h>

#include "spool/spool.h"
#include "spool/spool_record.h"
#include "util/buf.h"

#define SPOOL_SEGMENT_SIZE (64ull << 20)

/* One unit of work for the writer thread. Ops are queued in order and the
 * log holds their records in that order: recovery relies on it (an update
 * follows the message it updates). */
enum spool_op_kind {
	SPOOL_OP_REC,		/* append rec */
	SPOOL_OP_COPY,		/* append rec (a MSG head) and body_len bytes read at src_fd/src_off */
	SPOOL_OP_UNLINK,	/* unlink segment useg and fsync the directory */
};

/* What the loop does when an op completes. */
enum spool_op_what {
	SPOOL_W_SUBMIT,		/* m is a new message: index it, then cb */
	SPOOL_W_UPDATE,		/* an update of an indexed message: cb only */
	SPOOL_W_COPY,		/* compaction moved m's record: repoint it */
	SPOOL_W_UNLINK,		/* segment useg is gone */
};

struct spool_op {
	struct spool_op	*next;
	enum spool_op_kind kind;
	enum spool_op_what what;
	struct buf	 rec;
	/* SPOOL_OP_COPY */
	int		 src_fd;
	uint64_t	 src_off;
	uint64_t	 body_len;
	uint32_t	 src_seg;
	char		*body;		/* writer-side scratch */
	/* SPOOL_OP_UNLINK */
	uint32_t	 useg;
	uint32_t	 useg_prev;	/* the segment before it, which must be gone first, or 0 */
	/* results, set by the writer */
	int		 err;		/* 0 or -errno */
	uint32_t	 seg;		/* where rec landed */
	uint64_t	 off;
	/* loop side */
	struct spool_msg *m;		/* SUBMIT: the entry to index */
	uint32_t	 body_rel;
	char		 id[ID_LEN + 1];
	spool_commit_cb	 cb;
	void		*arg;
};

/* A segment as the loop thread knows it. */
struct spool_seg {
	uint32_t	 no;
	int		 fd;		/* O_RDONLY, for spool_read() and compaction */
	uint64_t	 size;		/* bytes of records */
	uint64_t	 live_bytes;	/* bytes of MSG records still queued */
	uint32_t	 live;		/* messages whose MSG record is here */
	uint32_t	 readers;	/* reads and copies in flight */
	int		 unlinking;
};

struct spool_writer {
	pthread_t	 thread;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	struct spool_op	*pend, **pend_tail;	/* under mu */
	struct spool_op	*done, **done_tail;	/* under mu */
	int		 stop;			/* under mu */
	int		 running;
	/* writer thread only */
	int		 fd;			/* current segment, or -1 */
	uint32_t	 seg;
	uint64_t	 off;			/* end of the last good record */
	uint32_t	 next_seg;
	/* stats under mu */
	struct spool_stats st;
};

struct spool {
	uv_loop_t	*loop;
	char		*dir;
	int		 dirfd;
	struct spool_opts opts;
	uv_async_t	*async;
	int		 refs;		/* the spool, the async handle, each read in flight */
	int		 closing;

	/* The index: a hash table by id and a list in queue order. */
	struct spool_msg **buckets;
	size_t		 nbuckets;
	size_t		 count;
	struct spool_msg *head, *tail;

	struct spool_seg *segs;		/* ascending segment numbers */
	size_t		 nsegs;
	uint32_t	 cur_seg;	/* newest segment the writer reported */
	int		 compacting;	/* copies in flight */
	int		 reclaim_stuck;	/* compaction or unlink failed ... */
	uint32_t	 stuck_at;	/* ... while cur_seg was this: retry when it moves */
	int		 reclaim_off;	/* tests: 1 disables reclaim */

	void		(*change_fn)(enum spool_change, const char *, const struct spool_env *, void *);
	void		*change_arg;

	struct spool_writer w;
};

/* spool_seg_path() is DIR/seg-NNNNNNNN.log (caller frees). */
char   *spool_seg_path(const struct spool *sp, uint32_t no);
struct spool_seg *spool_seg_find(struct spool *sp, uint32_t no);

/* spool_writer_start() starts the thread; spool_writer_push() queues ops
 * (a chain ending in NULL) and wakes it; spool_writer_stop() lets it finish
 * what is queued and joins it. spool_writer_take() takes the completed ops. */
int	spool_writer_start(struct spool *sp);
void	spool_writer_push(struct spool *sp, struct spool_op *op);
void	spool_writer_stop(struct spool *sp);
struct spool_op *spool_writer_take(struct spool *sp);

struct spool_op *spool_op_new(enum spool_op_kind kind, enum spool_op_what what);
void	spool_op_free(struct spool_op *op);

/* spool_index_*: the loop thread's index (spool.c). */
struct spool_msg *spool_index_get(struct spool *sp, const char *id);

/* spool_reclaim() unlinks the oldest segments once nothing queued lives in
 * them and compacts the oldest one when it holds little live data
 * (spool_reclaim.c). spool_reclaim_done() handles a completed copy/unlink. */
void	spool_reclaim(struct spool *sp);
void	spool_reclaim_done(struct spool *sp, struct spool_op *op);

#endif
