/* dkim_keys: key files (generation, PEM files mode 0600, the active
 * selector) and the domain setup that `domain add` runs. The key ring is
 * dkim_keyring.c, the records dkim_records.c; all are declared in
 * dkim_keys.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "dkim/dkim_keys.h"
#include "util/fsutil.h"
#include "util/xalloc.h"

#define DKIM_RSA_BITS	2048	/* RFC 8301: 1024 minimum, 2048 what receivers expect */

static const char *
algo_name(int algo)
{
	return algo == DKIM_ALGO_ED25519 ? "ed25519" : "rsa";
}

char *
dkim_keys_path(const char *data_dir, const char *domain, const char *selector, int algo)
{
	return xasprintf("%s/dkim/%s.%s.%s.pem", data_dir, domain, selector, algo_name(algo));
}

int
dkim_keys_generate(int algo, char **pem, char **err)
{
	EVP_PKEY_CTX *ctx;
	EVP_PKEY *pkey = NULL;
	BIO *bio = NULL;
	char *p;
	long n;
	int ok;

	*pem = NULL;
	ctx = EVP_PKEY_CTX_new_id(algo == DKIM_ALGO_ED25519 ? EVP_PKEY_ED25519 : EVP_PKEY_RSA,
	    NULL);
	ok = ctx != NULL && EVP_PKEY_keygen_init(ctx) == 1 &&
	    (algo == DKIM_ALGO_ED25519 ||
	    EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, DKIM_RSA_BITS) == 1) &&
	    EVP_PKEY_keygen(ctx, &pkey) == 1 &&
	    (bio = BIO_new(BIO_s_mem())) != NULL &&
	    PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL) == 1;
	if (ok) {
		n = BIO_get_mem_data(bio, &p);
		*pem = xstrndup(p, (size_t)n);
	} else {
		unsigned long e = ERR_get_error();
		char msg[200];

		ERR_error_string_n(e, msg, sizeof(msg));
		ERR_clear_error();
		*err = xasprintf("dkim: key generation failed: %s", msg);
	}
	BIO_free(bio);
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(ctx);
	return ok ? 0 : -1;
}

int
dkim_keys_create(const char *data_dir, const char *domain, const char *selector, int algo,
    struct dkim_key **out, char **err)
{
	char *path, *dir, *pem = NULL;
	struct stat st;
	int rc = -1;

	*out = NULL;
	path = dkim_keys_path(data_dir, domain, selector, algo);
	dir = xasprintf("%s/dkim", data_dir);
	if (stat(path, &st) == 0) {
		rc = dkim_key_load(out, domain, selector, path, err);
		goto done;
	}
	if (fs_mkdirs(dir, 0700) != 0) {
		*err = xasprintf("dkim: cannot create %s: %s", dir, strerror(errno));
		goto done;
	}
	if (dkim_keys_generate(algo, &pem, err) != 0)
		goto done;
	if (dkim_key_from_pem(out, domain, selector, pem, strlen(pem), err) != 0)
		goto done;
	if (fs_write_atomic(path, pem, strlen(pem), 0600) != 0) {
		*err = xasprintf("dkim: cannot write %s: %s", path, strerror(errno));
		dkim_key_free(*out);
		*out = NULL;
		goto done;
	}
	rc = 0;
done:
	if (pem != NULL) {
		OPENSSL_cleanse(pem, strlen(pem));
		free(pem);
	}
	free(path);
	free(dir);
	return rc;
}

void
dkim_keys_default_selector(char *out, size_t size, long long now)
{
	time_t t = (time_t)now;
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, size, "hm%04d%02d", tm.tm_year + 1900, tm.tm_mon + 1);
}

static char *
active_path(const char *data_dir, const char *domain)
{
	return xasprintf("%s/dkim/%s.active", data_dir, domain);
}

int
dkim_keys_set_active(const char *data_dir, const char *domain, const char *selector, char **err)
{
	char *path = active_path(data_dir, domain), *line = xasprintf("%s\n", selector);
	int rc = 0;

	if (fs_write_atomic(path, line, strlen(line), 0600) != 0) {
		*err = xasprintf("dkim: cannot write %s: %s", path, strerror(errno));
		rc = -1;
	}
	free(path);
	free(line);
	return rc;
}

int
dkim_algos_parse(const char *s)
{
	if (s == NULL || *s == '\0' || strcmp(s, "rsa") == 0)
		return DKIM_ALGO_RSA;
	if (strcmp(s, "ed25519") == 0)
		return DKIM_ALGO_ED25519;
	if (strcmp(s, "rsa+ed25519") == 0 || strcmp(s, "dual") == 0 || strcmp(s, "both") == 0)
		return DKIM_ALGO_RSA | DKIM_ALGO_ED25519;
	return 0;
}

const char *
dkim_algos_name(int algos)
{
	if (algos == (DKIM_ALGO_RSA | DKIM_ALGO_ED25519))
		return "rsa+ed25519";
	return algos == DKIM_ALGO_ED25519 ? "ed25519" : "rsa";
}

void
dkim_selectors(const char *selector, int algos, char **rsa, char **ed)
{
	*rsa = (algos & DKIM_ALGO_RSA) ? xstrdup(selector) : NULL;
	*ed = !(algos & DKIM_ALGO_ED25519) ? NULL : (algos & DKIM_ALGO_RSA) ?
	    xasprintf("%s%s", selector, DKIM_ED_SUFFIX) : xstrdup(selector);
}

/* domain_keys() makes (create) or loads the keys of a domain and builds its
 * records: the common part of dkim_domain_setup() and dkim_domain_records(). */
static int
domain_keys(const char *data_dir, const char *domain, const char *selector, int algos,
    const char *hostname, const char *bounce_domain, int create, struct dkim_records *out,
    char **err)
{
	struct dkim_records_params p;
	struct dkim_key *keys[2] = { NULL, NULL };
	struct buf txt[2];
	char defsel[32], *sels[2] = { NULL, NULL };
	int algo[2];
	size_t n = 0, i;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	memset(&p, 0, sizeof(p));
	buf_init(&txt[0]);
	buf_init(&txt[1]);
	if (algos == 0)
		algos = DKIM_ALGO_RSA;
	if (selector == NULL || selector[0] == '\0') {
		dkim_keys_default_selector(defsel, sizeof(defsel), (long long)time(NULL));
		selector = defsel;
	}
	dkim_selectors(selector, algos, &sels[0], &sels[1]);
	if (sels[0] == NULL) {
		sels[0] = sels[1];
		sels[1] = NULL;
	}
	if (algos & DKIM_ALGO_RSA)
		algo[n++] = DKIM_ALGO_RSA;
	if (algos & DKIM_ALGO_ED25519)
		algo[n++] = DKIM_ALGO_ED25519;
	for (i = 0; i < n; i++) {
		if (create) {
			if (dkim_keys_create(data_dir, domain, sels[i], algo[i], &keys[i], err) != 0)
				goto done;
		} else {
			char *path = dkim_keys_path(data_dir, domain, sels[i], algo[i]);

			rc = dkim_key_load(&keys[i], domain, sels[i], path, err);
			free(path);
			if (rc != 0)
				goto done;
			rc = -1;
		}
		dkim_key_txt(keys[i], &txt[i]);
		p.selectors[i] = sels[i];
		p.key_txt[i] = txt[i].data;
	}
	p.nkeys = n;
	p.domain = domain;
	p.hostname = hostname;
	p.bounce_domain = bounce_domain;
	p.now = (long long)time(NULL);
	dkim_records_build(&p, out);
	out->selector = xstrdup(selector);
	rc = 0;
done:
	for (i = 0; i < 2; i++) {
		dkim_key_free(keys[i]);
		buf_free(&txt[i]);
		free(sels[i]);
	}
	return rc;
}

int
dkim_domain_setup(const char *data_dir, const char *domain, const char *selector, int algos,
    const char *hostname, const char *bounce_domain, struct dkim_records *out, char **err)
{
	return domain_keys(data_dir, domain, selector, algos, hostname, bounce_domain, 1, out, err);
}

int
dkim_domain_records(const char *data_dir, const char *domain, const char *selector,
    int algos, const char *hostname, const char *bounce_domain, struct dkim_records *out,
    char **err)
{
	return domain_keys(data_dir, domain, selector, algos, hostname, bounce_domain, 0, out, err);
}
