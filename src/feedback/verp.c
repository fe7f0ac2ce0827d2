/* verp: signed VERP return paths (see verp.h for the format and why).
 *
 * The MAC input is "hermod-verp-1" NUL id NUL index NUL domain, every part
 * lower case, so the same address in any case verifies, and a token moved to
 * another bounce domain does not. The index is decimal without leading
 * zeros, so each (id, index) has exactly one spelling. */
#include "feedback/verp.h"
#include "util/fsutil.h"
#include "util/xalloc.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The queue ids' alphabet (util/id.c): Crockford's base32, lower case. */
static const char b32[] = "0123456789abcdefghjkmnpqrstvwxyz";

static void
mac_of(const struct verp_key *k, const char *id, size_t idx, const char *domain, size_t dlen,
    char out[VERP_MAC_CHARS + 1])
{
	crypto_auth_hmacsha256_state st;
	unsigned char h[crypto_auth_hmacsha256_BYTES];
	char num[24];
	int nl = snprintf(num, sizeof(num), "%zu", idx);
	unsigned acc = 0, bits = 0;
	size_t o = 0;

	crypto_auth_hmacsha256_init(&st, k->k, sizeof(k->k));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)"hermod-verp-1", 14);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)id, ID_LEN + 1);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)num, (size_t)nl + 1);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)domain, dlen);
	crypto_auth_hmacsha256_final(&st, h);
	/* 10 bytes, 5 bits a character */
	for (size_t i = 0; i < 10; i++) {
		acc = (acc << 8) | h[i];
		bits += 8;
		while (bits >= 5) {
			out[o++] = b32[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	out[o] = '\0';
	sodium_memzero(&st, sizeof(st));
}

static int
domain_ok(const char *d, size_t n)
{
	if (n == 0 || n > 253 || d[0] == '.' || d[0] == '-' || d[n - 1] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)d[i];
		if (!(isalnum(c) || c == '-' || c == '.') || (c == '.' && i + 1 < n && d[i + 1] == '.'))
			return 0;
	}
	return 1;
}

int
verp_bounce_domain(const char *override, const char *mail_from, char out[256])
{
	const char *at, *d;
	size_t n, pl = strlen(VERP_BOUNCE_LABEL);

	if (override != NULL && override[0] != '\0') {
		d = override;
		pl = 0;
	} else {
		if (mail_from == NULL || (at = strrchr(mail_from, '@')) == NULL)
			return -1;
		d = at + 1;
	}
	n = strlen(d);
	if (!domain_ok(d, n) || pl + n > 253)
		return -1;
	memcpy(out, VERP_BOUNCE_LABEL, pl);
	for (size_t i = 0; i < n; i++)
		out[pl + i] = (char)tolower((unsigned char)d[i]);
	out[pl + n] = '\0';
	return 0;
}

int
verp_make(const struct verp_key *k, const char *id, size_t rcpt_index, const char *domain,
    char out[VERP_ADDR_MAX])
{
	char lid[ID_LEN + 1], ldom[256], mac[VERP_MAC_CHARS + 1];
	size_t dl = domain ? strlen(domain) : 0;

	if (id == NULL || strlen(id) != ID_LEN || rcpt_index > VERP_MAX_INDEX || !domain_ok(domain, dl))
		return -1;
	for (size_t i = 0; i <= ID_LEN; i++)
		lid[i] = (char)tolower((unsigned char)id[i]);
	if (!id_valid(lid))
		return -1;
	for (size_t i = 0; i <= dl; i++)
		ldom[i] = (char)tolower((unsigned char)domain[i]);
	mac_of(k, lid, rcpt_index, ldom, dl, mac);
	snprintf(out, VERP_ADDR_MAX, VERP_PREFIX "%s-%zu-%s@%s", lid, rcpt_index, mac, ldom);
	return 0;
}

void
verp_return_path(const struct verp_key *k, const char *override, const char *mail_from,
    const char *id, size_t rcpt_index, char out[VERP_ADDR_MAX])
{
	char dom[256];

	if (mail_from == NULL || mail_from[0] == '\0') {
		out[0] = '\0';
		return;
	}
	if (k != NULL && verp_bounce_domain(override, mail_from, dom) == 0 &&
	    verp_make(k, id, rcpt_index, dom, out) == 0)
		return;
	snprintf(out, VERP_ADDR_MAX, "%s", mail_from);
}

enum verp_rc
verp_parse(const struct verp_key *k, const char *addr, size_t len, struct verp_addr *out)
{
	/* b- ID(20) - N(1..7) - MAC(16) @ domain */
	char local[64], mac[VERP_MAC_CHARS + 1], want[VERP_MAC_CHARS + 1];
	const char *at = NULL;
	size_t ll, p, idx = 0, nd = 0, dl;

	memset(out, 0, sizeof(*out));
	for (size_t i = len; i > 0; i--)
		if (addr[i - 1] == '@') {
			at = addr + i - 1;
			break;
		}
	if (at == NULL)
		return VERP_NOT_VERP;
	ll = (size_t)(at - addr);
	dl = len - ll - 1;
	if (ll < 2 + ID_LEN + 3 + VERP_MAC_CHARS || ll >= sizeof(local) || dl >= sizeof(out->domain))
		return VERP_NOT_VERP;
	for (size_t i = 0; i < ll; i++)
		local[i] = (char)tolower((unsigned char)addr[i]);
	local[ll] = '\0';
	if (memcmp(local, VERP_PREFIX, 2) != 0)
		return VERP_NOT_VERP;
	memcpy(out->id, local + 2, ID_LEN);
	out->id[ID_LEN] = '\0';
	if (!id_valid(out->id) || local[2 + ID_LEN] != '-')
		return VERP_NOT_VERP;
	p = 2 + ID_LEN + 1;
	while (p < ll && isdigit((unsigned char)local[p]) && nd < 7) {
		idx = idx * 10 + (size_t)(local[p] - '0');
		p++;
		nd++;
	}
	/* one spelling per index: no leading zero, no empty number */
	if (nd == 0 || (nd > 1 && local[2 + ID_LEN + 1] == '0') || p >= ll || local[p] != '-')
		return VERP_NOT_VERP;
	p++;
	if (ll - p != VERP_MAC_CHARS)
		return VERP_NOT_VERP;
	memcpy(mac, local + p, VERP_MAC_CHARS);
	mac[VERP_MAC_CHARS] = '\0';
	for (size_t i = 0; i < VERP_MAC_CHARS; i++)
		if (strchr(b32, mac[i]) == NULL)
			return VERP_NOT_VERP;
	for (size_t i = 0; i < dl; i++)
		out->domain[i] = (char)tolower((unsigned char)at[1 + i]);
	out->domain[dl] = '\0';
	if (!domain_ok(out->domain, dl))
		return VERP_NOT_VERP;
	out->rcpt_index = idx;
	mac_of(k, out->id, idx, out->domain, dl, want);
	if (sodium_memcmp(mac, want, VERP_MAC_CHARS) != 0) {
		memset(out, 0, sizeof(*out));
		return VERP_BAD_MAC;
	}
	return VERP_OK;
}

/* read_key() reads an existing key file: exactly VERP_KEY_LEN bytes. */
static int
read_key(const char *path, struct verp_key *out, char **err)
{
	char *data = NULL;
	size_t n = 0;

	if (fs_read_file(path, VERP_KEY_LEN + 1, &data, &n) < 0) {
		*err = xasprintf("cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	if (n != VERP_KEY_LEN) {
		sodium_memzero(data, n);
		free(data);
		*err = xasprintf("%s: not a VERP key (%zu bytes, want %d)", path, n, VERP_KEY_LEN);
		return -1;
	}
	memcpy(out->k, data, VERP_KEY_LEN);
	sodium_memzero(data, n);
	free(data);
	return 0;
}

int
verp_key_load(const char *data_dir, struct verp_key *out, char **err)
{
	char *path = xasprintf("%s/verp.key", data_dir);
	char *tmp = xasprintf("%s/.verp.key.%ld", data_dir, (long)getpid());
	unsigned char k[VERP_KEY_LEN];
	int fd = -1, rc = -1;
	size_t off = 0;

	if (access(path, F_OK) == 0) {
		rc = read_key(path, out, err);
		goto out;
	}
	/* A new key: written to a temporary file, synced, then linked into
	 * place: link() fails if another process won the race, and then its
	 * key is the one. */
	id_random_bytes(k, sizeof(k));
	unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
		*err = xasprintf("cannot create %s: %s", tmp, strerror(errno));
		goto out;
	}
	while (off < sizeof(k)) {
		ssize_t w = write(fd, k + off, sizeof(k) - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			*err = xasprintf("cannot write %s: %s", tmp, strerror(errno));
			goto out;
		}
		off += (size_t)w;
	}
	if (fsync(fd) < 0) {
		*err = xasprintf("cannot sync %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (link(tmp, path) < 0 && errno != EEXIST) {
		*err = xasprintf("cannot create %s: %s", path, strerror(errno));
		goto out;
	}
	fs_fsync_dir(data_dir);
	rc = read_key(path, out, err);
out:
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	}
	sodium_memzero(k, sizeof(k));
	free(path);
	free(tmp);
	return rc;
}
