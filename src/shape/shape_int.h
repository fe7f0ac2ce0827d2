/* shape_int: what shape.c (the runtime) and shape_report.c (queue output,
 * destinations, metrics) share. Private to src/shape. */
#ifndef HERMOD_SHAPE_INT_H
#define HERMOD_SHAPE_INT_H
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "shape/shape.h"

struct spool_env;
struct mx_query;

/* A destination key: a provider, or one recipient domain. */
struct skey {
	struct skey		*next, *prev;	/* every key, for reports and freeing */
	char			*name;
	const struct shape_provider *prov;	/* NULL: a domain's own key */
	struct shape_limits	 lim;
	unsigned		 active;	/* open connections */
	unsigned		 ndomains;	/* bound domains (providers) */
	struct shape_bucket	 conn_b, msg_b;
	uint64_t		 suspended_until;
	uint64_t		 suspend_ms;	/* its length when set: bounds it if the clock goes back */
	uint64_t		 suspensions;
	char			 reason[160];	/* the reply that set the suspension or halving */
	const char		*rule;		/* its rule's name (the conf owns it) */
	unsigned		 shift;		/* halvings in force */
	uint64_t		 halved_until, last_halve;
	uint64_t		 ticket;	/* the next free turn of a domain kept waiting here */
	uint64_t		 wait_until;	/* the last refusal for a limit */
	const char		*wait_why;
	uint64_t		 win_start;	/* one-minute windows of the rates */
	uint32_t		 msgs_cur, msgs_prev, conns_cur, conns_prev;
	uint64_t		 msgs_total, conns_total;
	uint64_t		*wu_day_end;	/* per warm-up: the day counted */
	uint64_t		*wu_count;	/*   and the messages sent in it */
};

enum sdom_state { SDOM_NEW, SDOM_LOOKING, SDOM_KNOWN };

/* A recipient domain: its own key and, once its MX is known, a provider's. */
struct sdom {
	struct sdom		*hnext;
	struct shape		*sh;
	struct skey		*self;
	struct skey		*prov;
	enum sdom_state		 state;
	int			 bound;		/* a lookup has answered once */
	uint64_t		 used;		/* last asked about: forgotten when idle long */
	uint64_t		 expires;	/* of the binding */
	struct mx_query		*q;
	char			 name[];
};

struct shape {
	const struct config	*cfg;
	struct spool		*sp;
	struct shape_conf	 conf;
	struct mx_resolver	*mx;
	void			(*kick)(void *arg, const char *domain);
	void			*kick_arg;
	struct skey		*key_list;
	size_t			 nkeys;
	struct skey		**pkeys;	/* per provider of conf, made on first use */
	struct sdom		**doms;
	size_t			 ndom_buckets, ndoms;
	size_t			 sweep;		/* the next bucket the idle sweep looks at */
	/* shape_state.c: suspensions and warm-up counts across restarts */
	uv_loop_t		*loop;
	char			*state_path;	/* NULL: not kept */
	uv_timer_t		*save_timer;
	struct save_job		*saving;	/* a save in flight */
	int			 dirty;		/* changed since the last save */
};

struct sdom *shape_dom_find(struct shape *sh, const char *domain);
/* shape_dom_get() finds or makes the domain; shape_provider_key() is the
 * provider's key, made on first use. */
struct sdom *shape_dom_get(struct shape *sh, const char *domain);
struct skey *shape_provider_key(struct shape *sh, const struct shape_provider *p);
/* shape_state_free() lets a save in flight finish without the shaper. */
void	shape_state_free(struct shape *sh);
/* shape_dest() is the domain's destination: its provider's key, else its own. */
struct skey *shape_dest(const struct sdom *d);
/* shape_key_max_conns() is k's connection limit after halvings, 0 = none. */
unsigned shape_key_max_conns(const struct shape *sh, const struct skey *k);
int	shape_warmup_applies(const struct shape_warmup *w, const struct spool_env *env);
/* shape_warmup_wait() is 0, or the end of the day when a warm-up applying
 * to env has used its cap at k today (*which: its index). */
uint64_t shape_warmup_wait(struct shape *sh, struct skey *k, const struct spool_env *env, uint64_t now,
	    size_t *which);

#endif
