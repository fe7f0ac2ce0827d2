/* Unit tests for src/shape: the token buckets (GCRA), backoff rule matching,
 * provider lookup by MX suffix, the shaping blocks of the configuration
 * (FILE:LINE errors, shaping.file overridden by the main file, etc/shaping.conf
 * itself), warm-up caps, and the shaper's decisions through the seam. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shape/shape.h"
#include "util/config.h"

static int
parse(struct config *cfg, const char *text, char **err)
{
	config_defaults(cfg, "/base");
	return config_parse(cfg, "t.conf", text, strlen(text), err);
}

static void
test_bucket(void **state)
{
	struct shape_bucket b;
	uint64_t now = 1000000, n = 0;

	(void)state;
	shape_bucket_set(&b, 0, 0);
	assert_int_equal(shape_bucket_wait(&b, now, 0), 0);	/* no limit */
	shape_bucket_set(&b, 10, 1000);				/* 10/s: every 100 ms */
	assert_int_equal(shape_bucket_wait(&b, now, 0), 0);
	shape_bucket_take(&b, now, 0);
	/* due at +100 ms, with 10 ms of tolerance for late timers */
	assert_int_equal(shape_bucket_wait(&b, now, 0), now + 90);
	assert_int_equal(shape_bucket_wait(&b, now + 89, 0), now + 90);
	assert_int_equal(shape_bucket_wait(&b, now + 90, 0), 0);
	/* a late event (2 ms) delays the next one, within the tolerance */
	shape_bucket_take(&b, now + 102, 0);
	assert_int_equal(shape_bucket_wait(&b, now + 150, 0), now + 192);
	/* over 10 s, taking whenever allowed: 100 events (+1: the tolerance
	 * lets the first follower come early, never more) */
	shape_bucket_set(&b, 10, 1000);
	for (uint64_t t = now; t < now + 10000; t++)
		if (shape_bucket_wait(&b, t, 0) == 0) {
			shape_bucket_take(&b, t, 0);
			n++;
		}
	assert_in_range(n, 100, 101);
	/* halved twice: a quarter of the rate */
	shape_bucket_set(&b, 10, 1000);
	n = 0;
	for (uint64_t t = now; t < now + 10000; t++)
		if (shape_bucket_wait(&b, t, 2) == 0) {
			shape_bucket_take(&b, t, 2);
			n++;
		}
	assert_in_range(n, 25, 26);
	/* 7/s is not rounded to 142 ms: 70 in 10 s */
	shape_bucket_set(&b, 7, 1000);
	n = 0;
	for (uint64_t t = now; t < now + 10000; t++)
		if (shape_bucket_wait(&b, t, 0) == 0) {
			shape_bucket_take(&b, t, 0);
			n++;
		}
	assert_in_range(n, 70, 71);
	/* an idle bucket does not save up a burst */
	shape_bucket_set(&b, 1, 1000);
	shape_bucket_take(&b, now, 0);
	assert_int_equal(shape_bucket_wait(&b, now + 60000, 0), 0);
	shape_bucket_take(&b, now + 60000, 0);
	assert_int_equal(shape_bucket_wait(&b, now + 60000, 0), now + 60990);
}

/* The wall clock stepping back (NTP, an admin) must not park a destination
 * for the size of the step: a rate's state is never more than one interval
 * ahead of now, whatever the clock did. */
static void
test_bucket_clock_back(void **state)
{
	struct shape_bucket b;
	uint64_t now = 1800000000000ULL, hour = 3600000;

	(void)state;
	shape_bucket_set(&b, 10, 1000);			/* every 100 ms */
	shape_bucket_take(&b, now + hour, 0);
	/* the clock goes back an hour */
	assert_true(shape_bucket_wait(&b, now, 0) <= now + 100);
	shape_bucket_set(&b, 1, 60000);			/* one a minute */
	shape_bucket_take(&b, now + hour, 2);		/* halved twice: every 4 min */
	assert_true(shape_bucket_wait(&b, now, 2) <= now + 4 * 60000);
	/* and the rate holds from there on: one event, then a wait */
	while (shape_bucket_wait(&b, now, 0) != 0)
		now = shape_bucket_wait(&b, now, 0);
	shape_bucket_take(&b, now, 0);
	assert_true(shape_bucket_wait(&b, now + 1000, 0) > now + 1000);
}

static void
test_rates_parse(void **state)
{
	uint64_t c, p;

	(void)state;
	assert_int_equal(config_parse_rate("50/s", &c, &p), 0);
	assert_int_equal(c, 50);
	assert_int_equal(p, 1000);
	assert_int_equal(config_parse_rate("10/min", &c, &p), 0);
	assert_int_equal(p, 60000);
	assert_int_equal(config_parse_rate("5000/h", &c, &p), 0);
	assert_int_equal(p, 3600000);
	assert_int_equal(config_parse_rate("1/d", &c, &p), 0);
	assert_int_equal(config_parse_rate("0/s", &c, &p), -1);
	assert_int_equal(config_parse_rate("10", &c, &p), -1);
	assert_int_equal(config_parse_rate("10/w", &c, &p), -1);
	assert_int_equal(config_parse_rate("/s", &c, &p), -1);
	assert_int_equal(config_parse_date("2026-11-20", &c), 0);
	assert_int_equal(c, 1795132800000ULL);
	assert_int_equal(config_parse_date("1970-01-01", &c), 0);
	assert_int_equal(c, 0);
	assert_int_equal(config_parse_date("2026-02-30", &c), -1);
	assert_int_equal(config_parse_date("2026-1-2", &c), -1);
}

static void
test_rule_match(void **state)
{
	char *pats[] = { "4.7.28", "TS0", "S3150", "421" };
	struct shape_rule r = { .name = "t", .pats = pats, .npat = 4 };
	char *p2[] = { "Try again later" };
	struct shape_rule r2 = { .name = "t2", .pats = p2, .npat = 1 };

	(void)state;
	assert_true(shape_rule_match(&r, 421, "4.7.28", "Our system has detected an unusual rate"));
	assert_true(shape_rule_match(&r, 451, "", "[ts03] Messages from 1.2.3.4 temporarily deferred"));
	assert_true(shape_rule_match(&r, 550, "5.7.1", "blocked using Spamhaus (S3150)"));
	assert_true(shape_rule_match(&r, 421, "", "Service not available"));	/* the code */
	assert_false(shape_rule_match(&r, 450, "4.2.0", "mailbox busy"));
	/* a three-digit pattern is the code, not any "421" in the text */
	assert_false(shape_rule_match(&r, 450, "4.2.0", "see RFC 421 and friends"));
	assert_true(shape_rule_match(&r2, 421, "4.7.0", "try AGAIN later, closing connection"));
	assert_false(shape_rule_match(&r2, 250, "2.0.0", "ok"));
}

static void
test_conf_blocks(void **state)
{
	struct config cfg;
	struct shape_conf c;
	char *err = NULL;
	const char *text =
	    "[provider google]\n"
	    "mx_suffixes = .google.com .googlemail.com\n"
	    "max_connections = 5\n"
	    "connection_rate = 10/m\n"
	    "max_messages_per_connection = 20\n"
	    "message_rate = 50/s\n"
	    "[shape *]\n"
	    "max_connections = 3\n"
	    "[shape Example.ORG]\n"
	    "message_rate = 2/s\n"
	    "[backoff g]\n"
	    "providers = google\n"
	    "match = 4.7.28 | 421 4.7.0 Try again\n"
	    "duration = 30m\n"
	    "[backoff h]\n"
	    "match = S3150\n"
	    "action = halve_rate\n"
	    "[warmup new-ip]\n"
	    "domains = Shop.example\n"
	    "start = 2026-11-20\n"
	    "schedule = 50 100 500\n";
	const struct shape_provider *p;

	(void)state;
	assert_int_equal(parse(&cfg, text, &err), 0);
	assert_int_equal(cfg.n_blocks, 6);
	assert_int_equal(shape_conf_build(&cfg, &c, &err), 0);
	assert_int_equal(c.nproviders, 1);
	assert_int_equal(c.providers[0].lim.max_connections, 5);
	assert_int_equal(c.providers[0].lim.conn_count, 10);
	assert_int_equal(c.providers[0].lim.conn_period, 60000);
	assert_int_equal(c.providers[0].lim.msg_count, 50);
	assert_int_equal(c.providers[0].lim.max_messages, 20);
	assert_int_equal(c.ndomains, 2);
	assert_string_equal(c.domains[1].domain, "example.org");
	assert_int_equal(c.nrules, 2);
	assert_int_equal(c.rules[0].npat, 2);
	assert_string_equal(c.rules[0].pats[1], "421 4.7.0 Try again");
	assert_int_equal(c.rules[0].duration, 30 * 60000);
	assert_int_equal(c.rules[0].action, SHAPE_SUSPEND);
	assert_int_equal(c.rules[1].action, SHAPE_HALVE_RATE);
	assert_int_equal(c.rules[1].duration, 15 * 60000);	/* the default */
	assert_int_equal(c.nwarmups, 1);
	assert_string_equal(c.warmups[0].domains[0], "shop.example");
	assert_int_equal(c.warmups[0].nsched, 3);
	p = shape_provider_for(&c, "gmail-smtp-in.l.google.com.");
	assert_non_null(p);
	assert_string_equal(p->name, "google");
	assert_non_null(shape_provider_for(&c, "ALT1.ASPMX.L.GOOGLE.COM"));
	assert_non_null(shape_provider_for(&c, "google.com"));
	assert_null(shape_provider_for(&c, "mx.notgoogle.com"));
	assert_null(shape_provider_for(&c, "google.com.evil.example"));
	shape_conf_free(&c);
	config_free(&cfg);
}

static void
test_conf_errors(void **state)
{
	static const struct { const char *text, *want; } cases[] = {
		{ "[provider x]\nmax_connections = lots\n", "t.conf:2: provider.max_connections: expected a whole number" },
		{ "[provider x]\nmessage_rate = 50\n", "t.conf:2: provider.message_rate: expected a rate" },
		{ "[provider x]\nmax_connections = 3\n", "t.conf:1: provider.mx_suffixes: a provider needs" },
		{ "[shape a.example]\nmx_suffixes = .x\n", "t.conf:2: shape.mx_suffixes: unknown key" },
		{ "[backoff b]\naction = stop\n", "t.conf:2: backoff.action: expected suspend or halve_rate" },
		{ "[backoff b]\naction = suspend\n", "t.conf:1: backoff.match: a backoff rule needs" },
		{ "[backoff b]\nmatch = 421\nduration = soon\n", "t.conf:3: backoff.duration: expected a duration" },
		{ "[warmup w]\ndomains = a.example\nstart = 2026-13-01\n", "t.conf:3: warmup.start: expected a date" },
		{ "[warmup w]\ndomains = a.example\nstart = 2026-11-01\nschedule = 5 x\n",
		  "t.conf:4: warmup.schedule: expected whole numbers" },
		{ "[warmup w]\nstart = 2026-11-01\nschedule = 5\n", "t.conf:1: warmup.domains: a warm-up needs" },
		{ "[warmup w]\naddresses = a@b.example\nstart = 2026-11-01\nschedule = x\n",
		  "t.conf:4: warmup.schedule: expected whole numbers" },
		{ "[provider x]\nmx_suffixes = .x\nmax_connections = 4294967296\n",
		  "t.conf:3: provider.max_connections: expected a whole number up to" },
		{ "[shape *]\nmax_messages_per_connection = 4294967297\n",
		  "t.conf:2: shape.max_messages_per_connection: expected a whole number up to" },
		{ "[provider]\n", "t.conf:1: provider: unknown section" },
		{ "[provider a b]\n", "t.conf:1: provider: expected [KIND NAME]" },
	};
	struct config cfg;
	char *err = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err = NULL;
		assert_int_equal(parse(&cfg, cases[i].text, &err), -1);
		if (err == NULL || strncmp(err, cases[i].want, strlen(cases[i].want)) != 0)
			fail_msg("case %zu: got \"%s\", want \"%s...\"", i, err ? err : "(null)", cases[i].want);
		free(err);
		config_free(&cfg);
	}
	/* a rule scoped to a provider nobody defined: caught at build */
	assert_int_equal(parse(&cfg, "[backoff b]\nmatch = 421\nproviders = nope\n", &err), 0);
	{
		struct shape_conf c;
		assert_int_equal(shape_conf_build(&cfg, &c, &err), -1);
		assert_string_equal(err, "t.conf:3: backoff.providers: no [provider nope]");
		free(err);
	}
	config_free(&cfg);
}

/* etc/shaping.conf loads through shaping.file, and the main file's blocks
 * override its keys one by one. */
static void
test_shaping_file(void **state)
{
	char dir[] = "/tmp/hermod-shape-XXXXXX", path[300], cwd[4096];
	struct config cfg;
	struct shape_conf c;
	char *err = NULL;
	FILE *f;
	const struct shape_provider *g;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	snprintf(path, sizeof(path), "%s/hermod.conf", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "[shaping]\nfile = %s/etc/shaping.conf\n[provider gmail]\nmessage_rate = 5/s\n", cwd);
	fclose(f);
	if (config_load(&cfg, path, &err) != 0)
		fail_msg("%s", err);
	assert_true(cfg.n_blocks > 10);
	assert_int_equal(shape_conf_build(&cfg, &c, &err), 0);
	g = shape_provider_for(&c, "gmail-smtp-in.l.google.com");
	assert_non_null(g);
	assert_string_equal(g->name, "gmail");
	assert_int_equal(g->lim.msg_count, 5);		/* overridden */
	assert_int_equal(g->lim.max_connections, 20);	/* kept from the file */
	assert_non_null(shape_provider_for(&c, "mta7.am0.yahoodns.net"));
	assert_non_null(shape_provider_for(&c, "contoso-com.mail.protection.outlook.com"));
	assert_true(c.nrules >= 4);
	shape_conf_free(&c);
	config_free(&cfg);
	/* only shaping blocks in the included file */
	f = fopen(path, "w");
	fprintf(f, "[shaping]\nfile = %s/inc.conf\n", dir);
	fclose(f);
	snprintf(path, sizeof(path), "%s/inc.conf", dir);
	f = fopen(path, "w");
	fprintf(f, "[provider a]\nmx_suffixes = .a.example\n[delivery]\nport = 26\n");
	fclose(f);
	snprintf(path, sizeof(path), "%s/hermod.conf", dir);
	assert_int_equal(config_load(&cfg, path, &err), -1);
	assert_non_null(strstr(err, "inc.conf:3: delivery: shaping.file may hold only"));
	free(err);
	config_free(&cfg);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	assert_int_equal(system(path), 0);
}

static void
test_warmup_cap(void **state)
{
	uint64_t sched[] = { 50, 100, 500 };
	struct shape_warmup w = { .name = "w", .start = 1795132800000ULL, .schedule = sched, .nsched = 3 };
	uint64_t end;
	const uint64_t day = 86400000ULL;

	(void)state;
	assert_int_equal(shape_warmup_cap(&w, w.start + 10, &end), 50);
	assert_int_equal(end, w.start + day);
	assert_int_equal(shape_warmup_cap(&w, w.start + day + 5, &end), 100);
	assert_int_equal(shape_warmup_cap(&w, w.start + 2 * day, &end), 500);
	assert_int_equal(end, w.start + 3 * day);
	assert_int_equal(shape_warmup_cap(&w, w.start + 3 * day, &end), UINT64_MAX);
	/* before the start: day 1's cap, counted per UTC day */
	assert_int_equal(shape_warmup_cap(&w, w.start - day + 3600000, &end), 50);
	assert_int_equal(end, w.start);
}

/* The shaper through the seam, without a resolver: a domain is its own
 * destination; limits, rules and the reasons it gives. */
static void
test_shaper_decisions(void **state)
{
	struct config cfg;
	struct shape *sh;
	struct shaper_ops ops;
	char *err = NULL, why[512];
	uint64_t now = 1800000000000ULL, until = 0;
	struct shaper_reply r = { .code = 421, .enhanced = "4.7.28", .text = "unusual rate", .mx = "mx" };
	json_t *dests;

	(void)state;
	assert_int_equal(parse(&cfg, "[shape *]\nmax_connections = 2\nconnection_rate = 2/s\n"
	    "max_messages_per_connection = 7\n"
	    "[shape slow.example]\nmessage_rate = 1/s\n"
	    "[backoff t]\nmatch = 4.7.28\nduration = 10s\n"
	    "[backoff h]\nmatch = 452\naction = halve_rate\nduration = 5s\n", &err), 0);
	assert_int_equal(shape_new(&cfg, NULL, &sh, &err), 0);
	shape_ops(sh, &ops);
	/* connection rate 2/s: one now, the next in 500 ms (10 ms early is ok) */
	assert_int_equal(ops.connect_wait(sh, "a.example", 0, now), 0);
	assert_int_equal(ops.connect_wait(sh, "a.example", 1, now), now + 490);
	assert_int_equal(ops.connect_wait(sh, "a.example", 1, now + 500), 0);
	/* max_connections 2 */
	assert_true(ops.connect_wait(sh, "a.example", 2, now + 1000) > now + 1000);
	ops.conn_closed(sh, "a.example");
	assert_int_equal(ops.connect_wait(sh, "a.example", 1, now + 1000), 0);
	assert_int_equal(ops.max_messages(sh, "a.example"), 7);
	/* message rate of slow.example: 1/s */
	assert_int_equal(ops.send_wait(sh, "slow.example", "X", now, &until), SHAPER_GO);
	assert_int_equal(ops.send_wait(sh, "slow.example", "X", now + 10, &until), SHAPER_WAIT_DEST);
	assert_int_equal(until, now + 990);
	assert_int_equal(shape_why(sh, "X", "slow.example", now + 10, why, sizeof(why)), 1);
	assert_non_null(strstr(why, "rate limit: slow.example message_rate 1/s"));
	/* a 421 4.7.28 suspends for 10 s: connections and messages wait */
	ops.on_result(sh, "a.example", &r, now + 2000);
	assert_int_equal(ops.connect_wait(sh, "a.example", 0, now + 3000), now + 12000);
	assert_int_equal(ops.send_wait(sh, "a.example", "Y", now + 3000, &until), SHAPER_SUSPENDED);
	assert_int_equal(until, now + 12000);
	assert_int_equal(shape_why(sh, "Y", "a.example", now + 3000, why, sizeof(why)), 1);
	assert_non_null(strstr(why, "suspended: a.example until"));
	assert_non_null(strstr(why, "421 4.7.28 unusual rate, rule t"));
	dests = shape_destinations(sh, now + 3000, NULL, NULL);
	assert_true(json_array_size(dests) >= 2);
	json_decref(dests);
	/* ... and lifts by itself */
	assert_int_equal(ops.send_wait(sh, "a.example", "Y", now + 12000, &until), SHAPER_GO);
	assert_int_equal(shape_why(sh, "Y", "a.example", now + 12000, why, sizeof(why)), 0);
	/* a 2xx or an unmatched reply does nothing */
	r.code = 450;
	r.enhanced = "4.2.0";
	ops.on_result(sh, "b.example", &r, now);
	assert_int_equal(ops.connect_wait(sh, "b.example", 0, now), 0);
	/* halve_rate: max_connections 2 -> 1 for 5 s */
	r.code = 452;
	ops.on_result(sh, "b.example", &r, now);
	assert_true(ops.connect_wait(sh, "b.example", 1, now + 600) > now + 600);
	ops.conn_closed(sh, "b.example");
	assert_int_equal(ops.connect_wait(sh, "b.example", 1, now + 5600), 0);
	/* an hour later, unused domains are forgotten (slow.example); open
	 * connections keep a.example and b.example */
	dests = shape_destinations(sh, now + 6000, NULL, NULL);
	size_t before = json_array_size(dests);
	json_decref(dests);
	assert_true(before >= 3);
	for (int i = 0; i < 200; i++)
		ops.connect_wait(sh, "c.example", 0, now + 2 * 3600000ULL + (uint64_t)i * 1000);
	dests = shape_destinations(sh, now + 2 * 3600000ULL, NULL, NULL);
	assert_int_equal(json_array_size(dests), 3);
	for (size_t i = 0; i < json_array_size(dests); i++)
		assert_string_not_equal(json_string_value(json_object_get(json_array_get(dests, i),
		    "destination")), "slow.example");
	json_decref(dests);
	assert_int_equal(shape_why(sh, "X", "slow.example", now + 2 * 3600000ULL, why, sizeof(why)), 0);
	shape_free(sh);
	config_free(&cfg);
}

/* The provider's turns (a ticket per provider) must not park its domains
 * for the size of a step back of the wall clock either. */
static void
test_provider_turns_clock_back(void **state)
{
	struct config cfg;
	struct shape *sh;
	struct shaper_ops ops;
	char *err = NULL;
	uint64_t now = 1800000000000ULL, hour = 3600000;

	(void)state;
	assert_int_equal(parse(&cfg, "[provider g]\nmx_suffixes = .google.com\nmax_connections = 1\n",
	    &err), 0);
	assert_int_equal(shape_new(&cfg, NULL, &sh, &err), 0);
	shape_ops(sh, &ops);
	shape_bind(sh, "a.example", "mx.google.com", now + hour);
	shape_bind(sh, "b.example", "mx.google.com", now + hour);
	/* an hour ahead: a takes the provider's one connection, b waits its turn */
	assert_int_equal(ops.connect_wait(sh, "a.example", 0, now + hour), 0);
	assert_true(ops.connect_wait(sh, "b.example", 0, now + hour) > now + hour);
	ops.conn_closed(sh, "a.example");
	/* the clock goes back an hour: the same again waits a poll, not an hour */
	assert_int_equal(ops.connect_wait(sh, "a.example", 0, now), 0);
	assert_true(ops.connect_wait(sh, "b.example", 0, now) <= now + 1000);
	shape_free(sh);
	config_free(&cfg);
}

/* A suspension set by a backoff rule lasts its duration from now at most,
 * whatever the wall clock did since. */
static void
test_suspension_clock_back(void **state)
{
	struct config cfg;
	struct shape *sh;
	struct shaper_ops ops;
	char *err = NULL;
	uint64_t now = 1800000000000ULL, hour = 3600000, until = 0;
	struct shaper_reply r = { .code = 421, .enhanced = "4.7.28", .text = "slow down", .mx = "mx" };

	(void)state;
	assert_int_equal(parse(&cfg, "[backoff t]\nmatch = 4.7.28\nduration = 10s\n", &err), 0);
	assert_int_equal(shape_new(&cfg, NULL, &sh, &err), 0);
	shape_ops(sh, &ops);
	assert_int_equal(ops.connect_wait(sh, "a.example", 0, now + hour), 0);
	ops.on_result(sh, "a.example", &r, now + hour);
	assert_int_equal(ops.connect_wait(sh, "a.example", 1, now + hour), now + hour + 10000);
	/* the clock goes back an hour: 10 s from now, not an hour and 10 s */
	assert_true(ops.connect_wait(sh, "a.example", 1, now) <= now + 10000);
	assert_int_equal(ops.send_wait(sh, "a.example", "X", now + 1, &until), SHAPER_SUSPENDED);
	assert_true(until <= now + 10000);
	assert_int_equal(ops.send_wait(sh, "a.example", "X", now + 10000, &until), SHAPER_GO);
	shape_free(sh);
	config_free(&cfg);
}

/* A saved suspension is in force again after a restart; one that has
 * ended, or a destination of a provider no longer configured, is not. */
static void
test_state_load(void **state)
{
	struct config cfg;
	struct shape *sh;
	struct shaper_ops ops;
	char *err = NULL, why[512], path[] = "/tmp/hermod-shape-state-XXXXXX";
	uint64_t now = 1800000000000ULL;
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");

	(void)state;
	assert_non_null(f);
	fprintf(f, "{\"saved_at\": 1, \"destinations\": ["
	    "{\"name\": \"x.example\", \"provider\": false, \"suspended_until\": %llu, "
	    "\"reason\": \"421 4.7.28 slow\", \"rule\": \"t\"},"
	    "{\"name\": \"y.example\", \"provider\": false, \"suspended_until\": %llu},"
	    "{\"name\": \"gone\", \"provider\": true, \"suspended_until\": %llu}]}",
	    (unsigned long long)(now + 10000), (unsigned long long)(now - 1), (unsigned long long)(now + 10000));
	fclose(f);
	assert_int_equal(parse(&cfg, "[backoff t]\nmatch = 4.7.28\n", &err), 0);
	assert_int_equal(shape_new(&cfg, NULL, &sh, &err), 0);
	assert_int_equal(shape_state_load(sh, path, now), 0);
	shape_ops(sh, &ops);
	assert_int_equal(ops.connect_wait(sh, "x.example", 0, now), now + 10000);
	assert_int_equal(shape_why(sh, "Q", "x.example", now, why, sizeof(why)), 1);
	assert_non_null(strstr(why, "(421 4.7.28 slow, rule t)"));
	assert_int_equal(ops.connect_wait(sh, "y.example", 0, now), 0);
	shape_free(sh);
	config_free(&cfg);
	/* a broken file is ignored, not fatal */
	f = fopen(path, "w");
	fputs("{not json", f);
	fclose(f);
	assert_int_equal(parse(&cfg, "", &err), 0);
	assert_int_equal(shape_new(&cfg, NULL, &sh, &err), 0);
	assert_int_equal(shape_state_load(sh, path, now), -1);
	assert_int_equal(shape_state_load(sh, "/nonexistent/shaping.state", now), 0);
	shape_free(sh);
	config_free(&cfg);
	unlink(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bucket),
		cmocka_unit_test(test_bucket_clock_back),
		cmocka_unit_test(test_rates_parse),
		cmocka_unit_test(test_rule_match),
		cmocka_unit_test(test_conf_blocks),
		cmocka_unit_test(test_conf_errors),
		cmocka_unit_test(test_shaping_file),
		cmocka_unit_test(test_warmup_cap),
		cmocka_unit_test(test_shaper_decisions),
		cmocka_unit_test(test_provider_turns_clock_back),
		cmocka_unit_test(test_suspension_clock_back),
		cmocka_unit_test(test_state_load),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
