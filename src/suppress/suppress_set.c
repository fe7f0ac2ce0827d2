/* suppress_set: the in-memory set of (account, address key) pairs that the
 * send paths ask (suppress.h).
 *
 * DESIGN
 * Chained hashing with a power-of-two bucket array that doubles when the
 * load passes 1, so a lookup is one SipHash (libsodium's crypto_shorthash,
 * keyed at random per process: addresses come from tenants, and a
 * predictable hash would let one tenant turn every lookup into a list walk)
 * plus one or two string compares. An entry is one allocation: the hash, a
 * next pointer and "account\0key\0". A read-write lock lets the loop thread
 * and the workers look up at once; writers (changes, the CLI poll) hold it
 * for a pointer swap or a resize only, never across I/O.
 *
 * Memory per entry: 24 bytes of header + the key text + 2 NULs + 8 bytes of
 * bucket, plus malloc's rounding (16 bytes on glibc, to a multiple of 16):
 * about 90 bytes for a 40-character address (tests/unit/test_suppress.c
 * measures it). */
#include "suppress/suppress.h"
#include "util/id.h"
#include "util/xalloc.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

struct ent {
	struct ent	*next;
	uint64_t	 h;
	uint32_t	 alen;		/* strlen(account) */
	uint32_t	 klen;		/* strlen(key) */
	char		 text[];	/* account \0 key \0 */
};

struct suppress_set {
	pthread_rwlock_t	 lock;
	struct ent		**b;
	size_t			 nb;		/* a power of two */
	size_t			 n;
	size_t			 bytes;		/* entries and their text */
	unsigned char		 k[crypto_shorthash_KEYBYTES];
};

#define SET_MIN_BUCKETS	64

static uint64_t
hash(const struct suppress_set *s, const char *account, size_t alen, const char *key,
    size_t klen)
{
	unsigned char tmp[512], out[crypto_shorthash_BYTES];
	unsigned char *p = alen + klen + 1 <= sizeof(tmp) ? tmp : xmalloc(alen + klen + 1);
	uint64_t h;

	memcpy(p, account, alen);
	p[alen] = 0;
	memcpy(p + alen + 1, key, klen);
	crypto_shorthash(out, p, alen + klen + 1, s->k);
	if (p != tmp)
		free(p);
	memcpy(&h, out, sizeof(h));
	return h;
}

struct suppress_set *
suppress_set_new(void)
{
	struct suppress_set *s = xcalloc(1, sizeof(*s));

	pthread_rwlock_init(&s->lock, NULL);
	s->nb = SET_MIN_BUCKETS;
	s->b = xcalloc(s->nb, sizeof(*s->b));
	id_random_bytes(s->k, sizeof(s->k));
	return s;
}

static void
free_entries(struct suppress_set *s)
{
	for (size_t i = 0; i < s->nb; i++) {
		struct ent *e = s->b[i], *next;
		for (; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
		s->b[i] = NULL;
	}
	s->n = 0;
	s->bytes = 0;
}

void
suppress_set_free(struct suppress_set *s)
{
	if (s == NULL)
		return;
	free_entries(s);
	free(s->b);
	pthread_rwlock_destroy(&s->lock);
	free(s);
}

void
suppress_set_clear(struct suppress_set *s)
{
	pthread_rwlock_wrlock(&s->lock);
	free_entries(s);
	pthread_rwlock_unlock(&s->lock);
}

/* find() returns the link that points at the entry, or at the NULL ending
 * its chain. Hold the lock. */
static struct ent **
find(struct suppress_set *s, uint64_t h, const char *account, size_t alen, const char *key,
    size_t klen)
{
	struct ent **pp = &s->b[h & (s->nb - 1)];

	for (; *pp != NULL; pp = &(*pp)->next) {
		struct ent *e = *pp;
		if (e->h == h && e->alen == alen && e->klen == klen &&
		    memcmp(e->text, account, alen) == 0 &&
		    memcmp(e->text + alen + 1, key, klen) == 0)
			break;
	}
	return pp;
}

static void
grow(struct suppress_set *s)
{
	size_t nb = s->nb * 2;
	struct ent **b = xcalloc(nb, sizeof(*b));

	for (size_t i = 0; i < s->nb; i++) {
		struct ent *e = s->b[i], *next;
		for (; e != NULL; e = next) {
			next = e->next;
			e->next = b[e->h & (nb - 1)];
			b[e->h & (nb - 1)] = e;
		}
	}
	free(s->b);
	s->b = b;
	s->nb = nb;
}

int
suppress_set_add(struct suppress_set *s, const char *account, const char *key)
{
	size_t alen = strlen(account), klen = strlen(key);
	uint64_t h = hash(s, account, alen, key, klen);
	struct ent **pp, *e;
	int added = 0;

	pthread_rwlock_wrlock(&s->lock);
	pp = find(s, h, account, alen, key, klen);
	if (*pp == NULL) {
		e = xmalloc(sizeof(*e) + alen + klen + 2);
		e->next = NULL;
		e->h = h;
		e->alen = (uint32_t)alen;
		e->klen = (uint32_t)klen;
		memcpy(e->text, account, alen + 1);
		memcpy(e->text + alen + 1, key, klen + 1);
		*pp = e;
		s->n++;
		s->bytes += sizeof(*e) + alen + klen + 2;
		if (s->n > s->nb)
			grow(s);
		added = 1;
	}
	pthread_rwlock_unlock(&s->lock);
	return added;
}

int
suppress_set_remove(struct suppress_set *s, const char *account, const char *key)
{
	size_t alen = strlen(account), klen = strlen(key);
	uint64_t h = hash(s, account, alen, key, klen);
	struct ent **pp, *e;
	int removed = 0;

	pthread_rwlock_wrlock(&s->lock);
	pp = find(s, h, account, alen, key, klen);
	if ((e = *pp) != NULL) {
		*pp = e->next;
		s->n--;
		s->bytes -= sizeof(*e) + e->alen + e->klen + 2;
		free(e);
		removed = 1;
	}
	pthread_rwlock_unlock(&s->lock);
	return removed;
}

int
suppress_set_has(struct suppress_set *s, const char *account, const char *key)
{
	size_t alen = strlen(account), klen = strlen(key);
	uint64_t h = hash(s, account, alen, key, klen);
	int found;

	pthread_rwlock_rdlock(&s->lock);
	found = *find(s, h, account, alen, key, klen) != NULL;
	pthread_rwlock_unlock(&s->lock);
	return found;
}

size_t
suppress_set_count(struct suppress_set *s)
{
	size_t n;

	pthread_rwlock_rdlock(&s->lock);
	n = s->n;
	pthread_rwlock_unlock(&s->lock);
	return n;
}

size_t
suppress_set_bytes(struct suppress_set *s)
{
	size_t n;

	pthread_rwlock_rdlock(&s->lock);
	n = s->bytes + s->nb * sizeof(*s->b) + sizeof(*s);
	pthread_rwlock_unlock(&s->lock);
	return n;
}
