/* Unit tests for util/config: defaults, values, and errors naming FILE:LINE: key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "util/config.h"

static int
parse(struct config *cfg, const char *text, char **err)
{
	config_defaults(cfg, "/base");
	return config_parse(cfg, "t.conf", text, strlen(text), err);
}

static void
test_defaults(void **state)
{
	struct config cfg;
	char *err = NULL;

	(void)state;
	assert_int_equal(parse(&cfg, "", &err), 0);
	assert_string_equal(cfg.data_dir, "/base/var");
	assert_string_equal(cfg.sub_listen, "127.0.0.1:587");
	assert_int_equal(cfg.max_message_size, 25 * 1024 * 1024);
	assert_int_equal(cfg.n_retry, 7);
	assert_int_equal(cfg.retry[0], 60000);
	assert_int_equal(cfg.retry[6], 4 * 3600 * 1000);
	assert_int_equal(cfg.max_lifetime, 5ULL * 86400 * 1000);
	assert_string_equal(cfg.store_url, "sqlite:/base/var/hermod.db");
	assert_int_equal(cfg.require_verified_domains, 1);
	config_free(&cfg);
}

static void
test_values(void **state)
{
	struct config cfg;
	char *err = NULL;
	const char *text =
	    "; comment\n"
	    "[server]\nhostname = mx.example.com ; trailing comment\ndata_dir=/d\n"
	    "[submission]\nmax_message_size = 10K\ntrusted_networks = 127.0.0.0/8 ::1\n"
	    "[delivery]\nretry = 1s 2s\ntls = required\n"
	    "[route example.org]\nrelay = 127.0.0.1:2526\n"
	    "[route *]\nrelay = [::1]:25\nauth_user = u\n";
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };

	(void)state;
	assert_int_equal(parse(&cfg, text, &err), 0);
	assert_string_equal(cfg.hostname, "mx.example.com");
	assert_string_equal(cfg.data_dir, "/d");
	assert_int_equal(cfg.max_message_size, 10240);
	assert_int_equal(cfg.n_retry, 2);
	assert_int_equal(cfg.delivery_tls, CONFIG_TLS_REQUIRED);
	assert_int_equal(cfg.n_trusted_networks, 2);
	inet_pton(AF_INET, "127.1.2.3", &sin.sin_addr);
	assert_true(config_net_match(cfg.trusted_networks, 2, (struct sockaddr *)&sin));
	inet_pton(AF_INET, "10.0.0.1", &sin.sin_addr);
	assert_false(config_net_match(cfg.trusted_networks, 2, (struct sockaddr *)&sin));
	inet_pton(AF_INET6, "::1", &sin6.sin6_addr);
	assert_true(config_net_match(cfg.trusted_networks, 2, (struct sockaddr *)&sin6));
	inet_pton(AF_INET6, "::ffff:127.0.0.5", &sin6.sin6_addr);
	assert_true(config_net_match(cfg.trusted_networks, 2, (struct sockaddr *)&sin6));
	assert_string_equal(config_route_for(&cfg, "EXAMPLE.org")->relay, "127.0.0.1:2526");
	assert_string_equal(config_route_for(&cfg, "other.net")->relay, "[::1]:25");
	config_free(&cfg);
}

static void
expect_error(const char *text, const char *want)
{
	struct config cfg;
	char *err = NULL;

	assert_int_equal(parse(&cfg, text, &err), -1);
	assert_non_null(err);
	if (strncmp(err, want, strlen(want)) != 0)
		fail_msg("got \"%s\", want prefix \"%s\"", err, want);
	free(err);
	config_free(&cfg);
}

static void
test_errors(void **state)
{
	(void)state;
	expect_error("[server]\nbogus = 1\n", "t.conf:2: server.bogus: unknown key");
	expect_error("[nosuch]\n", "t.conf:1: nosuch: unknown section");
	expect_error("hostname = x\n", "t.conf:1: hostname: key outside a section");
	expect_error("[submission]\n\nmax_message_size = lots\n", "t.conf:3: submission.max_message_size:");
	expect_error("[delivery]\nretry = 1m soon\n", "t.conf:2: delivery.retry:");
	expect_error("[delivery]\ntls = maybe\n", "t.conf:2: delivery.tls:");
	expect_error("[submission]\nlisten = nowhere\n", "t.conf:2: submission.listen:");
	expect_error("[submission]\ntrusted_networks = 10.0.0.0/33\n", "t.conf:2: submission.trusted_networks:");
	expect_error("[server]\nrequire_verified_domains = perhaps\n", "t.conf:2: server.require_verified_domains:");
	expect_error("[route x.org]\nport = 1\n", "t.conf:2: route.port: unknown key");
	expect_error("[route x.org]\n", "t.conf:0: route.relay:");
	expect_error("[store]\nurl = mysql://x\n", "t.conf:2: store.url:");
}

static void
test_long_line(void **state)
{
	/* A 5,000-character value is read whole (libinih would split it). */
	struct config cfg;
	char *err = NULL;
	size_t n = 5000;
	char *text = malloc(n + 64);

	(void)state;
	strcpy(text, "[server]\nhostname = ");
	memset(text + strlen(text), 'a', n);
	strcpy(text + strlen("[server]\nhostname = ") + n, "\n");
	assert_int_equal(parse(&cfg, text, &err), 0);
	assert_int_equal(strlen(cfg.hostname), n);
	config_free(&cfg);
	free(text);
}

static void
test_sizes_durations(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(config_parse_size("1G", &v), 0);
	assert_int_equal(v, 1024ULL * 1024 * 1024);
	assert_int_equal(config_parse_size("-1", &v), -1);
	assert_int_equal(config_parse_size("99999999999999999999G", &v), -1);
	assert_int_equal(config_parse_duration("250ms", &v), 0);
	assert_int_equal(v, 250);
	assert_int_equal(config_parse_duration("2h", &v), 0);
	assert_int_equal(v, 7200000);
	assert_int_equal(config_parse_duration("2w", &v), -1);
	/* past INT64_MAX ms: would wrap negative where a time is added to it */
	assert_int_equal(config_parse_duration("200000000000d", &v), -1);
	assert_int_equal(config_parse_duration("10000000000000000000ms", &v), -1);
	assert_int_equal(config_parse_duration("999999999d", &v), 0);
}

/* Every key the parser accepts is documented in docs/configuration.md. */
static void
test_documented(void **state)
{
	FILE *f = fopen("docs/configuration.md", "r");
	char *doc = NULL;
	size_t n = 0;

	(void)state;
	assert_non_null(f);
	assert_true(getdelim(&doc, &n, '\0', f) > 0);
	fclose(f);
	for (const char *const *k = config_key_names(); *k; k++) {
		const char *dot = strchr(*k, '.');
		char want[128], section[64];
		snprintf(section, sizeof(section), "%.*s", (int)(dot - *k), *k);
		snprintf(want, sizeof(want), "| `%s` |", dot + 1);
		if (strstr(doc, want) == NULL)
			fail_msg("%s is not documented in docs/configuration.md", *k);
		snprintf(want, sizeof(want), "[%s", section);
		if (strstr(doc, want) == NULL)
			fail_msg("section %s is not documented", section);
	}
	free(doc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_sizes_durations),
		cmocka_unit_test(test_documented),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
