/* timeutil: clocks and timestamps. */
#ifndef HERMOD_TIMEUTIL_H
#define HERMOD_TIMEUTIL_H
#include <stddef.h>
#include <stdint.h>

/* time_now_ms(): wall clock, ms since the epoch. time_mono_ms(): monotonic. */
uint64_t time_now_ms(void);
uint64_t time_mono_ms(void);
/* time_iso8601() writes "2026-11-26T18:00:00Z" (or with .mmm when ms is set). */
void	time_iso8601(uint64_t ms, int with_ms, char *out, size_t outlen);
/* time_rfc5322() writes a Date: header value, "Thu, 26 Nov 2026 18:00:00 +0000". */
void	time_rfc5322(uint64_t ms, char *out, size_t outlen);

#endif
