/* Unit tests for deliver/mx against a real DNS server: a private dnsmasq on
 * 127.0.0.1:PORT serving test zones (MX with preferences, implicit MX, null MX,
 * NXDOMAIN, an MX host without address, a zone whose server never answers). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "deliver/mx.h"
#include "util/xalloc.h"

static pid_t dnsmasq_pid;
static int dns_port;
static int silent_fd = -1;	/* a UDP socket that never answers */

struct got {
	int		 done;
	enum mx_status	 status;
	size_t		 naddr;
	char		 text[8][320];	/* "host ip" */
};

static int
udp_port(int *fdp)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &sl) < 0)
		return -1;
	if (fdp)
		*fdp = fd;
	else
		close(fd);
	return ntohs(sin.sin_port);
}

static int
start_dnsmasq(void)
{
	char port[32], slow[96];
	int silent = udp_port(&silent_fd);

	for (int tries = 0; tries < 5; tries++) {
		dns_port = udp_port(NULL);
		snprintf(port, sizeof(port), "--port=%d", dns_port);
		snprintf(slow, sizeof(slow), "--server=/slow.test/127.0.0.1#%d", silent);
		dnsmasq_pid = fork();
		if (dnsmasq_pid == 0) {
			execlp("dnsmasq", "dnsmasq", "-k", port, "--listen-address=127.0.0.1",
			    "--bind-interfaces", "--no-resolv", "--no-hosts", "--local-ttl=60",
			    "--pid-file=", "--user=", "--local=/test/", slow,
			    "--mx-host=mx.test,mx1.mx.test,10", "--mx-host=mx.test,mx2.mx.test,20",
			    "--host-record=mx1.mx.test,127.0.0.11",
			    "--host-record=mx2.mx.test,127.0.0.12,::1",
			    "--host-record=implicit.test,127.0.0.13",
			    "--dns-rr=null.test,15,000000",
			    "--mx-host=noaddr.test,missing.noaddr.test,10",
			    (char *)NULL);
			_exit(127);
		}
		usleep(300000);
		int st;
		if (waitpid(dnsmasq_pid, &st, WNOHANG) == 0)
			return 0;
	}
	return -1;
}

static void
stop_dnsmasq(void)
{
	if (dnsmasq_pid > 0) {
		kill(dnsmasq_pid, SIGTERM);
		waitpid(dnsmasq_pid, NULL, 0);
		dnsmasq_pid = 0;
	}
}

static int
setup(void **state)
{
	(void)state;
	if (start_dnsmasq() < 0) {
		fprintf(stderr, "dnsmasq did not start\n");
		return -1;
	}
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	stop_dnsmasq();
	if (silent_fd >= 0)
		close(silent_fd);
	return 0;
}

static void
on_result(const struct mx_result *res, void *arg)
{
	struct got *g = arg;

	g->done = 1;
	g->status = res->status;
	g->naddr = res->naddr;
	for (size_t i = 0; i < res->naddr && i < 8; i++) {
		char ip[INET6_ADDRSTRLEN];
		const struct sockaddr *sa = (const struct sockaddr *)&res->addr[i].sa;
		if (sa->sa_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, ip, sizeof(ip));
		else
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, ip, sizeof(ip));
		snprintf(g->text[i], sizeof(g->text[i]), "%s %s", res->addr[i].host, ip);
	}
}

static struct mx_resolver *
resolver(uv_loop_t *loop, uint64_t timeout)
{
	struct mx_resolver *r = NULL;
	char server[64], *err = NULL;

	snprintf(server, sizeof(server), "127.0.0.1:%d", dns_port);
	assert_int_equal(mx_resolver_new(loop, server, timeout, &r, &err), 0);
	return r;
}

static void
run_until(uv_loop_t *loop, struct got *g)
{
	for (int i = 0; i < 1000 && !g->done; i++)
		uv_run(loop, UV_RUN_ONCE);
}

static void
resolve(struct mx_resolver *r, uv_loop_t *loop, const char *domain, struct got *g)
{
	memset(g, 0, sizeof(*g));
	assert_int_equal(mx_resolve(r, domain, on_result, g, NULL), 0);
	assert_int_equal(g->done, 0);	/* never synchronous */
	run_until(loop, g);
	assert_int_equal(g->done, 1);
}

static void
close_loop(uv_loop_t *loop, struct mx_resolver *r)
{
	mx_resolver_free(r);
	uv_run(loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(loop), 0);
}

static void
test_parse_resolver(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(mx_parse_resolver("127.0.0.1:5353", out, sizeof(out)), 0);
	assert_string_equal(out, "127.0.0.1@5353");
	assert_int_equal(mx_parse_resolver("[::1]:53", out, sizeof(out)), 0);
	assert_string_equal(out, "::1@53");
	assert_int_equal(mx_parse_resolver("::1", out, sizeof(out)), 0);
	assert_string_equal(out, "::1@53");
	assert_int_equal(mx_parse_resolver("10.0.0.1", out, sizeof(out)), 0);
	assert_string_equal(out, "10.0.0.1@53");
	assert_int_equal(mx_parse_resolver("dns.example:53", out, sizeof(out)), -1);
	assert_int_equal(mx_parse_resolver("127.0.0.1:99999", out, sizeof(out)), -1);
	assert_int_equal(mx_parse_resolver("127.0.0.1:", out, sizeof(out)), -1);
	assert_int_equal(mx_parse_resolver("", out, sizeof(out)), -1);
}

static void
test_mx_order(void **state)
{
	uv_loop_t loop;
	struct mx_resolver *r;
	struct got g;

	(void)state;
	uv_loop_init(&loop);
	r = resolver(&loop, 5000);
	resolve(r, &loop, "mx.test", &g);
	assert_int_equal(g.status, MX_OK);
	assert_int_equal(g.naddr, 3);
	assert_string_equal(g.text[0], "mx1.mx.test 127.0.0.11");
	assert_string_equal(g.text[1], "mx2.mx.test 127.0.0.12");	/* IPv4 before IPv6 */
	assert_string_equal(g.text[2], "mx2.mx.test ::1");
	close_loop(&loop, r);
}

static void
test_implicit_null_nx_noaddr(void **state)
{
	uv_loop_t loop;
	struct mx_resolver *r;
	struct got g;

	(void)state;
	uv_loop_init(&loop);
	r = resolver(&loop, 5000);
	resolve(r, &loop, "implicit.test", &g);
	assert_int_equal(g.status, MX_OK);
	assert_int_equal(g.naddr, 1);
	assert_string_equal(g.text[0], "implicit.test 127.0.0.13");
	resolve(r, &loop, "null.test", &g);
	assert_int_equal(g.status, MX_NULLMX);
	resolve(r, &loop, "nx.test", &g);
	assert_int_equal(g.status, MX_NXDOMAIN);
	resolve(r, &loop, "noaddr.test", &g);
	assert_int_equal(g.status, MX_NOADDR);
	close_loop(&loop, r);
}

static void
test_timeout_defers(void **state)
{
	uv_loop_t loop;
	struct mx_resolver *r;
	struct got g;
	uint64_t t0;

	(void)state;
	uv_loop_init(&loop);
	r = resolver(&loop, 1500);
	t0 = uv_hrtime();
	resolve(r, &loop, "slow.test", &g);
	assert_int_equal(g.status, MX_TEMPFAIL);
	assert_true((uv_hrtime() - t0) / 1000000 < 5000);
	close_loop(&loop, r);
}

static void
test_cache_and_cancel(void **state)
{
	uv_loop_t loop;
	struct mx_resolver *r;
	struct mx_query *q;
	struct got g, g2;

	(void)state;
	uv_loop_init(&loop);
	r = resolver(&loop, 1500);
	resolve(r, &loop, "mx.test", &g);
	assert_int_equal(g.status, MX_OK);
	/* A cancelled query never calls back. */
	memset(&g2, 0, sizeof(g2));
	assert_int_equal(mx_resolve(r, "implicit.test", on_result, &g2, &q), 0);
	mx_cancel(q);
	/* With the server gone, the cached answer (TTL 60) still comes back. */
	stop_dnsmasq();
	resolve(r, &loop, "mx.test", &g);
	assert_int_equal(g.status, MX_OK);
	assert_int_equal(g.naddr, 3);
	/* ...and an uncached name fails temporarily, not permanently. */
	resolve(r, &loop, "other.test", &g);
	assert_int_equal(g.status, MX_TEMPFAIL);
	assert_int_equal(g2.done, 0);
	close_loop(&loop, r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_resolver),
		cmocka_unit_test(test_mx_order),
		cmocka_unit_test(test_implicit_null_nx_noaddr),
		cmocka_unit_test(test_timeout_defers),
		cmocka_unit_test(test_cache_and_cancel),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
