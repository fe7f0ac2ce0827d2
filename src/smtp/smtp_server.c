/* smtp_server: listeners and the limits shared by sessions.
 *
 * Connection limits (total, per client address) are checked at accept and
 * answered 421 before a session exists. AUTH failures are counted per client
 * address in a sliding minute; past the limit every AUTH from that address
 * gets 421 until the minute is over. The tables are small arrays scanned
 * linearly: they hold at most max_connections entries, and a scan of a
 * thousand entries costs less than the accept itself. */
#include "smtp/smtp_server.h"
#include "metrics/metrics.h"
#include "smtp/smtp_session.h"
#include "net/io.h"
#include "net/listen.h"
#include "util/config.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

#include <stdlib.h>
#include <string.h>

struct conn {
	struct smtp_session	*s;
	char			 ip[64];
};

struct auth_fail {
	char			 ip[64];
	uint64_t		 window_start;	/* monotonic ms */
	unsigned		 count;
};

struct smtp_server {
	uv_loop_t		*loop;
	const struct config	*cfg;
	struct smtp_listener_ctx plain;
	struct smtp_listener_ctx implicit;
	struct listener		*l_plain;
	struct listener		*l_tls;
	struct conn		*conns;
	size_t			 nconns, capconns;
	struct auth_fail	*fails;
	size_t			 nfails;
	int			 draining;
	void			(*drained)(void *);
	void			*drained_arg;
};

static size_t
count_ip(struct smtp_server *srv, const char *ip)
{
	size_t n = 0;

	for (size_t i = 0; i < srv->nconns; i++)
		if (!strcmp(srv->conns[i].ip, ip))
			n++;
	return n;
}

static void
refuse(struct io *io, const char *text)
{
	io_write(io, text, strlen(text));
	io_close(io);
}

static void
on_accept(struct io *io, void *arg)
{
	struct smtp_listener_ctx *lc = arg;
	struct smtp_server *srv = lc->server;
	const struct config *cfg = srv->cfg;
	const char *ip = io_peer_ip(io);
	struct smtp_session *s;
	int trusted;

	if (srv->draining) {
		io_abort(io);
		return;
	}
	if (srv->nconns >= cfg->sub_max_connections) {
		log_warn("smtp.server", "connection limit reached (%zu): refusing %s", srv->nconns, ip);
		metrics_smtp_session(smtp_session_listener(lc), "connection-limit");
		refuse(io, "421 4.7.0 Error: too many connections, try again later\r\n");
		return;
	}
	if (cfg->sub_max_connections_per_ip && count_ip(srv, ip) >= cfg->sub_max_connections_per_ip) {
		log_warn("smtp.server", "per-address connection limit reached: refusing %s", ip);
		metrics_smtp_session(smtp_session_listener(lc), "connection-limit");
		refuse(io, "421 4.7.0 Error: too many connections from your address\r\n");
		return;
	}
	trusted = lc->inbound == NULL && cfg->n_trusted_networks > 0 && cfg->trusted_account && cfg->trusted_account[0] &&
	    config_net_match(cfg->trusted_networks, cfg->n_trusted_networks, io_peer(io));
	if (srv->nconns == srv->capconns) {
		srv->capconns = srv->capconns ? srv->capconns * 2 : 64;
		srv->conns = xrealloc(srv->conns, srv->capconns * sizeof(*srv->conns));
	}
	/* Register first: a session that fails at once reports done. */
	srv->conns[srv->nconns].s = NULL;
	snprintf(srv->conns[srv->nconns].ip, sizeof(srv->conns[0].ip), "%s", ip);
	srv->nconns++;
	s = smtp_session_new(lc, io, trusted);
	for (size_t i = 0; i < srv->nconns; i++)
		if (srv->conns[i].s == NULL) {
			if (s == NULL) {
				srv->conns[i] = srv->conns[--srv->nconns];
			} else
				srv->conns[i].s = s;
			break;
		}
}

void
smtp_server_session_done(struct smtp_server *srv, struct smtp_session *s)
{
	for (size_t i = 0; i < srv->nconns; i++)
		if (srv->conns[i].s == s) {
			srv->conns[i] = srv->conns[--srv->nconns];
			break;
		}
	if (srv->draining && srv->nconns == 0 && srv->drained) {
		void (*fn)(void *) = srv->drained;
		srv->drained = NULL;
		fn(srv->drained_arg);
	}
}

static struct auth_fail *
fail_entry(struct smtp_server *srv, const char *ip, int create)
{
	uint64_t now = time_mono_ms();

	/* Forget windows that are over. */
	for (size_t i = 0; i < srv->nfails;)
		if (now - srv->fails[i].window_start >= 60000)
			srv->fails[i] = srv->fails[--srv->nfails];
		else
			i++;
	for (size_t i = 0; i < srv->nfails; i++)
		if (!strcmp(srv->fails[i].ip, ip))
			return &srv->fails[i];
	if (!create)
		return NULL;
	srv->fails = xrealloc(srv->fails, (srv->nfails + 1) * sizeof(*srv->fails));
	memset(&srv->fails[srv->nfails], 0, sizeof(srv->fails[0]));
	snprintf(srv->fails[srv->nfails].ip, sizeof(srv->fails[0].ip), "%s", ip);
	srv->fails[srv->nfails].window_start = now;
	return &srv->fails[srv->nfails++];
}

int
smtp_server_auth_blocked(struct smtp_server *srv, const char *ip)
{
	struct auth_fail *f = fail_entry(srv, ip, 0);

	return f != NULL && srv->cfg->sub_auth_failures_per_minute > 0 &&
	    f->count >= srv->cfg->sub_auth_failures_per_minute;
}

void
smtp_server_auth_failed(struct smtp_server *srv, const char *ip)
{
	struct auth_fail *f = fail_entry(srv, ip, 1);

	f->count++;
	log_warn("smtp.server", "authentication failed from %s (%u this minute)", ip, f->count);
}

int
smtp_server_start(uv_loop_t *loop, const struct config *cfg, struct spool *sp, struct store *st,
    SSL_CTX *tls, struct dkim_keyring *keyring, struct smtp_server **out, char **err)
{
	struct smtp_server *srv = xcalloc(1, sizeof(*srv));

	srv->loop = loop;
	srv->cfg = cfg;
	/* Designated: the context grows a field per feature. */
	srv->plain = (struct smtp_listener_ctx){ .loop = loop, .cfg = cfg, .spool = sp, .store = st,
	    .tls = tls, .keyring = keyring, .implicit_tls = 0, .name = "submission", .server = srv };
	srv->implicit = (struct smtp_listener_ctx){ .loop = loop, .cfg = cfg, .spool = sp, .store = st,
	    .tls = tls, .keyring = keyring, .implicit_tls = 1, .name = "submissions", .server = srv };
	if (cfg->sub_listen && cfg->sub_listen[0] &&
	    listener_start(loop, cfg->sub_listen, on_accept, &srv->plain, &srv->l_plain, err) < 0)
		goto fail;
	if (cfg->sub_listen_tls && cfg->sub_listen_tls[0]) {
		if (tls == NULL) {
			*err = xstrdup("submission.listen_tls needs a TLS certificate");
			goto fail;
		}
		if (listener_start(loop, cfg->sub_listen_tls, on_accept, &srv->implicit, &srv->l_tls, err) < 0)
			goto fail;
	}
	*out = srv;
	return 0;
fail:
	if (srv->l_plain)
		listener_stop(srv->l_plain);
	free(srv);
	return -1;
}

int
smtp_server_start_inbound(uv_loop_t *loop, const struct config *cfg, SSL_CTX *tls,
    const struct smtp_inbound_ops *ops, struct smtp_server **out, char **err)
{
	struct smtp_server *srv = xcalloc(1, sizeof(*srv));

	srv->loop = loop;
	srv->cfg = cfg;
	srv->plain = (struct smtp_listener_ctx){ .loop = loop, .cfg = cfg, .tls = tls, .name = "inbound",
	    .server = srv, .inbound = ops };
	if (listener_start(loop, cfg->in_listen, on_accept, &srv->plain, &srv->l_plain, err) < 0) {
		free(srv);
		return -1;
	}
	*out = srv;
	return 0;
}

void
smtp_server_drain(struct smtp_server *srv, void (*done)(void *arg), void *arg)
{
	srv->draining = 1;
	if (srv->l_plain)
		listener_stop(srv->l_plain);
	if (srv->l_tls)
		listener_stop(srv->l_tls);
	srv->l_plain = srv->l_tls = NULL;
	srv->drained = done;
	srv->drained_arg = arg;
	if (srv->nconns == 0) {
		srv->drained = NULL;
		done(arg);
		return;
	}
	/* Copy: shutting a session down may remove it from the table. */
	{
		size_t n = srv->nconns;
		struct smtp_session **list = xmalloc(n * sizeof(*list));
		for (size_t i = 0; i < n; i++)
			list[i] = srv->conns[i].s;
		for (size_t i = 0; i < n; i++)
			if (list[i])
				smtp_session_shutdown(list[i]);
		free(list);
	}
}

void
smtp_server_free(struct smtp_server *srv)
{
	free(srv->conns);
	free(srv->fails);
	free(srv);
}

void
smtp_server_set_accounts(struct smtp_server *srv, struct account_state *a)
{
	srv->plain.accounts = a;
	srv->implicit.accounts = a;
}

size_t
smtp_server_sessions(const struct smtp_server *srv)
{
	return srv->nconns;
}

void
smtp_server_set_suppress(struct smtp_server *srv, struct suppress *sp)
{
	srv->plain.suppress = sp;
	srv->implicit.suppress = sp;
}
