/* serve_metrics: the daemon's scrape hook, which turns state owned by the
 * loop (the spool's figures, the delivery queue's sizes) into metrics at
 * each GET /metrics. Loop thread only. */
#ifndef HERMOD_SERVE_METRICS_H
#define HERMOD_SERVE_METRICS_H

struct spool;
struct deliver;

/* serve_metrics_start() registers the hook; d may be NULL (delivery off).
 * sp and d must stay valid until serve_metrics_stop(), which removes it. */
void	serve_metrics_start(struct spool *sp, struct deliver *d);
void	serve_metrics_stop(void);

#endif
