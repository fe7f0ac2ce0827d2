/* webhook_int: what the dispatcher (webhook.c, webhook_flow.c) and the
 * transport (webhook_curl.c) share. Private to src/webhook. */
#ifndef HERMOD_WEBHOOK_INT_H
#define HERMOD_WEBHOOK_INT_H
#include <stddef.h>
#include <stdint.h>

#include <stdatomic.h>

#include <uv.h>

#include "store/store.h"
#include "util/timeutil.h"

struct config;
struct wh_curl;

/* The outcome of one POST. */
struct wh_result {
	long	 status;	/* HTTP status; 0: no answer */
	int	 curl_code;	/* CURLcode; 0: CURLE_OK */
	int	 refused;	/* the SSRF guard refused every address */
	char	 refused_class[24];	/* what the refused address was */
	char	 error[256];	/* curl's message, for logs */
	uint64_t ms;		/* how long it took */
};

typedef void (*wh_post_cb)(const struct wh_result *res, void *arg);

/* wh_curl_new() makes a transport on loop: a curl multi handle whose
 * sockets and timer are libuv handles, so transfers never block the loop.
 * cfg gives the timeouts, the connection limits and allow_private_targets. */
struct wh_curl *wh_curl_new(uv_loop_t *loop, const struct config *cfg);

/* wh_curl_post() starts a POST of body (copied) to url with the Standard
 * Webhooks headers; cb(res, arg) runs on the loop when it ends. 0, or -1
 * (then cb never runs). */
int	wh_curl_post(struct wh_curl *c, const char *url, const char *msg_id, int64_t timestamp,
	    const char *signature, const char *body, size_t len, wh_post_cb cb, void *arg);

/* wh_curl_close() abandons every transfer (their callbacks never run),
 * closes the handles, frees c and calls done(arg) once they are closed. */
void	wh_curl_close(struct wh_curl *c, void (*done)(void *arg), void *arg);

/* ---- the dispatcher's state (webhook.c, webhook_flow.c) ---- */

#define WH_WINDOW		64	/* events read at once per subscription */
#define WH_SCAN_MAX		256	/* pending rows read at once */
#define WH_CIRCUIT_FAILS	3	/* failures in a row that open the circuit */
#define WH_RESCAN_MS		30000	/* a scan at least this often */
#define WH_RELOAD_MS		60000	/* subscriptions re-read at least this often */

/* An event in flight or waiting: in a subscription's window, or a pending
 * row being attempted. */
enum item_state { IT_WAIT, IT_FLIGHT, IT_PENDING_ADD, IT_PENDED, IT_DONE };

struct item {
	struct sub	*sub;
	int64_t		 seq;
	char		*event_id;
	char		*message_id;
	int64_t		 event_time;
	char		*body;
	size_t		 body_len;
	int		 attempts;	/* failed attempts so far */
	int		 blocked;	/* the store has a pending event of its message */
	int		 pending;	/* a webhook_pending row (not a window item) */
	enum item_state	 state;
	struct item	*next;		/* the subscription's pending items in flight */
	struct item	*wnext;		/* the window's next item */
};

struct sub {
	struct webhook	*wh;
	char		*id, *account, *url, *secret;
	uint32_t	 types;		/* 1 << enum event_type */
	int64_t		 cursor;	/* saved in the store */
	int64_t		 read_upto;	/* the window holds events up to here */
	int		 gone;		/* deleted or disabled: freed when refs is 0 */
	int		 seen;		/* reload bookkeeping */
	int		 refs;		/* work items and transfers using it */
	int		 fetching;
	int		 dirty;		/* a wanted event was stored since the last read */
	int		 more;		/* the last read was full: more may follow */
	int		 disabling;	/* 410 seen: the disable is on its way */
	struct item	*win_head;	/* the window, in seq order, win_n items */
	struct item	**win_tail;
	size_t		 win_n;
	int		 saving;	/* a cursor save is running */
	int		 save_again;	/* the cursor moved meanwhile */
	struct item	*flying;	/* pending rows in flight */
	unsigned	 inflight;	/* transfers, window and pending */
	int		 fails;		/* in a row */
	int64_t		 probe_at;	/* circuit open: the next probe, ms */
	struct sub	*next;
};

/* One unit of store work, run on the pool, then finished on the loop. */
struct job {
	uv_work_t	 w;
	struct webhook	*wh;
	struct sub	*sub;
	void		(*work)(struct job *j);
	void		(*after)(struct job *j);
	struct item	*item;
	int		 owns_item;	/* a pending row's item: freed with the job */
	int64_t		 a, b;		/* arguments */
	int		 rc;
	char		*err;
	/* results */
	struct store_event *ev;
	size_t		 nev;
	char		*blocked;	/* nev flags */
	struct store_webhook *subs;
	size_t		 nsubs;
	struct store_webhook_pending *rows;
	size_t		 nrows;
	struct job	*next;
};

struct webhook {
	uv_loop_t	*loop;
	const struct config *cfg;
	struct store	*st;
	struct wh_curl	*curl;
	struct sub	*subs;
	unsigned	 inflight;
	uv_async_t	 changed;
	uv_timer_t	 kick;		/* one pass after a burst of events */
	uv_timer_t	 scan_timer;
	uv_timer_t	 reload_timer;
	int64_t		 scan_at;	/* when scan_timer fires; 0: not armed */
	int		 scanning, rescan, backlog;
	int		 reloading, reload_again;
	struct job	*jobs, **jobs_tail;
	int		 job_running;
	int		 stopping;
	int		 open_handles;
	void		(*stop_done)(void *arg);
	void		*stop_arg;
};

/* Counters since start (webhook_get_stats) and hermod_webhook_events_total:
 * WH_COUNT(delivered) adds one to both. */
struct wh_stats {
	_Atomic uint64_t delivered, failed, gave_up, refused, disabled;
};
extern struct wh_stats wh_stats;
void	wh_count(_Atomic uint64_t *c, const char *result);
#define WH_COUNT(field)	wh_count(&wh_stats.field, #field)

static inline int64_t
wh_now_ms(void)
{
	return (int64_t)time_now_ms();
}

/* webhook.c: the store work queue and the subscriptions. */
/* wh_job_new() makes a unit of store work for s (NULL: none; a reference
 * is held until it ends): work() on the pool, then after() on the loop
 * unless the dispatcher stopped meanwhile. wh_job_push() queues it: one
 * unit runs at a time, in order, so writes land in the order they were
 * decided. */
struct job *wh_job_new(struct webhook *wh, struct sub *s, void (*work)(struct job *),
	    void (*after)(struct job *));
void	wh_job_push(struct job *j);
void	wh_item_clear(struct item *it);
void	wh_window_clear(struct sub *s);
/* wh_sub_find() finds a live subscription by id; wh_sub_gone() forgets one
 * (deleted, disabled); wh_sub_unref() drops a reference and frees a gone
 * subscription with the last. */
struct sub *wh_sub_find(struct webhook *wh, const char *id);
void	wh_sub_gone(struct sub *s);
void	wh_sub_unref(struct sub *s);

/* webhook_flow.c: moving events. */
/* wh_pump() starts what may start in a subscription's window, closes a
 * finished window and reads the next; wh_pump_all() does it for all. */
void	wh_pump(struct sub *s);
void	wh_pump_all(struct webhook *wh);
/* wh_scan_request() asks for a scan of due pending events at time at (ms)
 * or soon after; requests coalesce into the earliest. */
void	wh_scan_request(struct webhook *wh, int64_t at);

#endif
