/* spool_metrics: the spool's figures in the Prometheus text format, so the
 * histogram's buckets are named where they are defined (spool_writer.c). */
#include "spool/spool.h"
#include "util/buf.h"

void
spool_stats_prometheus(const struct spool_stats *st, struct buf *out)
{
	buf_puts(out, "# HELP hermod_spool_sync_seconds Time of each group commit's fdatasync.\n"
	    "# TYPE hermod_spool_sync_seconds histogram\n");
	for (int i = 0; i < SPOOL_SYNC_NBUCKETS; i++)
		buf_printf(out, "hermod_spool_sync_seconds_bucket{le=\"%g\"} %llu\n",
		    spool_sync_bucket_le[i], (unsigned long long)st->sync_buckets[i]);
	buf_printf(out, "hermod_spool_sync_seconds_bucket{le=\"+Inf\"} %llu\n"
	    "hermod_spool_sync_seconds_sum %.9f\n"
	    "hermod_spool_sync_seconds_count %llu\n",
	    (unsigned long long)st->commits, (double)st->sync_ns_total / 1e9,
	    (unsigned long long)st->commits);
	buf_printf(out, "# HELP hermod_spool_records_total Records made durable.\n"
	    "# TYPE hermod_spool_records_total counter\n"
	    "hermod_spool_records_total %llu\n"
	    "# HELP hermod_spool_bytes_total Bytes made durable.\n"
	    "# TYPE hermod_spool_bytes_total counter\n"
	    "hermod_spool_bytes_total %llu\n"
	    "# HELP hermod_spool_write_failures_total Group commits that failed (their messages were refused).\n"
	    "# TYPE hermod_spool_write_failures_total counter\n"
	    "hermod_spool_write_failures_total %llu\n"
	    "# HELP hermod_spool_segments Log segments on disk.\n"
	    "# TYPE hermod_spool_segments gauge\n"
	    "hermod_spool_segments %zu\n"
	    "# HELP hermod_spool_disk_bytes Bytes of records in the segments.\n"
	    "# TYPE hermod_spool_disk_bytes gauge\n"
	    "hermod_spool_disk_bytes %llu\n"
	    "# HELP hermod_spool_live_bytes Bytes of records of messages still queued.\n"
	    "# TYPE hermod_spool_live_bytes gauge\n"
	    "hermod_spool_live_bytes %llu\n",
	    (unsigned long long)st->records, (unsigned long long)st->bytes,
	    (unsigned long long)st->failures, st->segments,
	    (unsigned long long)st->disk_bytes, (unsigned long long)st->live_bytes);
}
