/* events_spool: the events that a message's arrival in the spool makes.
 * Kept apart from the pipeline (events.c) so that only this file knows the
 * spool's envelope. */
#include "events/events.h"
#include "spool/spool.h"

void
events_emit_queued(const struct spool_env *env)
{
	size_t i;

	if (env == NULL)
		return;
	for (i = 0; i < env->nrcpt; i++) {
		const struct spool_rcpt *r = &env->rcpt[i];
		struct event e = {
			.type = EVENT_QUEUED,
			.account = env->account,
			.message_id = env->id,
			.header_message_id = env->message_id,
			.recipient = r->addr,
			.rcpt_index = (int)i,
			.meta_json = env->meta_json,
		};

		if (r->state != SPOOL_RCPT_QUEUED)
			continue;
		events_emit(&e);
	}
}
