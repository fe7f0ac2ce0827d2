/* mx: asynchronous mail-exchanger resolution on the libuv loop (libunbound).
 *
 * mx_resolve() turns a recipient domain into an ordered list of addresses to
 * try: the MX hosts by preference (equal preferences shuffled, RFC 5321 5.1),
 * each host's IPv4 then IPv6 addresses; the domain itself when it has no MX
 * (implicit MX). Results are cached for the smallest TTL seen. */
#ifndef HERMOD_MX_H
#define HERMOD_MX_H
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

struct mx_resolver;
struct mx_query;

enum mx_status {
	MX_OK,		/* naddr >= 1 */
	MX_TEMPFAIL,	/* SERVFAIL, timeout, refused: defer */
	MX_NXDOMAIN,	/* the domain does not exist: bounce (5.1.2) */
	MX_NULLMX,	/* RFC 7505 null MX: bounce at once (556 5.1.10) */
	MX_NOADDR,	/* no MX host has an address: bounce (5.4.4) */
};

#define MX_HOST_MAX	256

struct mx_addr {
	struct sockaddr_storage	 sa;
	char			 host[MX_HOST_MAX];	/* the MX host name (for SNI and logs) */
	uint16_t		 pref;
};

struct mx_result {
	enum mx_status	 status;
	const char	*why;		/* human text for a failure, "" on success */
	int		 secure;	/* every answer DNSSEC-validated (DANE needs it) */
	size_t		 naddr;
	struct mx_addr	*addr;
};

/* mx_result_cb gets the result, valid during the call only. */
typedef void (*mx_result_cb)(const struct mx_result *res, void *arg);

/* mx_resolver_new() makes a resolver on loop. server is "ip:port" (or
 * "[v6]:port", or a bare ip for port 53) to use as the only forwarder, or
 * NULL/"" for /etc/resolv.conf. timeout_ms bounds each mx_resolve(). 0, or -1
 * with *err set. */
int	mx_resolver_new(uv_loop_t *loop, const char *server, uint64_t timeout_ms,
	    struct mx_resolver **out, char **err);
/* mx_resolver_free() cancels every query (their callbacks never fire) and
 * frees the resolver once its handles are closed. */
void	mx_resolver_free(struct mx_resolver *r);

/* mx_resolve() starts resolving domain; cb fires later on the loop thread,
 * exactly once unless the query is cancelled. Never calls cb before returning.
 * *qp (may be NULL) gets a handle for mx_cancel(). 0 or -1. */
int	mx_resolve(struct mx_resolver *r, const char *domain, mx_result_cb cb, void *arg,
	    struct mx_query **qp);
/* mx_cancel() stops a query; its callback never fires. */
void	mx_cancel(struct mx_query *q);

/* mx_status_name() is "ok", "tempfail", "nxdomain", "nullmx", "noaddr". */
const char *mx_status_name(enum mx_status s);

/* mx_parse_resolver() splits "ip:port" into unbound's "ip@port" form. Pure. */
int	mx_parse_resolver(const char *s, char *out, size_t outlen);

#endif
