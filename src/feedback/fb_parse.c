/* fb_parse: DSN, ARF and text-bounce parsing (see fb_parse.h). First cut:
 * recognises nothing yet; the API is published so the inbound listener can
 * be built against it. */
#include <stdlib.h>
#include <string.h>

#include "feedback/fb_parse.h"

int
fb_parse(const char *msg, size_t len, struct fb_report *out)
{
	(void)msg;
	(void)len;
	memset(out, 0, sizeof(*out));
	out->kind = FB_NONE;
	return -1;
}

void
fb_report_free(struct fb_report *r)
{
	size_t i;

	for (i = 0; i < r->nrcpt; i++) {
		struct fb_rcpt *p = &r->rcpts[i];

		free(p->recipient);
		free(p->original_recipient);
		free(p->action);
		free(p->diagnostic);
		free(p->remote_mta);
		free(p->last_attempt);
		free(p->will_retry_until);
	}
	free(r->rcpts);
	free(r->reporting_mta);
	free(r->envelope_id);
	free(r->arrival_date);
	free(r->orig_message_id);
	free(r->orig_return_path);
	free(r->orig_from);
	free(r->orig_subject);
	free(r->feedback_type);
	free(r->user_agent);
	free(r->source_ip);
	free(r->orig_rcpt_to);
	free(r->orig_headers);
	memset(r, 0, sizeof(*r));
}
