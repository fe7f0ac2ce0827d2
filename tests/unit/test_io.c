/* Unit tests for net/: the io object, listeners and TLS contexts, over real
 * sockets on loopback. One loop per test holds a listener and io_connect()
 * clients; openssl s_client is the independent TLS peer. Every test ends by
 * closing everything and checking the loop has no handle left (uv_loop_close),
 * so an io that never frees shows up here, and under ASan as a leak. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <dlfcn.h>
#include <openssl/err.h>

#include "net/io.h"
#include "net/listen.h"
#include "net/tls.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/xalloc.h"

enum srv_mode {
	SRV_ECHO,		/* echo every byte back */
	SRV_STARTTLS,		/* a mini SMTP: "STARTTLS" line upgrades, then "ECHO " lines */
	SRV_TLS,		/* implicit TLS, then echo */
	SRV_HOLD,		/* never consume: the input cap must stop reading */
	SRV_CLOSE_IN_CB,	/* on input: reply "bye", io_close() inside the callback */
	SRV_ABORT_IN_CB,	/* on input: io_abort() inside the callback */
	SRV_BIG_CLOSE,		/* on connect: write a lot, io_close() at once */
	SRV_TIMEOUT,		/* 100 ms inactivity timeout, close on IO_TIMEOUT */
	SRV_PIPELINE,		/* three replies in three io_write() calls */
};

#define BIG	(8u << 20)
#define CAPTEST	(4u << 20)

struct srv {
	uv_loop_t	*loop;
	struct listener	*l;
	int		 port;
	enum srv_mode	 mode;
	int		 tls;		/* implicit TLS on accept, whatever the mode */
	SSL_CTX		*ctx;
	struct io	*io;
	int		 closed;		/* we closed our io */
	int		 after_close;		/* callbacks after that: must stay 0 */
	int		 ev[IO_ERROR + 1];
	size_t		 received;
	size_t		 max_input;
	int		 saw_inject;
	int		 upgraded;
	char		 tls_info[96];
	char		 err[256];
	uint64_t	 t_accept, t_timeout;
};

struct cli {
	uv_loop_t	*loop;
	struct io	*io;
	SSL_CTX		*ctx;
	const char	*sni;
	int		 tls;		/* implicit TLS: start on connect */
	int		 starttls;	/* send STARTTLS + injected line, upgrade on 220 */
	size_t		 send_big;	/* bytes of pattern to send on connect (or TLS ready) */
	size_t		 expect_big;	/* bytes of pattern expected back, checked */
	size_t		 want;		/* done once this much text came */
	const char	*hello;		/* text to send on connect */
	struct buf	 got;
	size_t		 got_big;	/* pattern bytes received and checked */
	int		 bad_byte;
	int		 ev[IO_ERROR + 1];
	int		 datain_first_len;
	int		 upgraded;
	int		 verified;
	int		 done;
	int		 closed;
	char		 tls_info[96];
	char		 err[256];
};

/* uv_write() is interposed to count the writes the io object makes: the
 * executable's definition wins over libuv's for libhermod.a's calls. */
static unsigned uv_write_calls;

int
uv_write(uv_write_t *req, uv_stream_t *handle, const uv_buf_t bufs[], unsigned int nbufs,
    uv_write_cb cb)
{
	static int (*real)(uv_write_t *, uv_stream_t *, const uv_buf_t[], unsigned int,
	    uv_write_cb);

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "uv_write");
	uv_write_calls++;
	return real(req, handle, bufs, nbufs, cb);
}

static char tmpdir[64];
static char cert_path[128], key_path[128];

static uint8_t
pattern(size_t i)
{
	return (uint8_t)((i * 2654435761u) >> 13);
}

static void
fill_pattern(char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (char)pattern(i);
}

/* --- the loop --- */

static void
wake_cb(uv_timer_t *t)
{
	(void)t;
}

/* run_until() runs the loop until *flag or ms elapse; 0 if flag came. */
static int
run_until(uv_loop_t *loop, int *flag, int ms)
{
	uv_timer_t wake;
	uint64_t end = uv_hrtime() + (uint64_t)ms * 1000000;

	uv_timer_init(loop, &wake);
	uv_timer_start(&wake, wake_cb, 10, 10);
	while (!*flag && uv_hrtime() < end)
		uv_run(loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&wake, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
	return *flag ? 0 : -1;
}

/* drain() runs the loop until every handle closed (bounded) and checks it. */
static void
drain(uv_loop_t *loop)
{
	uint64_t start = uv_hrtime(), end = start + 8000000000ull;

	while (uv_run(loop, UV_RUN_ONCE) && uv_hrtime() < end)
		;
	/* peers that both close never need the 5 s linger */
	assert_true(uv_hrtime() - start < 2000000000ull);
	if (uv_loop_close(loop) != 0) {
		uv_print_all_handles(loop, stderr);
		fail_msg("handles left open");
	}
}

/* --- the server side --- */

static void srv_big_close(struct srv *s, struct io *io);

static void
srv_cb(struct io *io, enum io_event ev, void *arg)
{
	struct srv *s = arg;
	struct buf *in = io_input(io);
	char *nl;

	if (s->closed) {
		s->after_close++;
		return;
	}
	s->ev[ev]++;
	switch (ev) {
	case IO_TLS_READY:
		snprintf(s->tls_info, sizeof(s->tls_info), "%s", io_tls_info(io));
		/* nothing typed before the upgrade may survive it */
		if (in->len)
			s->saw_inject = 1;
		if (s->mode == SRV_BIG_CLOSE)
			srv_big_close(s, io);
		return;
	case IO_ERROR:
		snprintf(s->err, sizeof(s->err), "%s", io_error(io));
		s->closed = 1;
		io_close(io);
		return;
	case IO_CLOSED:
		s->closed = 1;
		io_close(io);
		return;
	case IO_TIMEOUT:
		s->t_timeout = uv_now(s->loop);
		s->closed = 1;
		io_close(io);
		return;
	case IO_DATAIN:
		break;
	default:
		return;
	}
	if (in->len > s->max_input)
		s->max_input = in->len;
	switch (s->mode) {
	case SRV_ECHO:
	case SRV_TLS:
		s->received += in->len;
		io_write(io, in->data, in->len);
		buf_consume(in, in->len);
		break;
	case SRV_HOLD:
		break;
	case SRV_STARTTLS:
		if (memmem(in->data, in->len, "INJECT", 6) && s->upgraded)
			s->saw_inject = 1;
		while ((nl = memchr(in->data, '\n', in->len)) != NULL) {
			size_t n = (size_t)(nl - in->data) + 1;

			if (n >= 8 && memcmp(in->data, "STARTTLS", 8) == 0) {
				buf_consume(in, n);
				/* the 220 and an injected line in one write: the
				 * client must drop the second */
				io_write(io, "220 go\r\nINJECTED-BY-SERVER\r\n", 28);
				assert_int_equal(io_starttls_server(io, s->ctx), 0);
				assert_int_equal(in->len, 0);
				s->upgraded = 1;
				return;
			}
			if (n >= 5 && memcmp(in->data, "ECHO ", 5) == 0)
				io_printf(io, "%.*s", (int)(n - 5), in->data + 5);
			else
				io_write(io, "500 what\r\n", 10);
			buf_consume(in, n);
		}
		break;
	case SRV_CLOSE_IN_CB:
		io_write(io, "bye\r\n", 5);
		s->closed = 1;
		io_close(io);
		/* after io_close, writes are dropped and nothing fires */
		io_write(io, "late\r\n", 6);
		break;
	case SRV_ABORT_IN_CB:
		s->closed = 1;
		io_abort(io);
		break;
	case SRV_PIPELINE:
		if (memchr(in->data, '\n', in->len)) {
			buf_consume(in, in->len);
			io_write(io, "250-one\r\n", 9);
			io_write(io, "250-two\r\n", 9);
			io_printf(io, "250 %s\r\n", "three");
		}
		break;
	default:
		break;
	}
}

/* srv_big_close() writes BIG bytes of pattern and closes at once: io_close
 * must still deliver all of it. */
static void
srv_big_close(struct srv *s, struct io *io)
{
	char *p = xmalloc(BIG);

	fill_pattern(p, BIG);
	io_write(io, p, BIG);
	free(p);
	s->closed = 1;
	io_close(io);
}

static void
srv_accept(struct io *io, void *arg)
{
	struct srv *s = arg;

	s->io = io;
	s->closed = 0;
	s->t_accept = uv_now(s->loop);
	io_set_cb(io, srv_cb, s);
	assert_non_null(io_peer(io));
	if (s->mode == SRV_TLS || s->tls)
		assert_int_equal(io_starttls_server(io, s->ctx), 0);
	switch (s->mode) {
	case SRV_HOLD:
		io_set_input_cap(io, 1024);
		break;
	case SRV_TIMEOUT:
		io_set_timeout(io, 100);
		break;
	case SRV_BIG_CLOSE:
		if (!s->tls)
			srv_big_close(s, io);
		break;
	default:
		break;
	}
}

static void
srv_start(struct srv *s, uv_loop_t *loop, const char *addr, enum srv_mode mode)
{
	char *err = NULL;

	memset(s, 0, sizeof(*s));
	s->loop = loop;
	s->mode = mode;
	assert_int_equal(listener_start(loop, addr, srv_accept, s, &s->l, &err), 0);
	s->port = listener_port(s->l);
	assert_true(s->port > 0);
}

/* --- the client side --- */

static void
cli_send_payload(struct cli *c, struct io *io)
{
	if (c->hello)
		io_write(io, c->hello, strlen(c->hello));
	if (c->send_big) {
		char *p = xmalloc(c->send_big);

		fill_pattern(p, c->send_big);
		io_write(io, p, c->send_big);
		free(p);
	}
}

static void
cli_cb(struct io *io, enum io_event ev, void *arg)
{
	struct cli *c = arg;
	struct buf *in = io_input(io);
	size_t i;

	if (c->closed)
		return;
	c->ev[ev]++;
	switch (ev) {
	case IO_CONNECTED:
		if (c->tls)
			assert_int_equal(io_starttls_client(io, c->ctx, c->sni), 0);
		else if (c->starttls)
			io_write(io, "STARTTLS\r\nINJECT\r\n", 18);
		else
			cli_send_payload(c, io);
		return;
	case IO_TLS_READY:
		c->upgraded = 1;
		c->verified = io_tls_peer_verified(io);
		snprintf(c->tls_info, sizeof(c->tls_info), "%s", io_tls_info(io));
		if (c->starttls)
			io_write(io, "ECHO HELLO\r\n", 12);
		else
			cli_send_payload(c, io);
		return;
	case IO_DATAIN:
		if (c->datain_first_len == 0)
			c->datain_first_len = (int)in->len;
		if (c->starttls && !c->upgraded) {
			if (memmem(in->data, in->len, "220 go\r\n", 8)) {
				assert_int_equal(io_starttls_client(io, c->ctx, c->sni), 0);
				/* the injected line was in the same read: gone */
				assert_int_equal(in->len, 0);
			}
			return;
		}
		if (c->expect_big) {
			for (i = 0; i < in->len; i++)
				if ((uint8_t)in->data[i] != pattern(c->got_big + i))
					c->bad_byte = 1;
			c->got_big += in->len;
			buf_consume(in, in->len);
			if (c->got_big >= c->expect_big)
				c->done = 1;
			return;
		}
		buf_append(&c->got, in->data, in->len);
		buf_consume(in, in->len);
		if (c->starttls && strstr(c->got.data, "HELLO\r\n"))
			c->done = 1;
		if (c->want && c->got.len >= c->want)
			c->done = 1;
		return;
	case IO_CLOSED:
	case IO_ERROR:
	case IO_TIMEOUT:
		snprintf(c->err, sizeof(c->err), "%s", io_error(io));
		c->closed = 1;
		c->done = 1;
		io_close(io);
		return;
	default:
		return;
	}
}

static void
cli_connect(struct cli *c, uv_loop_t *loop, const char *ip, int port)
{
	struct sockaddr_storage ss;
	char addr[80];

	c->loop = loop;
	if (strchr(ip, ':'))
		snprintf(addr, sizeof(addr), "[%s]:%d", ip, port);
	else
		snprintf(addr, sizeof(addr), "%s:%d", ip, port);
	assert_int_equal(listener_addr_parse(addr, &ss), 0);
	assert_int_equal(io_connect(loop, (struct sockaddr *)&ss, NULL, 2000, cli_cb, c,
	    &c->io), 0);
}

static void
cli_close(struct cli *c)
{
	if (!c->closed) {
		c->closed = 1;
		io_close(c->io);
	}
	buf_free(&c->got);
}

/* --- tests: plain --- */

static void
test_addr_parse(void **state)
{
	struct sockaddr_storage ss;

	(void)state;
	assert_int_equal(listener_addr_parse("127.0.0.1:587", &ss), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 587);
	assert_int_equal(listener_addr_parse("[::1]:25", &ss), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), 25);
	assert_int_equal(listener_addr_parse("*:2525", &ss), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(listener_addr_parse("localhost:1", &ss), 0);
	assert_int_equal(listener_addr_parse("127.0.0.1:65535", &ss), 0);
	assert_int_equal(listener_addr_parse("127.0.0.1:65536", &ss), -1);
	assert_int_equal(listener_addr_parse("127.0.0.1", &ss), -1);
	assert_int_equal(listener_addr_parse("127.0.0.1:", &ss), -1);
	assert_int_equal(listener_addr_parse("127.0.0.1:2x", &ss), -1);
	assert_int_equal(listener_addr_parse("::1:25", &ss), -1);
	assert_int_equal(listener_addr_parse("[::1]25", &ss), -1);
	assert_int_equal(listener_addr_parse("[::1:25", &ss), -1);
	assert_int_equal(listener_addr_parse(":25", &ss), -1);
	assert_int_equal(listener_addr_parse("example.com:25", &ss), -1);
	assert_int_equal(listener_addr_parse("", &ss), -1);
}

static void
test_listen_errors(void **state)
{
	uv_loop_t loop;
	struct srv s;
	struct listener *l2 = NULL;
	char *err = NULL;
	char addr[64];

	(void)state;
	uv_loop_init(&loop);
	assert_int_equal(listener_start(&loop, "nonsense", srv_accept, NULL, &l2, &err), -1);
	assert_non_null(strstr(err, "nonsense"));
	free(err);
	err = NULL;
	srv_start(&s, &loop, "127.0.0.1:0", SRV_ECHO);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", s.port);
	assert_int_equal(listener_start(&loop, addr, srv_accept, NULL, &l2, &err), -1);
	assert_non_null(strstr(err, "address already in use"));
	free(err);
	listener_stop(s.l);
	drain(&loop);
}

static void
echo_on(const char *listen_addr, const char *ip)
{
	uv_loop_t loop;
	struct srv s;
	struct cli c = { .hello = "hello\r\n", .want = 7 };

	uv_loop_init(&loop);
	srv_start(&s, &loop, listen_addr, SRV_ECHO);
	cli_connect(&c, &loop, ip, s.port);
	assert_int_equal(run_until(&loop, &c.done, 3000), 0);
	assert_int_equal(c.closed, 0);
	assert_int_equal(c.ev[IO_CONNECTED], 1);
	assert_string_equal(c.got.data, "hello\r\n");
	assert_string_equal(io_peer_ip(c.io), ip);
	assert_string_equal(io_peer_ip(s.io), ip);
	assert_true(s.ev[IO_DRAINED] >= 1);
	/* client closes: the server sees IO_CLOSED and closes too */
	cli_close(&c);
	run_until(&loop, &s.closed, 3000);
	assert_int_equal(s.ev[IO_CLOSED], 1);
	assert_int_equal(s.after_close, 0);
	listener_stop(s.l);
	drain(&loop);
}

static void
test_echo(void **state)
{
	(void)state;
	echo_on("127.0.0.1:0", "127.0.0.1");
}

static void
test_echo_ipv6(void **state)
{
	uv_loop_t loop;
	struct listener *l = NULL;
	char *err = NULL;
	int rc;

	(void)state;
	uv_loop_init(&loop);
	rc = listener_start(&loop, "[::1]:0", srv_accept, NULL, &l, &err);
	if (rc == 0)
		listener_stop(l);
	free(err);
	drain(&loop);
	if (rc < 0) {
		print_message("no IPv6 loopback here: skipped\n");
		skip();
	}
	echo_on("[::1]:0", "::1");
}

static void
big_transfer(int tls)
{
	uv_loop_t loop;
	struct srv s;
	struct cli c = { .send_big = BIG, .expect_big = BIG, .tls = tls };
	char *err = NULL;

	uv_loop_init(&loop);
	srv_start(&s, &loop, "127.0.0.1:0", tls ? SRV_TLS : SRV_ECHO);
	if (tls) {
		assert_non_null(s.ctx = tls_server_ctx(cert_path, key_path, &err));
		assert_non_null(c.ctx = tls_client_ctx(&err));
	}
	cli_connect(&c, &loop, "127.0.0.1", s.port);
	assert_int_equal(run_until(&loop, &c.done, 30000), 0);
	assert_int_equal(c.closed, 0);
	assert_int_equal(c.got_big, BIG);
	assert_int_equal(c.bad_byte, 0);
	assert_int_equal(s.received, BIG);
	if (tls) {
		assert_int_equal(s.ev[IO_TLS_READY], 1);
		assert_int_equal(c.upgraded, 1);
	}
	cli_close(&c);
	run_until(&loop, &s.closed, 3000);
	listener_stop(s.l);
	drain(&loop);
	SSL_CTX_free(s.ctx);
	SSL_CTX_free(c.ctx);
}

static void
test_big_transfer(void **state)
{
	(void)state;
	big_transfer(0);
}

static void
test_pipelined_replies_coalesce(void **state)
{
	uv_loop_t loop;
	struct srv s;
	struct cli c = { .hello = "x\r\n", .want = 29 };

	(void)state;
	uv_loop_init(&loop);
	srv_start(&s, &loop, "127.0.0.1:0", SRV_PIPELINE);
	uv_write_calls = 0;
	cli_connect(&c, &loop, "127.0.0.1", s.port);
	assert_int_equal(run_until(&loop, &c.done, 3000), 0);
	/* three io_write() calls on the server, one uv_write (and one for the
	 * client's line) */
	assert_int_equal(uv_write_calls, 2);
	assert_string_equal(c.got.data, "250-one\r\n250-two\r\n250 three\r\n");
	/* three io_write() calls, one packet: the first read saw all of it */
	assert_int_equal(c.datain_first_len, 29);
	cli_close(&c);
	run_until(&loop, &s.closed, 3000);
	listener_stop(s.l);
	drain(&loop);
}

static void
test_timeout(void **state)
{
	uv_loop_t loop;
	struct srv s;
	struct cli c = { 0 };

	(void)state;
	uv_loop_init(&loop);
	srv_start(&s, &loop, "127.0.0.1:0", SRV_TIMEOUT);
	cli_connect(&c, &loop, "127.0.0.1", s.port);
	assert_int_equal(run_until(&loop, &c.done, 3000), 0);
	assert_int_equal(s.ev[IO_TIMEOUT], 1);
	assert_true(s.t_timeout - s.t_accept >= 95);
	assert_true(s.t_timeout - s.t_accept < 1000);
	/* the server's io_close() reached the client as EOF */
	assert_int_equal(c.ev[IO_CLOSED], 1);
	assert_int_equal(s.after_close, 0);
	listener_stop(s.l);
	drain(&loop);
	buf_free(&c.got);
}

static void
test_connect_refused(void **state)
{
	uv_loop_t loop;
	struct srv s;
	struct cli c = { 0 };
	int port;

	(void)state;
	uv_loop_init(&loop);
	/* a port that was just free: bind, learn it, let it go */
	srv_start(&s, &loop, "127.0.0.1:0", SRV_ECHO);
	port = s.port;
	listener_stop(s.l);
	uv_run(&loop, UV_RUN_NOWAIT);
	cli_connect(&c, &loop, "127.0.0.1", port);
	assert_int_equal(run_until(&loop, &c.done, 3000), 0);
	assert_int_equal(c.ev[IO_ERROR], 1);
	assert_int_equal(c.ev[IO_CONNECTED], 0);
	assert_non_null(strstr(c.err, "refused"));
	drain(&loop);
	buf_free(&c.got);
}

static void
input_cap(int tls)
{
	uv_loop_t loop;
	struct srv s;
	struct cli c = { .send_big = CAPTEST, .expect_big = CAPTEST, .tls = tls };
	int never = 0;
	char *err = NULL;
	struct buf *in;
	uint64_t rx, tx;

	uv_loop_init(&loop);
	srv_start(&s, &loop, "127.0.0.1:0", SRV_HOLD);
	if (tls) {
		s.tls = 1;
		assert_non_null(s.ctx = tls_server_ctx(cert_path, key_path, &err));
		assert_non_null(c.ctx = tls_client_ctx(&err));
	}
	cli_connect(&c, &loop, "127.0.0.1", s.port);
	run_until(&loop, &never, 400);
	assert_non_null(s.io);
	in = io_input(s.io);
	/* reading stopped: at most one read (or one TLS record) past the
	 * 1 KiB cap, and the socket is not read further either (under TLS the
	 * ciphertext would pile up unseen otherwise) */
	assert_true(in->len > 1024);
	assert_true(in->len <= 1024 + 65536);
	assert_true(s.max_input <= 1024 + 65536);
	io_stats(s.io, &rx, &tx);
	assert_true(rx <= 1024 + 3 * 65536);
	/* consume and resume; from now on echo as it comes */
	s.received = in->len;
	io_write(s.io, in->data, in->len);
	buf_consume(in, in->len);
	s.mode = SRV_ECHO;
	io_resume(s.io);
	assert_int_equal(run_until(&loop, &c.done, 20000), 0);
	assert_int_equal(c.got_big, CAPTEST);
	assert_int_equal(c.bad_byte, 0);
	assert_int_equal(s.received, CAPTEST);
	assert_true(s.max_input <= 1024 + 65536);
	io_stats(s.io, &rx, &tx);
	assert_true(rx >= CAPTEST);
	assert_true(tx >= CAPTEST);
	cli_close(&c);
	run_until(&loop, &s.closed, 3000);
	listener_stop(s.l);
	drain(&loop);
	SSL_CTX_free(s.ctx);
	SSL_CTX_free(c.ctx);
}

static void
test_input_cap(void **state)
{
	(void)state;
	input_cap(0);
}

static void
test_input_cap_tls(void **state)
{
	(void)state;
	input_cap(1);
}

static void
test_dual_stack_peer(void **state)
{
	uv_loop_t loop;
	struct srv s;
	struct cli c = { .hello = "hi\r\n", .want = 4 };
	const struct sockaddr *sa;

	(void)state;
	uv_loop_init(&loop);
	/* "*" listens on IPv6 and IPv4; an IPv4 client shows as IPv4, not as
	 * ::ffff:127.0.0.1, so address checks see one form */
	srv_start(&s, &loop, "*:0", SRV_ECHO);
	cli_connect(&c, &loop, "127.0.0.1", s.port);
	assert_int_equal(run_until(&loop, &c.done, 3000), 0);
	assert_string_equal(io_peer_ip(s.io), "127.0.0.1");
	sa = io_peer(s.io);
	assert_int_equal(sa->sa_family, AF_INET);
	assert_string_equal(c.got.data, "hi\r\n");
	cli_close(&c);
	run_until(&loop, &s.closed, 3000);
	listener_stop(s.l);
	drain(&loop);
}

static void
test_connect_from_source(void **state)
{
	uv_loop_t loop;
	struct srv s;
	struct cli c = { .hello = "hi\r\n", .want = 4 };
	struct sockaddr_storage dst, src;
	char addr[64];

	(void)state;
	uv_loop_init(&loop);
	srv_start(&s, &loop, "127.0.0.1:0", SRV_ECHO);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", s.port);
	assert_int_equal(listener_addr_parse(addr, &dst), 0);
	/* all of 127/8 is loopback on Linux: the server sees the source */
	assert_int_equal(listener_addr_parse("127.0.0.2:0", &src), 0);
	c.loop = &loop;
	assert_int_equal(io_connect(&loop, (struct sockaddr *)&dst, (struct sockaddr *)&src,
	    2000, cli_cb, &c, &c.io), 0);
	assert_int_equal(run_until(&loop, &c.done, 3000), 0);
	assert_string_equal(c.got.data, "hi\r\n");
	assert_string_equal(io_peer_ip(s.io), "127.0.0.2");
	cli_close(&c);
	run_until(&loop, &s.closed, 3000);
	listener_stop(s.l);
	drain(&loop);
}

static void
test_connect_timeout(void **state)
{
	uv_loop_t loop;
	struct cli c = { 0 };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int lfd, fill[4], i;
	uint64_t t0;

	(void)state;
	/* a listener that never accepts, with its queue full: the kernel drops
	 * further SYNs, so a connect hangs until our timer */
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(lfd, 0), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sin, &len), 0);
	for (i = 0; i < 4; i++) {
		fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		connect(fill[i], (struct sockaddr *)&sin, sizeof(sin));
	}
	usleep(50000);
	uv_loop_init(&loop);
	c.loop = &loop;
	t0 = uv_now(&loop);
	assert_int_equal(io_connect(&loop, (struct sockaddr *)&sin, NULL, 300, cli_cb, &c,
	    &c.io), 0);
	assert_int_equal(run_until(&loop, &c.done, 5000), 0);
	uv_update_time(&loop);
	assert_int_equal(c.ev[IO_TIMEOUT], 1);
	assert_int_equal(c.ev[IO_CONNECTED], 0);
	assert_true(uv_now(&loop) - t0 >= 290);
	assert_non_null(strstr(c.err, "timed out"));
	drain(&loop);
	for (i = 0; i < 4; i++)
		close(fill[i]);
	close(lfd);
	buf_free(&c.got);
}

static void
test_resume_delivers_buffered(void **state)
{
	uv_loop_t loop;
	struct srv s;
	struct cli c = { .hello = "MAIL\r\nRCPT\r\n" };
	int never = 0, before;

	(void)state;
	uv_loop_init(&loop);
	srv_start(&s, &loop, "127.0.0.1:0", SRV_HOLD);
	cli_connect(&c, &loop, "127.0.0.1", s.port);
	run_until(&loop, &never, 200);
	assert_int_equal(io_input(s.io)->len, 12);
	/* the session pauses (a commit in flight), then resumes: the buffered
	 * input comes again as IO_DATAIN from the loop, not from io_resume */
	io_pause(s.io);
	before = s.ev[IO_DATAIN];
	io_resume(s.io);
	assert_int_equal(s.ev[IO_DATAIN], before);
	run_until(&loop, &never, 100);
	assert_int_equal(s.ev[IO_DATAIN], before + 1);
	cli_close(&c);
	run_until(&loop, &s.closed, 3000);
	listener_stop(s.l);
	drain(&loop);
}

static void
close_in_callback(int tls)
{
	uv_loop_t loop;
	struct srv s;
	struct cli c = { .hello = "QUIT\r\nNOOP\r\nNOOP\r\n", .tls = tls };
	char *err = NULL;

	uv_loop_init(&loop);
	srv_start(&s, &loop, "127.0.0.1:0", SRV_CLOSE_IN_CB);
	if (tls) {
		s.tls = 1;
		assert_non_null(s.ctx = tls_server_ctx(cert_path, key_path, &err));
		assert_non_null(c.ctx = tls_client_ctx(&err));
	}
	cli_connect(&c, &loop, "127.0.0.1", s.port);
	assert_int_equal(run_until(&loop, &c.done, 3000), 0);
	/* the reply written just before io_close() arrived (under TLS: before
	 * the close_notify), then EOF; the write after io_close() did not */
	assert_string_equal(c.got.data, "bye\r\n");
	assert_int_equal(c.ev[IO_CLOSED], 1);
	assert_int_equal(c.ev[IO_ERROR], 0);
	assert_int_equal(s.ev[IO_DATAIN], 1);
	assert_int_equal(s.after_close, 0);
	listener_stop(s.l);
	drain(&loop);
	buf_free(&c.got);
	SSL_CTX_free(s.ctx);
	SSL_CTX_free(c.ctx);
}

static void
test_close_in_callback(void **state)
{
	(void)state;
	close_in_callback(0);
}

static void
test_close_in_callback_tls(void **state)
{
	(void)state;
	close_in_callback(1);
}

/* A client that ignores the server's FIN and goes on sending: it gets the
 * reply and EOF, then, when the server's short EOF wait ends, a reset. */
struct pest {
	uv_timer_t	 t;
	struct io	*io;
	struct buf	 got;
	uint64_t	 t_eof, t_err;
	int		 done;
};

static void
pest_cb(struct io *io, enum io_event ev, void *arg)
{
	struct pest *p = arg;
	struct buf *in = io_input(io);

	switch (ev) {
	case IO_CONNECTED:
		io_write(io, "QUIT\r\n", 6);
		break;
	case IO_DATAIN:
		buf_append(&p->got, in->data, in->len);
		buf_consume(in, in->len);
		break;
	case IO_CLOSED:
		p->t_eof = uv_now(p->t.loop);
		break;
	case IO_ERROR:
		p->t_err = uv_now(p->t.loop);
		p->done = 1;
		uv_timer_stop(&p->t);
		io_close(io);
		break;
	default:
		break;
	}
}

static void
pest_tick(uv_timer_t *t)
{
	struct pest *p = t->data;

	if (p->t_eof)
		io_write(p->io, "NOOP\r\n", 6);
}

static void
test_close_bounded_for_pests(void **state)
{
	uv_loop_t loop;
	struct srv s;
	struct pest p = { 0 };
	struct sockaddr_storage ss;
	char addr[64];

	(void)state;
	uv_loop_init(&loop);
	srv_start(&s, &loop, "127.0.0.1:0", SRV_CLOSE_IN_CB);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", s.port);
	assert_int_equal(listener_addr_parse(addr, &ss), 0);
	uv_timer_init(&loop, &p.t);
	p.t.data = &p;
	uv_timer_start(&p.t, pest_tick, 100, 100);
	assert_int_equal(io_connect(&loop, (struct sockaddr *)&ss, NULL, 2000, pest_cb, &p,
	    &p.io), 0);
	assert_int_equal(run_until(&loop, &p.done, 6000), 0);
	assert_string_equal(p.got.data, "bye\r\n");
	assert_true(p.t_eof > 0);
	/* the server waited about 2 s for an EOF that never came, then reset */
	assert_true(p.t_err - p.t_eof >= 1500);
	assert_true(p.t_err - p.t_eof < 3500);
	uv_close((uv_handle_t *)&p.t, NULL);
	listener_stop(s.l);
	drain(&loop);
	buf_free(&p.got);
}

static void
test_abort_all(void **state)
{
	uv_loop_t loop;
	struct srv s;
	struct cli c = { .hello = "MAIL\r\n" };
	int never = 0, cev = 0, i;

	(void)state;
	uv_loop_init(&loop);
	srv_start(&s, &loop, "127.0.0.1:0", SRV_HOLD);
	cli_connect(&c, &loop, "127.0.0.1", s.port);
	run_until(&loop, &never, 200);
	assert_non_null(s.io);
	/* the server closes; the client ignores it (no EOF back): the server's
	 * io lingers, the client's stays open */
	c.closed = 1;
	s.closed = 1;
	io_close(s.io);
	run_until(&loop, &never, 100);
	for (i = 0; i <= IO_ERROR; i++)
		cev += c.ev[i];
	/* a daemon exiting: both go at once, no callback, nothing leaks */
	io_abort_all(&loop);
	listener_stop(s.l);
	drain(&loop);
	for (i = 0; i <= IO_ERROR; i++)
		cev -= c.ev[i];
	assert_int_equal(cev, 0);
	assert_int_equal(s.after_close, 0);
	buf_free(&c.got);
}

static void
test_abort_in_callback(void **state)
{
	uv_loop_t loop;
	struct srv s;
	struct cli c = { .hello = "x\r\n" };

	(void)state;
	uv_loop_init(&loop);
	srv_start(&s, &loop, "127.0.0.1:0", SRV_ABORT_IN_CB);
	cli_connect(&c, &loop, "127.0.0.1", s.port);
	assert_int_equal(run_until(&loop, &c.done, 3000), 0);
	assert_int_equal(c.ev[IO_CLOSED] + c.ev[IO_ERROR], 1);
	assert_int_equal(c.got.len, 0);
	assert_int_equal(s.after_close, 0);
	listener_stop(s.l);
	drain(&loop);
	buf_free(&c.got);
}

static void
close_flushes_pending(int tls)
{
	uv_loop_t loop;
	struct srv s;
	struct cli c = { .expect_big = BIG, .tls = tls };
	char *err = NULL;

	uv_loop_init(&loop);
	/* the server writes 8 MiB and closes at once; the client sends nothing
	 * but must read all of it, then a clean EOF (under TLS: close_notify
	 * after the last record) */
	srv_start(&s, &loop, "127.0.0.1:0", SRV_BIG_CLOSE);
	if (tls) {
		s.tls = 1;
		assert_non_null(s.ctx = tls_server_ctx(cert_path, key_path, &err));
		assert_non_null(c.ctx = tls_client_ctx(&err));
	}
	cli_connect(&c, &loop, "127.0.0.1", s.port);
	assert_int_equal(run_until(&loop, &c.closed, 20000), 0);
	assert_int_equal(c.got_big, BIG);
	assert_int_equal(c.bad_byte, 0);
	assert_int_equal(c.ev[IO_CLOSED], 1);
	assert_int_equal(c.ev[IO_ERROR], 0);
	listener_stop(s.l);
	drain(&loop);
	SSL_CTX_free(s.ctx);
	SSL_CTX_free(c.ctx);
}

static void
test_close_flushes_pending(void **state)
{
	(void)state;
	close_flushes_pending(0);
}

static void
test_close_flushes_pending_tls(void **state)
{
	(void)state;
	close_flushes_pending(1);
}

/* --- tests: TLS --- */

static void
test_selfsigned(void **state)
{
	struct stat st;
	char *err = NULL;
	SSL_CTX *ctx;
	struct stat st2;

	(void)state;
	assert_int_equal(stat(key_path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(cert_path, &st), 0);
	/* both exist: a no-op */
	assert_int_equal(tls_make_selfsigned(cert_path, key_path, "localhost", &err), 0);
	assert_int_equal(stat(cert_path, &st2), 0);
	assert_int_equal(st.st_ino, st2.st_ino);
	assert_non_null(ctx = tls_server_ctx(cert_path, key_path, &err));
	assert_int_equal(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
	assert_true(SSL_CTX_get_options(ctx) & SSL_OP_NO_COMPRESSION);
	assert_true(SSL_CTX_get_options(ctx) & SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_free(ctx);
	/* the wrong key for the certificate is refused */
	assert_null(tls_server_ctx(cert_path, "/nonexistent/key.pem", &err));
	assert_non_null(strstr(err, "/nonexistent/key.pem"));
	free(err);
}

static void
test_selfsigned_errors(void **state)
{
	char *err = NULL;
	char c2[160], k2[160];

	(void)state;
	assert_int_equal(tls_make_selfsigned("/nonexistent/dir/c.pem", "/nonexistent/dir/k.pem",
	    "x.example", &err), -1);
	assert_non_null(strstr(err, "/nonexistent/dir/k.pem"));
	free(err);
	/* a second pair does not match the first certificate */
	snprintf(c2, sizeof(c2), "%s/c2.pem", tmpdir);
	snprintf(k2, sizeof(k2), "%s/k2.pem", tmpdir);
	assert_int_equal(tls_make_selfsigned(c2, k2, "other.example", &err), 0);
	err = NULL;
	assert_null(tls_server_ctx(cert_path, k2, &err));
	assert_non_null(strstr(err, "mismatch"));
	free(err);
}

/* starttls() upgrades a session with the pair made for cert_name; the client
 * trusts that certificate or not, and asks for sni. */
static void
starttls(int trust, const char *sni, const char *cert_name)
{
	uv_loop_t loop;
	struct srv s;
	struct cli c = { .starttls = 1, .sni = sni };
	char *err = NULL;
	char cert[160], key[160];

	snprintf(cert, sizeof(cert), "%s/cert-%s.pem", tmpdir, cert_name);
	snprintf(key, sizeof(key), "%s/key-%s.pem", tmpdir, cert_name);
	assert_int_equal(tls_make_selfsigned(cert, key, cert_name, &err), 0);
	uv_loop_init(&loop);
	srv_start(&s, &loop, "127.0.0.1:0", SRV_STARTTLS);
	assert_non_null(s.ctx = tls_server_ctx(cert, key, &err));
	assert_non_null(c.ctx = tls_client_ctx(&err));
	if (trust)
		assert_int_equal(SSL_CTX_load_verify_locations(c.ctx, cert, NULL), 1);
	cli_connect(&c, &loop, "127.0.0.1", s.port);
	assert_int_equal(run_until(&loop, &c.done, 5000), 0);
	assert_int_equal(c.closed, 0);
	assert_int_equal(s.upgraded, 1);
	assert_int_equal(c.upgraded, 1);
	assert_int_equal(s.ev[IO_TLS_READY], 1);
	/* the line the client pipelined after STARTTLS never reached the session */
	assert_int_equal(s.saw_inject, 0);
	/* and the line the server sent after its 220 never reached the client */
	assert_null(strstr(c.got.data, "INJECTED"));
	assert_string_equal(c.got.data, "HELLO\r\n");
	assert_true(strncmp(c.tls_info, "TLSv1.3 ", 8) == 0);
	assert_string_equal(c.tls_info, s.tls_info);
	assert_int_equal(io_tls_active(c.io), 1);
	/* no second upgrade */
	assert_int_equal(io_starttls_client(c.io, c.ctx, NULL), -1);
	assert_int_equal(io_starttls_server(s.io, s.ctx), -1);
	/* trusted, and the certificate names the host asked for */
	assert_int_equal(c.verified, trust && strcmp(sni, cert_name) == 0);
	cli_close(&c);
	run_until(&loop, &s.closed, 3000);
	/* a clean close, not an error */
	assert_int_equal(s.ev[IO_CLOSED], 1);
	assert_int_equal(s.ev[IO_ERROR], 0);
	listener_stop(s.l);
	drain(&loop);
	SSL_CTX_free(s.ctx);
	SSL_CTX_free(c.ctx);
}

static void
test_starttls(void **state)
{
	(void)state;
	starttls(0, "localhost", "localhost");
}

static void
test_starttls_verified(void **state)
{
	(void)state;
	starttls(1, "localhost", "localhost");
	/* a trusted certificate for another name does not verify (but TLS
	 * works: opportunistic delivery decides); nor for an address it does
	 * not name */
	starttls(1, "mx.other.example", "localhost");
	starttls(1, "127.0.0.1", "localhost");
	/* an address is checked against the IP SAN */
	starttls(1, "127.0.0.1", "127.0.0.1");
}

static void
test_big_transfer_tls(void **state)
{
	(void)state;
	big_transfer(1);
}

static void
test_starttls_injection_fails_handshake(void **state)
{
	uv_loop_t loop;
	struct srv s;
	struct cli c = { .hello = "STARTTLS\r\n" };
	char *err = NULL;
	int never = 0;

	(void)state;
	uv_loop_init(&loop);
	srv_start(&s, &loop, "127.0.0.1:0", SRV_STARTTLS);
	assert_non_null(s.ctx = tls_server_ctx(cert_path, key_path, &err));
	cli_connect(&c, &loop, "127.0.0.1", s.port);
	run_until(&loop, &never, 200);
	assert_int_equal(s.upgraded, 1);
	/* plaintext in a later packet is not a TLS record: the handshake
	 * fails, it is never run as a command */
	io_write(c.io, "RCPT TO:<x@y>\r\n", 15);
	assert_int_equal(run_until(&loop, &s.closed, 3000), 0);
	assert_int_equal(s.ev[IO_ERROR], 1);
	assert_non_null(strstr(s.err, "TLS"));
	assert_int_equal(s.ev[IO_TLS_READY], 0);
	cli_close(&c);
	listener_stop(s.l);
	drain(&loop);
	SSL_CTX_free(s.ctx);
}

/* s_client: an independent TLS client, spawned on the loop. */
struct proc {
	int	done;
	int64_t	status;
};

static void
proc_exit_cb(uv_process_t *p, int64_t status, int sig)
{
	struct proc *pr = p->data;

	pr->status = sig ? -sig : status;
	pr->done = 1;
	uv_close((uv_handle_t *)p, NULL);
}

static void
s_client(const char *version, const char *ciphers, int expect_ok, const char *expect_proto,
    const char *expect_err)
{
	uv_loop_t loop;
	struct srv s;
	char *err = NULL;
	char connect[64];
	char logpath[160];
	uv_process_t proc;
	uv_process_options_t opt = { 0 };
	uv_stdio_container_t stdio[3];
	struct proc pr = { 0 };
	char *args[] = { "openssl", "s_client", "-connect", connect, (char *)version,
	    "-cipher", (char *)ciphers, NULL };
	int devnull, logfd;

	uv_loop_init(&loop);
	srv_start(&s, &loop, "127.0.0.1:0", SRV_TLS);
	assert_non_null(s.ctx = tls_server_ctx(cert_path, key_path, &err));
	snprintf(connect, sizeof(connect), "127.0.0.1:%d", s.port);
	snprintf(logpath, sizeof(logpath), "%s/s_client%s.log", tmpdir, version);
	/* the logs stay in tmpdir until teardown, for a failing run */
	devnull = open("/dev/null", O_RDONLY);
	logfd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(devnull >= 0 && logfd >= 0);
	stdio[0].flags = UV_INHERIT_FD;
	stdio[0].data.fd = devnull;
	stdio[1].flags = UV_INHERIT_FD;
	stdio[1].data.fd = logfd;
	stdio[2].flags = UV_INHERIT_FD;
	stdio[2].data.fd = logfd;
	opt.file = "openssl";
	opt.args = args;
	opt.exit_cb = proc_exit_cb;
	opt.stdio = stdio;
	opt.stdio_count = 3;
	proc.data = &pr;
	if (uv_spawn(&loop, &proc, &opt) != 0) {
		close(devnull);
		close(logfd);
		listener_stop(s.l);
		drain(&loop);
		SSL_CTX_free(s.ctx);
		print_message("openssl not found: skipped\n");
		skip();
	}
	close(devnull);
	close(logfd);
	assert_int_equal(run_until(&loop, &pr.done, 10000), 0);
	run_until(&loop, &s.closed, 3000);
	if (expect_ok) {
		assert_int_equal(pr.status, 0);
		assert_int_equal(s.ev[IO_TLS_READY], 1);
		assert_true(strncmp(s.tls_info, expect_proto, strlen(expect_proto)) == 0);
	} else {
		assert_true(pr.status != 0);
		assert_int_equal(s.ev[IO_TLS_READY], 0);
		assert_int_equal(s.ev[IO_ERROR], 1);
		/* refused for the expected reason, not for something else */
		assert_non_null(strstr(s.err, expect_err));
	}
	listener_stop(s.l);
	drain(&loop);
	SSL_CTX_free(s.ctx);
}

/* Our client against an independent server: openssl s_server -www answers
 * "GET /" with a status page and closes. Its -tlsextdebug log shows whether
 * we sent SNI. */
struct wcli {
	struct io	*io;
	SSL_CTX		*ctx;
	const char	*sni;
	struct buf	 got;
	int		 tls_ready, verified, done;
	char		 info[96];
};

static void
wcli_cb(struct io *io, enum io_event ev, void *arg)
{
	struct wcli *w = arg;
	struct buf *in = io_input(io);

	switch (ev) {
	case IO_CONNECTED:
		assert_int_equal(io_starttls_client(io, w->ctx, w->sni), 0);
		break;
	case IO_TLS_READY:
		w->tls_ready = 1;
		w->verified = io_tls_peer_verified(io);
		snprintf(w->info, sizeof(w->info), "%s", io_tls_info(io));
		io_write(io, "GET / HTTP/1.0\r\n\r\n", 18);
		break;
	case IO_DATAIN:
		buf_append(&w->got, in->data, in->len);
		buf_consume(in, in->len);
		break;
	case IO_CLOSED:	/* after the page */
	case IO_ERROR:
	case IO_TIMEOUT:
		if (ev != IO_CLOSED)
			print_message("s_server peer: %s\n", io_error(io));
		w->done = 1;
		io_close(io);
		break;
	default:
		break;
	}
}

static void
proc_kill_exit_cb(uv_process_t *p, int64_t status, int sig)
{
	struct proc *pr = p->data;

	pr->done = 1;
	uv_close((uv_handle_t *)p, NULL);
}

static void
against_s_server(const char *sni, int expect_sni)
{
	uv_loop_t loop;
	struct srv tmp;
	struct wcli w = { .sni = sni };
	struct proc pr = { 0 };
	uv_process_t proc;
	uv_process_options_t opt = { 0 };
	uv_stdio_container_t stdio[3];
	struct sockaddr_storage ss;
	char accept[64], logpath[160], *log = NULL, *err = NULL;
	size_t loglen = 0;
	char *args[] = { "openssl", "s_server", "-accept", accept, "-cert", cert_path,
	    "-key", key_path, "-tlsextdebug", "-www", NULL };
	int devnull, logfd, i;

	uv_loop_init(&loop);
	/* a free port: bind port 0, note it, let it go */
	srv_start(&tmp, &loop, "127.0.0.1:0", SRV_ECHO);
	snprintf(accept, sizeof(accept), "127.0.0.1:%d", tmp.port);
	listener_stop(tmp.l);
	uv_run(&loop, UV_RUN_NOWAIT);
	snprintf(logpath, sizeof(logpath), "%s/s_server.log", tmpdir);
	devnull = open("/dev/null", O_RDONLY);
	logfd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	stdio[0].flags = stdio[1].flags = stdio[2].flags = UV_INHERIT_FD;
	stdio[0].data.fd = devnull;
	stdio[1].data.fd = stdio[2].data.fd = logfd;
	opt.file = "openssl";
	opt.args = args;
	opt.exit_cb = proc_kill_exit_cb;
	opt.stdio = stdio;
	opt.stdio_count = 3;
	proc.data = &pr;
	if (uv_spawn(&loop, &proc, &opt) != 0) {
		close(devnull);
		close(logfd);
		drain(&loop);
		skip();
	}
	close(devnull);
	close(logfd);
	/* it prints ACCEPT once listening */
	for (i = 0; i < 100; i++) {
		free(log);
		log = NULL;
		if (fs_read_file(logpath, 1 << 20, &log, &loglen) == 0 && strstr(log, "ACCEPT"))
			break;
		usleep(50000);
	}
	assert_non_null(strstr(log, "ACCEPT"));
	free(log);
	log = NULL;
	assert_non_null(w.ctx = tls_client_ctx(&err));
	assert_int_equal(SSL_CTX_load_verify_locations(w.ctx, cert_path, NULL), 1);
	assert_int_equal(listener_addr_parse(accept, &ss), 0);
	assert_int_equal(io_connect(&loop, (struct sockaddr *)&ss, NULL, 3000, wcli_cb, &w,
	    &w.io), 0);
	assert_int_equal(run_until(&loop, &w.done, 10000), 0);
	uv_process_kill(&proc, SIGTERM);
	run_until(&loop, &pr.done, 5000);
	drain(&loop);
	assert_int_equal(w.tls_ready, 1);
	assert_true(strncmp(w.info, "TLSv1.3 ", 8) == 0);
	/* the request went out encrypted and the page came back */
	assert_true(w.got.len > 0 && strncmp(w.got.data, "HTTP/1.0 200 ok", 15) == 0);
	assert_non_null(strstr(w.got.data, "TLSv1.3"));
	assert_int_equal(w.verified, strcmp(sni, "localhost") == 0);
	assert_int_equal(fs_read_file(logpath, 1 << 20, &log, &loglen), 0);
	assert_int_equal(strstr(log, "\"server name\"") != NULL, expect_sni);
	free(log);
	buf_free(&w.got);
	SSL_CTX_free(w.ctx);
}

static void
test_client_against_s_server(void **state)
{
	(void)state;
	against_s_server("localhost", 1);
	/* an address is not a server name: no SNI (RFC 6066 3) */
	against_s_server("127.0.0.1", 0);
}

static void
test_s_client_tls11_refused(void **state)
{
	(void)state;
	/* SECLEVEL=0 so that the client really offers TLS 1.1 */
	s_client("-tls1_1", "DEFAULT@SECLEVEL=0", 0, NULL, "unsupported protocol");
}

static void
test_s_client_weak_cipher_refused(void **state)
{
	(void)state;
	/* TLS 1.2 CBC suites with SHA-1 MACs (the certificate is ECDSA, so
	 * these are the ECDHE-ECDSA ones a legacy client would offer) */
	s_client("-tls1_2", "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA@SECLEVEL=0", 0, NULL,
	    "no shared cipher");
}

static void
test_s_client_tls12(void **state)
{
	(void)state;
	s_client("-tls1_2", "DEFAULT", 1, "TLSv1.2 ECDHE-", NULL);
}

static void
test_s_client_tls13(void **state)
{
	(void)state;
	s_client("-tls1_3", "DEFAULT", 1, "TLSv1.3 TLS_", NULL);
}

static int
setup(void **state)
{
	char *err = NULL;

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/hermod-test-io.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(cert_path, sizeof(cert_path), "%s/cert.pem", tmpdir);
	snprintf(key_path, sizeof(key_path), "%s/key.pem", tmpdir);
	if (tls_make_selfsigned(cert_path, key_path, "localhost", &err) < 0) {
		fprintf(stderr, "%s\n", err);
		free(err);
		return -1;
	}
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr_parse),
		cmocka_unit_test(test_listen_errors),
		cmocka_unit_test(test_echo),
		cmocka_unit_test(test_echo_ipv6),
		cmocka_unit_test(test_big_transfer),
		cmocka_unit_test(test_pipelined_replies_coalesce),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_connect_refused),
		cmocka_unit_test(test_input_cap),
		cmocka_unit_test(test_input_cap_tls),
		cmocka_unit_test(test_dual_stack_peer),
		cmocka_unit_test(test_connect_timeout),
		cmocka_unit_test(test_connect_from_source),
		cmocka_unit_test(test_resume_delivers_buffered),
		cmocka_unit_test(test_close_in_callback),
		cmocka_unit_test(test_close_in_callback_tls),
		cmocka_unit_test(test_close_bounded_for_pests),
		cmocka_unit_test(test_abort_in_callback),
		cmocka_unit_test(test_abort_all),
		cmocka_unit_test(test_close_flushes_pending),
		cmocka_unit_test(test_close_flushes_pending_tls),
		cmocka_unit_test(test_selfsigned),
		cmocka_unit_test(test_selfsigned_errors),
		cmocka_unit_test(test_starttls),
		cmocka_unit_test(test_starttls_verified),
		cmocka_unit_test(test_starttls_injection_fails_handshake),
		cmocka_unit_test(test_big_transfer_tls),
		cmocka_unit_test(test_client_against_s_server),
		cmocka_unit_test(test_s_client_tls11_refused),
		cmocka_unit_test(test_s_client_weak_cipher_refused),
		cmocka_unit_test(test_s_client_tls12),
		cmocka_unit_test(test_s_client_tls13),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, setup, teardown);
}
