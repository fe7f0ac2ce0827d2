/* cli_domain: sending domains. `hermod domain add DOMAIN --account NAME
 * [--algo rsa|ed25519] [--selector SEL] [--json]` registers a domain for an
 * account (non-ASCII names are stored as their IDNA A-label); `domain list
 * [--account NAME] [--json]` shows the registrations.
 *
 * The DKIM key and the DNS records to publish come from src/dkim through
 * dkim_hook() below, the one place it plugs in; `check` is cli_domain_check.c. */
#include "cli/cli.h"
#include "auth/auth.h"
#include "dkim/dkim_keys.h"
#include "util/config.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char domain_usage[] =
    "usage: hermod domain add DOMAIN --account NAME [--algo rsa|ed25519|rsa+ed25519] "
    "[--selector SEL] [--json]\n"
    "       hermod domain list [--account NAME] [--json]\n"
    "       hermod domain check DOMAIN [--json]\n"
    "       hermod domain rotate DOMAIN [--selector SEL] [--json]\n";

/* HOOK(dkim): make (or find) the domain's DKIM key for algo and selector
 * (either NULL: the ones stored for the domain, else the defaults), record
 * them with store_domain_set_dkim(), and append the DNS records to publish
 * to records as JSON objects {"type", "name", "value", "purpose"} separated
 * by commas, and to text for a terminal. 0, or 1 with the error printed.
 * Adding a domain again keeps its key: dkim_domain_setup() never replaces a
 * key file; a new --selector makes a new key beside the old one. */
static int
dkim_hook(const struct config *cfg, struct store *st, const struct store_domain *d,
    const char *algo, const char *selector, struct buf *records, struct buf *text)
{
	struct dkim_records r;
	char *err = NULL;
	int algos;

	if (selector == NULL)
		selector = d->dkim_selector;
	if (algo == NULL)
		algo = d->dkim_algo;
	algos = dkim_algos_parse(algo);
	if (dkim_domain_setup(cfg->data_dir, d->domain, selector, algos, cfg->hostname,
	    cfg->in_bounce_domain, &r, &err) != 0) {
		cli_error("domain add: %s", err ? err : "DKIM key setup failed");
		free(err);
		return 1;
	}
	if (store_domain_set_dkim(st, d->domain, r.selector, dkim_algos_name(algos), &err) != 0) {
		cli_error("domain add: %s", err ? err : "cannot record the DKIM key");
		free(err);
		dkim_records_free(&r);
		return 1;
	}
	dkim_records_json_items(&r, records);
	dkim_records_text(&r, text);
	dkim_records_free(&r);
	return 0;
}

static void
json_domain(struct buf *b, const struct store_domain *d)
{
	char when[40];

	time_iso8601((uint64_t)d->created, 0, when, sizeof(when));
	buf_puts(b, "{\"domain\":");
	buf_json_str(b, d->domain, strlen(d->domain));
	buf_puts(b, ",\"account\":");
	buf_json_str(b, d->account, strlen(d->account));
	buf_printf(b, ",\"verified\":%s,\"created\":\"%s\",\"dkim\":",
	    d->verified ? "true" : "false", when);
	if (d->dkim_selector != NULL && d->dkim_algo != NULL) {
		buf_puts(b, "{\"selector\":");
		buf_json_str(b, d->dkim_selector, strlen(d->dkim_selector));
		buf_puts(b, ",\"algo\":");
		buf_json_str(b, d->dkim_algo, strlen(d->dkim_algo));
		buf_putc(b, '}');
	} else
		buf_puts(b, "null");
}

/* explain_conflict() prints why store_domain_add() said STORE_EXISTS for a
 * domain that is not this account's: which registration of another account
 * it collides with. */
static int
explain_conflict(struct store *st, const char *domain, const char *account)
{
	struct store_domain *v;
	size_t n, i, dl = strlen(domain);
	char *err = NULL;
	int rc = 1;

	if (store_domain_list_info(st, NULL, &v, &n, &err) != 0) {
		cli_error("domain add: %s", err ? err : "failed");
		free(err);
		return 1;
	}
	for (i = 0; i < n; i++) {
		size_t ol = strlen(v[i].domain);
		const char *longer = dl > ol ? domain : v[i].domain;
		size_t ll = dl > ol ? dl : ol, sl = dl > ol ? ol : dl;
		if (!strcmp(v[i].account, account) || ll == sl)
			continue;
		if (longer[ll - sl - 1] == '.' &&
		    !strcmp(longer + ll - sl, dl > ol ? v[i].domain : domain)) {
			rc = cli_error("domain add: %s overlaps %s, registered to account %s",
			    domain, v[i].domain, v[i].account);
			break;
		}
	}
	if (i == n)
		rc = cli_error("domain add: %s overlaps a domain of another account", domain);
	store_domain_list_info_free(v, n);
	return rc;
}

static int
domain_add(const struct config *cfg, struct store *st, const char *input, const char *account,
    const char *algo, const char *selector, int json)
{
	struct store_domain d;
	struct buf out = { 0 }, records = { 0 }, text = { 0 };
	char *domain, *err = NULL;
	int rc, again = 0;

	if ((domain = auth_domain_normalize(input, &err)) == NULL) {
		cli_error("domain add: %s", err);
		free(err);
		return 1;
	}
	rc = store_domain_add(st, account, domain, &err);
	if (rc == STORE_NOTFOUND) {
		rc = cli_error("domain add: no such account %s", account);
		goto out;
	}
	if (rc == STORE_EXISTS) {
		char *owner = NULL;
		if (store_domain_owner(st, domain, &owner, NULL, NULL) == 0 &&
		    strcmp(owner, account) != 0)
			rc = cli_error("domain add: %s is already registered to account %s",
			    domain, owner);
		else if (owner == NULL)
			rc = explain_conflict(st, domain, account);
		else
			rc = 0, again = 1;	/* this account's already: idempotent */
		free(owner);
		if (rc != 0)
			goto out;
	} else if (rc != 0) {
		cli_error("domain add: %s", err ? err : "failed");
		free(err);
		rc = 1;
		goto out;
	}
	if (store_domain_get(st, domain, &d, &err) != 0) {
		rc = cli_error("domain add: %s", err ? err : "registration vanished");
		free(err);
		goto out;
	}
	rc = dkim_hook(cfg, st, &d, algo, selector, &records, &text);
	if (rc == 0) {
		/* read again: the hook recorded the DKIM selector and algorithm */
		store_domain_free(&d);
		if (store_domain_get(st, domain, &d, &err) != 0) {
			rc = cli_error("domain add: %s", err ? err : "registration vanished");
			free(err);
			goto out;
		}
	}
	if (rc == 0 && json) {
		json_domain(&out, &d);
		buf_printf(&out, ",\"records\":[%s]}\n", records.len ? records.data : "");
	} else if (rc == 0) {
		buf_printf(&out, "%s %s for account %s%s\n", again ? "already registered:" :
		    "registered", d.domain, d.account, d.verified ? " (verified)" : "");
		buf_append(&out, text.data, text.len);
	}
	if (out.len > 0)
		fputs(out.data, stdout);
	store_domain_free(&d);
out:
	buf_free(&out);
	buf_free(&records);
	buf_free(&text);
	free(domain);
	return rc;
}

/* domain_rotate() makes a new DKIM key under a new selector for a registered
 * domain, with the same algorithms, and prints the records to publish. The
 * old key keeps signing until `domain check` sees the new record in DNS;
 * then the new one signs and the old selector's record may be removed. */
static int
domain_rotate(const struct config *cfg, struct store *st, const char *input, const char *selector,
    int json)
{
	struct store_domain d = { 0 };
	char *domain, *err = NULL, sel[64];
	int rc;

	if ((domain = auth_domain_normalize(input, &err)) == NULL) {
		cli_error("domain rotate: %s", err ? err : "invalid domain");
		free(err);
		return 1;
	}
	rc = store_domain_get(st, domain, &d, &err);
	if (rc != 0) {
		rc = cli_error("domain rotate: %s", rc == STORE_NOTFOUND ?
		    "no such domain (domain add registers it)" : err ? err : "store failed");
		free(err);
		free(domain);
		return rc;
	}
	if (selector == NULL) {
		/* hm + the time: a name no earlier rotation used */
		snprintf(sel, sizeof(sel), "hm%lld", (long long)time(NULL));
		selector = sel;
	}
	if (d.dkim_selector != NULL && strcmp(d.dkim_selector, selector) == 0)
		rc = cli_error("domain rotate: %s already uses selector %s", domain, selector);
	else
		rc = domain_add(cfg, st, domain, d.account, d.dkim_algo, selector, json);
	store_domain_free(&d);
	free(domain);
	return rc;
}

static int
domain_list(struct store *st, const char *account, int json)
{
	struct store_domain *v;
	struct buf b = { 0 };
	size_t n, i;
	char *err = NULL, when[40];
	int rc;

	if (account != NULL && (rc = store_account_exists(st, account, &err)) != 0) {
		if (rc == STORE_NOTFOUND)
			return cli_error("domain list: no such account %s", account);
		cli_error("domain list: %s", err ? err : "failed");
		free(err);
		return 1;
	}
	if (store_domain_list_info(st, account, &v, &n, &err) != 0) {
		cli_error("domain list: %s", err ? err : "failed");
		free(err);
		return 1;
	}
	if (json)
		buf_putc(&b, '[');
	else if (n > 0)
		buf_printf(&b, "%-40s %-20s %-9s %s\n", "DOMAIN", "ACCOUNT", "VERIFIED", "CREATED");
	for (i = 0; i < n; i++) {
		if (json) {
			if (i > 0)
				buf_putc(&b, ',');
			json_domain(&b, &v[i]);
			buf_putc(&b, '}');
			continue;
		}
		time_iso8601((uint64_t)v[i].created, 0, when, sizeof(when));
		buf_printf(&b, "%-40s %-20s %-9s %s\n", v[i].domain, v[i].account,
		    v[i].verified ? "yes" : "no", when);
	}
	if (json)
		buf_puts(&b, "]\n");
	if (b.len > 0)
		fputs(b.data, stdout);
	buf_free(&b);
	store_domain_list_info_free(v, n);
	return 0;
}

int
cli_domain(struct config *cfg, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "account", required_argument, NULL, 'a' },
		{ "algo", required_argument, NULL, 'A' },
		{ "selector", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sub, *account = NULL, *algo = NULL, *selector = NULL;
	struct store *st;
	int json = 0, c, rc, nargs;

	if (argc < 2) {
		fputs(domain_usage, stderr);
		return 2;
	}
	sub = argv[1];
	optind = 0;	/* glibc: start a fresh scan of this argv */
	opterr = 0;
	while ((c = getopt_long(argc - 1, argv + 1, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'a': account = optarg; break;
		case 'A': algo = optarg; break;
		case 's': selector = optarg; break;
		case 'j': json = 1; break;
		case 'h': fputs(domain_usage, stdout); return 0;
		default:
			return cli_error("domain: unknown option or missing value: %s", argv[optind]);
		}
	}
	nargs = argc - 1 - optind;
	if (account != NULL && !auth_account_name_valid(account))
		return cli_error("domain %s: invalid account name \"%s\"", sub, account);
	if (!strcmp(sub, "add")) {
		if (nargs != 1)
			return cli_error("domain add: expected one DOMAIN");
		if (account == NULL)
			return cli_error("domain add: --account NAME is required");
		if (algo != NULL && dkim_algos_parse(algo) == 0)
			return cli_error("domain add: invalid --algo \"%s\": use rsa, ed25519 or "
			    "rsa+ed25519", algo);
		if (selector != NULL && !auth_selector_valid(selector))
			return cli_error("domain add: invalid --selector \"%s\": use DNS labels of "
			    "a-z 0-9 -", selector);
	} else if (!strcmp(sub, "list")) {
		if (nargs != 0)
			return cli_error("domain list: unexpected argument %s", argv[1 + optind]);
	} else if (!strcmp(sub, "check")) {
		if (nargs != 1)
			return cli_error("domain check: expected one DOMAIN");
	} else if (!strcmp(sub, "rotate")) {
		if (nargs != 1)
			return cli_error("domain rotate: expected one DOMAIN");
		if (selector != NULL && !auth_selector_valid(selector))
			return cli_error("domain rotate: invalid --selector \"%s\": use DNS labels of "
			    "a-z 0-9 -", selector);
	} else
		return cli_error("domain: unknown subcommand %s (add, list, check, rotate)", sub);
	if (cli_store_open(cfg, &st) != 0)
		return 1;
	if (!strcmp(sub, "add"))
		rc = domain_add(cfg, st, argv[1 + optind], account, algo, selector, json);
	else if (!strcmp(sub, "check"))
		rc = cli_domain_check(cfg, st, argv[1 + optind], json);
	else if (!strcmp(sub, "rotate"))
		rc = domain_rotate(cfg, st, argv[1 + optind], selector, json);
	else
		rc = domain_list(st, account, json);
	store_close(st);
	return rc;
}
