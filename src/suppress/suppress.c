/* suppress: the suppression lists inside the daemon (suppress.h).
 *
 * DESIGN
 * The store is the truth, shared by the daemon and the CLI (which works
 * whether or not the daemon runs). The send paths ask an in-memory set
 * instead: SMTP's RCPT check runs on the loop thread, where SQLite must not
 * be touched, and a set lookup costs a hash and a compare where a query
 * costs a lock and a B-tree walk.
 *
 * Keeping the set equal to the store:
 *  - at start, the whole list is loaded (one read transaction, before the
 *    loop runs) together with the position of the change journal, a table
 *    every change appends to in the same transaction as the change itself;
 *  - the daemon's own changes (API, automatic) write the store, then the
 *    set, under apply_mu;
 *  - changes by other processes are picked up by replaying the journal from
 *    that position, on a worker, every SUPPRESS_POLL_MS, and at once when
 *    the CLI asks over the control socket ("suppress.sync": the CLI's
 *    command returns only after the daemon applied its change, so a script
 *    that suppresses then sends is never raced). The replay also holds
 *    apply_mu, so the set always ends as the journal's last word.
 *  Why a journal rather than PRAGMA data_version: data_version says only
 *  "someone wrote", and every event the daemon stores would then cost a
 *  reload of the whole list; the journal says what changed.
 *
 * Audit: every change is a suppression_added / suppression_removed event
 * with its reason and who made it. The daemon emits its own at once; the
 * CLI cannot (the event pipeline lives in the daemon), so its journal
 * entries are written unannounced and the daemon emits their events when it
 * replays them, also those made while it was stopped. */
#include "suppress/suppress_int.h"
#include "ctl/ctl.h"
#include "metrics/metrics.h"
#include "events/events.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/config.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

#include <stdlib.h>
#include <string.h>

#define SUPPRESS_BATCH		1000	/* journal entries read at once */
#define SUPPRESS_JOURNAL_KEEP	(7ULL * 24 * 3600 * 1000)
#define SUPPRESS_EXPIRE_EVERY	(3600ULL * 1000)

int
suppress_check(struct suppress *sp, const char *account, const char *addr)
{
	char *n, *k;
	int hit;

	if (sp == NULL || account == NULL || addr == NULL)
		return 0;
	if ((n = suppress_addr_normalize(addr, NULL)) == NULL)
		return 0;
	k = suppress_addr_key(n);
	hit = suppress_set_has(sp->set, account, k);
	free(k);
	free(n);
	return hit;
}

/* set_apply() adds or removes one normalised address. */
static void
set_apply(struct suppress *sp, const char *account, const char *address, int add)
{
	char *k = suppress_addr_key(address);

	if (add)
		suppress_set_add(sp->set, account, k);
	else
		suppress_set_remove(sp->set, account, k);
	free(k);
}

/* audit() emits the suppression_added / suppression_removed event. */
static void
audit(int add, const char *account, const char *address, const char *reason,
    const char *source, const char *who)
{
	struct buf x = { 0 };
	struct event e = {
		.type = add ? EVENT_SUPPRESSION_ADDED : EVENT_SUPPRESSION_REMOVED,
		.account = account,
		.recipient = address,
		.rcpt_index = -1,
		.reason = reason,
	};

	buf_puts(&x, "{\"who\":");
	buf_json_str(&x, who ? who : "api", strlen(who ? who : "api"));
	buf_puts(&x, ",\"source\":");
	if (source != NULL)
		buf_json_str(&x, source, strlen(source));
	else
		buf_puts(&x, "null");
	buf_putc(&x, '}');
	e.extra_json = x.data;
	events_emit(&e);
	buf_free(&x);
}

void
suppress_drop_event(const char *account, const char *message_id, const char *header_message_id,
    const char *recipient, int rcpt_index, const char *meta_json)
{
	struct event e = {
		.type = EVENT_DROPPED,
		.account = account,
		.message_id = message_id,
		.header_message_id = header_message_id,
		.recipient = recipient,
		.rcpt_index = rcpt_index,
		.meta_json = meta_json,
		.reason = "suppressed",
	};

	events_emit(&e);
}

int
suppress_add(struct suppress *sp, const char *account, const char *addr, const char *reason,
    const char *source, const char *who, char **err)
{
	struct store_suppression row;
	int rc;

	pthread_mutex_lock(&sp->apply_mu);
	rc = store_suppress_add(sp->st, account, addr, reason, source, who, &row, err);
	if (rc == 0)
		set_apply(sp, account, row.address, 1);
	pthread_mutex_unlock(&sp->apply_mu);
	if (rc == 0) {
		struct log_line *l = log_begin(LOG_INFO, "suppress");
		log_str(l, "msg", "address suppressed");
		log_str(l, "account", account);
		log_str(l, "address", row.address);
		log_str(l, "reason", reason);
		log_str(l, "who", who);
		log_end(l);
		audit(1, account, row.address, reason, source, who);
	}
	store_suppression_free(&row);
	return rc;
}

int
suppress_remove(struct suppress *sp, const char *account, const char *addr, const char *who,
    char **err)
{
	struct store_suppression row;
	int rc;

	pthread_mutex_lock(&sp->apply_mu);
	rc = store_suppress_remove(sp->st, account, addr, who, &row, err);
	if (rc == 0) {
		set_apply(sp, account, row.address, 0);
		{
			char *k = suppress_addr_key(row.address);
			suppress_set_remove(sp->soft, account, k);
			free(k);
		}
	}
	pthread_mutex_unlock(&sp->apply_mu);
	if (rc == 0) {
		log_info("suppress", "%s: %s removed from the suppression list (%s)", account,
		    row.address, who);
		audit(0, account, row.address, row.reason, row.source, who);
	}
	store_suppression_free(&row);
	return rc;
}

/* ---- loading and following the store ---- */

static void
loaded(const char *account, const char *address, void *arg)
{
	set_apply(arg, account, address, 1);
}

void
suppress_soft_loaded(const char *account, const char *address, void *arg)
{
	struct suppress *sp = arg;
	char *k = suppress_addr_key(address);

	suppress_set_add(sp->soft, account, k);
	free(k);
}

/* replay() applies the journal after sp->last_seq, then announces the CLI's
 * changes. Worker thread. */
static void
replay(struct suppress *sp)
{
	struct store_suppress_change *v;
	size_t n;
	char *err = NULL;
	uint64_t now = time_now_ms();

	pthread_mutex_lock(&sp->apply_mu);
	do {
		if (store_suppress_changes(sp->st, sp->last_seq, 0, SUPPRESS_BATCH, &v, &n,
		    &err) != 0) {
			log_error("suppress", "reading the suppression journal: %s", err ? err : "?");
			free(err);
			err = NULL;
			break;
		}
		for (size_t i = 0; i < n; i++) {
			/* our own changes come back too: applying them
			 * again is harmless and keeps the order */
			set_apply(sp, v[i].account, v[i].address, v[i].add);
			sp->last_seq = v[i].seq;
		}
		store_suppress_changes_free(v, n);
	} while (n == SUPPRESS_BATCH);
	pthread_mutex_unlock(&sp->apply_mu);

	/* Announce what the CLI changed (now, or while the daemon was down). */
	do {
		if (store_suppress_changes(sp->st, 0, 1, SUPPRESS_BATCH, &v, &n, &err) != 0) {
			log_error("suppress", "reading the suppression journal: %s", err ? err : "?");
			free(err);
			err = NULL;
			break;
		}
		for (size_t i = 0; i < n; i++) {
			audit(v[i].add, v[i].account, v[i].address, v[i].reason, v[i].source,
			    v[i].who);
			if (store_suppress_announce(sp->st, v[i].seq, &err) != 0) {
				log_error("suppress", "journal: %s", err ? err : "?");
				free(err);
				err = NULL;
				n = 0;	/* do not loop on a failing store */
				break;
			}
		}
		store_suppress_changes_free(v, n);
	} while (n == SUPPRESS_BATCH);

	if (now - sp->last_expire >= SUPPRESS_EXPIRE_EVERY) {
		sp->last_expire = now;
		if (store_suppress_changes_expire(sp->st, (int64_t)(now - SUPPRESS_JOURNAL_KEEP),
		    &err) != 0) {
			log_warn("suppress", "pruning the journal: %s", err ? err : "?");
			free(err);
		}
	}
}

static void sync_start(struct suppress *sp);

static void
sync_work(uv_work_t *req)
{
	replay(req->data);
}

static void
sync_after(uv_work_t *req, int status)
{
	struct suppress *sp = req->data;
	struct suppress_waiter *w, *next;

	(void)status;
	sp->syncing = 0;
	for (w = sp->running; w != NULL; w = next) {
		next = w->next;
		ctl_reply(w->req, json_pack("{s:I}", "suppressions",
		    (json_int_t)suppress_set_count(sp->set)), NULL);
		free(w);
	}
	sp->running = NULL;
	if (!sp->stopping && (sp->sync_again || sp->waiters != NULL))
		sync_start(sp);
}

/* sync_start() replays the journal on a worker; the waiters registered so
 * far are answered when it is done. */
static void
sync_start(struct suppress *sp)
{
	if (sp->syncing) {
		sp->sync_again = 1;
		return;
	}
	sp->sync_again = 0;
	sp->running = sp->waiters;
	sp->waiters = NULL;
	sp->sync_req.data = sp;
	if (uv_queue_work(sp->loop, &sp->sync_req, sync_work, sync_after) != 0) {
		sp->waiters = sp->running;	/* answered by the next tick's try */
		sp->running = NULL;
		return;
	}
	sp->syncing = 1;
}

static void
on_tick(uv_timer_t *t)
{
	struct suppress *sp = t->data;

	suppress_auto_flush(sp);
	if (!sp->syncing)
		sync_start(sp);
}

static void
on_ctl_sync(struct ctl_request *req, json_t *args, void *arg)
{
	struct suppress *sp = arg;
	struct suppress_waiter *w;

	(void)args;
	if (sp->stopping) {
		ctl_reply(req, NULL, "the daemon is stopping");
		return;
	}
	w = xcalloc(1, sizeof(*w));
	w->req = req;
	w->next = sp->waiters;
	sp->waiters = w;
	sync_start(sp);
}

void
suppress_register_ctl(struct suppress *sp, struct ctl *ctl)
{
	if (sp != NULL && ctl != NULL)
		ctl_register(ctl, "suppress.sync", on_ctl_sync, sp);
}

/* scrape() sets the suppression gauges for GET /metrics (loop thread; the
 * set's read lock only). */
static void
scrape(void *arg, struct buf *extra)
{
	struct suppress *sp = arg;

	(void)extra;
	metrics_set(metrics_series(metrics_gauge(NULL, "hermod_suppressions",
	    "Addresses on the accounts' suppression lists.", NULL)),
	    (double)suppress_set_count(sp->set));
	metrics_set(metrics_series(metrics_gauge(NULL, "hermod_suppressions_memory_bytes",
	    "Memory the in-memory suppression set holds.", NULL)),
	    (double)suppress_set_bytes(sp->set));
}

int
suppress_start(uv_loop_t *loop, const struct config *cfg, struct store *st,
    struct suppress **out, char **err)
{
	struct suppress *sp = xcalloc(1, sizeof(*sp));
	uint64_t t0 = time_now_ms();

	*out = NULL;
	sp->loop = loop;
	sp->cfg = cfg;
	sp->st = st;
	sp->metrics_hook = -1;
	sp->set = suppress_set_new();
	sp->soft = suppress_set_new();
	pthread_mutex_init(&sp->apply_mu, NULL);
	if (store_suppress_each(st, loaded, sp, &sp->last_seq, err) != 0 ||
	    store_suppress_soft_each(st, suppress_soft_loaded, sp, err) != 0) {
		suppress_free(sp);
		return -1;
	}
	{
		struct log_line *l = log_begin(LOG_INFO, "suppress");
		log_str(l, "msg", "suppression lists loaded");
		log_int(l, "addresses", (int64_t)suppress_set_count(sp->set));
		log_int(l, "bytes", (int64_t)suppress_set_bytes(sp->set));
		log_int(l, "soft_bouncing", (int64_t)suppress_set_count(sp->soft));
		log_int(l, "ms", (int64_t)(time_now_ms() - t0));
		log_end(l);
	}
	sp->metrics_hook = metrics_hook_add(NULL, scrape, sp);
	uv_timer_init(loop, &sp->timer);
	sp->timer.data = sp;
	uv_timer_start(&sp->timer, on_tick, 0, SUPPRESS_POLL_MS);	/* 0: announce at once */
	sp->timer_on = 1;
	suppress_auto_subscribe(sp);
	*out = sp;
	return 0;
}

void
suppress_stop(struct suppress *sp)
{
	if (sp == NULL || sp->stopping)
		return;
	suppress_auto_flush(sp);	/* its work finishes in the loop's last run */
	sp->stopping = 1;
	if (sp->timer_on) {
		uv_timer_stop(&sp->timer);
		uv_close((uv_handle_t *)&sp->timer, NULL);
		sp->timer_on = 0;
	}
}

void
suppress_free(struct suppress *sp)
{
	struct suppress_waiter *w, *next;

	if (sp == NULL)
		return;
	if (sp->metrics_hook >= 0)
		metrics_hook_remove(NULL, sp->metrics_hook);
	for (w = sp->waiters; w != NULL; w = next) {
		next = w->next;
		free(w);
	}
	for (w = sp->running; w != NULL; w = next) {
		next = w->next;
		free(w);
	}
	suppress_auto_free(sp);
	suppress_set_free(sp->set);
	suppress_set_free(sp->soft);
	pthread_mutex_destroy(&sp->apply_mu);
	free(sp);
}
