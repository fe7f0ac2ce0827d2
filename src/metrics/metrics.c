/* metrics: the registry and the text-format renderer (see metrics.h).
 *
 * DESIGN
 *
 * A family owns a fixed table of METRICS_SLOTS atomic pointers to series,
 * open addressing with linear probing, keyed by a hash of the label values.
 * Series are only ever added, never moved or freed while the registry
 * lives, so a reader needs no lock: it probes with acquire loads, and a
 * writer that finds an empty slot publishes a fully built series with one
 * compare-and-swap. If the swap loses, the winner is either the same label
 * set (ours is freed, the winner's used) or another one (probing goes on).
 * The table is twice the series cap, so probing always ends at an empty
 * slot or a match. The family count of series is reserved (fetch_add)
 * before a new series is built, which bounds memory even when many threads
 * race past the cap together.
 *
 * Values are relaxed atomics: a counter is a uint64, a gauge a double kept
 * as its bits in a uint64 (stores and loads are whole; adds go through a
 * compare-and-swap loop), a histogram one uint64 per bucket (not
 * cumulative: one increment per observation) and its sum as double bits.
 * The renderer makes the buckets cumulative and takes _count from them.
 *
 * Registration, hooks and rendering take the registry's mutex: they happen
 * at start or once per scrape, never per update. */
#include "metrics/metrics.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/xalloc.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define METRICS_SLOTS		1024	/* power of two, > 2 * METRICS_MAX_SERIES */
#define METRICS_MAX_BOUNDS	32
#define METRICS_MAX_HOOKS	16

enum metrics_type { METRICS_COUNTER, METRICS_GAUGE, METRICS_HISTOGRAM };

struct metrics_series {
	struct metrics_family	*f;
	uint64_t		 hash;
	char			*values[METRICS_MAX_LABELS];
	_Atomic uint64_t	 v;		/* counter value, gauge bits */
	_Atomic uint64_t	 sum;		/* histogram: double bits */
	_Atomic uint64_t	*buckets;	/* histogram: nbounds + 1 (the last is +Inf) */
};

struct metrics_family {
	enum metrics_type	 type;
	char			*name;
	char			*help;
	size_t			 nlabels;
	char			*labels[METRICS_MAX_LABELS];
	double			 bounds[METRICS_MAX_BOUNDS];
	size_t			 nbounds;
	_Atomic size_t		 nseries;
	_Atomic int		 overflow_warned;
	_Atomic(struct metrics_series *) slots[METRICS_SLOTS];
};

struct metrics_hook {
	metrics_hook_fn		 fn;
	void			*arg;
};

struct metrics_registry {
	pthread_mutex_t		 mu;
	struct metrics_family	**families;
	size_t			 nfamilies, capfamilies;
	struct metrics_hook	 hooks[METRICS_MAX_HOOKS];
};

static struct metrics_registry process_registry = { .mu = PTHREAD_MUTEX_INITIALIZER };

static struct metrics_registry *
reg_of(struct metrics_registry *reg)
{
	return reg ? reg : &process_registry;
}

struct metrics_registry *
metrics_registry_new(void)
{
	struct metrics_registry *reg = xcalloc(1, sizeof(*reg));

	pthread_mutex_init(&reg->mu, NULL);
	return reg;
}

static void
series_free(struct metrics_series *s)
{
	for (size_t i = 0; i < METRICS_MAX_LABELS; i++)
		free(s->values[i]);
	free(s->buckets);
	free(s);
}

void
metrics_registry_free(struct metrics_registry *reg)
{
	if (reg == NULL || reg == &process_registry)
		return;
	for (size_t i = 0; i < reg->nfamilies; i++) {
		struct metrics_family *f = reg->families[i];
		for (size_t k = 0; k < METRICS_SLOTS; k++) {
			struct metrics_series *s = atomic_load(&f->slots[k]);
			if (s)
				series_free(s);
		}
		for (size_t k = 0; k < f->nlabels; k++)
			free(f->labels[k]);
		free(f->name);
		free(f->help);
		free(f);
	}
	free(reg->families);
	pthread_mutex_destroy(&reg->mu);
	free(reg);
}

/* ---- registration ------------------------------------------------------ */

static void
metrics_panic(const char *what, const char *name)
{
	/* A broken invariant in the calling code, not a runtime condition. */
	fprintf(stderr, "hermod: metrics: %s: %s\n", what, name ? name : "(null)");
	abort();
}

static int
valid_name(const char *s, int colon_ok)
{
	if (s == NULL || !(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
	    (colon_ok && *s == ':')))
		return 0;
	for (s++; *s; s++)
		if (!(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || (colon_ok && *s == ':')))
			return 0;
	return 1;
}

/* split_labels() parses "a,b" into names; -1 when one is invalid. */
static int
split_labels(const char *labels, char *out[METRICS_MAX_LABELS], size_t *n, int histogram)
{
	const char *p = labels;

	*n = 0;
	if (labels == NULL || *labels == '\0')
		return 0;
	while (*p) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		char *name;

		if (*n == METRICS_MAX_LABELS)
			return -1;
		name = xstrndup(p, len);
		out[(*n)++] = name;
		if (!valid_name(name, 0) || strncmp(name, "__", 2) == 0 ||
		    (histogram && strcmp(name, "le") == 0))
			return -1;
		for (size_t i = 0; i + 1 < *n; i++)
			if (strcmp(out[i], name) == 0)
				return -1;
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}

static int
same_family(const struct metrics_family *f, enum metrics_type type, char **labels, size_t nlabels,
    const double *bounds, size_t nbounds)
{
	if (f->type != type || f->nlabels != nlabels || f->nbounds != nbounds)
		return 0;
	for (size_t i = 0; i < nlabels; i++)
		if (strcmp(f->labels[i], labels[i]) != 0)
			return 0;
	for (size_t i = 0; i < nbounds; i++)
		if (f->bounds[i] != bounds[i])
			return 0;
	return 1;
}

static struct metrics_family *
family_register(struct metrics_registry *reg, enum metrics_type type, const char *name,
    const char *help, const char *labels, const double *bounds, size_t nbounds)
{
	struct metrics_family *f = NULL;
	char *lv[METRICS_MAX_LABELS] = { 0 };
	size_t nl = 0, i;

	reg = reg_of(reg);
	if (!valid_name(name, 1))
		metrics_panic("invalid metric name", name);
	if (split_labels(labels, lv, &nl, type == METRICS_HISTOGRAM) < 0)
		metrics_panic("invalid label names", labels);
	if (nbounds > METRICS_MAX_BOUNDS)
		metrics_panic("too many buckets", name);
	for (i = 0; i < nbounds; i++)
		if (isnan(bounds[i]) || isinf(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1]))
			metrics_panic("bucket bounds not strictly increasing", name);

	pthread_mutex_lock(&reg->mu);
	for (i = 0; i < reg->nfamilies; i++)
		if (strcmp(reg->families[i]->name, name) == 0) {
			f = reg->families[i];
			break;
		}
	if (f != NULL) {
		int same = same_family(f, type, lv, nl, bounds, nbounds);
		pthread_mutex_unlock(&reg->mu);
		for (i = 0; i < nl; i++)
			free(lv[i]);
		if (!same)
			metrics_panic("registered again with another type, labels or buckets", name);
		return f;
	}
	f = xcalloc(1, sizeof(*f));
	f->type = type;
	f->name = xstrdup(name);
	f->help = xstrdup(help ? help : "");
	f->nlabels = nl;
	memcpy(f->labels, lv, sizeof(lv));
	f->nbounds = nbounds;
	if (nbounds)
		memcpy(f->bounds, bounds, nbounds * sizeof(*bounds));
	if (reg->nfamilies == reg->capfamilies) {
		reg->capfamilies = reg->capfamilies ? reg->capfamilies * 2 : 32;
		reg->families = xrealloc(reg->families, reg->capfamilies * sizeof(*reg->families));
	}
	reg->families[reg->nfamilies++] = f;
	pthread_mutex_unlock(&reg->mu);
	if (nl == 0)
		(void)metrics_seriesv(f, NULL);	/* renders 0 from the start */
	return f;
}

struct metrics_family *
metrics_counter(struct metrics_registry *reg, const char *name, const char *help, const char *labels)
{
	return family_register(reg, METRICS_COUNTER, name, help, labels, NULL, 0);
}

struct metrics_family *
metrics_gauge(struct metrics_registry *reg, const char *name, const char *help, const char *labels)
{
	return family_register(reg, METRICS_GAUGE, name, help, labels, NULL, 0);
}

struct metrics_family *
metrics_histogram(struct metrics_registry *reg, const char *name, const char *help,
    const char *labels, const double *bounds, size_t nbounds)
{
	return family_register(reg, METRICS_HISTOGRAM, name, help, labels, bounds, nbounds);
}

/* ---- series lookup ----------------------------------------------------- */

/* value_len() is the bytes of v kept: at most METRICS_MAX_VALUE, cut at a
 * UTF-8 character boundary. */
static size_t
value_len(const char *v)
{
	size_t n = strlen(v);

	if (n <= METRICS_MAX_VALUE)
		return n;
	n = METRICS_MAX_VALUE;
	while (n > 0 && ((unsigned char)v[n] & 0xC0) == 0x80)
		n--;
	return n;
}

static uint64_t
hash_values(const char *const *values, size_t n)
{
	uint64_t h = 1469598103934665603ULL;	/* FNV-1a */

	for (size_t i = 0; i < n; i++) {
		const char *v = values[i] ? values[i] : "";
		size_t len = value_len(v);
		for (size_t k = 0; k < len; k++) {
			h ^= (unsigned char)v[k];
			h *= 1099511628211ULL;
		}
		h ^= 0xff;	/* separator: ("a","bc") differs from ("ab","c") */
		h *= 1099511628211ULL;
	}
	return h;
}

static int
series_match(const struct metrics_series *s, uint64_t h, const char *const *values, size_t n)
{
	if (s->hash != h)
		return 0;
	for (size_t i = 0; i < n; i++) {
		const char *v = values[i] ? values[i] : "";
		size_t len = value_len(v);
		if (strlen(s->values[i]) != len || memcmp(s->values[i], v, len) != 0)
			return 0;
	}
	return 1;
}

static struct metrics_series *
series_new(struct metrics_family *f, uint64_t h, const char *const *values)
{
	struct metrics_series *s = xcalloc(1, sizeof(*s));

	s->f = f;
	s->hash = h;
	for (size_t i = 0; i < f->nlabels; i++) {
		const char *v = values[i] ? values[i] : "";
		s->values[i] = xstrndup(v, value_len(v));
	}
	if (f->type == METRICS_HISTOGRAM)
		s->buckets = xcalloc(f->nbounds + 1, sizeof(*s->buckets));
	return s;
}

/* lookup() finds or inserts the label set; create 0 = find only. */
static struct metrics_series *
lookup(struct metrics_family *f, const char *const *values, int create, int *full)
{
	uint64_t h = hash_values(values, f->nlabels);
	size_t i = (size_t)h & (METRICS_SLOTS - 1);
	struct metrics_series *mine = NULL;

	*full = 0;
	for (size_t probes = 0; probes < METRICS_SLOTS; probes++, i = (i + 1) & (METRICS_SLOTS - 1)) {
		struct metrics_series *s = atomic_load_explicit(&f->slots[i], memory_order_acquire);

		while (s == NULL) {
			if (!create)
				return NULL;
			if (mine == NULL) {
				/* Reserve a place under the cap before building. */
				if (atomic_fetch_add(&f->nseries, 1) >= METRICS_MAX_SERIES) {
					atomic_fetch_sub(&f->nseries, 1);
					*full = 1;
					return NULL;
				}
				mine = series_new(f, h, values);
			}
			if (atomic_compare_exchange_strong_explicit(&f->slots[i], &s, mine,
			    memory_order_acq_rel, memory_order_acquire))
				return mine;
			/* lost the race: s is the winner, look at it */
		}
		if (series_match(s, h, values, f->nlabels)) {
			if (mine != NULL) {
				series_free(mine);
				atomic_fetch_sub(&f->nseries, 1);
			}
			return s;
		}
	}
	/* Unreachable: the table is more than twice the cap. */
	metrics_panic("series table full", f->name);
	return NULL;
}

struct metrics_series *
metrics_seriesv(struct metrics_family *f, const char *const *values)
{
	static const char *const overflow[METRICS_MAX_LABELS] = { "overflow", "overflow",
		"overflow", "overflow" };
	struct metrics_series *s;
	int full;

	if ((s = lookup(f, values, 1, &full)) != NULL)
		return s;
	if (!atomic_exchange(&f->overflow_warned, 1))
		log_warn("metrics", "%s has more than %d label sets: further ones are counted as "
		    "\"overflow\"", f->name, METRICS_MAX_SERIES);
	if ((s = lookup(f, overflow, 0, &full)) != NULL)
		return s;
	/* The overflow series is the one allowed past the cap. */
	{
		uint64_t h = hash_values(overflow, f->nlabels);
		struct metrics_series *mine = series_new(f, h, overflow);
		size_t i = (size_t)h & (METRICS_SLOTS - 1);
		for (;; i = (i + 1) & (METRICS_SLOTS - 1)) {
			struct metrics_series *cur = NULL;
			if (atomic_compare_exchange_strong(&f->slots[i], &cur, mine))
				return mine;
			if (series_match(cur, h, overflow, f->nlabels)) {
				series_free(mine);
				return cur;
			}
		}
	}
}

struct metrics_series *
metrics_series(struct metrics_family *f, ...)
{
	const char *values[METRICS_MAX_LABELS] = { 0 };
	va_list ap;

	va_start(ap, f);
	for (size_t i = 0; i < f->nlabels; i++)
		values[i] = va_arg(ap, const char *);
	va_end(ap);
	return metrics_seriesv(f, values);
}

/* ---- updates ----------------------------------------------------------- */

static uint64_t
dbits(double d)
{
	uint64_t u;

	memcpy(&u, &d, sizeof(u));
	return u;
}

static double
bitsd(uint64_t u)
{
	double d;

	memcpy(&d, &u, sizeof(d));
	return d;
}

static void
atomic_add_double(_Atomic uint64_t *p, double d)
{
	uint64_t old = atomic_load_explicit(p, memory_order_relaxed);

	while (!atomic_compare_exchange_weak_explicit(p, &old, dbits(bitsd(old) + d),
	    memory_order_relaxed, memory_order_relaxed))
		;
}

void
metrics_add(struct metrics_series *s, uint64_t n)
{
	atomic_fetch_add_explicit(&s->v, n, memory_order_relaxed);
}

void
metrics_inc(struct metrics_series *s)
{
	atomic_fetch_add_explicit(&s->v, 1, memory_order_relaxed);
}

void
metrics_counter_set(struct metrics_series *s, uint64_t v)
{
	atomic_store_explicit(&s->v, v, memory_order_relaxed);
}

void
metrics_set(struct metrics_series *s, double v)
{
	atomic_store_explicit(&s->v, dbits(v), memory_order_relaxed);
}

void
metrics_gauge_add(struct metrics_series *s, double d)
{
	atomic_add_double(&s->v, d);
}

void
metrics_observe(struct metrics_series *s, double v)
{
	const struct metrics_family *f = s->f;
	size_t lo = 0, hi = f->nbounds;

	if (isnan(v) || s->buckets == NULL)
		return;
	/* the first bound >= v; hi = nbounds is the +Inf bucket */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (v <= f->bounds[mid])
			hi = mid;
		else
			lo = mid + 1;
	}
	atomic_fetch_add_explicit(&s->buckets[lo], 1, memory_order_relaxed);
	atomic_add_double(&s->sum, v);
}

double
metrics_value(const struct metrics_series *s)
{
	uint64_t n = 0;

	switch (s->f->type) {
	case METRICS_COUNTER:
		return (double)atomic_load_explicit(&s->v, memory_order_relaxed);
	case METRICS_GAUGE:
		return bitsd(atomic_load_explicit(&s->v, memory_order_relaxed));
	case METRICS_HISTOGRAM:
		for (size_t i = 0; i <= s->f->nbounds; i++)
			n += atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
		return (double)n;
	}
	return 0;
}

/* ---- hooks ------------------------------------------------------------- */

int
metrics_hook_add(struct metrics_registry *reg, metrics_hook_fn fn, void *arg)
{
	int h = -1;

	reg = reg_of(reg);
	pthread_mutex_lock(&reg->mu);
	for (int i = 0; i < METRICS_MAX_HOOKS; i++)
		if (reg->hooks[i].fn == NULL) {
			reg->hooks[i].fn = fn;
			reg->hooks[i].arg = arg;
			h = i;
			break;
		}
	pthread_mutex_unlock(&reg->mu);
	if (h < 0)
		metrics_panic("too many hooks", NULL);
	return h;
}

void
metrics_hook_remove(struct metrics_registry *reg, int handle)
{
	reg = reg_of(reg);
	if (handle < 0 || handle >= METRICS_MAX_HOOKS)
		return;
	pthread_mutex_lock(&reg->mu);
	reg->hooks[handle].fn = NULL;
	reg->hooks[handle].arg = NULL;
	pthread_mutex_unlock(&reg->mu);
}

/* ---- rendering --------------------------------------------------------- */

void
metrics_format_double(double v, char out[32])
{
	if (isnan(v)) {
		strcpy(out, "NaN");
		return;
	}
	if (isinf(v)) {
		strcpy(out, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	/* Whole numbers (counts, bytes) without an exponent while exact. */
	if (v == floor(v) && fabs(v) < 9007199254740992.0) {
		snprintf(out, 32, "%.0f", v);
		return;
	}
	/* Otherwise the shortest %g that reads back as the same double. */
	for (int prec = 6; prec <= 17; prec++) {
		snprintf(out, 32, "%.*g", prec, v);
		if (strtod(out, NULL) == v)
			return;
	}
}

void
metrics_escape_label(struct buf *out, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\')
			buf_puts(out, "\\\\");
		else if (*v == '"')
			buf_puts(out, "\\\"");
		else if (*v == '\n')
			buf_puts(out, "\\n");
		else
			buf_putc(out, *v);
	}
}

static void
escape_help(struct buf *out, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\')
			buf_puts(out, "\\\\");
		else if (*v == '\n')
			buf_puts(out, "\\n");
		else
			buf_putc(out, *v);
	}
}

/* put_labels() writes {a="x",b="y"} plus le when given; nothing without any. */
static void
put_labels(struct buf *out, const struct metrics_series *s, const char *le)
{
	const struct metrics_family *f = s->f;

	if (f->nlabels == 0 && le == NULL)
		return;
	buf_putc(out, '{');
	for (size_t i = 0; i < f->nlabels; i++) {
		buf_printf(out, "%s%s=\"", i ? "," : "", f->labels[i]);
		metrics_escape_label(out, s->values[i]);
		buf_putc(out, '"');
	}
	if (le != NULL)
		buf_printf(out, "%sle=\"%s\"", f->nlabels ? "," : "", le);
	buf_putc(out, '}');
}

static int
series_cmp(const void *a, const void *b)
{
	const struct metrics_series *x = *(struct metrics_series *const *)a;
	const struct metrics_series *y = *(struct metrics_series *const *)b;

	for (size_t i = 0; i < x->f->nlabels; i++) {
		int c = strcmp(x->values[i], y->values[i]);
		if (c)
			return c;
	}
	return 0;
}

static void
render_series(struct buf *out, const struct metrics_series *s)
{
	const struct metrics_family *f = s->f;
	char num[32];

	if (f->type != METRICS_HISTOGRAM) {
		buf_puts(out, f->name);
		put_labels(out, s, NULL);
		if (f->type == METRICS_COUNTER)
			buf_printf(out, " %llu\n",
			    (unsigned long long)atomic_load_explicit(&s->v, memory_order_relaxed));
		else {
			metrics_format_double(bitsd(atomic_load_explicit(&s->v, memory_order_relaxed)), num);
			buf_printf(out, " %s\n", num);
		}
		return;
	}
	{
		uint64_t cum = 0;
		char le[32];

		for (size_t i = 0; i <= f->nbounds; i++) {
			cum += atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
			if (i < f->nbounds)
				metrics_format_double(f->bounds[i], le);
			else
				strcpy(le, "+Inf");
			buf_printf(out, "%s_bucket", f->name);
			put_labels(out, s, le);
			buf_printf(out, " %llu\n", (unsigned long long)cum);
		}
		metrics_format_double(bitsd(atomic_load_explicit(&s->sum, memory_order_relaxed)), num);
		buf_printf(out, "%s_sum", f->name);
		put_labels(out, s, NULL);
		buf_printf(out, " %s\n%s_count", num, f->name);
		put_labels(out, s, NULL);
		buf_printf(out, " %llu\n", (unsigned long long)cum);
	}
}

static void
render_family(struct buf *out, struct metrics_family *f)
{
	static const char *const types[] = { "counter", "gauge", "histogram" };
	struct metrics_series *list[METRICS_SLOTS];
	size_t n = 0;

	for (size_t i = 0; i < METRICS_SLOTS; i++) {
		struct metrics_series *s = atomic_load_explicit(&f->slots[i], memory_order_acquire);
		if (s)
			list[n++] = s;
	}
	if (n == 0)
		return;
	qsort(list, n, sizeof(list[0]), series_cmp);
	buf_printf(out, "# HELP %s ", f->name);
	escape_help(out, f->help);
	buf_printf(out, "\n# TYPE %s %s\n", f->name, types[f->type]);
	for (size_t i = 0; i < n; i++)
		render_series(out, list[i]);
}

void
metrics_render(struct metrics_registry *reg, struct buf *out)
{
	struct metrics_hook hooks[METRICS_MAX_HOOKS];
	struct metrics_family **fams;
	struct buf extra = { 0 };
	size_t n;

	reg = reg_of(reg);
	/* Hooks run unlocked: they may register families or set gauges. */
	pthread_mutex_lock(&reg->mu);
	memcpy(hooks, reg->hooks, sizeof(hooks));
	pthread_mutex_unlock(&reg->mu);
	for (int i = 0; i < METRICS_MAX_HOOKS; i++)
		if (hooks[i].fn != NULL)
			hooks[i].fn(hooks[i].arg, &extra);

	pthread_mutex_lock(&reg->mu);
	n = reg->nfamilies;
	fams = xmalloc((n ? n : 1) * sizeof(*fams));
	if (n)
		memcpy(fams, reg->families, n * sizeof(*fams));
	pthread_mutex_unlock(&reg->mu);
	for (size_t i = 0; i < n; i++)
		render_family(out, fams[i]);
	free(fams);
	if (extra.len)
		buf_append(out, extra.data, extra.len);
	buf_free(&extra);
}
