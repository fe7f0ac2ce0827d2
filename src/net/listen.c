/* listen: TCP listeners. Each accepted connection becomes an io object
 * (reading already started) handed to the listener's callback; the listener
 * owns nothing after that. libuv sets SO_REUSEADDR on bind, so a restarted
 * daemon rebinds at once despite connections in TIME_WAIT. */
#include "net/listen.h"
#include "net/io.h"
#include "util/log.h"
#include "util/xalloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define LISTEN_BACKLOG	1024

struct listener {
	uv_tcp_t	 tcp;
	uv_loop_t	*loop;
	listen_accept_cb cb;
	void		*arg;
	char		*addr;
};

/* listener_parse_port() reads a decimal port 0..65535 with nothing after it. */
static int
listener_parse_port(const char *s, int *port)
{
	long v = 0;

	if (*s == '\0')
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
		if (v > 65535)
			return -1;
	}
	*port = (int)v;
	return 0;
}

int
listener_addr_parse(const char *addr, struct sockaddr_storage *ss)
{
	const char *colon;
	char host[INET6_ADDRSTRLEN + 1];
	size_t hlen;
	int port;

	memset(ss, 0, sizeof(*ss));
	if (addr == NULL)
		return -1;
	if (addr[0] == '[') {
		const char *close = strchr(addr, ']');

		if (close == NULL || close[1] != ':')
			return -1;
		hlen = (size_t)(close - addr - 1);
		if (hlen == 0 || hlen >= sizeof(host))
			return -1;
		memcpy(host, addr + 1, hlen);
		host[hlen] = '\0';
		if (listener_parse_port(close + 2, &port) < 0)
			return -1;
		return uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss) == 0 ? 0 : -1;
	}
	if ((colon = strrchr(addr, ':')) == NULL || strchr(addr, ':') != colon)
		return -1;	/* no port, or a bare IPv6 address: brackets are required */
	hlen = (size_t)(colon - addr);
	if (hlen == 0 || hlen >= sizeof(host))
		return -1;
	memcpy(host, addr, hlen);
	host[hlen] = '\0';
	if (listener_parse_port(colon + 1, &port) < 0)
		return -1;
	/* "*" is every address: IPv6 and IPv4 through one dual-stack socket
	 * (listener_start falls back to 0.0.0.0 on a host without IPv6) */
	if (strcmp(host, "*") == 0)
		return uv_ip6_addr("::", port, (struct sockaddr_in6 *)ss) == 0 ? 0 : -1;
	if (strcmp(host, "localhost") == 0)
		strcpy(host, "127.0.0.1");
	return uv_ip4_addr(host, port, (struct sockaddr_in *)ss) == 0 ? 0 : -1;
}

static void
listener_tcp_free_cb(uv_handle_t *h)
{
	free(h);
}

static void
listener_connection_cb(uv_stream_t *server, int status)
{
	struct listener *l = server->data;
	uv_tcp_t *tcp;
	struct io *io;

	if (status < 0) {
		log_warn("listen", "%s: accept: %s", l->addr, uv_strerror(status));
		return;
	}
	tcp = xmalloc(sizeof(*tcp));
	uv_tcp_init(l->loop, tcp);
	if (uv_accept(server, (uv_stream_t *)tcp) < 0) {
		uv_close((uv_handle_t *)tcp, listener_tcp_free_cb);
		return;
	}
	io = io_new_accepted(l->loop, tcp, NULL, NULL);
	l->cb(io, l->arg);
}

int
listener_start(uv_loop_t *loop, const char *addr, listen_accept_cb cb, void *arg,
    struct listener **out, char **err)
{
	struct sockaddr_storage ss;
	struct listener *l;
	int rc;

	if (listener_addr_parse(addr, &ss) < 0) {
		*err = xasprintf("%s: not an address:port (e.g. 127.0.0.1:587, [::1]:587, *:25)",
		    addr ? addr : "(null)");
		return -1;
	}
	l = xcalloc(1, sizeof(*l));
	l->loop = loop;
	l->cb = cb;
	l->arg = arg;
	l->addr = xstrdup(addr);
	l->tcp.data = l;
	uv_tcp_init(loop, &l->tcp);
	rc = uv_tcp_bind(&l->tcp, (struct sockaddr *)&ss, 0);
	if (rc == UV_EAFNOSUPPORT && addr[0] == '*') {
		/* no IPv6 here: the socket was never created, so the handle can
		 * bind again with IPv4 */
		int port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);

		uv_ip4_addr("0.0.0.0", port, (struct sockaddr_in *)&ss);
		rc = uv_tcp_bind(&l->tcp, (struct sockaddr *)&ss, 0);
	}
	if (rc < 0 ||
	    (rc = uv_listen((uv_stream_t *)&l->tcp, LISTEN_BACKLOG, listener_connection_cb)) < 0) {
		*err = xasprintf("%s: %s", addr, uv_strerror(rc));
		listener_stop(l);
		return -1;
	}
	*out = l;
	return 0;
}

int
listener_port(const struct listener *l)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);

	if (uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void
listener_close_cb(uv_handle_t *h)
{
	struct listener *l = h->data;

	free(l->addr);
	free(l);
}

void
listener_stop(struct listener *l)
{
	if (l == NULL)
		return;
	uv_close((uv_handle_t *)&l->tcp, listener_close_cb);
}
