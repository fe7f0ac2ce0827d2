/* config: the INI configuration of SPEC.md. Every key has a default, so an
 * empty file gives a working local server. A key is described once, in the
 * table in config.c (name, type, default, where it lands in struct config);
 * docs/configuration.md documents the same table and a test keeps them in step.
 *
 * Why our own parser: Debian's libinih is built with a 200-character line limit
 * and splits longer lines silently; a config line must never be half-read. */
#ifndef HERMOD_CONFIG_H
#define HERMOD_CONFIG_H
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* A CIDR network for trusted_networks. */
struct config_net {
	int		family;		/* AF_INET or AF_INET6 */
	unsigned char	addr[16];
	int		prefix;
};

/* Outbound TLS: verify is required plus a certificate that verifies against
 * the trust store for the MX host name (Postfix's "verify" level). */
enum config_tls { CONFIG_TLS_OPPORTUNISTIC, CONFIG_TLS_REQUIRED, CONFIG_TLS_OFF, CONFIG_TLS_VERIFY };

/* [route DOMAIN] or [route *]: deliver through a relay instead of the MX. */
struct config_route {
	char		*domain;	/* lower case, or "*" */
	char		*relay;		/* host:port */
	char		*auth_user;
	char		*auth_password;
	enum config_tls	 tls;
};

/* The shaping blocks: [provider NAME], [shape DOMAIN] (or [shape *], the
 * defaults of every domain), [backoff NAME], [warmup NAME]. config.c checks
 * each key and the type of its value (FILE:LINE errors like every key) and
 * keeps them as text; src/shape reads them (shape_new()). Blocks of the file
 * named by shaping.file come first and have included set, so that the main
 * file's blocks of the same name override them key by key. */
struct config_kv {
	char		*key;
	char		*value;
	size_t		 line;
};

struct config_block {
	char		*kind;		/* provider, shape, backoff, warmup */
	char		*name;		/* lower case for provider and shape */
	char		*file;
	size_t		 line;		/* of the [header] */
	int		 included;	/* read from shaping.file */
	struct config_kv *kv;
	size_t		 n;
};

struct config {
	char	*path;			/* the file read, or NULL for defaults */
	char	*base_dir;		/* relative paths are relative to this */

	/* [server] */
	char	*hostname;
	char	*data_dir;		/* absolute after loading */
	int	 require_verified_domains;
	char	*log_level;
	char	*user;			/* drop privileges to this user when root */

	/* [submission] */
	char	*sub_listen;
	char	*sub_listen_tls;
	char	*sub_tls_cert;		/* absolute, or NULL: self-signed in data_dir */
	char	*sub_tls_key;
	uint64_t max_message_size;
	uint64_t max_recipients;
	struct config_net *trusted_networks;
	size_t	 n_trusted_networks;
	char	*trusted_account;
	uint64_t sub_max_connections;
	uint64_t sub_max_connections_per_ip;
	uint64_t sub_max_errors;	/* bad commands before 421 */
	uint64_t sub_max_junk_commands;	/* NOOP/RSET/VRFY/HELP per session */
	uint64_t sub_auth_failures_per_minute;
	uint64_t sub_command_timeout;	/* ms; RFC 5321 4.5.3.2.7: 5 min */
	uint64_t sub_data_timeout;	/* ms; wait for each DATA/BDAT block */
	uint64_t sub_tls_timeout;	/* ms; TLS handshake */
	uint64_t sub_session_timeout;	/* ms; a whole session, however busy */
	uint64_t sub_greet_pause;	/* ms before the greeting; input before it is refused */

	/* [inbound] */
	char	*in_listen;
	char	*in_bounce_domain;	/* one bounce domain for all; NULL: bounce.DOMAIN */
	char	*in_feedback_addresses;	/* local parts taken at every bounce domain */
	uint64_t in_max_message_size;

	/* [http] */
	char	*http_listen;
	char	*http_public_url;
	uint64_t http_max_body_size;
	uint64_t http_timeout;
	int	 http_metrics_public;	/* GET /metrics without an API key */

	/* [store] */
	char	*store_url;		/* sqlite:/abs/path or postgres://... */

	/* [delivery] */
	int	 delivery_enabled;	/* no: queue, deliver nothing (maintenance, tests) */
	char	*resolver;
	uint64_t delivery_port;
	enum config_tls delivery_tls;
	char	*delivery_ca_file;	/* PEM CAs added to the system's for tls = verify */
	uint64_t *retry;		/* ms, n_retry of them (a duration list: the
					 * count follows the pointer, config.c relies on it) */
	size_t	 n_retry;
	uint64_t max_lifetime;
	uint64_t connect_timeout;
	uint64_t greeting_timeout;	/* RFC 5321 4.5.3.2.1: 5 min */
	uint64_t ehlo_timeout;
	uint64_t mail_timeout;		/* 4.5.3.2.2: 5 min */
	uint64_t rcpt_timeout;		/* 4.5.3.2.3: 5 min */
	uint64_t data_timeout;		/* 4.5.3.2.4: 2 min */
	uint64_t data_block_timeout;	/* 4.5.3.2.5: 3 min */
	uint64_t data_done_timeout;	/* 4.5.3.2.6: 10 min */
	uint64_t tls_timeout;
	uint64_t quit_timeout;
	uint64_t max_connections_per_destination;
	uint64_t max_messages_per_connection;
	uint64_t max_recipients_per_transaction;
	uint64_t max_connections;

	/* [events] */
	uint64_t events_retention;	/* ms; older events are deleted */

	/* [webhooks] */
	int	 allow_private_targets;
	uint64_t *wh_retry;		/* ms between attempts, the last repeats; */
	size_t	 n_wh_retry;		/*   the count follows the pointer */
	uint64_t wh_max_lifetime;	/* ms: then an event is given up */
	uint64_t wh_connect_timeout;	/* ms */
	uint64_t wh_timeout;		/* ms, a whole attempt */
	uint64_t wh_max_per_account;	/* subscriptions */
	uint64_t wh_max_connections;	/* transfers at once, all endpoints */
	uint64_t wh_max_connections_per_endpoint;
	int	 wh_disable_on_gone;	/* 410 Gone disables the subscription */
	char	*wh_ca_file;		/* PEM CAs for https endpoints; NULL: the system's */

	/* [limits]: default account limits, recipients per window; 0 = none */
	uint64_t limit_per_second;
	uint64_t limit_per_hour;
	uint64_t limit_per_day;
	uint64_t limits_refresh;	/* ms between re-reads of the store */

	/* [reputation]: the breaker (src/account/account_rep.h) */
	int	 rep_pause;		/* no: warn only, never pause */
	uint64_t rep_window;		/* ms */
	uint64_t rep_min_sample;
	double	 rep_bounce_review;	/* fractions: 5% is 0.05 */
	double	 rep_bounce_pause;
	double	 rep_complaint_review;
	double	 rep_complaint_pause;

	/* [shaping] */
	char	*shaping_file;		/* more blocks (etc/shaping.conf), absolute, or NULL */

	/* [suppressions] soft bounces suppress an address once there are
	 * soft_bounce_count of them spread over at least soft_bounce_span */
	uint64_t soft_bounce_count;
	uint64_t soft_bounce_span;	/* ms */

	struct config_route *routes;
	size_t	 n_routes;
	struct config_block *blocks;
	size_t	 n_blocks;
};

/* config_defaults() fills cfg with every default, paths relative to base_dir. */
void	config_defaults(struct config *cfg, const char *base_dir);

/* config_parse() parses text (len bytes, need not be NUL terminated) into cfg,
 * which holds defaults already. On error it returns -1 and sets *err to
 * "FILE:LINE: key: what is wrong" (caller frees). Pure: no I/O. */
int	config_parse(struct config *cfg, const char *file, const char *text, size_t len,
	    char **err);

/* config_load() reads path into a fresh cfg. When path is NULL it uses
 * $HERMOD_CONFIG, else ./hermod.conf, and a missing default file means
 * defaults; a missing file named explicitly is an error. */
int	config_load(struct config *cfg, const char *path, char **err);
void	config_free(struct config *cfg);

/* config_net_match() tells whether sa falls in any of the networks. */
int	config_net_match(const struct config_net *nets, size_t n, const struct sockaddr *sa);

/* config_route_for() returns the route for a recipient domain ([route DOMAIN]
 * before [route *]), or NULL. */
const struct config_route *config_route_for(const struct config *cfg, const char *domain);

/* Parsers for values, shared with the CLI. Each returns 0 or -1. */
int	config_parse_size(const char *s, uint64_t *out);
int	config_parse_duration(const char *s, uint64_t *out_ms);
int	config_parse_bool(const char *s, int *out);
/* config_parse_rate() reads "N/s", "N/m", "N/h" or "N/d" (N >= 1; "/sec",
 * "/min", "/hour", "/day" too) into a count per period (ms). */
int	config_parse_rate(const char *s, uint64_t *count, uint64_t *period_ms);
/* config_parse_date() reads YYYY-MM-DD into ms since the epoch, 00:00 UTC. */
int	config_parse_date(const char *s, uint64_t *out_ms);

/* config_block_get() is the value of key in block b, or NULL. */
const char *config_block_get(const struct config_block *b, const char *key);

/* config_key_names() lists every "section.key" the parser accepts (NULL-ended),
 * for the documentation test. */
const char *const *config_key_names(void);

#endif
