/* libFuzzer harness for feedback/fb_parse: any message parses without a
 * crash, a leak or a read past its end, into an answer that keeps the
 * contract (0 with a DSN or ARF report whose recipients all have an
 * address, or -1 with nothing). Seeds: tests/golden/fb_parse (whole
 * reports, text bounces and the hostile cases). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "feedback/fb_parse.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fb_report r;
	int rc = fb_parse((const char *)data, size, &r);

	if (rc == 0) {
		if (r.kind != FB_DSN && r.kind != FB_ARF)
			abort();
		if (r.format == NULL || r.nrcpt > FB_PARSE_MAX_RCPTS)
			abort();
		for (size_t i = 0; i < r.nrcpt; i++) {
			const struct fb_rcpt *p = &r.rcpts[i];

			if (p->recipient == NULL || p->recipient[0] == '\0')
				abort();
			if (strlen(p->status) >= sizeof(p->status))
				abort();
			if (p->smtp_code != 0 && (p->smtp_code < 200 || p->smtp_code > 599))
				abort();
		}
	} else if (rc != -1 || r.kind != FB_NONE || r.rcpts != NULL || r.nrcpt != 0) {
		abort();
	}
	fb_report_free(&r);
	return 0;
}
