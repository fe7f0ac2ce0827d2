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
#include "metrics/metrics.h"
#include "spool/spool.h"
#include "util/buf.h"

#include <stddef.h>

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
