/* listen: TCP listeners that hand accepted connections over as io objects. */
#ifndef HERMOD_LISTEN_H
#define HERMOD_LISTEN_H
#include <uv.h>

struct io;
struct listener;

/* listen_accept_cb receives a new io (reading already started) and must set
 * its callback with io_set_cb() or close it before returning. */
typedef void (*listen_accept_cb)(struct io *io, void *arg);

/* listener_start() binds addr ("127.0.0.1:587", "[::1]:587", "*:25": every
 * address, IPv6 and IPv4) with SO_REUSEADDR and a backlog of 1024, and
 * accepts. Port 0 picks a free port (listener_port tells which). 0, or -1
 * with *err set (caller frees); the callback never fires after a failure. */
int	listener_start(uv_loop_t *loop, const char *addr, listen_accept_cb cb, void *arg,
	    struct listener **out, char **err);
/* listener_stop() stops accepting at once (no callback after it returns);
 * the memory is freed by the loop. Connections already accepted live on. */
void	listener_stop(struct listener *l);
/* listener_port() is the bound port (useful after binding port 0), or -1. */
int	listener_port(const struct listener *l);
/* listener_addr_parse() splits "host:port" / "[v6]:port" into a sockaddr.
 * host is an IPv4 literal, "localhost" (127.0.0.1) or "*" (in6addr_any);
 * IPv6 literals need brackets. No DNS. 0 or -1. */
int	listener_addr_parse(const char *addr, struct sockaddr_storage *ss);

#endif
