/* serve: `hermod serve`, the daemon. Wires the parts together on one libuv
 * loop: the store, the spool, the SMTP listeners, the control socket, and
 * (as they exist) the HTTP API and delivery. SIGTERM or SIGINT drains: stop
 * accepting, let sessions finish the command in hand (a message being
 * committed gets its reply), then close the spool and exit 0. */
#include "account/account_ctl.h"
#include "account/account_state.h"
#include "cli/cli.h"
#include "ctl/ctl.h"
#include "daemon/serve_metrics.h"
#include "deliver/deliver.h"
#include "events/events.h"
#include "dkim/dkim_keys.h"
#include "feedback/verp.h"
#include "http/http_server.h"
#include "inbound/inbound.h"
#include "metrics/metrics.h"
#include "net/io.h"
#include "net/tls.h"
#include "queue/queue_ctl.h"
#include "smtp/smtp_server.h"
#include "spool/spool.h"
#include "store/store.h"
#include "suppress/suppress.h"
#include "util/config.h"
#include "util/log.h"
#include "util/xalloc.h"
#include "webhook/webhook.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <unistd.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define SERVE_DRAIN_MAX_MS	30000

struct daemon {
	uv_loop_t		*loop;
	struct dkim_keyring	*keyring;
	struct config		*cfg;
	struct store		*store;
	struct spool		*spool;
	struct smtp_server	*smtp;
	struct inbound		*inbound;	/* NULL when inbound.listen is empty */
	struct http_server	*http;		/* freed by http_server_stop() */
	struct ctl		*ctl;
	struct deliver		*deliver;
	struct account_state	*accounts;
	struct suppress		*suppress;
	struct webhook		*webhook;	/* event subscriptions (src/webhook) */
	SSL_CTX			*tls;
	struct verp_key		 verp;		/* signs return paths; the inbound listener checks them */
	uv_signal_t		 sigterm, sigint;
	uv_timer_t		 drain_timer;
	int			 draining;
	int			 draining_parts;	/* listeners still draining */
};

static void
close_walk(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

/* finish() runs once sessions are gone (or the drain timed out). */
static void
finish(void *arg)
{
	struct daemon *d = arg;

	if (d->draining == 2)
		return;
	d->draining = 2;
	if (d->ctl)
		ctl_stop(d->ctl);
	d->ctl = NULL;
	suppress_stop(d->suppress);
	uv_stop(d->loop);
}

static void
drain_timeout(uv_timer_t *t)
{
	log_warn("serve", "drain took longer than %d ms; stopping", SERVE_DRAIN_MAX_MS);
	finish(t->data);
}

/* part_drained() is called as each listener (SMTP, HTTP) has drained. */
static void
part_drained(void *arg)
{
	struct daemon *d = arg;

	if (--d->draining_parts == 0)
		finish(d);
}

static void
on_signal(uv_signal_t *h, int signum)
{
	struct daemon *d = h->data;

	if (d->draining)
		return;
	d->draining = 1;
	log_info("serve", "signal %d: draining", signum);
	uv_timer_init(d->loop, &d->drain_timer);
	d->drain_timer.data = d;
	uv_timer_start(&d->drain_timer, drain_timeout, SERVE_DRAIN_MAX_MS, 0);
	d->draining_parts = 1;		/* held until both drains are started */
	if (d->smtp) {
		d->draining_parts++;
		smtp_server_drain(d->smtp, part_drained, d);
	}
	if (d->inbound) {
		d->draining_parts++;
		inbound_drain(d->inbound, part_drained, d);
	}
	if (d->http) {
		d->draining_parts++;
		http_server_stop(d->http, part_drained, d);
		d->http = NULL;
	}
	if (d->deliver) {
		/* transactions in flight finish; nothing new starts */
		d->draining_parts++;
		deliver_stop(d->deliver, part_drained, d);
	}
	if (d->webhook) {
		/* webhook requests in flight are abandoned: the store keeps them
		 * due, and they are sent after the restart */
		d->draining_parts++;
		webhook_stop(d->webhook, part_drained, d);
	}
	part_drained(d);
}

/* drop_privileges(): started as root with server.user set, become that user
 * once every port is bound and every file is open (STYLE 12); data_dir was
 * handed to the user by cli_init_data_dir(). 0 or -1 (error printed). */
static int
drop_privileges(const struct config *cfg)
{
	struct passwd *pw;

	if (geteuid() != 0 || cfg->user == NULL || cfg->user[0] == '\0')
		return 0;
	if ((pw = getpwnam(cfg->user)) == NULL) {
		cli_error("server.user %s: no such user", cfg->user);
		return -1;
	}
	if (initgroups(pw->pw_name, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0) {
		cli_error("server.user %s: cannot switch: %s", cfg->user, strerror(errno));
		return -1;
	}
	if (setuid(0) == 0) {
		cli_error("server.user %s: root privileges could be regained", cfg->user);
		return -1;
	}
	log_info("serve", "running as %s (uid %d)", pw->pw_name, (int)pw->pw_uid);
	return 0;
}

/* Adapters between the accounts' pause state and its users (delivery, the
 * queue commands), which know nothing of src/account. */
static const char *
account_paused(void *arg, const char *account)
{
	return account_state_pause_reason(arg, account);
}

static void
account_hold(void *arg, const char *account)
{
	deliver_hold_account(arg, account);
}

static void
account_release(void *arg, const char *account)
{
	deliver_release_account(arg, account);
}

static void
start_failed_drained(void *arg)
{
	(void)arg;
}

static SSL_CTX *
load_tls(const struct config *cfg, char **err)
{
	char *cert, *key;
	SSL_CTX *ctx;

	if (cfg->sub_tls_cert) {
		cert = xstrdup(cfg->sub_tls_cert);
		key = xstrdup(cfg->sub_tls_key);
	} else {
		cert = xasprintf("%s/tls/cert.pem", cfg->data_dir);
		key = xasprintf("%s/tls/key.pem", cfg->data_dir);
	}
	ctx = tls_server_ctx(cert, key, err);
	free(cert);
	free(key);
	return ctx;
}

int
cli_serve(struct config *cfg, int argc, char **argv)
{
	struct daemon d;
	enum log_level lvl = LOG_INFO;
	char *err = NULL, *path;
	int rc = 1;

	(void)argc; (void)argv;
	memset(&d, 0, sizeof(d));
	d.cfg = cfg;
	log_level_parse(cfg->log_level, &lvl);
	log_set_level(lvl);
	signal(SIGPIPE, SIG_IGN);
	if (sodium_init() < 0)
		return cli_error("libsodium failed to initialise");
	if (cli_init_data_dir(cfg) != 0)
		return 1;
	d.loop = uv_default_loop();
	if (verp_key_load(cfg->data_dir, &d.verp, &err) < 0) {
		cli_error("verp: %s", err);
		goto out;
	}
	metrics_hermod_init();

	if (store_open(&d.store, cfg->store_url, &err) < 0) {
		cli_error("store: %s", err);
		goto out;
	}
	path = xasprintf("%s/spool", cfg->data_dir);
	if (spool_open(&d.spool, path, d.loop, &err) < 0) {
		free(path);
		cli_error("spool: %s", err);
		goto out;
	}
	free(path);
	/* Account limits and pauses: read from the store before the loop
	 * runs; the reputation breaker subscribes to events here. */
	if (account_state_open(&d.accounts, d.loop, cfg, d.store, &err) < 0) {
		cli_error("accounts: %s", err);
		goto out;
	}
	/* The suppression lists: loaded before the loop runs; their event
	 * subscriber registers before events_start(). */
	if (suppress_start(d.loop, cfg, d.store, &d.suppress, &err) < 0) {
		cli_error("suppressions: %s", err);
		goto out;
	}
	/* Webhooks: the dispatcher subscribes to events and reads the events
	 * store by cursor (it blocks on the store while it starts). */
	if (webhook_start(d.loop, cfg, d.store, &d.webhook, &err) < 0) {
		cli_error("webhooks: %s", err);
		goto out;
	}
	/* Events before anything that emits them; subscribers register first. */
	if (events_start(d.loop, d.store, cfg, &err) < 0) {
		cli_error("events: %s", err);
		goto out;
	}
	if ((d.tls = load_tls(cfg, &err)) == NULL) {
		cli_error("tls: %s", err);
		goto out;
	}
	/* One key ring for the daemon: each private key is parsed once and kept. */
	d.keyring = dkim_keyring_new(cfg->data_dir);
	if (inbound_start(d.loop, cfg, d.store, d.tls, &d.verp, &d.inbound, &err) < 0) {
		cli_error("inbound: %s", err);
		goto out;
	}
	if (smtp_server_start(d.loop, cfg, d.spool, d.store, d.tls, d.keyring, &d.smtp, &err) < 0) {
		cli_error("submission: %s", err);
		goto out;
	}
	smtp_server_set_accounts(d.smtp, d.accounts);
	smtp_server_set_suppress(d.smtp, d.suppress);
	/* an empty http.listen means no HTTP API (the relay benchmark) */
	if (cfg->http_listen && cfg->http_listen[0] &&
	    http_server_start(d.loop, cfg, d.spool, d.store, d.keyring, &d.http, &err) < 0) {
		cli_error("http: %s", err);
		goto out;
	}
	if (d.http) {
		http_server_set_accounts(d.http, d.accounts);
		http_server_set_suppress(d.http, d.suppress);
	}
	path = cli_ctl_path(cfg);
	if (ctl_start(d.loop, path, &d.ctl, &err) < 0) {
		free(path);
		cli_error("control socket: %s", err);
		goto out;
	}
	free(path);
	queue_ctl_register(d.ctl, d.spool);
	queue_ctl_set_hold_reason(account_paused, d.accounts);
	account_ctl_register(d.ctl, d.accounts);
	suppress_register_ctl(d.suppress, d.ctl);
	if (!cfg->delivery_enabled)
		log_warn("serve", "delivery.enabled = no: mail is queued, not delivered");
	else if (deliver_start(d.loop, cfg, d.spool, &d.deliver, &err) < 0) {
		cli_error("delivery: %s", err);
		goto out;
	} else {
		deliver_set_verp(d.deliver, &d.verp);
		/* paused accounts' mail is held from the first pump on */
		struct account_hold_hooks hk = { account_hold, account_release, d.deliver };
		deliver_set_account_gate(d.deliver, account_paused, d.accounts);
		account_state_set_hold_hooks(d.accounts, &hk);
	}
	if (d.deliver)
		deliver_set_suppress(d.deliver, d.suppress);

	serve_metrics_start(d.spool, d.deliver);

	if (drop_privileges(cfg) < 0)
		goto out;

	uv_signal_init(d.loop, &d.sigterm);
	uv_signal_init(d.loop, &d.sigint);
	d.sigterm.data = d.sigint.data = &d;
	uv_signal_start(&d.sigterm, on_signal, SIGTERM);
	uv_signal_start(&d.sigint, on_signal, SIGINT);

	{
		struct log_line *l = log_begin(LOG_INFO, "serve");
		log_str(l, "msg", "hermod started");
		log_str(l, "version", HERMOD_VERSION);
		log_str(l, "hostname", cfg->hostname);
		log_str(l, "submission", cfg->sub_listen);
		log_str(l, "submission_tls", cfg->sub_listen_tls);
		log_str(l, "http", cfg->http_listen);
		log_str(l, "inbound", cfg->in_listen);
		log_str(l, "data_dir", cfg->data_dir);
		log_int(l, "queued", (int64_t)spool_count(d.spool));
		log_end(l);
	}
	uv_run(d.loop, UV_RUN_DEFAULT);
	rc = 0;
	log_info("serve", "stopped");
out:
	/* Order matters: the spool first (its writer thread finishes the last
	 * batch), then every remaining handle is closed while the server still
	 * exists (a session's last close callback reports to it). */
	if (d.ctl)
		ctl_stop(d.ctl);
	/* A start that failed half way: stop what did start, so its handles
	 * close through their own callbacks and nothing leaks. */
	if (d.smtp && !d.draining)
		smtp_server_drain(d.smtp, start_failed_drained, NULL);
	if (d.inbound && !d.draining)
		inbound_drain(d.inbound, start_failed_drained, NULL);
	if (d.http) {
		http_server_stop(d.http, NULL, NULL);
		d.http = NULL;
	}
	if (d.accounts) {
		/* nothing may reach the engine once it is gone */
		struct account_hold_hooks none = { NULL, NULL, NULL };
		account_state_set_hold_hooks(d.accounts, &none);
	}
	queue_ctl_set_hold_reason(NULL, NULL);
	serve_metrics_stop();		/* the scrape hook reads both */
	if (d.deliver)
		deliver_free(d.deliver);	/* before the spool it reads */
	if (d.spool)
		spool_close(d.spool);
	suppress_stop(d.suppress);
	webhook_stop(d.webhook, NULL, NULL);	/* a no-op when the drain stopped it */
	events_stop();		/* after the last emitter, before the store closes */
	account_state_close(d.accounts);	/* its work drains in the loop run below */
	if (d.loop) {
		io_abort_all(d.loop);	/* lingering connections: freed by the run below */
		uv_walk(d.loop, close_walk, NULL);
		uv_run(d.loop, UV_RUN_DEFAULT);
		uv_loop_close(d.loop);
	}
	if (d.smtp)
		smtp_server_free(d.smtp);
	account_state_free(d.accounts);	/* after the last session gave back its recipients */
	inbound_free(d.inbound);	/* after the loop ran: its workers are done */
	suppress_free(d.suppress);	/* after the loop: its work has finished */
	webhook_free(d.webhook);	/* after the loop: its handles are closed */
	if (d.store)
		store_close(d.store);
	if (d.keyring)
		dkim_keyring_free(d.keyring);
	if (d.tls)
		SSL_CTX_free(d.tls);
	sodium_memzero(&d.verp, sizeof(d.verp));
	free(err);
	return rc;
}
