/* cli_account: `hermod account create NAME [--json]`, `hermod account list
 * [--json]`, and the limits and pause state of an account (issue 7,
 * docs/accounts.md):
 *   hermod account set NAME [--per-second N] [--per-hour N] [--per-day N]
 *   hermod account show NAME [--json]
 *   hermod account pause NAME [--reason TEXT]
 *   hermod account resume NAME
 * An account is a tenant: it owns domains, keys, suppressions, webhooks and
 * limits. Every subcommand works with or without the daemon: the store is
 * shared safely between processes. When the daemon runs, `set` tells it
 * to re-read the store at once, and `pause`, `resume` and `show` go through
 * it (control socket), so held mail is released by the process that holds
 * it and `show` includes the live usage and rates. */
#include "cli/cli.h"
#include "auth/auth.h"
#include "ctl/ctl.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/timeutil.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char account_usage[] =
    "usage: hermod account create NAME [--json]\n"
    "       hermod account list [--json]\n"
    "       hermod account set NAME [--per-second N] [--per-hour N] [--per-day N]\n"
    "           (recipients per window; 0: unlimited; \"default\": the config's [limits])\n"
    "       hermod account show NAME [--json]\n"
    "       hermod account pause NAME [--reason TEXT]\n"
    "       hermod account resume NAME\n";

static int
daemon_absent(const char *err)
{
	return err != NULL && strncmp(err, "daemon not running", 18) == 0;
}

/* parse_limit() reads a --per-* value: a whole number or "default". */
static int
parse_limit(const char *opt, const char *v, int64_t *out)
{
	char *end;
	long long x;

	if (strcmp(v, "default") == 0) {
		*out = STORE_LIMIT_DEFAULT;
		return 0;
	}
	errno = 0;
	x = strtoll(v, &end, 10);
	if (v[0] < '0' || v[0] > '9' || *end != '\0' || errno != 0 || x < 0)
		return cli_error("account set: %s: expected a whole number >= 0 or \"default\"", opt);
	*out = x;
	return 0;
}

static void
print_limit(const char *what, int64_t v)
{
	if (v == STORE_LIMIT_DEFAULT)
		printf("%-12s default\n", what);
	else if (v == 0)
		printf("%-12s unlimited\n", what);
	else
		printf("%-12s %lld recipients\n", what, (long long)v);
}

static int
account_set(struct config *cfg, struct store *st, const char *name, const int64_t v[3])
{
	char *err = NULL, *path;
	json_t *res = NULL;
	int rc;

	if (v[0] == STORE_LIMIT_KEEP && v[1] == STORE_LIMIT_KEEP && v[2] == STORE_LIMIT_KEEP)
		return cli_error("account set: give at least one of --per-second, --per-hour, --per-day");
	rc = store_account_limits_set(st, name, v[0], v[1], v[2], &err);
	if (rc == STORE_NOTFOUND)
		return cli_error("account set: no such account: %s", name);
	if (rc != 0) {
		cli_error("account set: %s", err ? err : "failed");
		free(err);
		return 1;
	}
	/* the running daemon picks the change up now, not at its next refresh */
	path = cli_ctl_path(cfg);
	if (ctl_call(path, "account.reload", NULL, &res, &err) < 0 && !daemon_absent(err))
		fprintf(stderr, "hermod: account set: stored; the daemon did not confirm (%s): it "
		    "reads limits again within limits.refresh\n", err);
	json_decref(res);
	free(err);
	free(path);
	printf("limits of account %s set\n", name);
	return 0;
}

static void
print_usage_line(json_t *u, const char *win)
{
	json_t *w = json_object_get(u, win);
	long long lim = json_integer_value(json_object_get(w, "limit"));

	if (lim == 0)
		printf("  per %-7s unlimited\n", win);
	else
		printf("  per %-7s %lld: used %lld, remaining %lld\n", win, lim,
		    (long long)json_integer_value(json_object_get(w, "used")),
		    (long long)json_integer_value(json_object_get(w, "remaining")));
}

static int
account_show(struct config *cfg, struct store *st, const char *name, int json)
{
	char *err = NULL, *path = cli_ctl_path(cfg);
	json_t *args = json_pack("{s:s}", "name", name), *res = NULL;
	struct store_account_settings s;
	int rc;

	rc = ctl_call(path, "account.show", args, &res, &err);
	json_decref(args);
	free(path);
	if (rc < 0 && !daemon_absent(err)) {
		cli_error("account show: %s", err);
		free(err);
		return 1;
	}
	free(err);
	err = NULL;
	/* the store says whether the account exists and what is set */
	rc = store_account_settings_get(st, name, &s, &err);
	if (rc == STORE_NOTFOUND) {
		json_decref(res);
		return cli_error("account show: no such account: %s", name);
	}
	if (rc != 0) {
		json_decref(res);
		cli_error("account show: %s", err ? err : "failed");
		free(err);
		return 1;
	}
	if (json) {
		json_t *o = res ? res : json_pack("{s:s, s:{s:I, s:I, s:I}, s:{s:b}}", "name", name,
		    "limits", "per_second", (json_int_t)s.per_second, "per_hour",
		    (json_int_t)s.per_hour, "per_day", (json_int_t)s.per_day, "reputation",
		    "paused", s.paused);
		char *text = json_dumps(o, JSON_INDENT(2));
		puts(text ? text : "{}");
		free(text);
		if (o != res)
			json_decref(o);
	} else {
		json_t *rep = json_object_get(res, "reputation");
		printf("account:     %s\n", name);
		print_limit("per second:", s.per_second);
		print_limit("per hour:", s.per_hour);
		print_limit("per day:", s.per_day);
		if (res != NULL) {
			printf("usage (recipients):\n");
			print_usage_line(json_object_get(res, "usage"), "second");
			print_usage_line(json_object_get(res, "usage"), "hour");
			print_usage_line(json_object_get(res, "usage"), "day");
			printf("reputation:  %s (sent %lld, bounce rate %.2f%%, complaint rate %.3f%%)\n",
			    json_string_value(json_object_get(rep, "state")),
			    (long long)json_integer_value(json_object_get(rep, "sent")),
			    json_real_value(json_object_get(rep, "bounce_rate")) * 100,
			    json_real_value(json_object_get(rep, "complaint_rate")) * 100);
		}
		if (s.paused)
			printf("paused:      yes (%s)\n", s.pause_reason ? s.pause_reason : "?");
		else
			printf("paused:      no\n");
	}
	json_decref(res);
	store_account_settings_clear(&s);
	return 0;
}

/* account_pause_resume(): through the daemon when it runs (it holds or
 * releases the mail and emits the event), else in the store (the daemon
 * reads it at its next start). */
static int
account_pause_resume(struct config *cfg, struct store *st, const char *name, int pause,
    const char *reason)
{
	const char *what = pause ? "pause" : "resume";
	char *err = NULL, *path = cli_ctl_path(cfg), cmd[32];
	json_t *args = json_pack("{s:s}", "name", name), *res = NULL;
	int rc;

	if (pause && reason)
		json_object_set_new(args, "reason", json_string(reason));
	snprintf(cmd, sizeof(cmd), "account.%s", what);
	rc = ctl_call(path, cmd, args, &res, &err);
	json_decref(args);
	json_decref(res);
	free(path);
	if (rc == 0) {
		printf("account %s %s\n", name, pause ? "paused" : "resumed");
		return 0;
	}
	if (!daemon_absent(err)) {
		cli_error("account %s: %s", what, err);
		free(err);
		return 1;
	}
	free(err);
	err = NULL;
	rc = store_account_pause_set(st, name, pause, reason ? reason : "paused by an administrator",
	    &err);
	if (rc == STORE_NOTFOUND)
		return cli_error("account %s: no such account: %s", what, name);
	if (rc != 0) {
		cli_error("account %s: %s", what, err ? err : "failed");
		free(err);
		return 1;
	}
	printf("account %s %s (the daemon is not running: it applies this when it starts)\n", name,
	    pause ? "paused" : "resumed");
	return 0;
}

static int
account_create(struct store *st, const char *name, int json)
{
	char *err = NULL, when[40];
	int rc;

	if (!auth_account_name_valid(name))
		return cli_error("account create: invalid name \"%s\": use 1 to 64 of a-z 0-9 . _ -",
		    name);
	rc = store_account_create(st, name, &err);
	if (rc == STORE_EXISTS)
		return cli_error("account create: account %s already exists", name);
	if (rc != 0) {
		cli_error("account create: %s", err ? err : "failed");
		free(err);
		return 1;
	}
	if (json) {
		struct buf b = { 0 };
		time_iso8601(time_now_ms(), 0, when, sizeof(when));
		buf_puts(&b, "{\"name\":");
		buf_json_str(&b, name, strlen(name));
		buf_printf(&b, ",\"created\":\"%s\"}\n", when);
		fputs(b.data, stdout);
		buf_free(&b);
	} else
		printf("created account %s\n", name);
	return 0;
}

static int
account_list(struct store *st, int json)
{
	struct store_account *v;
	struct buf b = { 0 };
	size_t n, i;
	char *err = NULL, when[40];

	if (store_account_list(st, &v, &n, &err) != 0) {
		cli_error("account list: %s", err ? err : "failed");
		free(err);
		return 1;
	}
	if (json)
		buf_putc(&b, '[');
	for (i = 0; i < n; i++) {
		time_iso8601((uint64_t)v[i].created, 0, when, sizeof(when));
		if (json) {
			buf_puts(&b, i ? ",{\"name\":" : "{\"name\":");
			buf_json_str(&b, v[i].name, strlen(v[i].name));
			buf_printf(&b, ",\"created\":\"%s\"}", when);
		} else
			buf_printf(&b, "%-32s %s\n", v[i].name, when);
	}
	if (json)
		buf_puts(&b, "]\n");
	if (b.len > 0)
		fputs(b.data, stdout);
	buf_free(&b);
	store_account_list_free(v, n);
	return 0;
}

int
cli_account(struct config *cfg, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "per-second", required_argument, NULL, 's' },
		{ "per-hour", required_argument, NULL, 'H' },
		{ "per-day", required_argument, NULL, 'd' },
		{ "reason", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	struct store *st;
	const char *sub, *reason = NULL;
	int64_t lim[3] = { STORE_LIMIT_KEEP, STORE_LIMIT_KEEP, STORE_LIMIT_KEEP };
	int json = 0, c, rc, nlim = 0;

	if (argc < 2) {
		fputs(account_usage, stderr);
		return 2;
	}
	sub = argv[1];
	if (!strcmp(sub, "-h") || !strcmp(sub, "--help") || !strcmp(sub, "help")) {
		fputs(account_usage, stdout);
		return 0;
	}
	optind = 0;	/* glibc: start a fresh scan of this argv */
	opterr = 0;
	while ((c = getopt_long(argc - 1, argv + 1, "h", opts, NULL)) != -1) {
		if (c == 'j')
			json = 1;
		else if (c == 's' || c == 'H' || c == 'd') {
			int w = c == 's' ? 0 : c == 'H' ? 1 : 2;
			static const char *const names[] = { "--per-second", "--per-hour", "--per-day" };
			if (parse_limit(names[w], optarg, &lim[w]) != 0)
				return 1;
			nlim++;
		} else if (c == 'r')
			reason = optarg;
		else if (c == 'h') {
			fputs(account_usage, stdout);
			return 0;
		} else
			return cli_error("account: unknown option %s", argv[optind > 1 ? optind : 1]);
	}
	if (!strcmp(sub, "create") || !strcmp(sub, "set") || !strcmp(sub, "show") ||
	    !strcmp(sub, "pause") || !strcmp(sub, "resume")) {
		if (argc - 1 - optind != 1)
			return cli_error("account %s: expected one NAME", sub);
		if (!auth_account_name_valid(argv[1 + optind]) && strcmp(sub, "create") != 0)
			return cli_error("account %s: no such account: %s", sub, argv[1 + optind]);
	} else if (!strcmp(sub, "list")) {
		if (argc - 1 - optind != 0)
			return cli_error("account list: unexpected argument %s", argv[1 + optind]);
	} else
		return cli_error("account: unknown subcommand %s (create, list, set, show, pause, "
		    "resume)", sub);
	if (nlim > 0 && strcmp(sub, "set") != 0)
		return cli_error("account %s: --per-second, --per-hour and --per-day go with set", sub);
	if (reason != NULL && strcmp(sub, "pause") != 0)
		return cli_error("account %s: --reason goes with pause", sub);
	if (cli_store_open(cfg, &st) != 0)
		return 1;
	if (!strcmp(sub, "create"))
		rc = account_create(st, argv[1 + optind], json);
	else if (!strcmp(sub, "set"))
		rc = account_set(cfg, st, argv[1 + optind], lim);
	else if (!strcmp(sub, "show"))
		rc = account_show(cfg, st, argv[1 + optind], json);
	else if (!strcmp(sub, "pause") || !strcmp(sub, "resume"))
		rc = account_pause_resume(cfg, st, argv[1 + optind], !strcmp(sub, "pause"), reason);
	else
		rc = account_list(st, json);
	store_close(st);
	return rc;
}
