/* cli_suppress: `hermod suppress list|add|remove --account NAME [ADDRESS]
 * [--reason R] [--json]`, an account's suppression list (docs/suppressions.md).
 *
 * Works whether or not the daemon runs: the command writes the store (its
 * change journal included) itself. When the daemon runs, the command then
 * asks it over the control socket to apply the change ("suppress.sync") and
 * returns once it has, so `hermod suppress add` followed by a send never
 * races; should that fail, the daemon's poll applies it within a second.
 * The audit event (suppression_added / suppression_removed, who "cli") is
 * emitted by the daemon when it applies the change, or at its next start. */
#include "cli/cli.h"
#include "ctl/ctl.h"
#include "store/store.h"
#include "suppress/suppress.h"
#include "util/buf.h"
#include "util/timeutil.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLI_SUPPRESS_PAGE	1000

static const char suppress_usage[] =
    "usage: hermod suppress list --account NAME [--reason R] [--json]\n"
    "       hermod suppress add --account NAME ADDRESS [--reason R] [--json]\n"
    "       hermod suppress remove --account NAME ADDRESS [--json]\n"
    "reasons: hard_bounce, soft_bounce, complaint, unsubscribe, manual (add: default manual)\n";

static void
row_json(struct buf *b, const struct store_suppression *s, const char *status)
{
	char when[40];

	time_iso8601((uint64_t)s->created, 0, when, sizeof(when));
	buf_puts(b, "{\"email\":");
	buf_json_str(b, s->address, strlen(s->address));
	buf_puts(b, ",\"reason\":");
	buf_json_str(b, s->reason, strlen(s->reason));
	buf_puts(b, ",\"source\":");
	if (s->source)
		buf_json_str(b, s->source, strlen(s->source));
	else
		buf_puts(b, "null");
	buf_puts(b, ",\"who\":");
	buf_json_str(b, s->who, strlen(s->who));
	buf_printf(b, ",\"created\":\"%s\"", when);
	if (status != NULL)
		buf_printf(b, ",\"status\":\"%s\"", status);
	buf_putc(b, '}');
}

/* poke() asks a running daemon to apply the change now; a daemon that is
 * not running has nothing to apply (it loads the list when it starts). */
static void
poke(struct config *cfg)
{
	char *path = cli_ctl_path(cfg), *err = NULL;
	json_t *res = NULL;

	if (ctl_call(path, "suppress.sync", NULL, &res, &err) == 0)
		json_decref(res);
	free(err);
	free(path);
}

static int
suppress_list(struct store *st, const char *account, const char *reason, int json)
{
	struct store_suppression *v;
	struct buf b = { 0 };
	int64_t after = 0;
	size_t n, total = 0;
	char *err = NULL, when[40];

	if (store_account_exists(st, account, NULL) != 0)
		return cli_error("suppress list: no account %s", account);
	if (json)
		buf_putc(&b, '[');
	do {
		if (store_suppress_list(st, account, reason, after, CLI_SUPPRESS_PAGE, &v, &n,
		    &err) != 0) {
			buf_free(&b);
			cli_error("suppress list: %s", err ? err : "failed");
			free(err);
			return 1;
		}
		for (size_t i = 0; i < n; i++, total++) {
			if (json) {
				if (total)
					buf_putc(&b, ',');
				row_json(&b, &v[i], NULL);
			} else {
				time_iso8601((uint64_t)v[i].created, 0, when, sizeof(when));
				buf_printf(&b, "%-40s %-12s %s %s\n", v[i].address, v[i].reason, when,
				    v[i].who);
			}
			after = v[i].id;
		}
		fputs(b.data ? b.data : "", stdout);
		buf_reset(&b);
		store_suppression_list_free(v, n);
	} while (n == CLI_SUPPRESS_PAGE);
	if (json)
		puts("]");
	buf_free(&b);
	return 0;
}

static int
suppress_add_cmd(struct config *cfg, struct store *st, const char *account, const char *address,
    const char *reason, int json)
{
	struct store_suppression row;
	char *err = NULL;
	int rc;

	rc = store_suppress_add(st, account, address, reason ? reason : "manual", NULL, "cli", &row,
	    &err);
	if (rc == STORE_NOTFOUND)
		return cli_error("suppress add: no account %s", account);
	if (rc != 0 && rc != STORE_EXISTS) {
		cli_error("suppress add: %s", err ? err : "failed");
		free(err);
		return 1;
	}
	if (rc == 0)
		poke(cfg);
	if (json) {
		struct buf b = { 0 };
		row_json(&b, &row, rc == 0 ? "added" : "exists");
		puts(b.data);
		buf_free(&b);
	} else if (rc == 0) {
		printf("suppressed %s for account %s (%s)\n", row.address, account, row.reason);
	} else {
		printf("%s is already suppressed for account %s (%s)\n", row.address, account,
		    row.reason);
	}
	store_suppression_free(&row);
	return 0;
}

static int
suppress_remove_cmd(struct config *cfg, struct store *st, const char *account,
    const char *address, int json)
{
	struct store_suppression row;
	char *err = NULL;
	int rc;

	if (store_account_exists(st, account, NULL) != 0)
		return cli_error("suppress remove: no account %s", account);
	rc = store_suppress_remove(st, account, address, "cli", &row, &err);
	if (rc == STORE_NOTFOUND)
		return cli_error("suppress remove: %s is not on the suppression list of %s", address,
		    account);
	if (rc != 0) {
		cli_error("suppress remove: %s", err ? err : "failed");
		free(err);
		return 1;
	}
	poke(cfg);
	if (json) {
		struct buf b = { 0 };
		row_json(&b, &row, "removed");
		puts(b.data);
		buf_free(&b);
	} else {
		printf("removed %s from the suppression list of %s\n", row.address, account);
	}
	store_suppression_free(&row);
	return 0;
}

int
cli_suppress(struct config *cfg, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "account", required_argument, NULL, 'a' },
		{ "reason", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sub, *account = NULL, *reason = NULL, *address = NULL;
	struct store *st;
	int json = 0, c, rc, nargs;

	if (argc < 2) {
		fputs(suppress_usage, stderr);
		return 2;
	}
	sub = argv[1];
	if (!strcmp(sub, "-h") || !strcmp(sub, "--help")) {
		fputs(suppress_usage, stdout);
		return 0;
	}
	optind = 0;	/* glibc: start a fresh scan of this argv */
	opterr = 0;
	while ((c = getopt_long(argc - 1, argv + 1, "ha:r:", opts, NULL)) != -1) {
		if (c == 'a')
			account = optarg;
		else if (c == 'r')
			reason = optarg;
		else if (c == 'j')
			json = 1;
		else if (c == 'h') {
			fputs(suppress_usage, stdout);
			return 0;
		} else
			return cli_error("suppress: unknown option or missing value: %s",
			    argv[optind > 1 ? optind : 1]);
	}
	nargs = argc - 1 - optind;
	if (strcmp(sub, "list") && strcmp(sub, "add") && strcmp(sub, "remove"))
		return cli_error("suppress: unknown subcommand %s (list, add, remove)", sub);
	if (account == NULL)
		return cli_error("suppress %s: --account NAME is required", sub);
	if (!strcmp(sub, "list")) {
		if (nargs != 0)
			return cli_error("suppress list: unexpected argument %s", argv[1 + optind]);
	} else {
		if (nargs != 1)
			return cli_error("suppress %s: expected one ADDRESS", sub);
		address = argv[1 + optind];
		if (!strcmp(sub, "remove") && reason != NULL)
			return cli_error("suppress remove: --reason does not apply");
	}
	if (reason != NULL && !suppress_reason_valid(reason))
		return cli_error("suppress %s: invalid reason \"%s\": use hard_bounce, soft_bounce, "
		    "complaint, unsubscribe or manual", sub, reason);
	if (address != NULL) {
		const char *why = NULL;
		char *n = suppress_addr_normalize(address, &why);
		if (n == NULL)
			return cli_error("suppress %s: invalid address \"%s\": %s", sub, address, why);
		free(n);
	}
	if (cli_store_open(cfg, &st) != 0)
		return 1;
	if (!strcmp(sub, "list"))
		rc = suppress_list(st, account, reason, json);
	else if (!strcmp(sub, "add"))
		rc = suppress_add_cmd(cfg, st, account, address, reason, json);
	else
		rc = suppress_remove_cmd(cfg, st, account, address, json);
	store_close(st);
	return rc;
}
