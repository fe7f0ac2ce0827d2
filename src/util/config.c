/* config: INI parsing, defaults and lookups.
 *
 * Syntax: "[section]" or "[route NAME]" headers, "key = value" lines, comments
 * start with ';' or '#' at the beginning of a line or after whitespace in a
 * value. No line length limit. Keys outside a known section, unknown keys and
 * bad values are errors naming FILE:LINE and the key. */
#include "util/config.h"
#include "util/buf.h"
#include "util/xalloc.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

enum key_type { T_STR, T_PATH, T_BOOL, T_SIZE, T_DURATION, T_UINT, T_NETS, T_DURLIST, T_TLS,
	T_LISTEN, T_URL, T_RATE };

struct key {
	const char	*section;
	const char	*name;
	enum key_type	 type;
	size_t		 off;
	const char	*def;
};

#define K(sec, name, type, field, def) { sec, name, type, offsetof(struct config, field), def }

static const struct key keys[] = {
	K("server", "hostname", T_STR, hostname, ""),
	K("server", "data_dir", T_PATH, data_dir, "var"),
	K("server", "require_verified_domains", T_BOOL, require_verified_domains, "yes"),
	K("server", "log_level", T_STR, log_level, "info"),
	K("server", "user", T_STR, user, ""),

	K("submission", "listen", T_LISTEN, sub_listen, "127.0.0.1:587"),
	K("submission", "listen_tls", T_LISTEN, sub_listen_tls, "127.0.0.1:465"),
	K("submission", "tls_cert", T_PATH, sub_tls_cert, ""),
	K("submission", "tls_key", T_PATH, sub_tls_key, ""),
	K("submission", "max_message_size", T_SIZE, max_message_size, "25M"),
	K("submission", "max_recipients", T_UINT, max_recipients, "100"),
	K("submission", "trusted_networks", T_NETS, trusted_networks, ""),
	K("submission", "trusted_account", T_STR, trusted_account, ""),
	K("submission", "max_connections", T_UINT, sub_max_connections, "1000"),
	K("submission", "max_connections_per_ip", T_UINT, sub_max_connections_per_ip, "50"),
	K("submission", "max_errors", T_UINT, sub_max_errors, "10"),
	K("submission", "max_junk_commands", T_UINT, sub_max_junk_commands, "100"),
	K("submission", "auth_failures_per_minute", T_UINT, sub_auth_failures_per_minute, "5"),
	K("submission", "command_timeout", T_DURATION, sub_command_timeout, "5m"),
	K("submission", "data_timeout", T_DURATION, sub_data_timeout, "3m"),
	K("submission", "tls_timeout", T_DURATION, sub_tls_timeout, "30s"),
	K("submission", "session_timeout", T_DURATION, sub_session_timeout, "30m"),
	K("submission", "greet_pause", T_DURATION, sub_greet_pause, "1ms"),

	K("inbound", "listen", T_LISTEN, in_listen, "127.0.0.1:2525"),
	K("inbound", "bounce_domain", T_STR, in_bounce_domain, ""),
	K("inbound", "feedback_addresses", T_STR, in_feedback_addresses, "fbl abuse postmaster"),
	K("inbound", "max_message_size", T_SIZE, in_max_message_size, "10M"),

	K("http", "listen", T_LISTEN, http_listen, "127.0.0.1:8025"),
	K("http", "public_url", T_STR, http_public_url, "http://127.0.0.1:8025"),
	K("http", "max_body_size", T_SIZE, http_max_body_size, "40M"),
	K("http", "timeout", T_DURATION, http_timeout, "60s"),
	K("http", "metrics_public", T_BOOL, http_metrics_public, "yes"),

	K("store", "url", T_URL, store_url, "sqlite:var/hermod.db"),

	K("delivery", "enabled", T_BOOL, delivery_enabled, "yes"),
	K("delivery", "resolver", T_STR, resolver, ""),
	K("delivery", "port", T_UINT, delivery_port, "25"),
	K("delivery", "tls", T_TLS, delivery_tls, "opportunistic"),
	K("delivery", "ca_file", T_PATH, delivery_ca_file, ""),
	K("delivery", "retry", T_DURLIST, retry, "1m 5m 15m 30m 1h 2h 4h"),
	K("delivery", "max_lifetime", T_DURATION, max_lifetime, "5d"),
	K("delivery", "connect_timeout", T_DURATION, connect_timeout, "30s"),
	K("delivery", "greeting_timeout", T_DURATION, greeting_timeout, "5m"),
	K("delivery", "ehlo_timeout", T_DURATION, ehlo_timeout, "5m"),
	K("delivery", "mail_timeout", T_DURATION, mail_timeout, "5m"),
	K("delivery", "rcpt_timeout", T_DURATION, rcpt_timeout, "5m"),
	K("delivery", "data_timeout", T_DURATION, data_timeout, "2m"),
	K("delivery", "data_block_timeout", T_DURATION, data_block_timeout, "3m"),
	K("delivery", "data_done_timeout", T_DURATION, data_done_timeout, "10m"),
	K("delivery", "tls_timeout", T_DURATION, tls_timeout, "1m"),
	K("delivery", "quit_timeout", T_DURATION, quit_timeout, "30s"),
	K("delivery", "max_connections_per_destination", T_UINT, max_connections_per_destination, "20"),
	K("delivery", "max_messages_per_connection", T_UINT, max_messages_per_connection, "100"),
	K("delivery", "max_recipients_per_transaction", T_UINT, max_recipients_per_transaction, "50"),
	K("delivery", "max_connections", T_UINT, max_connections, "500"),

	K("events", "retention", T_DURATION, events_retention, "30d"),

	K("webhooks", "allow_private_targets", T_BOOL, allow_private_targets, "no"),
	K("webhooks", "retry", T_DURLIST, wh_retry, "5s 1m 5m 30m 1h 2h 4h"),
	K("webhooks", "max_lifetime", T_DURATION, wh_max_lifetime, "24h"),
	K("webhooks", "connect_timeout", T_DURATION, wh_connect_timeout, "5s"),
	K("webhooks", "timeout", T_DURATION, wh_timeout, "10s"),
	K("webhooks", "max_per_account", T_UINT, wh_max_per_account, "10"),
	K("webhooks", "max_connections", T_UINT, wh_max_connections, "32"),
	K("webhooks", "max_connections_per_endpoint", T_UINT, wh_max_connections_per_endpoint, "4"),
	K("webhooks", "disable_on_gone", T_BOOL, wh_disable_on_gone, "yes"),
	K("webhooks", "ca_file", T_PATH, wh_ca_file, ""),

	K("limits", "per_second", T_UINT, limit_per_second, "0"),
	K("limits", "per_hour", T_UINT, limit_per_hour, "0"),
	K("limits", "per_day", T_UINT, limit_per_day, "0"),
	K("limits", "refresh", T_DURATION, limits_refresh, "10s"),

	K("reputation", "pause", T_BOOL, rep_pause, "yes"),
	K("reputation", "window", T_DURATION, rep_window, "7d"),
	K("reputation", "min_sample", T_UINT, rep_min_sample, "200"),
	K("reputation", "bounce_review", T_RATE, rep_bounce_review, "5%"),
	K("reputation", "bounce_pause", T_RATE, rep_bounce_pause, "10%"),
	K("reputation", "complaint_review", T_RATE, rep_complaint_review, "0.1%"),
	K("reputation", "complaint_pause", T_RATE, rep_complaint_pause, "0.5%"),

	K("shaping", "file", T_PATH, shaping_file, ""),
	K("suppressions", "soft_bounce_count", T_UINT, soft_bounce_count, "5"),
	K("suppressions", "soft_bounce_span", T_DURATION, soft_bounce_span, "72h"),
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* T_DURLIST keys find their count right after the pointer. */
_Static_assert(offsetof(struct config, n_retry) == offsetof(struct config, retry) +
    sizeof(uint64_t *), "delivery.retry: count must follow the pointer");
_Static_assert(offsetof(struct config, n_wh_retry) == offsetof(struct config, wh_retry) +
    sizeof(uint64_t *), "webhooks.retry: count must follow the pointer");

static const char *route_keys[] = { "relay", "auth_user", "auth_password", "tls", NULL };

/* The keys of the shaping blocks and the type of their values. */
enum bkey_type { B_UINT, B_RATE, B_DURATION, B_WORDS, B_TEXT, B_ACTION, B_DATE, B_UINTLIST };

struct bkey {
	const char	*kind;
	const char	*name;
	enum bkey_type	 type;
};

static const struct bkey block_keys[] = {
	{ "provider", "mx_suffixes", B_WORDS },
	{ "provider", "max_connections", B_UINT },
	{ "provider", "connection_rate", B_RATE },
	{ "provider", "max_messages_per_connection", B_UINT },
	{ "provider", "message_rate", B_RATE },
	{ "shape", "max_connections", B_UINT },
	{ "shape", "connection_rate", B_RATE },
	{ "shape", "max_messages_per_connection", B_UINT },
	{ "shape", "message_rate", B_RATE },
	{ "backoff", "match", B_TEXT },
	{ "backoff", "action", B_ACTION },
	{ "backoff", "duration", B_DURATION },
	{ "backoff", "providers", B_WORDS },
	{ "warmup", "domains", B_WORDS },
	{ "warmup", "accounts", B_WORDS },
	{ "warmup", "addresses", B_WORDS },
	{ "warmup", "start", B_DATE },
	{ "warmup", "schedule", B_UINTLIST },
};
#define NBLOCK_KEYS (sizeof(block_keys) / sizeof(block_keys[0]))

static char *
resolve_path(const char *base, const char *p)
{
	if (p[0] == '\0')
		return NULL;
	if (p[0] == '/' || base == NULL || base[0] == '\0')
		return xstrdup(p);
	return xasprintf("%s/%s", base, p);
}

int
config_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	uint64_t mul = 1;

	if (!isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	switch (*end) {
	case 'k': case 'K': mul = 1024ULL; end++; break;
	case 'm': case 'M': mul = 1024ULL * 1024; end++; break;
	case 'g': case 'G': mul = 1024ULL * 1024 * 1024; end++; break;
	}
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end != '\0' || (v && mul > UINT64_MAX / v))
		return -1;
	*out = v * mul;
	return 0;
}

#define CONFIG_DURATION_MAX_MS	((uint64_t)INT64_MAX / 4)

int
config_parse_duration(const char *s, uint64_t *out_ms)
{
	char *end;
	unsigned long long v;
	uint64_t mul = 1000;

	if (!isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	if (strcmp(end, "ms") == 0)
		mul = 1;
	else if (strcmp(end, "s") == 0 || *end == '\0')
		mul = 1000;
	else if (strcmp(end, "m") == 0)
		mul = 60 * 1000;
	else if (strcmp(end, "h") == 0)
		mul = 3600 * 1000;
	else if (strcmp(end, "d") == 0)
		mul = 86400ULL * 1000;
	else
		return -1;
	/* Callers add a duration to a time in ms and compare as int64_t
	 * (events retention, webhook lifetime): with this cap (about 73
	 * million years) no sum overflows, so a huge value meant as "for
	 * ever" can never wrap negative and delete or give up everything. */
	if (v && mul > CONFIG_DURATION_MAX_MS / v)
		return -1;
	*out_ms = v * mul;
	return 0;
}

int
config_parse_bool(const char *s, int *out)
{
	if (!strcasecmp(s, "yes") || !strcasecmp(s, "true") || !strcasecmp(s, "on") || !strcmp(s, "1"))
		*out = 1;
	else if (!strcasecmp(s, "no") || !strcasecmp(s, "false") || !strcasecmp(s, "off") || !strcmp(s, "0"))
		*out = 0;
	else
		return -1;
	return 0;
}

int
config_parse_rate(const char *s, uint64_t *count, uint64_t *period_ms)
{
	static const struct { const char *unit; uint64_t ms; } units[] = {
		{ "s", 1000 }, { "sec", 1000 }, { "m", 60000 }, { "min", 60000 },
		{ "h", 3600000 }, { "hour", 3600000 }, { "d", 86400000 }, { "day", 86400000 },
	};
	char *end;
	unsigned long long v;

	if (!isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || v == 0 || v > 1000000000ULL || *end != '/')
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(end + 1, units[i].unit) == 0) {
			*count = v;
			*period_ms = units[i].ms;
			return 0;
		}
	return -1;
}

int
config_parse_date(const char *s, uint64_t *out_ms)
{
	int y, m, d, n = 0;
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int64_t days;

	if (strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || n != 10 ||
	    y < 1970 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return -1;
	/* days from civil (proleptic Gregorian), 1970-01-01 = 0 */
	{
		int yy = m <= 2 ? y - 1 : y;
		int era = yy / 400, yoe = yy - era * 400;
		int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
		int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
		days = (int64_t)era * 146097 + doe - 719468;
	}
	*out_ms = (uint64_t)days * 86400000ULL;
	return 0;
}

static int
parse_tls(const char *s, enum config_tls *out)
{
	if (!strcmp(s, "opportunistic"))
		*out = CONFIG_TLS_OPPORTUNISTIC;
	else if (!strcmp(s, "required"))
		*out = CONFIG_TLS_REQUIRED;
	else if (!strcmp(s, "off"))
		*out = CONFIG_TLS_OFF;
	else if (!strcmp(s, "verify"))
		*out = CONFIG_TLS_VERIFY;
	else
		return -1;
	return 0;
}

static int
parse_net(const char *s, struct config_net *n)
{
	char tmp[INET6_ADDRSTRLEN + 8];
	char *slash;
	long prefix = -1;
	size_t len = strlen(s);

	if (len >= sizeof(tmp))
		return -1;
	memcpy(tmp, s, len + 1);
	if ((slash = strchr(tmp, '/')) != NULL) {
		char *end;
		*slash = '\0';
		prefix = strtol(slash + 1, &end, 10);
		if (*end || slash[1] == '\0')
			return -1;
	}
	memset(n, 0, sizeof(*n));
	if (inet_pton(AF_INET, tmp, n->addr) == 1) {
		n->family = AF_INET;
		n->prefix = prefix < 0 ? 32 : (int)prefix;
		return prefix > 32 ? -1 : 0;
	}
	if (inet_pton(AF_INET6, tmp, n->addr) == 1) {
		n->family = AF_INET6;
		n->prefix = prefix < 0 ? 128 : (int)prefix;
		return prefix > 128 ? -1 : 0;
	}
	return -1;
}

/* Listen addresses: "host:port", "[v6]:port", or empty (disabled). */
static int
valid_listen(const char *s)
{
	const char *colon;
	char *end;
	long port;

	if (s[0] == '\0')
		return 1;
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (rb == NULL || rb[1] != ':')
			return 0;
		colon = rb + 1;
	} else if ((colon = strrchr(s, ':')) == NULL || colon == s)
		return 0;
	port = strtol(colon + 1, &end, 10);
	return *end == '\0' && colon[1] != '\0' && port > 0 && port < 65536;
}

static void
free_value(struct config *cfg, const struct key *k)
{
	void *p = (char *)cfg + k->off;

	switch (k->type) {
	case T_STR: case T_PATH: case T_LISTEN: case T_URL:
		free(*(char **)p);
		*(char **)p = NULL;
		break;
	case T_NETS:
		free(cfg->trusted_networks);
		cfg->trusted_networks = NULL;
		cfg->n_trusted_networks = 0;
		break;
	case T_DURLIST:
		/* a duration list is a pointer followed by its count (config.h) */
		free(*(uint64_t **)p);
		*(uint64_t **)p = NULL;
		*(size_t *)((char *)p + sizeof(uint64_t *)) = 0;
		break;
	default:
		break;
	}
}

/* set_value() stores v for key k; returns NULL or a description of the error. */
static const char *
set_value(struct config *cfg, const struct key *k, const char *v)
{
	void *p = (char *)cfg + k->off;
	uint64_t u;
	int b;

	switch (k->type) {
	case T_STR:
		if (strpbrk(v, "\r\n") != NULL)
			return "control characters are not allowed";
		free_value(cfg, k);
		*(char **)p = xstrdup(v);
		return NULL;
	case T_PATH:
		free_value(cfg, k);
		*(char **)p = resolve_path(cfg->base_dir, v);
		return NULL;
	case T_URL:
		if (strncmp(v, "sqlite:", 7) == 0) {
			char *path;
			if (v[7] == '\0')
				return "sqlite: needs a path";
			path = resolve_path(cfg->base_dir, v + 7);
			free_value(cfg, k);
			*(char **)p = xasprintf("sqlite:%s", path);
			free(path);
			return NULL;
		}
		if (strncmp(v, "postgres://", 11) == 0 || strncmp(v, "postgresql://", 13) == 0) {
			free_value(cfg, k);
			*(char **)p = xstrdup(v);
			return NULL;
		}
		return "expected sqlite:PATH or postgres://...";
	case T_LISTEN:
		if (!valid_listen(v))
			return "expected HOST:PORT, [IPV6]:PORT or empty";
		free_value(cfg, k);
		*(char **)p = xstrdup(v);
		return NULL;
	case T_BOOL:
		if (config_parse_bool(v, &b) < 0)
			return "expected yes or no";
		*(int *)p = b;
		return NULL;
	case T_SIZE:
		if (config_parse_size(v, &u) < 0)
			return "expected a size such as 512K, 25M or 1G";
		*(uint64_t *)p = u;
		return NULL;
	case T_DURATION:
		if (config_parse_duration(v, &u) < 0)
			return "expected a duration such as 30s, 5m, 2h or 5d";
		*(uint64_t *)p = u;
		return NULL;
	case T_UINT: {
		char *end;
		unsigned long long x;
		if (!isdigit((unsigned char)v[0]))
			return "expected a whole number";
		errno = 0;
		x = strtoull(v, &end, 10);
		if (errno || *end)
			return "expected a whole number";
		*(uint64_t *)p = x;
		return NULL;
	}
	case T_RATE: {
		/* "5%" or a fraction "0.05"; 0 turns the threshold off */
		char *end;
		double x;
		if (!isdigit((unsigned char)v[0]))
			return "expected a rate such as 5% or 0.05";
		errno = 0;
		x = strtod(v, &end);
		if (errno == 0 && *end == '%' && end[1] == '\0')
			x /= 100;
		else if (errno || *end)
			return "expected a rate such as 5% or 0.05";
		if (x < 0 || x > 1)
			return "a rate is between 0% and 100%";
		*(double *)p = x;
		return NULL;
	}
	case T_TLS:
		if (parse_tls(v, (enum config_tls *)p) < 0)
			return "expected opportunistic, required, verify or off";
		return NULL;
	case T_NETS: {
		char *copy = xstrdup(v), *save = NULL, *tok;
		struct config_net *nets = NULL;
		size_t n = 0;
		for (tok = strtok_r(copy, " \t,", &save); tok; tok = strtok_r(NULL, " \t,", &save)) {
			nets = xrealloc(nets, (n + 1) * sizeof(*nets));
			if (parse_net(tok, &nets[n]) < 0) {
				free(nets);
				free(copy);
				return "expected networks such as 127.0.0.0/8 ::1/128";
			}
			n++;
		}
		free(copy);
		free_value(cfg, k);
		cfg->trusted_networks = nets;
		cfg->n_trusted_networks = n;
		return NULL;
	}
	case T_DURLIST: {
		char *copy = xstrdup(v), *save = NULL, *tok;
		uint64_t *d = NULL;
		size_t n = 0;
		for (tok = strtok_r(copy, " \t,", &save); tok; tok = strtok_r(NULL, " \t,", &save)) {
			d = xrealloc(d, (n + 1) * sizeof(*d));
			if (config_parse_duration(tok, &d[n]) < 0) {
				free(d);
				free(copy);
				return "expected durations such as 1m 5m 1h";
			}
			n++;
		}
		free(copy);
		if (n == 0) {
			free(d);
			return "expected at least one duration";
		}
		free_value(cfg, k);
		*(uint64_t **)p = d;
		*(size_t *)((char *)p + sizeof(uint64_t *)) = n;
		return NULL;
	}
	}
	return "internal: unknown type";
}

/* check_block_value() checks v for a block key's type: NULL or the error. */
static const char *
check_block_value(enum bkey_type t, const char *v)
{
	uint64_t a, b;

	switch (t) {
	case B_UINT: {
		char *end;
		if (!isdigit((unsigned char)v[0]))
			return "expected a whole number";
		unsigned long long x;
		errno = 0;
		x = strtoull(v, &end, 10);
		/* the shaper keeps these as unsigned: 2^32 would become 0 (no limit) */
		if (!errno && !*end && x > UINT_MAX)
			return "expected a whole number up to 4294967295";
		return errno || *end ? "expected a whole number" : NULL;
	}
	case B_RATE:
		return config_parse_rate(v, &a, &b) < 0 ? "expected a rate such as 10/s, 100/m or 5000/h" : NULL;
	case B_DURATION:
		return config_parse_duration(v, &a) < 0 ? "expected a duration such as 30s, 5m, 2h or 5d" : NULL;
	case B_WORDS:
	case B_TEXT:
		if (strpbrk(v, "\r\n") != NULL)
			return "control characters are not allowed";
		return v[0] == '\0' ? "expected a value" : NULL;
	case B_ACTION:
		return strcmp(v, "suspend") && strcmp(v, "halve_rate") ? "expected suspend or halve_rate" : NULL;
	case B_DATE:
		return config_parse_date(v, &a) < 0 ? "expected a date such as 2026-11-20" : NULL;
	case B_UINTLIST: {
		char *copy = xstrdup(v), *save = NULL, *tok, *end;
		size_t n = 0;
		const char *e = NULL;
		for (tok = strtok_r(copy, " \t,", &save); tok && !e; tok = strtok_r(NULL, " \t,", &save)) {
			errno = 0;
			if (!isdigit((unsigned char)tok[0]) || (strtoull(tok, &end, 10), errno) || *end)
				e = "expected whole numbers such as 50 100 500";
			n++;
		}
		free(copy);
		return e ? e : n == 0 ? "expected at least one number" : NULL;
	}
	}
	return "internal: unknown type";
}

const char *
config_block_get(const struct config_block *b, const char *key)
{
	const char *v = NULL;

	for (size_t i = 0; i < b->n; i++)
		if (strcmp(b->kv[i].key, key) == 0)
			v = b->kv[i].value;	/* the last one wins */
	return v;
}

static int
is_block_kind(const char *s, size_t n)
{
	static const char *kinds[] = { "provider", "shape", "backoff", "warmup" };

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strlen(kinds[i]) == n && strncmp(kinds[i], s, n) == 0)
			return 1;
	return 0;
}

void
config_defaults(struct config *cfg, const char *base_dir)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->base_dir = xstrdup(base_dir ? base_dir : ".");
	for (size_t i = 0; i < NKEYS; i++) {
		const char *e = set_value(cfg, &keys[i], keys[i].def);
		if (e != NULL) {
			fprintf(stderr, "internal: default of %s.%s: %s\n", keys[i].section, keys[i].name, e);
			abort();
		}
	}
}

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* strip_comment() cuts "; comment" or "# comment" that follows whitespace. */
static void
strip_comment(char *v)
{
	for (char *p = v; *p; p++)
		if ((*p == ';' || *p == '#') && (p == v || p[-1] == ' ' || p[-1] == '\t')) {
			*p = '\0';
			return;
		}
}

static int
fail(char **err, const char *file, size_t line, const char *key, const char *what)
{
	*err = xasprintf("%s:%zu: %s: %s", file, line, key, what);
	return -1;
}

/* merged_has() tells whether any block of b's kind and name sets key: the
 * blocks of one name merge (shaping.file's under the main file's). */
static int
merged_has(const struct config *cfg, const struct config_block *b, const char *key)
{
	for (size_t i = 0; i < cfg->n_blocks; i++)
		if (!strcmp(cfg->blocks[i].kind, b->kind) && !strcmp(cfg->blocks[i].name, b->name) &&
		    config_block_get(&cfg->blocks[i], key))
			return 1;
	return 0;
}

/* check_blocks() checks what each block needs as a whole: a provider its
 * suffixes, a backoff rule its patterns, a warm-up its start, schedule and
 * senders. Errors name the block's header line. */
static int
check_blocks(struct config *cfg, char **err, int included)
{
	/* Blocks merge with shaping.file's, read after the main file: with one
	 * named, the checks wait for it. */
	if (!included && cfg->shaping_file != NULL)
		return 0;
	for (size_t i = 0; i < cfg->n_blocks; i++) {
		const struct config_block *b = &cfg->blocks[i];
		const char *need = NULL, *what = NULL;
		char key[300];

		if (!strcmp(b->kind, "provider") && !merged_has(cfg, b, "mx_suffixes"))
			need = "mx_suffixes", what = "a provider needs mx_suffixes = .example.net ...";
		else if (!strcmp(b->kind, "backoff") && !merged_has(cfg, b, "match"))
			need = "match", what = "a backoff rule needs match = PATTERN | PATTERN ...";
		else if (!strcmp(b->kind, "warmup") && !merged_has(cfg, b, "start"))
			need = "start", what = "a warm-up needs start = YYYY-MM-DD";
		else if (!strcmp(b->kind, "warmup") && !merged_has(cfg, b, "schedule"))
			need = "schedule", what = "a warm-up needs schedule = N N N ...";
		else if (!strcmp(b->kind, "warmup") && !merged_has(cfg, b, "domains") &&
		    !merged_has(cfg, b, "accounts") && !merged_has(cfg, b, "addresses"))
			need = "domains", what = "a warm-up needs domains = ..., addresses = ... or accounts = ...";
		if (need) {
			snprintf(key, sizeof(key), "%s.%s", b->kind, need);
			return fail(err, b->file, b->line, key, what);
		}
	}
	return 0;
}

/* parse_text() is config_parse(); included: text is shaping.file, where only
 * shaping blocks may appear. */
static int
parse_text(struct config *cfg, const char *file, const char *text, size_t len, char **err,
    int included)
{
	char section[256] = "";
	struct config_route *route = NULL;
	struct config_block *block = NULL;
	size_t lineno = 0, pos = 0;
	int rc = 0;

	*err = NULL;
	while (pos < len && rc == 0) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		char *line, *s, *eq, *key, *val;
		char fullkey[600];

		lineno++;
		if (memchr(text + pos, '\0', n) != NULL) {
			rc = fail(err, file, lineno, "line", "contains a NUL byte");
			break;
		}
		line = xstrndup(text + pos, n);
		pos += n + (nl ? 1 : 0);
		s = trim(line);
		if (*s == '\0' || *s == ';' || *s == '#') {
			free(line);
			continue;
		}
		if (*s == '[') {
			char *rb = strchr(s, ']');
			char *rest, *after = rb ? trim(rb + 1) : NULL;
			if (rb == NULL || (*after != '\0' && *after != ';' && *after != '#')) {
				rc = fail(err, file, lineno, s, "malformed section header");
				free(line);
				break;
			}
			*rb = '\0';
			rest = trim(s + 1);
			route = NULL;
			block = NULL;
			size_t kl = strcspn(rest, " \t");
			if (is_block_kind(rest, kl) && rest[kl] != '\0') {
				char *name = trim(rest + kl);
				if (*name == '\0' || strpbrk(name, " \t") != NULL) {
					rest[kl] = '\0';
					rc = fail(err, file, lineno, rest, "expected [KIND NAME] with one NAME");
					free(line);
					break;
				}
				rest[kl] = '\0';
				if (strcmp(rest, "provider") == 0 || strcmp(rest, "shape") == 0)
					for (char *c = name; *c; c++)
						*c = (char)tolower((unsigned char)*c);
				cfg->blocks = xrealloc(cfg->blocks, (cfg->n_blocks + 1) * sizeof(*cfg->blocks));
				block = &cfg->blocks[cfg->n_blocks++];
				memset(block, 0, sizeof(*block));
				block->kind = xstrdup(rest);
				block->name = xstrdup(name);
				block->file = xstrdup(file);
				block->line = lineno;
				block->included = included;
				snprintf(section, sizeof(section), "%s", rest);
				free(line);
				continue;
			}
			if (included) {
				rc = fail(err, file, lineno, rest,
				    "shaping.file may hold only [provider], [shape], [backoff] and [warmup] sections");
				free(line);
				break;
			}
			if (strncmp(rest, "route", 5) == 0 && (rest[5] == ' ' || rest[5] == '\t')) {
				char *dom = trim(rest + 5);
				if (*dom == '\0' || strpbrk(dom, " \t") != NULL) {
					rc = fail(err, file, lineno, "route", "expected [route DOMAIN] or [route *]");
					free(line);
					break;
				}
				for (char *c = dom; *c; c++)
					*c = (char)tolower((unsigned char)*c);
				for (size_t i = 0; i < cfg->n_routes; i++)
					if (strcmp(cfg->routes[i].domain, dom) == 0) {
						rc = fail(err, file, lineno, "route", "duplicate route section");
						break;
					}
				if (rc) {
					free(line);
					break;
				}
				cfg->routes = xrealloc(cfg->routes, (cfg->n_routes + 1) * sizeof(*cfg->routes));
				route = &cfg->routes[cfg->n_routes++];
				memset(route, 0, sizeof(*route));
				route->domain = xstrdup(dom);
				route->tls = cfg->delivery_tls;
				snprintf(section, sizeof(section), "route");
			} else {
				size_t i;
				for (i = 0; i < NKEYS; i++)
					if (strcmp(keys[i].section, rest) == 0)
						break;
				if (i == NKEYS) {
					rc = fail(err, file, lineno, rest, "unknown section");
					free(line);
					break;
				}
				snprintf(section, sizeof(section), "%s", rest);
			}
			free(line);
			continue;
		}
		if ((eq = strchr(s, '=')) == NULL) {
			rc = fail(err, file, lineno, s, "expected key = value");
			free(line);
			break;
		}
		*eq = '\0';
		key = trim(s);
		val = eq + 1;
		strip_comment(val);
		val = trim(val);
		snprintf(fullkey, sizeof(fullkey), "%s.%s", section[0] ? section : "(no section)", key);
		if (section[0] == '\0') {
			rc = fail(err, file, lineno, key, "key outside a section");
		} else if (block != NULL) {
			size_t i;
			const char *e;
			for (i = 0; i < NBLOCK_KEYS; i++)
				if (!strcmp(block_keys[i].kind, block->kind) && !strcmp(block_keys[i].name, key))
					break;
			if (i == NBLOCK_KEYS)
				rc = fail(err, file, lineno, fullkey, "unknown key");
			else if ((e = check_block_value(block_keys[i].type, val)) != NULL)
				rc = fail(err, file, lineno, fullkey, e);
			else {
				block->kv = xrealloc(block->kv, (block->n + 1) * sizeof(*block->kv));
				block->kv[block->n].key = xstrdup(key);
				block->kv[block->n].value = xstrdup(val);
				block->kv[block->n].line = lineno;
				block->n++;
			}
		} else if (route != NULL) {
			const char *e = NULL;
			size_t i;
			for (i = 0; route_keys[i]; i++)
				if (strcmp(route_keys[i], key) == 0)
					break;
			if (route_keys[i] == NULL)
				e = "unknown key";
			else if (!strcmp(key, "relay")) {
				if (!valid_listen(val) || val[0] == '\0')
					e = "expected HOST:PORT";
				else {
					free(route->relay);
					route->relay = xstrdup(val);
				}
			} else if (!strcmp(key, "auth_user")) {
				free(route->auth_user);
				route->auth_user = xstrdup(val);
			} else if (!strcmp(key, "auth_password")) {
				free(route->auth_password);
				route->auth_password = xstrdup(val);
			} else if (parse_tls(val, &route->tls) < 0)
				e = "expected opportunistic, required, verify or off";
			if (e)
				rc = fail(err, file, lineno, fullkey, e);
		} else {
			size_t i;
			for (i = 0; i < NKEYS; i++)
				if (!strcmp(keys[i].section, section) && !strcmp(keys[i].name, key))
					break;
			if (i == NKEYS)
				rc = fail(err, file, lineno, fullkey, "unknown key");
			else {
				const char *e = set_value(cfg, &keys[i], val);
				if (e)
					rc = fail(err, file, lineno, fullkey, e);
			}
		}
		free(line);
	}
	if (rc == 0)
		rc = check_blocks(cfg, err, included);
	if (rc == 0 && !included) {
		if (strcmp(cfg->log_level, "debug") && strcmp(cfg->log_level, "info") &&
		    strcmp(cfg->log_level, "warn") && strcmp(cfg->log_level, "error"))
			rc = fail(err, file, 0, "server.log_level", "expected debug, info, warn or error");
		else if ((cfg->sub_tls_cert == NULL) != (cfg->sub_tls_key == NULL))
			rc = fail(err, file, 0, "submission.tls_cert", "tls_cert and tls_key go together");
		else if (cfg->delivery_port == 0 || cfg->delivery_port > 65535)
			rc = fail(err, file, 0, "delivery.port", "expected a port from 1 to 65535");
		else
			for (size_t i = 0; i < cfg->n_routes; i++)
				if (cfg->routes[i].relay == NULL) {
					rc = fail(err, file, 0, "route.relay", "every [route] needs relay = HOST:PORT");
					break;
				}
	}
	return rc;
}

int
config_parse(struct config *cfg, const char *file, const char *text, size_t len, char **err)
{
	return parse_text(cfg, file, text, len, err, 0);
}

/* read_file() reads path whole into b. 0, or -1 with *err. */
static int
read_file(const char *path, struct buf *b, char **err)
{
	char rbuf[65536];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		*err = xasprintf("%s: %s", path, strerror(errno));
		return -1;
	}
	while ((n = read(fd, rbuf, sizeof(rbuf))) > 0)
		buf_append(b, rbuf, (size_t)n);
	close(fd);
	if (n < 0) {
		*err = xasprintf("%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int
config_load(struct config *cfg, const char *path, char **err)
{
	int explicit = path != NULL;
	struct buf text;
	char *dir, *slash, rbuf[65536];
	ssize_t n;
	int fd, rc;

	*err = NULL;
	if (path == NULL)
		path = getenv("HERMOD_CONFIG");
	if (path == NULL || path[0] == '\0')
		path = "hermod.conf";
	else
		explicit = 1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (!explicit && errno == ENOENT) {
			char cwd[PATH_MAX];
			config_defaults(cfg, getcwd(cwd, sizeof(cwd)) ? cwd : ".");
			return 0;
		}
		*err = xasprintf("%s: %s", path, strerror(errno));
		return -1;
	}
	buf_init(&text);
	while ((n = read(fd, rbuf, sizeof(rbuf))) > 0)
		buf_append(&text, rbuf, (size_t)n);
	close(fd);
	if (n < 0) {
		*err = xasprintf("%s: %s", path, strerror(errno));
		buf_free(&text);
		return -1;
	}
	{
		char *abs = realpath(path, NULL);
		dir = abs ? abs : xstrdup(path);
	}
	if ((slash = strrchr(dir, '/')) != NULL)
		*slash = '\0';
	else {
		free(dir);
		dir = xstrdup(".");
	}
	config_defaults(cfg, dir);
	free(dir);
	cfg->path = xstrdup(path);
	rc = config_parse(cfg, path, text.data ? text.data : "", text.len, err);
	buf_free(&text);
	if (rc == 0 && cfg->shaping_file) {
		struct buf inc;
		buf_init(&inc);
		rc = read_file(cfg->shaping_file, &inc, err);
		if (rc == 0)
			rc = parse_text(cfg, cfg->shaping_file, inc.data ? inc.data : "", inc.len, err, 1);
		buf_free(&inc);
	}
	return rc;
}

void
config_free(struct config *cfg)
{
	for (size_t i = 0; i < NKEYS; i++)
		free_value(cfg, &keys[i]);
	for (size_t i = 0; i < cfg->n_routes; i++) {
		free(cfg->routes[i].domain);
		free(cfg->routes[i].relay);
		free(cfg->routes[i].auth_user);
		free(cfg->routes[i].auth_password);
	}
	free(cfg->routes);
	for (size_t i = 0; i < cfg->n_blocks; i++) {
		struct config_block *b = &cfg->blocks[i];
		for (size_t k = 0; k < b->n; k++) {
			free(b->kv[k].key);
			free(b->kv[k].value);
		}
		free(b->kv);
		free(b->kind);
		free(b->name);
		free(b->file);
	}
	free(cfg->blocks);
	free(cfg->path);
	free(cfg->base_dir);
	memset(cfg, 0, sizeof(*cfg));
}

int
config_net_match(const struct config_net *nets, size_t n, const struct sockaddr *sa)
{
	const unsigned char *a;
	unsigned char mapped[4];
	int family = sa->sa_family;

	if (family == AF_INET)
		a = (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr;
	else if (family == AF_INET6) {
		a = (const unsigned char *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
		/* ::ffff:a.b.c.d matches IPv4 networks */
		static const unsigned char v4pfx[12] = { 0,0,0,0,0,0,0,0,0,0,0xff,0xff };
		if (memcmp(a, v4pfx, 12) == 0) {
			memcpy(mapped, a + 12, 4);
			a = mapped;
			family = AF_INET;
		}
	} else
		return 0;
	for (size_t i = 0; i < n; i++) {
		int bits = nets[i].prefix, full = bits / 8, rem = bits % 8;
		if (nets[i].family != family)
			continue;
		if (memcmp(a, nets[i].addr, (size_t)full) != 0)
			continue;
		if (rem && ((a[full] ^ nets[i].addr[full]) & (0xff << (8 - rem)) & 0xff))
			continue;
		return 1;
	}
	return 0;
}

const struct config_route *
config_route_for(const struct config *cfg, const char *domain)
{
	const struct config_route *star = NULL;

	for (size_t i = 0; i < cfg->n_routes; i++) {
		if (strcasecmp(cfg->routes[i].domain, domain) == 0)
			return &cfg->routes[i];
		if (strcmp(cfg->routes[i].domain, "*") == 0)
			star = &cfg->routes[i];
	}
	return star;
}

const char *const *
config_key_names(void)
{
	static const char *names[NKEYS + NBLOCK_KEYS + 8];

	if (names[0] == NULL) {
		size_t j = 0;
		for (size_t i = 0; i < NKEYS; i++)
			names[j++] = xasprintf("%s.%s", keys[i].section, keys[i].name);
		for (size_t i = 0; route_keys[i]; i++)
			names[j++] = xasprintf("route.%s", route_keys[i]);
		for (size_t i = 0; i < NBLOCK_KEYS; i++)
			names[j++] = xasprintf("%s.%s", block_keys[i].kind, block_keys[i].name);
		names[j] = NULL;
	}
	return names;
}
