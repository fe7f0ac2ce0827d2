/* shape: destination traffic shaping, the implementation of the scheduler's
 * seam (struct shaper_ops in queue/sched.h). Limits per recipient domain
 * ([shape DOMAIN], [shape *]) and per provider ([provider NAME]: every
 * domain whose MX host ends in one of its suffixes shares its limits),
 * automatic backoff ([backoff NAME] rules over the replies), warm-up
 * schedules per sending domain or account ([warmup NAME]).
 *
 * The pure pieces (token buckets, rule matching, provider lookup, the
 * configuration) are exported for the unit tests and the benchmark; the
 * runtime state lives on the loop thread and never blocks: the only I/O is
 * the asynchronous MX lookup that maps a domain to its provider. */
#ifndef HERMOD_SHAPE_H
#define HERMOD_SHAPE_H
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <uv.h>

#include "queue/sched.h"

struct config;
struct spool;
struct mx_resolver;
struct shape;

/* --- token bucket (GCRA form: one "theoretical arrival time") ----------- */

/* A rate of count events per period_ms, burst 1: events are spaced evenly,
 * which is what receivers measure. interval_us 0 = no limit. */
struct shape_bucket {
	uint64_t	 interval_us;
	uint64_t	 tat_us;	/* the earliest time the next event conforms */
};

/* shape_bucket_set() configures b for count per period_ms (0 = no limit). */
void	shape_bucket_set(struct shape_bucket *b, uint64_t count, uint64_t period_ms);
/* shape_bucket_wait() is 0 when an event may happen at now (ms), else the
 * time (ms) when it may; with the rate divided by 2^shift. It changes b only
 * to bring back a schedule the wall clock left more than an interval ahead
 * (the clock stepped back). */
uint64_t shape_bucket_wait(struct shape_bucket *b, uint64_t now, unsigned shift);
/* shape_bucket_take() records an event at now (call after wait() said 0). */
void	shape_bucket_take(struct shape_bucket *b, uint64_t now, unsigned shift);

/* --- configuration --------------------------------------------------------- */

struct shape_limits {
	unsigned	 max_connections;	/* 0 = none of its own */
	uint64_t	 conn_count, conn_period;	/* connection_rate; 0 = none */
	unsigned	 max_messages;		/* per connection; 0 = none */
	uint64_t	 msg_count, msg_period;	/* message_rate; 0 = none */
};

enum shape_action { SHAPE_SUSPEND, SHAPE_HALVE_RATE };

struct shape_rule {
	char		 *name;
	char		**pats;
	size_t		  npat;
	enum shape_action action;
	uint64_t	  duration;		/* ms */
	char		**providers;		/* applies only there; none = everywhere */
	size_t		  nprov;
};

struct shape_provider {
	char		 *name;
	char		**suffixes;		/* lower case, ".google.com" */
	size_t		  nsuf;
	struct shape_limits lim;
};

struct shape_domain_conf {
	char		*domain;		/* lower case, or "*" */
	struct shape_limits lim;
};

struct shape_warmup {
	char		 *name;
	char		**domains;		/* sending domains, lower case */
	size_t		  ndom;
	char		**accounts;
	size_t		  nacc;
	char		**addresses;		/* return paths, lower case */
	size_t		  naddr;
	uint64_t	  start;		/* ms, 00:00 UTC of day 1 */
	uint64_t	 *schedule;		/* messages a day to each destination */
	size_t		  nsched;
};

struct shape_conf {
	struct shape_provider	*providers;
	size_t			 nproviders;
	struct shape_domain_conf *domains;	/* "*" included */
	size_t			 ndomains;
	struct shape_rule	*rules;
	size_t			 nrules;
	struct shape_warmup	*warmups;
	size_t			 nwarmups;
};

/* shape_conf_build() reads cfg's shaping blocks (blocks of shaping.file
 * first, the main file's override them key by key) into c. 0, or -1 and
 * *err "FILE:LINE: key: reason" (a backoff rule naming an unknown provider).
 * Pure. */
int	shape_conf_build(const struct config *cfg, struct shape_conf *c, char **err);
void	shape_conf_free(struct shape_conf *c);

/* shape_provider_for() is the provider whose suffix ends mx_host (case
 * insensitive; ".google.com" also matches "google.com"), or NULL. Pure. */
const struct shape_provider *shape_provider_for(const struct shape_conf *c, const char *mx_host);

/* shape_rule_match() tells whether the reply matches one of the rule's
 * patterns: a three-digit pattern is the reply code, anything else a case
 * insensitive substring of "CODE ENHANCED TEXT". Pure. */
int	shape_rule_match(const struct shape_rule *r, int code, const char *enhanced, const char *text);

/* shape_warmup_cap() is the cap of warm-up w on day `now` (ms): messages
 * to each destination that day, or UINT64_MAX once the schedule has run
 * out. *day_end gets the end of that day (ms). Pure. */
uint64_t shape_warmup_cap(const struct shape_warmup *w, uint64_t now, uint64_t *day_end);

/* --- runtime ---------------------------------------------------------------- */

/* shape_new() builds the shaper from cfg (see shape_conf_build()); cfg and
 * sp must outlive it. 0, or -1 and *err. */
int	shape_new(const struct config *cfg, struct spool *sp, struct shape **out, char **err);
void	shape_free(struct shape *sh);

/* shape_attach() gives the shaper the resolver for its MX lookups and kick,
 * called (loop thread) when a domain may be asked again before the time it
 * was told to wait (its provider became known). Without a resolver,
 * domains are their own destinations. */
void	shape_attach(struct shape *sh, struct mx_resolver *mx, void (*kick)(void *arg, const char *domain),
	    void *arg);

/* shape_bind() binds domain to the provider of mx_host (none when no suffix
 * matches), as an MX lookup does, for an hour. For tests and benchmarks. */
void	shape_bind(struct shape *sh, const char *domain, const char *mx_host, uint64_t now);

/* shape_state_load() restores the suspensions and the day's warm-up
 * counts saved at path (data_dir/shaping.state) that are still in force at
 * now; a missing file is no error. Reads the file on the calling thread:
 * call it at start, before the loop serves. 0, or -1 (unreadable: ignored,
 * logged). shape_state_start() then saves them there, from a worker, at
 * most every 2 s when they changed; shape_state_stop() ends that with a
 * last save (run the loop afterwards). */
int	shape_state_load(struct shape *sh, const char *path, uint64_t now);
void	shape_state_start(struct shape *sh, uv_loop_t *loop, const char *path);
void	shape_state_stop(struct shape *sh);

/* shape_ops() fills ops with the seam's hooks over sh. */
void	shape_ops(struct shape *sh, struct shaper_ops *ops);
/* shape_resume() lifts, by hand, the suspension and rate halvings of the
 * destination named name (a provider's name or a domain): what an operator
 * does after fixing what a backoff rule reacted to. Its domains are kicked.
 * 0, or -1 when no destination has that name. Loop thread. */
int	shape_resume(struct shape *sh, const char *name, uint64_t now);

/* shape_why() writes why message id's recipients at domain wait, if the
 * shaper holds them ("suspended: gmail until 22:10 (421 4.7.28 ... rule
 * gmail-throttle)", "warm-up limit: ...", "rate limit: ..."), and returns
 * 1; 0 when the shaper holds nothing back there. */
int	shape_why(struct shape *sh, const char *id, const char *domain, uint64_t now, char *out, size_t len);

/* shape_destinations() is a JSON array, one object per destination (a
 * provider, or a domain of none): limits, domains, open connections, rates
 * over the last minute, suspension and halvings. ready(domain, arg) gives
 * the messages ready there (may be NULL). */
json_t	*shape_destinations(struct shape *sh, uint64_t now, size_t (*ready)(const char *domain, void *arg),
	    void *arg);

/* shape_metrics() appends the destination gauges in the Prometheus text
 * format: hermod_destination_suspended{destination},
 * hermod_destination_connections{destination} and
 * hermod_destination_rate_divisor{destination}, for every provider and for
 * each domain of no provider while it is suspended or connected (at most
 * 500 a family). For a metrics hook (loop thread). */
struct buf;
void	shape_metrics(struct shape *sh, uint64_t now, struct buf *out);

/* shape_each_destination() calls fn for each destination with its name,
 * whether it is suspended now and its open connections (for the metrics). */
void	shape_each_destination(struct shape *sh, uint64_t now,
	    void (*fn)(const char *name, int suspended, unsigned connections, void *arg), void *arg);

#endif
