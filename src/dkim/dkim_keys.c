/* dkim_keys: key files, the key ring and the DNS records to publish. See
 * dkim_keys.h. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
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

#include <idn2.h>

#include "dkim/dkim_canon.h"
#include "dkim/dkim_keys.h"
#include "util/fsutil.h"
#include "util/xalloc.h"

#define DKIM_RSA_BITS	2048	/* RFC 8301: 1024 minimum, 2048 what receivers expect */
#define DKIM_ED_SUFFIX	"-ed"	/* the Ed25519 selector beside an RSA one */

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

/* ---- key ring ---- */

struct ring_entry {
	struct ring_entry *next;
	char		*domain;
	char		*selector;	/* NULL: the domain's default entry */
	struct dkim_key	*keys[3];
	size_t		 nkeys;
};

struct dkim_keyring {
	pthread_mutex_t	 lock;
	char		*data_dir;
	struct ring_entry *entries;
	/* which selector signs for a domain: set explicitly, or looked up on
	 * disk and cached for DKIM_CHOICE_TTL_MS (NULL selector: no key) */
	struct ring_selector {
		struct ring_selector *next;
		char	*domain;
		char	*selector;
		int	 explicit;
		long long checked_ms;
	} *selectors;
};

#define DKIM_CHOICE_TTL_MS	5000	/* a rotation is seen within 5 s */

struct dkim_keyring *
dkim_keyring_new(const char *data_dir)
{
	struct dkim_keyring *ring = xcalloc(1, sizeof(*ring));

	pthread_mutex_init(&ring->lock, NULL);
	ring->data_dir = xstrdup(data_dir);
	return ring;
}

void
dkim_keyring_free(struct dkim_keyring *ring)
{
	struct ring_entry *e, *en;
	struct ring_selector *s, *sn;
	size_t i;

	if (ring == NULL)
		return;
	for (e = ring->entries; e != NULL; e = en) {
		en = e->next;
		for (i = 0; i < e->nkeys; i++)
			dkim_key_free(e->keys[i]);
		free(e->domain);
		free(e->selector);
		free(e);
	}
	for (s = ring->selectors; s != NULL; s = sn) {
		sn = s->next;
		free(s->domain);
		free(s->selector);
		free(s);
	}
	pthread_mutex_destroy(&ring->lock);
	free(ring->data_dir);
	free(ring);
}

void
dkim_keyring_set_selector(struct dkim_keyring *ring, const char *domain, const char *selector)
{
	struct ring_selector *s;

	pthread_mutex_lock(&ring->lock);
	for (s = ring->selectors; s != NULL; s = s->next)
		if (strcasecmp(s->domain, domain) == 0)
			break;
	if (s == NULL) {
		s = xcalloc(1, sizeof(*s));
		s->domain = xstrdup(domain);
		s->next = ring->selectors;
		ring->selectors = s;
	}
	free(s->selector);
	s->selector = xstrdup(selector);
	s->explicit = 1;
	pthread_mutex_unlock(&ring->lock);
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

/* active_selector() reads DATA_DIR/dkim/DOMAIN.active: the selector that
 * `domain check` saw published, when its key files exist. */
static char *
active_selector(const char *data_dir, const char *domain)
{
	char *path = active_path(data_dir, domain), *text = NULL, *rsa, *ed;
	size_t len;
	int found = 0;

	if (fs_read_file(path, 300, &text, &len) == 0) {
		text[strcspn(text, "\r\n")] = '\0';
		dkim_selectors(text, DKIM_ALGO_RSA | DKIM_ALGO_ED25519, &rsa, &ed);
		for (int i = 0; i < 3 && !found; i++) {
			char *f = dkim_keys_path(data_dir, domain, i == 2 ? ed : text,
			    i == 0 ? DKIM_ALGO_RSA : DKIM_ALGO_ED25519);

			found = access(f, F_OK) == 0;
			free(f);
		}
		free(rsa);
		free(ed);
	}
	free(path);
	if (!found) {
		free(text);
		return NULL;
	}
	return text;
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* oldest_selector() finds, among DATA_DIR/dkim/DOMAIN.SEL.ALGO.pem, the base
 * selector of the oldest file: the established key, not a rotation's new
 * one whose record may not be in DNS yet. NULL when there is none. */
static char *
oldest_selector(const char *data_dir, const char *domain)
{
	char *dir = xasprintf("%s/dkim", data_dir), *best = NULL, *path;
	size_t dlen = strlen(domain);
	struct dirent *de;
	struct stat st;
	struct timespec best_t = { 0, 0 };
	DIR *d;

	if ((d = opendir(dir)) == NULL) {
		free(dir);
		return NULL;
	}
	while ((de = readdir(d)) != NULL) {
		const char *n = de->d_name, *sel, *end;
		size_t slen;

		if (strncasecmp(n, domain, dlen) != 0 || n[dlen] != '.')
			continue;
		sel = n + dlen + 1;
		if ((end = strstr(sel, ".rsa.pem")) == NULL &&
		    (end = strstr(sel, ".ed25519.pem")) == NULL)
			continue;
		slen = (size_t)(end - sel);
		if (slen > strlen(DKIM_ED_SUFFIX) &&
		    strncmp(end - strlen(DKIM_ED_SUFFIX), DKIM_ED_SUFFIX, strlen(DKIM_ED_SUFFIX)) == 0)
			slen -= strlen(DKIM_ED_SUFFIX);
		path = xasprintf("%s/%s", dir, n);
		if (stat(path, &st) == 0 && (best == NULL || st.st_mtim.tv_sec < best_t.tv_sec ||
		    (st.st_mtim.tv_sec == best_t.tv_sec && st.st_mtim.tv_nsec < best_t.tv_nsec))) {
			free(best);
			best = xstrndup(sel, slen);
			best_t = st.st_mtim;
		}
		free(path);
	}
	closedir(d);
	free(dir);
	return best;
}

/* ring_load() reads the keys of (domain, selector): SEL.rsa, SEL.ed25519 and
 * the dual-signing SEL-ed.ed25519, whichever exist. */
static int
ring_load(const char *data_dir, struct ring_entry *e, char **err)
{
	struct { const char *suffix; int algo; } f[3] = {
		{ "", DKIM_ALGO_RSA }, { "", DKIM_ALGO_ED25519 }, { DKIM_ED_SUFFIX, DKIM_ALGO_ED25519 },
	};
	size_t i;

	for (i = 0; i < 3; i++) {
		char *sel = xasprintf("%s%s", e->selector, f[i].suffix);
		char *path = dkim_keys_path(data_dir, e->domain, sel, f[i].algo);
		int rc = 0;

		if (access(path, F_OK) == 0)
			rc = dkim_key_load(&e->keys[e->nkeys], e->domain, sel, path, err);
		if (rc == 0 && e->keys[e->nkeys] != NULL)
			e->nkeys++;
		free(sel);
		free(path);
		if (rc != 0)
			return -1;
	}
	return 0;
}

int
dkim_keyring_sign(struct dkim_keyring *ring, const char *domain, const char *selector,
    const char *msg, size_t len, long long now, struct buf *out, char **err)
{
	struct ring_entry *e;
	struct ring_selector *s;
	char *sel = NULL;
	int rc;

	pthread_mutex_lock(&ring->lock);
	if (selector == NULL) {
		long long now_t = now_ms();

		for (s = ring->selectors; s != NULL; s = s->next)
			if (strcasecmp(s->domain, domain) == 0)
				break;
		if (s == NULL) {
			s = xcalloc(1, sizeof(*s));
			s->domain = xstrdup(domain);
			s->next = ring->selectors;
			ring->selectors = s;
		}
		if (!s->explicit && (s->checked_ms == 0 ||
		    now_t - s->checked_ms >= DKIM_CHOICE_TTL_MS)) {
			/* the selector domain check saw published, else the oldest
			 * key: a new key never signs before its record is seen */
			free(s->selector);
			s->selector = active_selector(ring->data_dir, domain);
			if (s->selector == NULL)
				s->selector = oldest_selector(ring->data_dir, domain);
			s->checked_ms = now_t;
		}
		if (s->selector != NULL)
			sel = xstrdup(s->selector);
		if (sel == NULL) {
			pthread_mutex_unlock(&ring->lock);
			return DKIM_KEYS_NOKEY;
		}
	} else {
		sel = xstrdup(selector);
	}
	for (e = ring->entries; e != NULL; e = e->next)
		if (strcasecmp(e->domain, domain) == 0 && strcmp(e->selector, sel) == 0)
			break;
	if (e == NULL) {
		e = xcalloc(1, sizeof(*e));
		e->domain = xstrdup(domain);
		e->selector = sel;
		sel = NULL;
		rc = ring_load(ring->data_dir, e, err);
		if (rc != 0 || e->nkeys == 0) {
			for (size_t i = 0; i < e->nkeys; i++)
				dkim_key_free(e->keys[i]);
			rc = rc != 0 ? -1 : DKIM_KEYS_NOKEY;
			free(e->domain);
			free(e->selector);
			free(e);
			pthread_mutex_unlock(&ring->lock);
			return rc;
		}
		e->next = ring->entries;
		ring->entries = e;
	}
	free(sel);
	/* entries are never removed while the ring lives: sign outside the lock */
	pthread_mutex_unlock(&ring->lock);
	return dkim_sign(e->keys, e->nkeys, msg, len, now, out, err);
}

int
dkim_from_domain(const char *msg, size_t len, char *out, size_t size)
{
	struct dkim_field *f;
	struct buf v;
	size_t nf, i, n;
	const char *addr, *at, *end;
	int rc = -1;

	dkim_canon_fields(msg, len, &f, &nf);
	for (i = 0; i < nf; i++)
		if (f[i].namelen == 4 && strncasecmp(f[i].p, "from", 4) == 0)
			break;
	if (i == nf) {
		free(f);
		return -1;
	}
	/* the value, unfolded; the address is in the last <...>, else it is
	 * the whole value (addr-spec); the domain follows its last '@' */
	buf_init(&v);
	dkim_canon_header(DKIM_CANON_RELAXED, f[i].p, f[i].len, &v);
	free(f);
	v.len -= 2;
	v.data[v.len] = '\0';
	addr = strchr(v.data, ':') + 1;
	if ((at = strrchr(addr, '<')) != NULL) {
		addr = at + 1;
		end = strchr(addr, '>');
	} else
		end = NULL;
	if (end == NULL)
		end = v.data + v.len;
	for (at = NULL, n = 0; addr + n < end; n++)
		if (addr[n] == '@')
			at = addr + n;
	if (at != NULL) {
		const char *d = at + 1;

		while (end > d && (end[-1] == ' ' || end[-1] == '>' || end[-1] == '.'))
			end--;
		n = (size_t)(end - d);
		if (n > 0 && n < size && memchr(d, ' ', n) == NULL) {
			for (i = 0; i < n; i++)
				out[i] = (d[i] >= 'A' && d[i] <= 'Z') ? (char)(d[i] - 'A' + 'a') : d[i];
			out[n] = '\0';
			rc = 0;
		}
	}
	buf_free(&v);
	return rc;
}

int
dkim_keyring_sign_from(struct dkim_keyring *ring, const char *msg, size_t len, long long now,
    struct buf *out, char **err)
{
	char domain[256], *ascii = NULL;
	const char *d;
	int rc = DKIM_KEYS_NOKEY;

	if (dkim_from_domain(msg, len, domain, sizeof(domain)) != 0)
		return DKIM_KEYS_NOKEY;
	d = domain;
	for (const char *p = domain; *p; p++) {
		if ((unsigned char)*p >= 0x80) {
			/* keys are filed under the A-label, as the store keeps domains */
			if (idn2_to_ascii_8z(domain, &ascii, IDN2_NONTRANSITIONAL) != IDN2_OK)
				return DKIM_KEYS_NOKEY;
			d = ascii;
			break;
		}
	}
	/* the domain, then each parent that still has a dot (never a TLD) */
	while (d != NULL && strchr(d, '.') != NULL) {
		rc = dkim_keyring_sign(ring, d, NULL, msg, len, now, out, err);
		if (rc != DKIM_KEYS_NOKEY)
			break;
		d = strchr(d, '.') + 1;
	}
	free(ascii);
	return rc;
}

int
dkim_keyring_sign_message(struct dkim_keyring *ring, struct buf *msg, long long now, char **err)
{
	struct dkim_field *f;
	struct buf sig, out;
	size_t nf, i, at = 0;
	int rc;

	buf_init(&sig);
	rc = dkim_keyring_sign_from(ring, msg->data, msg->len, now, &sig, err);
	if (rc != 0) {
		buf_free(&sig);
		return rc;
	}
	dkim_canon_fields(msg->data, msg->len, &f, &nf);
	for (i = 0; i < nf; i++) {
		if (!(f[i].namelen == 8 && strncasecmp(f[i].p, "received", 8) == 0) &&
		    !(f[i].namelen == 11 && strncasecmp(f[i].p, "return-path", 11) == 0))
			break;
		at = (size_t)(f[i].p - msg->data) + f[i].len;
	}
	free(f);
	buf_init(&out);
	buf_reserve(&out, msg->len + sig.len);
	buf_append(&out, msg->data, at);
	buf_append(&out, sig.data, sig.len);
	buf_append(&out, msg->data + at, msg->len - at);
	buf_free(msg);
	*msg = out;
	buf_free(&sig);
	return 0;
}

/* ---- records ---- */

static void
add(struct dkim_records *r, const char *type, char *name, char *value, char *purpose)
{
	r->v = xrealloc(r->v, (r->n + 1) * sizeof(*r->v));
	r->v[r->n].type = xstrdup(type);
	r->v[r->n].name = name;
	r->v[r->n].value = value;
	r->v[r->n].purpose = purpose;
	r->n++;
}

void
dkim_records_build(const struct dkim_records_params *p, struct dkim_records *out)
{
	char *bounce = p->bounce_domain != NULL ? xstrdup(p->bounce_domain) :
	    xasprintf("bounce.%s", p->domain);
	struct buf spf;
	size_t i;

	memset(out, 0, sizeof(*out));
	out->domain = xstrdup(p->domain);

	for (i = 0; i < p->nkeys && i < 2; i++) {
		add(out, "TXT", xasprintf("%s._domainkey.%s", p->selectors[i], p->domain),
		    xstrdup(p->key_txt[i]),
		    xasprintf("DKIM: the public key for selector %s (%s). Receivers check "
		    "hermod's signature with it; DMARC passes when d=%s matches the From "
		    "domain. Publish it as one TXT record; a DNS panel that limits strings to "
		    "255 characters splits it by itself.", p->selectors[i],
		    strstr(p->key_txt[i], "k=ed25519") ? "Ed25519, RFC 8463" : "RSA-2048",
		    p->domain));
	}

	buf_init(&spf);
	buf_puts(&spf, "v=spf1");
	if (p->spf_ips != NULL && p->spf_ips[0] != NULL) {
		for (i = 0; p->spf_ips[i] != NULL; i++)
			buf_printf(&spf, " %s:%s", strchr(p->spf_ips[i], ':') ? "ip6" : "ip4",
			    p->spf_ips[i]);
	} else if (p->spf_include != NULL && p->spf_include[0] != '\0') {
		buf_printf(&spf, " include:%s", p->spf_include);
	} else {
		buf_printf(&spf, " a:%s", p->hostname);
	}
	buf_puts(&spf, " -all");
	add(out, "TXT", xstrdup(bounce), buf_steal(&spf, NULL),
	    xasprintf("SPF for the envelope sender domain %s (the Return-Path hermod uses, so "
	    "bounces come back to it): only these hosts may send with it. It ends in -all "
	    "(fail) rather than ~all (softfail) because only hermod sends with this "
	    "domain; use ~all on a name where other senders may still exist and you are "
	    "still finding them. DMARC aligns it with %s (relaxed alignment). One v=spf1 "
	    "record per name: merge with an existing one. Mail whose envelope sender is on "
	    "%s itself needs the same mechanism in that name's v=spf1 record.", bounce,
	    p->domain, p->domain));

	add(out, "MX", xstrdup(bounce), xasprintf("10 %s", p->hostname),
	    xasprintf("Bounce domain: delivery reports and feedback loops for %s reach "
	    "hermod's inbound listener at %s (port 25), which turns them into bounced and "
	    "complained events and suppressions.", bounce, p->hostname));

	add(out, "TXT", xasprintf("_dmarc.%s", p->domain),
	    p->dmarc_rua != NULL ? xasprintf("v=DMARC1; p=none; rua=%s; adkim=r; aspf=r",
	    p->dmarc_rua) :
	    xasprintf("v=DMARC1; p=none; rua=mailto:dmarc-reports@%s; adkim=r; aspf=r",
	    p->domain),
	    xasprintf("DMARC: publish only if %s has no DMARC record yet. p=none only "
	    "collects aggregate reports (rua) and changes no delivery. When the reports show "
	    "all your legitimate mail passing DKIM or SPF aligned for a few weeks, move to "
	    "p=quarantine (you may ramp with pct=25, then 100), then to p=reject; mailbox "
	    "providers increasingly expect a policy stricter than none from bulk senders.",
	    p->domain));

	if (p->mta_sts) {
		time_t t = (time_t)p->now;
		struct tm tm;

		gmtime_r(&t, &tm);
		add(out, "TXT", xasprintf("_mta-sts.%s", p->domain),
		    xasprintf("v=STSv1; id=%04d%02d%02d%02d%02d%02d", tm.tm_year + 1900,
		    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec),
		    xasprintf("Optional, MTA-STS (RFC 8461): tells senders that mail to %s "
		    "must use verified TLS. Needs the policy file at "
		    "https://mta-sts.%s/.well-known/mta-sts.txt (version: STSv1, mode: testing, "
		    "mx: lines for your MX hosts, max_age: 86400); change id whenever the "
		    "policy changes.", p->domain, p->domain));
		add(out, "TXT", xasprintf("_smtp._tls.%s", p->domain),
		    xasprintf("v=TLSRPTv1; rua=mailto:tls-reports@%s", p->domain),
		    xasprintf("Optional, TLS-RPT (RFC 8460): daily reports from senders about "
		    "TLS failures when delivering to %s.", p->domain));
	}
	free(bounce);
}

void
dkim_records_free(struct dkim_records *r)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		free(r->v[i].type);
		free(r->v[i].name);
		free(r->v[i].value);
		free(r->v[i].purpose);
	}
	free(r->v);
	free(r->domain);
	free(r->selector);
	memset(r, 0, sizeof(*r));
}

void
dkim_records_json(const struct dkim_records *r, struct buf *out)
{
	buf_puts(out, "{\"domain\":");
	buf_json_str(out, r->domain, strlen(r->domain));
	buf_puts(out, ",\"records\":[");
	dkim_records_json_items(r, out);
	buf_puts(out, "]}");
}

void
dkim_records_json_items(const struct dkim_records *r, struct buf *out)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		const struct dkim_record *d = &r->v[i];

		buf_puts(out, i ? ",{\"type\":" : "{\"type\":");
		buf_json_str(out, d->type, strlen(d->type));
		buf_puts(out, ",\"name\":");
		buf_json_str(out, d->name, strlen(d->name));
		buf_puts(out, ",\"value\":");
		buf_json_str(out, d->value, strlen(d->value));
		buf_puts(out, ",\"purpose\":");
		buf_json_str(out, d->purpose, strlen(d->purpose));
		buf_puts(out, "}");
	}
}

void
dkim_records_text(const struct dkim_records *r, struct buf *out)
{
	size_t i;

	buf_printf(out, "DNS records to publish for %s:\n", r->domain);
	for (i = 0; i < r->n; i++)
		buf_printf(out, "\n%s  %s\n  %s\n  (%s)\n", r->v[i].type, r->v[i].name,
		    r->v[i].value, r->v[i].purpose);
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
    const char *hostname, int create, struct dkim_records *out, char **err)
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
    const char *hostname, struct dkim_records *out, char **err)
{
	return domain_keys(data_dir, domain, selector, algos, hostname, 1, out, err);
}

int
dkim_domain_records(const char *data_dir, const char *domain, const char *selector,
    int algos, const char *hostname, struct dkim_records *out, char **err)
{
	return domain_keys(data_dir, domain, selector, algos, hostname, 0, out, err);
}
