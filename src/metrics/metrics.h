/* metrics: a small registry of counters, gauges and histograms with labels,
 * and its rendering in the Prometheus text exposition format 0.0.4 for
 * GET /metrics. Written by hand: Debian packages no C Prometheus client worth
 * depending on (prometheus-client-c is unpackaged and unmaintained), and the
 * format is a page of text (HELP/TYPE lines, escaped label values,
 * cumulative histogram buckets).
 *
 * Any thread may update a metric; the hot path takes no lock:
 *
 *	static struct metrics_family *sent;	(once, at start or lazily)
 *	sent = metrics_counter(NULL, "hermod_widgets_total", "Widgets made.", "kind,result");
 *
 *	struct metrics_series *s = metrics_series(sent, "blue", "ok");
 *	metrics_inc(s);
 *
 * metrics_series() finds or creates the series of a label set in a
 * lock-free hash table (atomic loads, one compare-and-swap to insert), so
 * it may be called on every update; a caller with a fixed label set can
 * also keep the pointer, which stays valid for the registry's life. Updates
 * are relaxed atomics (a scrape may see one counter a little ahead of
 * another, never a torn value).
 *
 * Gauges whose value lives elsewhere (queue sizes, spool bytes) are set by
 * a hook that the renderer calls first: hooks run on the thread that calls
 * metrics_render(), which in the daemon is the loop thread (GET /metrics
 * renders in its done() step), so a hook may read loop-owned state but must
 * not block. A hook may also append whole families of its own text.
 *
 * Names: hermod_* (docs/operations.md lists every metric). Cardinality is
 * bounded by construction: a family holds at most METRICS_MAX_SERIES label
 * sets; past that, updates go to one series whose label values are all
 * "overflow" (and a warning is logged once), so a bug never eats memory.
 * Label values are never raw user input (paths, addresses): use a route
 * pattern, a listener name, a result from a fixed list. */
#ifndef HERMOD_METRICS_H
#define HERMOD_METRICS_H
#include <stddef.h>
#include <stdint.h>

struct buf;
struct metrics_registry;
struct metrics_family;
struct metrics_series;

#define METRICS_MAX_LABELS	4
#define METRICS_MAX_SERIES	500	/* label sets per family */
#define METRICS_MAX_VALUE	128	/* bytes of a label value kept */

/* Content-Type of the rendered text. */
#define METRICS_CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"

/* metrics_registry_new() makes an empty registry (tests); the daemon uses
 * the process registry, which every function takes as reg == NULL.
 * metrics_registry_free() frees reg and every family and series in it: no
 * other thread may use them any more. The process registry is never freed. */
struct metrics_registry *metrics_registry_new(void);
void	metrics_registry_free(struct metrics_registry *reg);

/* metrics_counter(), metrics_gauge() and metrics_histogram() register a
 * family: name (hermod_*; a counter's ends in _total), a one-line help
 * text, and its label names, comma separated ("listener,result"), or NULL
 * or "" for none. Registering a name again returns the existing family
 * (modules may register lazily, from any thread); the same name with
 * another type, labels or buckets is a programming error and aborts, as
 * does an invalid name. A family without labels has its one series from
 * the start, so it renders 0 before the first update.
 *
 * bounds are a histogram's bucket upper bounds, strictly increasing,
 * without +Inf (added by the renderer); at most 32. */
struct metrics_family *metrics_counter(struct metrics_registry *reg, const char *name,
	    const char *help, const char *labels);
struct metrics_family *metrics_gauge(struct metrics_registry *reg, const char *name,
	    const char *help, const char *labels);
struct metrics_family *metrics_histogram(struct metrics_registry *reg, const char *name,
	    const char *help, const char *labels, const double *bounds, size_t nbounds);

/* metrics_series() returns the series of f for the label values given,
 * exactly as many as f has label names (none for a family without labels);
 * NULL values count as "". Values longer than METRICS_MAX_VALUE bytes are
 * cut. Never NULL, never blocks; the pointer stays valid as long as the
 * registry. metrics_seriesv() takes the values as an array. */
struct metrics_series *metrics_series(struct metrics_family *f, ...);
struct metrics_series *metrics_seriesv(struct metrics_family *f, const char *const *values);

/* Counters: metrics_add() adds n, metrics_inc() adds 1. metrics_counter_set()
 * is only for a hook that mirrors a counter kept elsewhere (the value must
 * never go down). */
void	metrics_add(struct metrics_series *s, uint64_t n);
void	metrics_inc(struct metrics_series *s);
void	metrics_counter_set(struct metrics_series *s, uint64_t v);
/* Gauges: set to v, or add d (negative to subtract). */
void	metrics_set(struct metrics_series *s, double v);
void	metrics_gauge_add(struct metrics_series *s, double d);
/* Histograms: count v in the first bucket whose bound is >= v, and add it
 * to the sum. A NaN is ignored. */
void	metrics_observe(struct metrics_series *s, double v);

/* metrics_value() reads a counter or gauge (a histogram: its count); for
 * tests and hooks. */
double	metrics_value(const struct metrics_series *s);

/* metrics_hook_add() registers fn, called at the start of every render on
 * the rendering thread (see above) with arg and a buffer for text of its
 * own (complete families, appended after the registry's). Returns a handle
 * for metrics_hook_remove(), which must be called before arg goes away
 * (not concurrently with a render). */
typedef void (*metrics_hook_fn)(void *arg, struct buf *extra);
int	metrics_hook_add(struct metrics_registry *reg, metrics_hook_fn fn, void *arg);
void	metrics_hook_remove(struct metrics_registry *reg, int handle);

/* metrics_render() runs the hooks, then appends every family to out in the
 * text format 0.0.4: "# HELP" and "# TYPE" lines, one sample line per
 * series (sorted by label values), histograms as cumulative _bucket lines
 * ending with le="+Inf", then _sum and _count. Families without any series
 * yet are left out. A histogram's +Inf bucket and _count are the same
 * number (the buckets are read once, then summed). */
void	metrics_render(struct metrics_registry *reg, struct buf *out);

/* metrics_escape_label() appends v escaped as a label value (\\, \", \n);
 * metrics_format_double() writes the shortest text that reads back as v
 * ("+Inf", "-Inf", "NaN" as the format says) into out (32 bytes). Pure;
 * exported for the tests and for hooks that write their own text. */
void	metrics_escape_label(struct buf *out, const char *v);
void	metrics_format_double(double v, char out[32]);

/* ---- hermod's own metrics (metrics_hermod.c) ------------------------------
 * One call per instrumented place, so call sites stay one line and every
 * name lives in one file (docs/operations.md lists them with their labels).
 * Each is thread safe and registers its family on first use; label values
 * outside the documented lists are kept as given (bounded by the callers). */

/* metrics_hermod_init() registers every family below with its known label
 * sets at 0 (so a scrape shows them before the first event), plus
 * hermod_build_info{version} and process_start_time_seconds. Idempotent;
 * `hermod serve` calls it at start. */
void	metrics_hermod_init(void);
/* hermod_events_total{type}: one per event (SPEC.md Events), by type. */
void	metrics_event(const char *type);
/* hermod_messages_accepted_total{source} and
 * hermod_recipients_accepted_total{source}: a message made durable in the
 * spool and acknowledged (250 / 202); source smtp or http. */
void	metrics_accepted(const char *source, size_t nrcpt);
/* hermod_delivery_attempts_total{result}: one per recipient and attempt,
 * result delivered, deferred, bounced or expired. */
void	metrics_delivery_attempt(const char *result);
/* hermod_delivery_seconds: queued to delivered, per delivered recipient. */
void	metrics_delivery_seconds(double seconds);
/* hermod_smtp_sessions_total{listener,result}: one per SMTP session (or
 * connection refused before one began). listener: submission,
 * submission_tls, inbound; result: the reason given to the session log
 * line, folded by metrics_smtp_result(). */
void	metrics_smtp_session(const char *listener, const char *reason);
/* metrics_smtp_result() folds a session's detailed end reason into the
 * metric's result: ok (QUIT), dropped (the client went away without QUIT,
 * or reset the connection),
 * timeout, tls_failed, rejected (refused by a limit or policy), shutdown
 * (the daemon drained), error (a protocol violation). Pure. */
const char *metrics_smtp_result(const char *reason);
/* hermod_http_requests_total{route,code}: route is the route's pattern
 * ("/v1/messages/{id}"), never the raw path; "unmatched" for no route. */
void	metrics_http_request(const char *route, int code);
/* hermod_queue_messages{state}: set by the daemon's scrape hook; state
 * queued, deferred, held, active. */
void	metrics_queue_messages(const char *state, double n);

#endif
