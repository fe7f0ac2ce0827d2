/* sched: per-destination queues and one timer heap.
 *
 * DESIGN
 *
 * Three structures, each doing one job in O(1) or O(log n):
 *
 *  - items by message id: a chained hash table (power-of-two buckets, grown
 *    at load 1), so the spool's events (removed, held, released) and
 *    `queue flush ID` find a message's items in O(1) expected;
 *  - destinations by domain: a second chained hash table of struct
 *    sched_dest, each with a FIFO of its READY items (doubly linked, so an
 *    item leaves from the middle in O(1) when held or removed) and its count
 *    of open connections;
 *  - DEFERRED items in one global binary min-heap keyed by next_attempt; an
 *    item knows its heap index, so it leaves the heap in O(log n) too.
 *
 * A scheduling decision is: pop the due items off the heap into their FIFOs
 * (O(log n) each), then pick a destination that may open a connection from
 * the "wanting" list (destinations with ready items and room under their
 * limit; kept exact as counts change, so picking is O(1)), and a connection
 * takes the head of its FIFO (O(1)). The global connection limit is a
 * counter. So every decision costs O(log n) at most, n = deferred items.
 *
 * Memory per queued message with one destination: one struct sched_item
 * (sched_item_size() reports it with its hash and heap slots), about 100
 * bytes; envelopes stay in the spool's index and are not copied here. A
 * million queued messages cost about 100 MB here.
 *
 * Traffic shaping plugs in through struct shaper_ops (connect_wait before a
 * connection opens, send_wait before a message goes, on_result after each
 * outcome); the scheduler itself knows only the two connection limits. A
 * destination the shaper refuses leaves the wanting list for a second heap
 * of parked destinations keyed by the time the shaper gave, so 10,000
 * suspended or rate-limited destinations cost nothing per decision: they
 * come back in sched_due() in O(log d) each. */
#include "queue/sched.h"
#include "util/xalloc.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define SCHED_DOMAIN_MAX	256

struct sched_item {
	struct sched_item	*hnext;		/* id hash chain */
	struct sched_item	*prev, *next;	/* destination FIFO (READY) */
	struct sched_dest	*dest;
	uint64_t		 next_attempt;
	uint32_t		 heap_idx;	/* DEFERRED: index in the heap */
	uint8_t			 state;		/* enum sched_state */
	uint8_t			 removed;	/* left the spool while ACTIVE */
	uint8_t			 held;		/* held while ACTIVE */
	char			 id[ID_LEN + 1];
};

struct sched_dest {
	struct sched_dest	*hnext;
	struct sched_dest	*wprev, *wnext;	/* the "wanting a connection" list */
	struct sched_item	*head, *tail;	/* READY FIFO */
	size_t			 nready;
	size_t			 nitems;	/* items of any state: frees the dest at 0 */
	unsigned		 active;	/* open connections */
	int			 wanting;
	uint64_t		 park_until;	/* parked: no new connection before */
	uint32_t		 park_idx;	/* index in the park heap */
	int			 parked;
	char			 domain[];
};

struct sched {
	struct sched_limits	 lim;
	struct shaper_ops	 shaper;
	struct sched_item	**ids;
	size_t			 nids_buckets, nitems;
	struct sched_dest	**dests;
	size_t			 ndest_buckets, ndests;
	struct sched_item	**heap;
	size_t			 nheap, heapcap;
	struct sched_dest	*want_head, *want_tail;
	struct sched_dest	**park;		/* parked destinations, min-heap on park_until */
	size_t			 npark, parkcap;
	unsigned		 connections;
	size_t			 nready, nheld, nactive;
};

static uint64_t
hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

size_t
sched_item_size(void)
{
	/* the struct, its malloc header, one hash bucket pointer (load <= 1)
	 * and one heap slot while deferred */
	return sizeof(struct sched_item) + 16 + sizeof(void *) + sizeof(void *);
}

struct sched *
sched_new(const struct sched_limits *lim)
{
	struct sched *s = xcalloc(1, sizeof(*s));

	s->lim = *lim;
	if (s->lim.max_connections == 0)
		s->lim.max_connections = 1;
	if (s->lim.max_connections_per_destination == 0)
		s->lim.max_connections_per_destination = 1;
	s->nids_buckets = 1024;
	s->ids = xcalloc(s->nids_buckets, sizeof(*s->ids));
	s->ndest_buckets = 256;
	s->dests = xcalloc(s->ndest_buckets, sizeof(*s->dests));
	return s;
}

void
sched_set_shaper(struct sched *s, const struct shaper_ops *ops)
{
	if (ops)
		s->shaper = *ops;
	else
		memset(&s->shaper, 0, sizeof(s->shaper));
}

const struct shaper_ops *
sched_shaper(const struct sched *s)
{
	return &s->shaper;
}

/* --- the heap ------------------------------------------------------------ */

static void
heap_set(struct sched *s, size_t i, struct sched_item *it)
{
	s->heap[i] = it;
	it->heap_idx = (uint32_t)i;
}

static void
heap_up(struct sched *s, size_t i)
{
	struct sched_item *it = s->heap[i];

	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (s->heap[p]->next_attempt <= it->next_attempt)
			break;
		heap_set(s, i, s->heap[p]);
		i = p;
	}
	heap_set(s, i, it);
}

static void
heap_down(struct sched *s, size_t i)
{
	struct sched_item *it = s->heap[i];

	for (;;) {
		size_t l = 2 * i + 1, m = i;
		uint64_t best = it->next_attempt;
		if (l < s->nheap && s->heap[l]->next_attempt < best) {
			m = l;
			best = s->heap[l]->next_attempt;
		}
		if (l + 1 < s->nheap && s->heap[l + 1]->next_attempt < best)
			m = l + 1;
		if (m == i)
			break;
		heap_set(s, i, s->heap[m]);
		i = m;
	}
	heap_set(s, i, it);
}

static void
heap_push(struct sched *s, struct sched_item *it)
{
	if (s->nheap == s->heapcap) {
		s->heapcap = s->heapcap ? s->heapcap * 2 : 1024;
		s->heap = xrealloc(s->heap, s->heapcap * sizeof(*s->heap));
	}
	s->heap[s->nheap] = it;
	heap_up(s, s->nheap++);
}

static void
heap_remove(struct sched *s, struct sched_item *it)
{
	size_t i = it->heap_idx;

	s->nheap--;
	if (i != s->nheap) {
		struct sched_item *last = s->heap[s->nheap];
		heap_set(s, i, last);
		heap_down(s, i);
		heap_up(s, last->heap_idx);	/* or it must rise instead */
	}
}

uint64_t
sched_next_due(const struct sched *s)
{
	uint64_t t = s->nheap ? s->heap[0]->next_attempt : UINT64_MAX;

	if (s->npark && s->park[0]->park_until < t)
		t = s->park[0]->park_until;
	return t;
}

/* --- destinations -------------------------------------------------------- */

static void
park_set(struct sched *s, size_t i, struct sched_dest *d)
{
	s->park[i] = d;
	d->park_idx = (uint32_t)i;
}

static void
park_up(struct sched *s, size_t i)
{
	struct sched_dest *d = s->park[i];

	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (s->park[p]->park_until <= d->park_until)
			break;
		park_set(s, i, s->park[p]);
		i = p;
	}
	park_set(s, i, d);
}

static void
park_down(struct sched *s, size_t i)
{
	struct sched_dest *d = s->park[i];

	for (;;) {
		size_t l = 2 * i + 1, m = i;
		uint64_t best = d->park_until;
		if (l < s->npark && s->park[l]->park_until < best) {
			m = l;
			best = s->park[l]->park_until;
		}
		if (l + 1 < s->npark && s->park[l + 1]->park_until < best)
			m = l + 1;
		if (m == i)
			break;
		park_set(s, i, s->park[m]);
		i = m;
	}
	park_set(s, i, d);
}

static void
park_remove(struct sched *s, struct sched_dest *d)
{
	size_t i = d->park_idx;

	s->npark--;
	if (i != s->npark) {
		struct sched_dest *last = s->park[s->npark];
		park_set(s, i, last);
		park_down(s, i);
		park_up(s, last->park_idx);
	}
	d->parked = 0;
	d->park_until = 0;
}

static void want_update(struct sched *s, struct sched_dest *d);

void
sched_park(struct sched *s, struct sched_dest *d, uint64_t until)
{
	if (d->parked) {
		if (until > d->park_until) {
			d->park_until = until;
			park_down(s, d->park_idx);
		}
		return;
	}
	if (s->npark == s->parkcap) {
		s->parkcap = s->parkcap ? s->parkcap * 2 : 64;
		s->park = xrealloc(s->park, s->parkcap * sizeof(*s->park));
	}
	d->parked = 1;
	d->park_until = until;
	s->park[s->npark] = d;
	park_up(s, s->npark++);
	want_update(s, d);
}

void
sched_unpark(struct sched *s, struct sched_dest *d)
{
	if (!d->parked)
		return;
	park_remove(s, d);
	want_update(s, d);
}

uint64_t
sched_dest_parked(const struct sched_dest *d)
{
	return d->parked ? d->park_until : 0;
}

static void
want_update(struct sched *s, struct sched_dest *d)
{
	int want = !d->parked && d->nready > 0 &&
	    d->active < s->lim.max_connections_per_destination && d->active < d->nready;

	if (want == d->wanting)
		return;
	d->wanting = want;
	if (want) {
		d->wprev = s->want_tail;
		d->wnext = NULL;
		if (s->want_tail)
			s->want_tail->wnext = d;
		else
			s->want_head = d;
		s->want_tail = d;
	} else {
		if (d->wprev)
			d->wprev->wnext = d->wnext;
		else
			s->want_head = d->wnext;
		if (d->wnext)
			d->wnext->wprev = d->wprev;
		else
			s->want_tail = d->wprev;
		d->wprev = d->wnext = NULL;
	}
}

static struct sched_dest *
dest_lookup(struct sched *s, const char *domain, char *key, size_t *np)
{
	size_t n = 0;
	struct sched_dest *d;

	for (; domain[n] && n < SCHED_DOMAIN_MAX - 1; n++)
		key[n] = (char)tolower((unsigned char)domain[n]);
	key[n] = '\0';
	*np = n;
	for (d = s->dests[hash_str(key) & (s->ndest_buckets - 1)]; d; d = d->hnext)
		if (strcmp(d->domain, key) == 0)
			return d;
	return NULL;
}

struct sched_dest *
sched_dest_find(struct sched *s, const char *domain)
{
	char key[SCHED_DOMAIN_MAX];
	size_t n;

	return dest_lookup(s, domain, key, &n);
}

static struct sched_dest *
dest_get(struct sched *s, const char *domain)
{
	char key[SCHED_DOMAIN_MAX];
	size_t n, b;
	struct sched_dest *d;

	if ((d = dest_lookup(s, domain, key, &n)) != NULL)
		return d;
	b = hash_str(key) & (s->ndest_buckets - 1);
	if (s->ndests >= s->ndest_buckets) {
		size_t nb = s->ndest_buckets * 2;
		struct sched_dest **nt = xcalloc(nb, sizeof(*nt));
		for (size_t i = 0; i < s->ndest_buckets; i++)
			while (s->dests[i]) {
				struct sched_dest *x = s->dests[i];
				s->dests[i] = x->hnext;
				size_t nbk = hash_str(x->domain) & (nb - 1);
				x->hnext = nt[nbk];
				nt[nbk] = x;
			}
		free(s->dests);
		s->dests = nt;
		s->ndest_buckets = nb;
		b = hash_str(key) & (nb - 1);
	}
	d = xcalloc(1, sizeof(*d) + n + 1);
	memcpy(d->domain, key, n + 1);
	d->hnext = s->dests[b];
	s->dests[b] = d;
	s->ndests++;
	return d;
}

static void
dest_maybe_free(struct sched *s, struct sched_dest *d)
{
	struct sched_dest **pp;

	if (d->nitems > 0 || d->active > 0)
		return;
	if (d->parked)
		park_remove(s, d);
	want_update(s, d);
	for (pp = &s->dests[hash_str(d->domain) & (s->ndest_buckets - 1)]; *pp; pp = &(*pp)->hnext)
		if (*pp == d) {
			*pp = d->hnext;
			break;
		}
	s->ndests--;
	free(d);
}

static void
fifo_push(struct sched *s, struct sched_item *it)
{
	struct sched_dest *d = it->dest;

	it->state = SCHED_READY;
	it->next = NULL;
	it->prev = d->tail;
	if (d->tail)
		d->tail->next = it;
	else
		d->head = it;
	d->tail = it;
	d->nready++;
	s->nready++;
	want_update(s, d);
}

static void
fifo_remove(struct sched *s, struct sched_item *it)
{
	struct sched_dest *d = it->dest;

	if (it->prev)
		it->prev->next = it->next;
	else
		d->head = it->next;
	if (it->next)
		it->next->prev = it->prev;
	else
		d->tail = it->prev;
	it->prev = it->next = NULL;
	d->nready--;
	s->nready--;
	want_update(s, d);
}

/* --- items -------------------------------------------------------------- */

static void
ids_insert(struct sched *s, struct sched_item *it)
{
	size_t b;

	if (s->nitems >= s->nids_buckets) {
		size_t nb = s->nids_buckets * 2;
		struct sched_item **nt = xcalloc(nb, sizeof(*nt));
		for (size_t i = 0; i < s->nids_buckets; i++)
			while (s->ids[i]) {
				struct sched_item *x = s->ids[i];
				s->ids[i] = x->hnext;
				size_t nbk = hash_str(x->id) & (nb - 1);
				x->hnext = nt[nbk];
				nt[nbk] = x;
			}
		free(s->ids);
		s->ids = nt;
		s->nids_buckets = nb;
	}
	b = hash_str(it->id) & (s->nids_buckets - 1);
	it->hnext = s->ids[b];
	s->ids[b] = it;
	s->nitems++;
}

static void
ids_remove(struct sched *s, struct sched_item *it)
{
	for (struct sched_item **pp = &s->ids[hash_str(it->id) & (s->nids_buckets - 1)]; *pp;
	    pp = &(*pp)->hnext)
		if (*pp == it) {
			*pp = it->hnext;
			s->nitems--;
			return;
		}
}

/* detach() takes an item out of whichever structure holds it. */
static void
detach(struct sched *s, struct sched_item *it)
{
	switch (it->state) {
	case SCHED_READY:
		fifo_remove(s, it);
		break;
	case SCHED_DEFERRED:
		heap_remove(s, it);
		break;
	case SCHED_HELD:
		s->nheld--;
		break;
	case SCHED_ACTIVE:
		break;
	}
}

static void
item_free(struct sched *s, struct sched_item *it)
{
	struct sched_dest *d = it->dest;

	ids_remove(s, it);
	d->nitems--;
	free(it);
	dest_maybe_free(s, d);
}

static void
schedule(struct sched *s, struct sched_item *it, uint64_t at, uint64_t now)
{
	it->next_attempt = at;
	if (at <= now) {
		fifo_push(s, it);
	} else {
		it->state = SCHED_DEFERRED;
		heap_push(s, it);
	}
}

struct sched_item *
sched_add(struct sched *s, const char *id, const char *domain, uint64_t next_attempt, int held,
    uint64_t now)
{
	struct sched_item *it = xcalloc(1, sizeof(*it));

	memcpy(it->id, id, strnlen(id, ID_LEN));
	it->dest = dest_get(s, domain);
	it->dest->nitems++;
	ids_insert(s, it);
	if (held) {
		it->state = SCHED_HELD;
		it->next_attempt = next_attempt;
		s->nheld++;
	} else {
		schedule(s, it, next_attempt, now);
	}
	return it;
}

/* for_each_of() calls fn on every item of message id; fn may free it. */
static size_t
for_each_of(struct sched *s, const char *id, void (*fn)(struct sched *, struct sched_item *, uint64_t),
    uint64_t now)
{
	struct sched_item *it, *next;
	size_t n = 0;

	for (it = s->ids[hash_str(id) & (s->nids_buckets - 1)]; it; it = next) {
		next = it->hnext;
		if (strcmp(it->id, id) == 0) {
			fn(s, it, now);
			n++;
		}
	}
	return n;
}

static void
do_remove(struct sched *s, struct sched_item *it, uint64_t now)
{
	(void)now;
	if (it->state == SCHED_ACTIVE) {
		it->removed = 1;
		return;
	}
	detach(s, it);
	item_free(s, it);
}

static void
do_hold(struct sched *s, struct sched_item *it, uint64_t now)
{
	(void)now;
	if (it->state == SCHED_ACTIVE) {
		it->held = 1;
		return;
	}
	if (it->state == SCHED_HELD)
		return;
	detach(s, it);
	it->state = SCHED_HELD;
	s->nheld++;
}

static void
do_release(struct sched *s, struct sched_item *it, uint64_t now)
{
	if (it->state == SCHED_ACTIVE) {
		it->held = 0;
		return;
	}
	if (it->state != SCHED_HELD)
		return;
	s->nheld--;
	schedule(s, it, now, now);
}

static void
do_flush(struct sched *s, struct sched_item *it, uint64_t now)
{
	if (it->state != SCHED_DEFERRED)
		return;
	heap_remove(s, it);
	schedule(s, it, now, now);
}

size_t
sched_remove_message(struct sched *s, const char *id)
{
	return for_each_of(s, id, do_remove, 0);
}

size_t
sched_hold_message(struct sched *s, const char *id)
{
	return for_each_of(s, id, do_hold, 0);
}

size_t
sched_release_message(struct sched *s, const char *id, uint64_t now)
{
	return for_each_of(s, id, do_release, now);
}

size_t
sched_flush(struct sched *s, const char *id, uint64_t now)
{
	size_t n = 0;

	if (id != NULL)
		return for_each_of(s, id, do_flush, now);
	while (s->nheap > 0) {
		struct sched_item *it = s->heap[0];
		heap_remove(s, it);
		schedule(s, it, now, now);
		n++;
	}
	return n;
}

size_t
sched_due(struct sched *s, uint64_t now)
{
	size_t n = 0;

	while (s->nheap > 0 && s->heap[0]->next_attempt <= now) {
		struct sched_item *it = s->heap[0];
		heap_remove(s, it);
		fifo_push(s, it);
		n++;
	}
	while (s->npark > 0 && s->park[0]->park_until <= now)
		sched_unpark(s, s->park[0]);
	return n;
}

struct sched_dest *
sched_want_connection(struct sched *s, uint64_t now)
{
	size_t tries = 0;

	/* Round robin: the head is asked and rotated to the tail, so one busy
	 * destination cannot starve the others. A refusal by the shaper parks
	 * the destination (it leaves the list); each is asked once per call. */
	while (s->want_head && s->connections < s->lim.max_connections && tries++ < s->ndests) {
		struct sched_dest *d = s->want_head;
		if (d != s->want_tail) {
			s->want_head = d->wnext;
			s->want_head->wprev = NULL;
			d->wprev = s->want_tail;
			d->wnext = NULL;
			s->want_tail->wnext = d;
			s->want_tail = d;
		}
		if (s->shaper.connect_wait) {
			uint64_t until = s->shaper.connect_wait(s->shaper.ctx, d->domain, d->active, now);
			if (until) {
				sched_park(s, d, until > now ? until : now + 1);
				continue;
			}
		}
		return d;
	}
	return NULL;
}

int
sched_wanting(const struct sched *s)
{
	return s->want_head != NULL;
}

void
sched_conn_open(struct sched *s, struct sched_dest *d)
{
	d->active++;
	s->connections++;
	want_update(s, d);
}

void
sched_conn_close(struct sched *s, struct sched_dest *d)
{
	d->active--;
	s->connections--;
	want_update(s, d);
	dest_maybe_free(s, d);
}

struct sched_item *
sched_take(struct sched *s, struct sched_dest *d)
{
	struct sched_item *it = d->head;

	if (it == NULL)
		return NULL;
	fifo_remove(s, it);
	it->state = SCHED_ACTIVE;
	s->nactive++;
	return it;
}

void
sched_return(struct sched *s, struct sched_item *it)
{
	struct sched_dest *d = it->dest;

	s->nactive--;
	if (it->removed) {
		item_free(s, it);
		return;
	}
	if (it->held) {
		it->held = 0;
		it->state = SCHED_HELD;
		s->nheld++;
		return;
	}
	it->state = SCHED_READY;
	it->prev = NULL;
	it->next = d->head;
	if (d->head)
		d->head->prev = it;
	else
		d->tail = it;
	d->head = it;
	d->nready++;
	s->nready++;
	want_update(s, d);
}

void
sched_done(struct sched *s, struct sched_item *it, uint64_t retry_at)
{
	s->nactive--;
	if (it->removed || retry_at == 0) {
		item_free(s, it);
		return;
	}
	if (it->held) {
		it->held = 0;
		it->state = SCHED_HELD;
		it->next_attempt = retry_at;
		s->nheld++;
		return;
	}
	it->next_attempt = retry_at;
	it->state = SCHED_DEFERRED;
	heap_push(s, it);
}

const char *
sched_item_id(const struct sched_item *it)
{
	return it->id;
}

struct sched_dest *
sched_item_dest(const struct sched_item *it)
{
	return it->dest;
}

int
sched_item_removed(const struct sched_item *it)
{
	return it->removed;
}

int
sched_item_held(const struct sched_item *it)
{
	return it->held;
}

const char *
sched_dest_domain(const struct sched_dest *d)
{
	return d->domain;
}

size_t
sched_dest_ready(const struct sched_dest *d)
{
	return d->nready;
}

unsigned
sched_dest_active(const struct sched_dest *d)
{
	return d->active;
}

void
sched_counts(const struct sched *s, struct sched_counts *out)
{
	out->items = s->nitems;
	out->ready = s->nready;
	out->deferred = s->nheap;
	out->held = s->nheld;
	out->active = s->nactive;
	out->dests = s->ndests;
	out->parked = s->npark;
	out->connections = s->connections;
}

void
sched_free(struct sched *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->nids_buckets; i++)
		while (s->ids[i]) {
			struct sched_item *it = s->ids[i];
			s->ids[i] = it->hnext;
			free(it);
		}
	for (size_t i = 0; i < s->ndest_buckets; i++)
		while (s->dests[i]) {
			struct sched_dest *d = s->dests[i];
			s->dests[i] = d->hnext;
			free(d);
		}
	free(s->ids);
	free(s->dests);
	free(s->heap);
	free(s->park);
	free(s);
}
