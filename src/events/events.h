/* events: every change of a recipient's state (SPEC.md "Events"), and the
 * account-level events around it (suppression changes, reputation), as one
 * pipeline: emit -> id and time -> one JSON log line -> the store -> the
 * subscribers (webhooks, suppressions, reputation, metrics) on the loop thread.
 *
 * One pipeline per process, like the log: emitters call events_emit() from
 * any thread without a handle. Before events_start() (CLI, unit tests) an
 * emitted event is logged and counted only.
 *
 *	struct event e = { .type = EVENT_DELIVERED, .account = "shop",
 *	    .message_id = env->id, .recipient = "a@x.example", .rcpt_index = 0 };
 *	events_emit(&e);
 */
#ifndef HERMOD_EVENTS_H
#define HERMOD_EVENTS_H
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "util/id.h"

struct store;
struct config;

enum event_type {
	/* a recipient's state (SPEC.md) */
	EVENT_QUEUED,
	EVENT_DELIVERED,
	EVENT_DEFERRED,
	EVENT_BOUNCED,
	EVENT_EXPIRED,
	EVENT_DROPPED,
	EVENT_COMPLAINED,
	EVENT_UNSUBSCRIBED,
	EVENT_OPENED,
	EVENT_CLICKED,
	/* account level: the audit trail of the suppression list, reputation */
	EVENT_SUPPRESSION_ADDED,
	EVENT_SUPPRESSION_REMOVED,
	EVENT_REPUTATION_WARNING,
	EVENT_ACCOUNT_PAUSED,
	EVENT_ACCOUNT_RESUMED,
	EVENT__COUNT
};

/* event_type_name() is the type's wire name ("bounced", "suppression_added");
 * event_type_parse() the reverse: 0, or -1 for an unknown name. */
const char *event_type_name(enum event_type t);
int	event_type_parse(const char *name, enum event_type *out);

/* What an emitter knows. Every pointer may be NULL (0 / -1 for the numbers)
 * when it does not apply; events_emit() copies what it needs. */
struct event {
	enum event_type	 type;
	const char	*account;
	const char	*message_id;	/* hermod's id: the API's "id", the queue id */
	const char	*header_message_id; /* the Message-ID header, without <> */
	const char	*recipient;
	int		 rcpt_index;	/* position in the message's envelope; -1: none */
	const char	*meta_json;	/* spool_env.meta_json: {"tags", "metadata", ...} */
	uint32_t	 attempt;
	const char	*mx;
	int		 smtp_code;	/* 0: no SMTP reply */
	const char	*smtp_enhanced;
	const char	*smtp_text;
	const char	*bounce_class;	/* "hard", "soft", ... (deliver/bounce.h) */
	const char	*bounce_category;
	const char	*reason;	/* dropped, suppression, reputation: why */
	const char	*extra_json;	/* a JSON object whose members are added */
};

/* An emitted event as the store and subscribers see it. Strings owned by
 * the pipeline; valid during the callback only. */
struct event_rec {
	int64_t		 seq;		/* store order, the cursor of queries; 0: not stored */
	char		 id[ID_LEN + 1];
	enum event_type	 type;
	int64_t		 time;		/* ms since the epoch */
	struct event	 ev;		/* the emitter's fields, copied */
	char		*json;		/* the whole event, SPEC.md's shape */
	size_t		 json_len;
};

/* events_emit() gives e an id and a time, logs it as one line, and queues it
 * for the store and the subscribers. Thread safe; never blocks on I/O. */
void	events_emit(const struct event *e);

/* event_rec_json() renders rec's fields as SPEC.md's JSON object (pure; the
 * caller frees). Used by events_emit(); exposed for tests and the store. */
char   *event_rec_json(const struct event_rec *rec, size_t *len);

/* A subscriber runs on the loop thread, in emission order, after the event
 * is in the store (when a store is attached). Register before events_start(). */
typedef void (*event_subscriber)(const struct event_rec *rec, void *arg);
void	events_subscribe(event_subscriber fn, void *arg);

/* events_start() attaches the pipeline to loop (and to st, which may be NULL:
 * then nothing is stored). events_stop() delivers what is queued, detaches,
 * and forgets the subscribers; the loop must run afterwards for the handle to
 * close. */
int	events_start(uv_loop_t *loop, struct store *st, const struct config *cfg, char **err);
void	events_stop(void);

/* events_mark() and events_wait_stored() serve an emitter that deletes its
 * own record of something once the events about it are safe (the inbound
 * listener's report files): take a mark, emit, then events_wait_stored()
 * blocks until the writer has handled everything queued so far. It returns
 * 0, or -1 when an event emitted since the mark (by anyone) was dropped
 * because the pipeline was not running, or could not be stored: the
 * emitter then keeps its record, to emit again later (at least once).
 * Blocks: call it on a worker thread, never on the loop thread. */
struct events_mark {
	uint64_t	 bad;	/* dropped or unstored events so far */
};
struct events_mark events_mark(void);
int	events_wait_stored(const struct events_mark *m);

/* events_get_stats() copies the pipeline's counters since events_start()
 * (for metrics and tests). */
struct events_stats {
	uint64_t	 emitted;	/* queued for the writer */
	uint64_t	 queued;	/* waiting for the writer now */
	uint64_t	 stored;	/* inserted in the store */
	uint64_t	 batches;	/* store transactions */
	uint64_t	 store_failed;	/* handed on unstored after retries */
	uint64_t	 pruned;	/* deleted by retention */
};
void	events_get_stats(struct events_stats *out);

/* events_emit_queued() emits one `queued` event per recipient of env that
 * is waiting for delivery (SPOOL_RCPT_QUEUED; dropped ones are not), with
 * the message's account, ids and meta_json. Call it from a spool commit
 * callback (the message is durable), with spool_get()'s envelope. */
struct spool_env;
void	events_emit_queued(const struct spool_env *env);

#endif
