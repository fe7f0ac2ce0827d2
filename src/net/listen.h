/* listen: TCP listeners that hand accepted connections over as io objects. */
#ifndef HERMOD_LISTEN_H
#define HERMOD_LISTEN_H
#include <uv.h>

struct io;
struct listener;

/* listen_accept_cb receives a new io (reading already started) and must set
 * its callback with io_set_cb() or close it before returning. */
typedef void (*listen_accept_cb)(struct io *io, void *arg);

/* listener_start() binds addr ("127.0.0.1:587", "[::1]:587", "*:25") and
 * accepts. 0, or -1 with *err set (caller frees). */
int	listener_start(uv_loop_t *loop, const char *addr, listen_accept_cb cb, void *arg,
	    struct listener **out, char **err);
/* listener_stop() stops accepting and frees the listener. */
void	listener_stop(struct listener *l);
/* listener_addr_parse() splits "host:port" / "[v6]:port" into a sockaddr. */
int	listener_addr_parse(const char *addr, struct sockaddr_storage *ss);

#endif
