/* webhook_glue: the dispatcher's thread-safe entry points while the events
 * store (store_events_after) is not in main yet: no dispatcher runs, so
 * there is nothing to tell and no head to report. Replaced by webhook.c. */
#include "webhook/webhook.h"

#include <string.h>

void
webhook_changed(void)
{
}

int64_t
webhook_head_seq(void)
{
	return 0;
}

void
webhook_get_stats(struct webhook_stats *out)
{
	memset(out, 0, sizeof *out);
}
