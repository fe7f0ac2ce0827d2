/* dkim_keyring: every domain's parsed keys, loaded on first use and kept
 * (see dkim_sign.c on why), which selector signs (explicit, the active one
 * `domain check` saw published, else the oldest key), and signing a message
 * by its From domain. Declared in dkim_keys.h. */
#include <dirent.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <idn2.h>

#include "dkim/dkim_canon.h"
#include "dkim/dkim_keys.h"
#include "util/fsutil.h"
#include "util/xalloc.h"

struct ring_entry {
	struct ring_entry *next;
	char		*domain;
	char		*selector;	/* the base selector: SEL.rsa, SEL.ed25519, SEL-ed.ed25519 */
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

char *
dkim_keys_active(const char *data_dir, const char *domain)
{
	char *path = xasprintf("%s/dkim/%s.active", data_dir, domain), *text = NULL;
	char *rsa, *ed;
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
			s->selector = dkim_keys_active(ring->data_dir, domain);
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
