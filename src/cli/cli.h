/* cli: the subcommands of `hermod` (SPEC.md Commands). main.c parses the
 * global options and dispatches through the table in main.c; each command
 * gets the loaded configuration and its own argv (argv[0] is the command). A
 * command returns the process exit status and writes one clear line on stderr
 * when it fails. */
#ifndef HERMOD_CLI_H
#define HERMOD_CLI_H

struct config;
struct store;

int	cli_serve(struct config *cfg, int argc, char **argv);
int	cli_init(struct config *cfg, int argc, char **argv);
int	cli_account(struct config *cfg, int argc, char **argv);
int	cli_key(struct config *cfg, int argc, char **argv);
int	cli_domain(struct config *cfg, int argc, char **argv);
int	cli_queue(struct config *cfg, int argc, char **argv);
int	cli_send(struct config *cfg, int argc, char **argv);
int	cli_sendmail(struct config *cfg, int argc, char **argv);
int	cli_suppress(struct config *cfg, int argc, char **argv);
int	cli_version(struct config *cfg, int argc, char **argv);

/* cli_error() prints "hermod: MESSAGE" on stderr and returns 1. */
int	cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* cli_init_data_dir() creates data_dir (mode 0700) and the store and, where
 * none is configured, the self-signed TLS pair in data_dir/tls, whose paths
 * it then puts in cfg->sub_tls_cert and cfg->sub_tls_key so the caller loads
 * that pair; idempotent. When run as root with server.user set, hands
 * data_dir to that user. 0 or 1 (error printed). */
int	cli_init_data_dir(struct config *cfg);
/* cli_store_open() opens the configured store for an admin command,
 * creating data_dir and the store's directory when missing (the admin
 * commands work before `init` and without the daemon). 0, or 1 with the
 * error printed. */
int	cli_store_open(struct config *cfg, struct store **st);
/* cli_domain_check() is `hermod domain check DOMAIN [--json]`
 * (cli_domain_check.c): 0 when the DKIM records are published right. */
int	cli_domain_check(struct config *cfg, struct store *st, const char *domain, int json);
/* cli_ctl_path() is data_dir/hermod.sock (caller frees). */
char   *cli_ctl_path(const struct config *cfg);

#endif
