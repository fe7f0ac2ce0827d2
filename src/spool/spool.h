/* spool: durable message storage. Messages and their envelopes are appended to
 * log segments in data_dir/spool by one writer thread; concurrent submissions
 * share one fdatasync (group commit) and each submitter is told on the loop
 * thread once its message is durable. The in-memory index (envelope, recipient
 * states, where the body lies) is rebuilt from the segments at start.
 *
 * The spool knows no protocol: SMTP, HTTP and sendmail meet here (STYLE).
 * All functions are called on the loop thread unless they say otherwise. */
#ifndef HERMOD_SPOOL_H
#define HERMOD_SPOOL_H
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "util/id.h"

struct spool;

enum spool_rcpt_state {
	SPOOL_RCPT_QUEUED,	/* waiting for its first or next attempt */
	SPOOL_RCPT_DEFERRED,	/* an attempt failed temporarily */
	SPOOL_RCPT_DELIVERED,
	SPOOL_RCPT_BOUNCED,
	SPOOL_RCPT_EXPIRED,
	SPOOL_RCPT_DROPPED,	/* suppressed or removed by an admin */
};

/* DSN NOTIFY bits (RFC 3461); 0 means the default, FAILURE,DELAY-ish. */
#define SPOOL_NOTIFY_NEVER	0x01
#define SPOOL_NOTIFY_SUCCESS	0x02
#define SPOOL_NOTIFY_FAILURE	0x04
#define SPOOL_NOTIFY_DELAY	0x08

#define SPOOL_RET_NONE		0
#define SPOOL_RET_FULL		1
#define SPOOL_RET_HDRS		2

/* Message flags. */
#define SPOOL_F_SMTPUTF8	0x01	/* needs SMTPUTF8 from the next hop */
#define SPOOL_F_8BITMIME	0x02	/* BODY=8BITMIME */
#define SPOOL_F_DSN		0x04	/* submitted over SMTP: DSNs to the return path */
#define SPOOL_F_HELD		0x08	/* held by an admin: not delivered until released */

struct spool_rcpt {
	char		*addr;		/* mailbox as given, no angle brackets */
	char		*orcpt;		/* DSN ORCPT ("rfc822;a@b") or NULL */
	unsigned	 notify;	/* SPOOL_NOTIFY_* */
	enum spool_rcpt_state state;
	uint32_t	 attempts;
	uint64_t	 next_attempt;	/* ms since the epoch, 0 = now */
	char		*last_reply;	/* last SMTP reply or failure text, or NULL */
};

/* An envelope. Strings are NUL-terminated copies owned by whoever holds the
 * struct; the spool's own copies are read-only to callers. */
struct spool_env {
	char		 id[ID_LEN + 1];	/* queue id, set by the spool */
	char		*account;
	char		*mail_from;		/* return path, "" for <> */
	char		*envid;			/* DSN ENVID or NULL */
	int		 ret;			/* SPOOL_RET_* */
	unsigned	 flags;			/* SPOOL_F_* */
	char		*message_id;		/* Message-ID without <>, or NULL */
	char		*client;		/* where it came from, for logs */
	char		*meta_json;		/* tags/metadata/stream from the API, JSON, or NULL */
	uint64_t	 queued_at;		/* ms since the epoch, set by the spool */
	uint64_t	 size;			/* message bytes */
	size_t		 nrcpt;
	struct spool_rcpt *rcpt;
};

/* spool_open() opens (creating) dir, recovers every segment (verifying each
 * record's checksum, cutting a torn tail), rebuilds the index and starts the
 * writer thread. Blocking: call it before the loop runs. 0, or -1 with *err. */
int	spool_open(struct spool **out, const char *dir, uv_loop_t *loop, char **err);
/* spool_opts tunes a spool; zero-filled means the defaults. */
struct spool_opts {
	uint64_t	 segment_size;	/* rotate segments at this size; default 64 MiB */
	int		 no_prealloc;	/* 1: do not fallocate new segments */
};
/* spool_open_opts() is spool_open() with options (tests, the benchmark). */
int	spool_open_opts(struct spool **out, const char *dir, uv_loop_t *loop,
	    const struct spool_opts *opts, char **err);
/* spool_close() lets the writer finish what was submitted (callbacks run
 * before it returns), stops it and frees everything once reads still in
 * flight have finished; run the loop afterwards so its handles close. Not
 * from inside one of the spool's own callbacks. */
void	spool_close(struct spool *sp);

/* spool_stats: counters for metrics (hermod_spool_sync_seconds) and tests.
 * sync_buckets[i] counts group commits whose fdatasync took at most
 * spool_sync_bucket_le[i] seconds (cumulative, Prometheus style). */
#define SPOOL_SYNC_NBUCKETS 12
extern const double spool_sync_bucket_le[SPOOL_SYNC_NBUCKETS];
struct spool_stats {
	uint64_t	 commits;	/* group commits (one fdatasync each) */
	uint64_t	 records;	/* records made durable */
	uint64_t	 bytes;		/* bytes made durable */
	uint64_t	 failures;	/* batches that failed (their callbacks got the error) */
	uint64_t	 sync_ns_total;	/* time in fdatasync, for the histogram's _sum */
	uint64_t	 sync_ns_max;
	uint64_t	 sync_buckets[SPOOL_SYNC_NBUCKETS];
	uint64_t	 compacted;	/* messages copied forward by compaction */
	uint64_t	 segments_unlinked;
	size_t		 messages;	/* queued now */
	size_t		 segments;	/* on disk now, as the loop knows them */
	uint64_t	 disk_bytes;	/* bytes in those segments */
	uint64_t	 live_bytes;	/* bytes of their records still queued */
};
void	spool_stats(struct spool *sp, struct spool_stats *out);
/* spool_stats_prometheus() appends st in the Prometheus text format to out:
 * the hermod_spool_sync_seconds histogram of SPEC.md and hermod_spool_*
 * counters and gauges, for GET /metrics. Pure. */
struct buf;
void	spool_stats_prometheus(const struct spool_stats *st, struct buf *out);

/* spool_commit_cb: err is 0 once the message is durable (then and only then
 * may the submitter answer 250 or 202), or a negative errno (the message is
 * not queued: answer 451 4.3.0). id is the queue id. Runs on the loop thread. */
typedef void (*spool_commit_cb)(int err, const char *id, void *arg);

/* spool_submit() copies env (its id and queued_at are ignored and set by the
 * spool) and the message bytes, queues them for the writer thread and returns
 * at once; cb fires on the loop thread when durable or failed. 0 or -errno
 * (then cb never fires): -EINVAL for a recipient without address, -EFBIG
 * over 512 MiB, -ESHUTDOWN once spool_close() began. A message with no
 * recipient left to deliver to (none, or all dropped) is recorded and cb
 * says 0, but it is not queued (no SPOOL_ADDED). */
int	spool_submit(struct spool *sp, const struct spool_env *env, const void *msg, size_t len,
	    spool_commit_cb cb, void *arg);

/* spool_get() returns the queued envelope for id, or NULL. Valid until the next
 * call that changes the spool. */
const struct spool_env *spool_get(struct spool *sp, const char *id);
/* spool_foreach() calls fn for each queued envelope in the order they were
 * queued (ids sort by time, so nearly id order); stops when fn returns
 * non-zero. fn may change or remove the message it was given, no other. */
void	spool_foreach(struct spool *sp, int (*fn)(const struct spool_env *env, void *arg), void *arg);
size_t	spool_count(struct spool *sp);

/* spool_set_rcpt() records a recipient's new state, attempts, next_attempt
 * and last_reply (r's addr, orcpt and notify are ignored). The index changes
 * at once; the record is made durable with the next group commit and cb (may
 * be NULL) fires then, with the error if that write failed (the change then
 * holds in memory but a restart brings back the previous state). When every
 * recipient is final (delivered, bounced, expired, dropped) the message
 * leaves the spool before this returns (SPOOL_REMOVED fires from inside).
 * 0, -ENOENT, -EINVAL (idx or state out of range), -ESHUTDOWN. */
int	spool_set_rcpt(struct spool *sp, const char *id, size_t idx, const struct spool_rcpt *r,
	    spool_commit_cb cb, void *arg);
/* spool_hold(), spool_release(): set or clear SPOOL_F_HELD. spool_delete():
 * remove the message now. 0, or -ENOENT. cb as for spool_set_rcpt(). */
int	spool_hold(struct spool *sp, const char *id, spool_commit_cb cb, void *arg);
int	spool_release(struct spool *sp, const char *id, spool_commit_cb cb, void *arg);
int	spool_delete(struct spool *sp, const char *id, spool_commit_cb cb, void *arg);

/* spool_read_cb gets the message bytes (valid during the call only) or err. */
typedef void (*spool_read_cb)(int err, const char *id, const char *msg, size_t len, void *arg);
/* spool_read() reads a message's bytes on the thread pool; cb on the loop.
 * The bytes are read even if the message leaves the spool meanwhile. 0, or
 * -ENOENT, -EIO, a libuv error (then cb never fires). */
int	spool_read(struct spool *sp, const char *id, spool_read_cb cb, void *arg);

/* spool_on_change() registers fn, called on the loop thread after a message is
 * added, released, held or removed (env is NULL on removal): the scheduler's
 * feed. SPOOL_ADDED comes once the message is durable, right after its commit
 * callback; the others from inside the call that caused them. */
enum spool_change { SPOOL_ADDED, SPOOL_HELD, SPOOL_RELEASED, SPOOL_REMOVED };
void	spool_on_change(struct spool *sp,
	    void (*fn)(enum spool_change what, const char *id, const struct spool_env *env, void *arg),
	    void *arg);

/* spool_env_free() frees the strings and recipients of an env the caller built. */
void	spool_env_free(struct spool_env *env);
const char *spool_rcpt_state_name(enum spool_rcpt_state s);

#endif
