/* main: option parsing and command dispatch. Every subcommand lives in
 * src/cli/ (one file each); this table is the whole command surface. */
#include "cli/cli.h"
#include "util/config.h"
#include "util/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct command {
	const char	*name;
	int		(*fn)(struct config *cfg, int argc, char **argv);
	int		 needs_config;	/* 0: runs without reading the config */
	const char	*usage;
};

static const struct command commands[] = {
	{ "serve", cli_serve, 1, "serve                      run the daemon in the foreground" },
	{ "init", cli_init, 1, "init                       create data_dir, the store and a TLS pair" },
	{ "account", cli_account, 1, "account create NAME        create an account" },
	{ "key", cli_key, 1, "key create --account NAME [--scope send|admin]" },
	{ "domain", cli_domain, 1, "domain add DOMAIN --account NAME | check DOMAIN | rotate DOMAIN | list" },
	{ "queue", cli_queue, 1, "queue list|show ID|delete ID|hold ID|release ID|flush [ID] [--json]" },
	{ "send", cli_send, 1, "send --key KEY --from A --to B --subject S --text T|--html H" },
	{ "sendmail", cli_sendmail, 1, "sendmail [-t] [-i] [-f SENDER] [RCPT...]" },
	{ "suppress", cli_suppress, 1, "suppress list|add|remove --account NAME [ADDRESS] [--reason R] [--json]" },
	{ "version", cli_version, 0, "version                    versions of hermod and its libraries" },
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: hermod [-c FILE] COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %s\n", commands[i].usage);
	fprintf(f, "\n-c FILE defaults to $HERMOD_CONFIG, else ./hermod.conf\n");
}

int
main(int argc, char **argv)
{
	const char *conf_path = NULL;
	struct config cfg;
	char *err = NULL;
	int i = 1, rc;

	/* Global options come before the command; -c is also accepted after it. */
	while (i < argc && argv[i][0] == '-') {
		if (!strcmp(argv[i], "-c") && i + 1 < argc) {
			conf_path = argv[i + 1];
			i += 2;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "hermod: unknown option %s\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	for (int j = i + 1; j + 1 < argc; j++)
		if (!strcmp(argv[j], "-c")) {
			conf_path = argv[j + 1];
			memmove(&argv[j], &argv[j + 2], (size_t)(argc - j - 2) * sizeof(char *));
			argc -= 2;
			argv[argc] = NULL;
			break;
		}
	for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++) {
		if (strcmp(commands[k].name, argv[i]) != 0)
			continue;
		if (commands[k].needs_config) {
			if (config_load(&cfg, conf_path, &err) < 0) {
				fprintf(stderr, "hermod: %s\n", err);
				free(err);
				return 1;
			}
			if (cfg.hostname[0] == '\0') {
				char host[256];
				if (gethostname(host, sizeof(host)) < 0 || host[0] == '\0')
					snprintf(host, sizeof(host), "localhost");
				host[sizeof(host) - 1] = '\0';
				free(cfg.hostname);
				cfg.hostname = xstrdup(host);
			}
		} else
			config_defaults(&cfg, ".");
		rc = commands[k].fn(&cfg, argc - i, argv + i);
		config_free(&cfg);
		return rc;
	}
	fprintf(stderr, "hermod: unknown command %s\n", argv[i]);
	usage(stderr);
	return 2;
}
