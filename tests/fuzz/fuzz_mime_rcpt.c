/* fuzz_mime_rcpt: the `sendmail -t` header scanner on arbitrary bytes: no
 * crash, and its offsets stay inside the input. */
#include <stdint.h>
#include <stdlib.h>

#include "mime/mime_rcpt.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mime_rcpt r;
	const char *why;
	char *bad = NULL;
	size_t i;

	if (mime_rcpt_scan((const char *)data, size, &r, &why, &bad) == 0) {
		if (r.header_end > size)
			abort();
		for (i = 0; i < r.nbcc; i++)
			if (r.bcc[i].off + r.bcc[i].len > size)
				abort();
	}
	free(bad);
	mime_rcpt_free(&r);
	return 0;
}
