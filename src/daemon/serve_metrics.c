/* serve_metrics: the scrape hook of `hermod serve` (serve_metrics.h).
 *
 * Queue sizes are the scheduler's counts, kept exact as items move, so a
 * scrape costs O(1) however much is queued (a walk over a million queued
 * messages on the loop thread would stall every session). With delivery
 * off nothing is scheduled: every queued message counts as queued. The
 * spool renders its own families (spool_stats_prometheus: the fdatasync
 * histogram hermod_spool_sync_seconds, observed by its writer thread, and
 * hermod_spool_* counters and gauges). */
#include "daemon/serve_metrics.h"
#include "deliver/deliver.h"
#include "events/events.h"
#include "metrics/metrics.h"
#include "spool/spool.h"
#include "util/buf.h"

#include <stddef.h>

static void events_prometheus(struct buf *b);

static struct spool *m_spool;
static struct deliver *m_deliver;
static int m_hook = -1;

static void
scrape(void *arg, struct buf *extra)
{
	struct spool_stats st;

	(void)arg;
	if (m_spool == NULL)
		return;
	spool_stats(m_spool, &st);
	if (m_deliver != NULL) {
		struct sched_counts c;
		deliver_counts(m_deliver, &c);
		metrics_queue_messages("queued", (double)c.ready);
		metrics_queue_messages("deferred", (double)c.deferred);
		metrics_queue_messages("held", (double)c.held);
		metrics_queue_messages("active", (double)c.active);
	} else {
		metrics_queue_messages("queued", (double)st.messages);
	}
	metrics_set(metrics_series(metrics_gauge(NULL, "hermod_spool_messages",
	    "Messages in the spool (queued, deferred, held or in delivery).", NULL)),
	    (double)st.messages);
	spool_stats_prometheus(&st, extra);
	events_prometheus(extra);
}

/* events_prometheus() renders the event pipeline's own figures: a backlog
 * that grows means the events store cannot keep up. */
static void
events_prometheus(struct buf *b)
{
	struct events_stats es;

	events_get_stats(&es);
	buf_printf(b, "# HELP hermod_events_backlog Events waiting for the events store writer.\n"
	    "# TYPE hermod_events_backlog gauge\nhermod_events_backlog %llu\n",
	    (unsigned long long)es.queued);
	buf_printf(b, "# HELP hermod_events_stored_total Events inserted in the events store.\n"
	    "# TYPE hermod_events_stored_total counter\nhermod_events_stored_total %llu\n",
	    (unsigned long long)es.stored);
	buf_printf(b, "# HELP hermod_events_store_failures_total Events handed to subscribers "
	    "unstored after the store failed.\n# TYPE hermod_events_store_failures_total counter\n"
	    "hermod_events_store_failures_total %llu\n", (unsigned long long)es.store_failed);
	buf_printf(b, "# HELP hermod_events_pruned_total Events deleted by events.retention.\n"
	    "# TYPE hermod_events_pruned_total counter\nhermod_events_pruned_total %llu\n",
	    (unsigned long long)es.pruned);
}

void
serve_metrics_start(struct spool *sp, struct deliver *d)
{
	metrics_hermod_init();
	m_spool = sp;
	m_deliver = d;
	if (m_hook < 0)
		m_hook = metrics_hook_add(NULL, scrape, NULL);
}

void
serve_metrics_stop(void)
{
	if (m_hook >= 0)
		metrics_hook_remove(NULL, m_hook);
	m_hook = -1;
	m_spool = NULL;
	m_deliver = NULL;
}
