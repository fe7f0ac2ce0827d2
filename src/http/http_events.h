/* http_events: the routes that read events (http_events.c): GET /v1/events,
 * GET /v1/messages/{id}, GET /v1/stats. For http_routes.c's table. */
#ifndef HERMOD_HTTP_EVENTS_H
#define HERMOD_HTTP_EVENTS_H
#include <stdint.h>

struct http_req;

/* GET /v1/events: work() (a worker). */
void	http_events_list(struct http_req *r);
/* GET /v1/messages/{id}: the events on a worker, then the spool on the loop. */
void	http_message_get_work(struct http_req *r);
void	http_message_get(struct http_req *r);
/* GET /v1/stats: work() (a worker). */
void	http_stats(struct http_req *r);

/* http_events_parse_time() reads a query's time: Unix seconds, an RFC 3339
 * date-time with its zone (fraction optional) or a date (midnight UTC) into
 * ms since the epoch. 0 or -1. Pure. */
int	http_events_parse_time(const char *s, int64_t *ms);

#endif
