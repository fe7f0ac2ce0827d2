/* cli_account: `hermod account create NAME [--json]` and `hermod account list
 * [--json]`. An account is a tenant: it owns domains, keys and, later,
 * suppressions, webhooks and limits. Works with or without the daemon: the
 * store is shared safely between processes. */
#include "cli/cli.h"
#include "auth/auth.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/timeutil.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char account_usage[] =
    "usage: hermod account create NAME [--json]\n"
    "       hermod account list [--json]\n";

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
		{ NULL, 0, NULL, 0 },
	};
	struct store *st;
	const char *sub;
	int json = 0, c, rc;

	if (argc < 2) {
		fputs(account_usage, stderr);
		return 2;
	}
	sub = argv[1];
	optind = 0;	/* glibc: start a fresh scan of this argv */
	opterr = 0;
	while ((c = getopt_long(argc - 1, argv + 1, "h", opts, NULL)) != -1) {
		if (c == 'j')
			json = 1;
		else if (c == 'h') {
			fputs(account_usage, stdout);
			return 0;
		} else
			return cli_error("account: unknown option %s", argv[optind > 1 ? optind : 1]);
	}
	if (!strcmp(sub, "create")) {
		if (argc - 1 - optind != 1)
			return cli_error("account create: expected one NAME");
	} else if (!strcmp(sub, "list")) {
		if (argc - 1 - optind != 0)
			return cli_error("account list: unexpected argument %s", argv[1 + optind]);
	} else
		return cli_error("account: unknown subcommand %s (create, list)", sub);
	if (cli_store_open(cfg, &st) != 0)
		return 1;
	if (!strcmp(sub, "create"))
		rc = account_create(st, argv[1 + optind], json);
	else
		rc = account_list(st, json);
	store_close(st);
	return rc;
}
