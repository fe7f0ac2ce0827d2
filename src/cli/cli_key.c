/* cli_key: API keys. `hermod key create --account NAME [--scope send|admin]`
 * prints the new secret alone on stdout, once: the store keeps only its
 * SHA-256, so it can never be shown again. `key list --account NAME [--json]`
 * shows the first characters of each key (enough to recognise it, far too
 * few to use it). `key revoke --account NAME ID` stops a key working. */
#include "cli/cli.h"
#include "auth/auth.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/timeutil.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char key_usage[] =
    "usage: hermod key create --account NAME [--scope send|admin]\n"
    "       hermod key list --account NAME [--json]\n"
    "       hermod key revoke --account NAME ID\n";

static int
key_create(struct store *st, const char *account, const char *scope)
{
	char *secret = NULL, *err = NULL;
	int rc;

	rc = store_key_create(st, account, scope, &secret, &err);
	if (rc == STORE_NOTFOUND)
		return cli_error("key create: no such account %s", account);
	if (rc != 0) {
		cli_error("key create: %s", err ? err : "failed");
		free(err);
		return 1;
	}
	printf("%s\n", secret);
	fflush(stdout);
	auth_wipe(secret, strlen(secret));
	free(secret);
	return 0;
}

static void
json_time_or_null(struct buf *b, const char *key, int64_t ms)
{
	char when[40];

	if (ms <= 0) {
		buf_printf(b, ",\"%s\":null", key);
		return;
	}
	time_iso8601((uint64_t)ms, 0, when, sizeof(when));
	buf_printf(b, ",\"%s\":\"%s\"", key, when);
}

static int
key_list(struct store *st, const char *account, int json)
{
	struct store_key *v;
	struct buf b = { 0 };
	size_t n, i;
	char *err = NULL, created[40], used[40];
	int rc;

	rc = store_key_list(st, account, &v, &n, &err);
	if (rc == STORE_NOTFOUND)
		return cli_error("key list: no such account %s", account);
	if (rc != 0) {
		cli_error("key list: %s", err ? err : "failed");
		free(err);
		return 1;
	}
	if (json)
		buf_putc(&b, '[');
	else if (n > 0)
		buf_printf(&b, "%-6s %-15s %-6s %-21s %-21s %s\n", "ID", "PREFIX", "SCOPE", "CREATED",
		    "LAST USED", "STATE");
	for (i = 0; i < n; i++) {
		if (json) {
			buf_printf(&b, "%s{\"id\":%" PRId64 ",\"account\":", i ? "," : "", v[i].id);
			buf_json_str(&b, v[i].account, strlen(v[i].account));
			buf_puts(&b, ",\"prefix\":");
			buf_json_str(&b, v[i].prefix, strlen(v[i].prefix));
			buf_puts(&b, ",\"scope\":");
			buf_json_str(&b, v[i].scope, strlen(v[i].scope));
			json_time_or_null(&b, "created", v[i].created);
			json_time_or_null(&b, "last_used", v[i].last_used);
			json_time_or_null(&b, "revoked", v[i].revoked);
			buf_putc(&b, '}');
			continue;
		}
		time_iso8601((uint64_t)v[i].created, 0, created, sizeof(created));
		if (v[i].last_used > 0)
			time_iso8601((uint64_t)v[i].last_used, 0, used, sizeof(used));
		else
			snprintf(used, sizeof(used), "never");
		buf_printf(&b, "%-6" PRId64 " %s...  %-6s %-21s %-21s %s\n", v[i].id, v[i].prefix,
		    v[i].scope, created, used, v[i].revoked ? "revoked" : "active");
	}
	if (json)
		buf_puts(&b, "]\n");
	if (b.len > 0)
		fputs(b.data, stdout);
	buf_free(&b);
	store_key_list_free(v, n);
	return 0;
}

static int
key_revoke(struct store *st, const char *account, const char *idstr)
{
	char *end, *err = NULL;
	long long id;
	int rc;

	id = strtoll(idstr, &end, 10);
	if (end == idstr || *end != '\0' || id <= 0)
		return cli_error("key revoke: invalid key ID %s (see hermod key list)", idstr);
	rc = store_key_revoke(st, account, id, &err);
	if (rc == STORE_NOTFOUND)
		return cli_error("key revoke: account %s has no active key %lld", account, id);
	if (rc != 0) {
		cli_error("key revoke: %s", err ? err : "failed");
		free(err);
		return 1;
	}
	printf("revoked key %lld of account %s\n", id, account);
	return 0;
}

int
cli_key(struct config *cfg, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "account", required_argument, NULL, 'a' },
		{ "scope", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sub, *account = NULL, *scope = "send";
	struct store *st;
	int json = 0, c, rc, nargs;

	if (argc < 2) {
		fputs(key_usage, stderr);
		return 2;
	}
	sub = argv[1];
	optind = 0;	/* glibc: start a fresh scan of this argv */
	opterr = 0;
	while ((c = getopt_long(argc - 1, argv + 1, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'a': account = optarg; break;
		case 's': scope = optarg; break;
		case 'j': json = 1; break;
		case 'h': fputs(key_usage, stdout); return 0;
		default:
			return cli_error("key: unknown option or missing value: %s", argv[optind]);
		}
	}
	nargs = argc - 1 - optind;
	if (account == NULL)
		return cli_error("key %s: --account NAME is required", sub);
	if (!auth_account_name_valid(account))
		return cli_error("key %s: invalid account name \"%s\"", sub, account);
	if (!strcmp(sub, "create")) {
		if (nargs != 0)
			return cli_error("key create: unexpected argument %s", argv[1 + optind]);
		if (!auth_scope_valid(scope))
			return cli_error("key create: invalid scope \"%s\": use send or admin", scope);
	} else if (!strcmp(sub, "list")) {
		if (nargs != 0)
			return cli_error("key list: unexpected argument %s", argv[1 + optind]);
	} else if (!strcmp(sub, "revoke")) {
		if (nargs != 1)
			return cli_error("key revoke: expected one key ID");
	} else
		return cli_error("key: unknown subcommand %s (create, list, revoke)", sub);
	if (cli_store_open(cfg, &st) != 0)
		return 1;
	if (!strcmp(sub, "create"))
		rc = key_create(st, account, scope);
	else if (!strcmp(sub, "list"))
		rc = key_list(st, account, json);
	else
		rc = key_revoke(st, account, argv[1 + optind]);
	store_close(st);
	return rc;
}
