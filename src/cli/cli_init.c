/* cli_init: `hermod init`, and the same first-start work for `serve`:
 * data_dir (private: it holds the store, keys and certificates), the store
 * with its schema, and a self-signed TLS pair when none is configured. Every
 * step is idempotent, so running it again, or on every start, changes
 * nothing that exists. Also the store opener the admin commands share. */
#include "cli/cli.h"
#include "feedback/verp.h"
#include "inbound/inbound.h"
#include "net/tls.h"
#include "store/store.h"
#include "util/config.h"
#include "util/fsutil.h"
#include "util/xalloc.h"

#include <errno.h>
#include <ftw.h>
#include <sodium.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* private_dir() creates dir (and parents) mode 0700, and tightens an existing
 * one that others can read: it will hold secrets. */
static int
private_dir(const char *what, const char *dir)
{
	struct stat sb;

	if (fs_mkdirs(dir, 0700) < 0)
		return cli_error("cannot create %s %s: %s", what, dir, strerror(errno));
	if (stat(dir, &sb) < 0)
		return cli_error("cannot stat %s %s: %s", what, dir, strerror(errno));
	if (!S_ISDIR(sb.st_mode))
		return cli_error("%s %s is not a directory", what, dir);
	if ((sb.st_mode & 077) != 0 && chmod(dir, 0700) < 0)
		return cli_error("cannot make %s %s private: %s", what, dir, strerror(errno));
	return 0;
}

/* store_dir() creates the directory of a sqlite: store outside data_dir. */
static int
store_dir(const struct config *cfg)
{
	char *path, *slash;
	int rc = 0;

	if (strncmp(cfg->store_url, "sqlite:", 7) != 0 || cfg->store_url[7] == ':')
		return 0;
	path = xstrdup(cfg->store_url + 7);
	if ((slash = strrchr(path, '/')) != NULL && slash != path) {
		*slash = '\0';
		rc = private_dir("store directory", path);
	}
	free(path);
	return rc;
}

int
cli_store_open(struct config *cfg, struct store **st)
{
	char *err = NULL;

	*st = NULL;
	if (private_dir("data_dir", cfg->data_dir) != 0 || store_dir(cfg) != 0)
		return 1;
	if (store_open(st, cfg->store_url, &err) != 0) {
		cli_error("%s", err ? err : "cannot open the store");
		free(err);
		return 1;
	}
	return 0;
}

/* tls_pair() makes the self-signed pair when no certificate is configured
 * and points cfg at it. */
static int
tls_pair(struct config *cfg)
{
	char *dir, *cert, *key, *err = NULL;
	int rc = 1;

	if (cfg->sub_tls_cert != NULL && cfg->sub_tls_cert[0] != '\0')
		return 0;	/* configured: serve loads and checks it */
	dir = xasprintf("%s/tls", cfg->data_dir);
	cert = xasprintf("%s/cert.pem", dir);
	key = xasprintf("%s/key.pem", dir);
	if (private_dir("TLS directory", dir) != 0)
		goto out;
	if (tls_make_selfsigned(cert, key, cfg->hostname, &err) != 0) {
		cli_error("cannot make a self-signed TLS pair in %s: %s", dir, err ? err : "?");
		free(err);
		goto out;
	}
	free(cfg->sub_tls_cert);
	free(cfg->sub_tls_key);
	cfg->sub_tls_cert = cert;
	cfg->sub_tls_key = key;
	cert = key = NULL;
	rc = 0;
out:
	free(dir);
	free(cert);
	free(key);
	return rc;
}

/* give_to_user() hands path to the unprivileged user the daemon runs as, so
 * it can still read its store and keys after dropping root. Symbolic links
 * are not followed: a link in data_dir must not hand away a file elsewhere. */
static int
give_to_user(const struct passwd *pw, const char *path)
{
	struct stat sb;

	if (lstat(path, &sb) < 0)
		return errno == ENOENT ? 0 : cli_error("cannot stat %s: %s", path, strerror(errno));
	if (sb.st_uid == pw->pw_uid && sb.st_gid == pw->pw_gid)
		return 0;
	if (lchown(path, pw->pw_uid, pw->pw_gid) < 0)
		return cli_error("cannot chown %s to %s: %s", path, pw->pw_name, strerror(errno));
	return 0;
}

/* nftw() takes no argument for its callback: the walk's user and outcome
 * live here (init runs once, single-threaded, at start). */
static const struct passwd *walk_pw;
static int walk_rc;

static int
walk_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb; (void)type; (void)ftw;
	walk_rc |= give_to_user(walk_pw, path);
	return 0;
}

/* chown_data_dir() gives everything under data_dir (store, TLS and DKIM
 * keys, spool), and the store when it lives elsewhere, to server.user when
 * running as root: files a root CLI made since the last start too. */
static int
chown_data_dir(const struct config *cfg)
{
	static struct passwd pw_copy;
	const struct passwd *pw;

	if (geteuid() != 0 || cfg->user == NULL || cfg->user[0] == '\0')
		return 0;
	if ((pw = getpwnam(cfg->user)) == NULL)
		return cli_error("server.user %s: no such user", cfg->user);
	pw_copy = *pw;
	walk_pw = &pw_copy;
	walk_rc = 0;
	if (nftw(cfg->data_dir, walk_one, 16, FTW_PHYS) < 0)
		return cli_error("cannot walk data_dir %s: %s", cfg->data_dir, strerror(errno));
	if (strncmp(cfg->store_url, "sqlite:", 7) == 0 && cfg->store_url[7] != ':') {
		/* SQLite gives the -wal and -shm files the owner of the database
		 * when it runs as root, so the main file is enough. */
		walk_rc |= give_to_user(walk_pw, cfg->store_url + 7);
	}
	return walk_rc ? 1 : 0;
}

int
cli_init_data_dir(struct config *cfg)
{
	struct store *st;

	if (cli_store_open(cfg, &st) != 0)
		return 1;
	store_close(st);
	if (tls_pair(cfg) != 0)
		return 1;
	{
		/* the VERP signing key (data_dir/verp.key), made once */
		struct verp_key k;
		char *err = NULL;
		int rc = verp_key_load(cfg->data_dir, &k, &err);
		sodium_memzero(&k, sizeof(k));
		/* and where the inbound listener keeps reports */
		if (rc == 0)
			rc = inbound_make_dirs(cfg->data_dir, &err);
		if (rc != 0) {
			cli_error("%s", err);
			free(err);
			return 1;
		}
	}
	return chown_data_dir(cfg);
}

int
cli_init(struct config *cfg, int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		printf("usage: hermod init\n");
		return 0;
	}
	if (argc > 1)
		return cli_error("init: unexpected argument %s", argv[1]);
	if (cli_init_data_dir(cfg) != 0)
		return 1;
	printf("data_dir %s ready\n", cfg->data_dir);
	return 0;
}
