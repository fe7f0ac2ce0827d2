/* io_bench: what the io object costs, both ends in this process on one loop
 * thread (so each figure pays for client and server). Three measures:
 *
 *	build/bench/io_bench stream [-t] [-c CONNS] [-m MIB]
 *		bulk transfer, client to server; MiB/s
 *	build/bench/io_bench pingpong [-t] [-c CONNS] [-n ROUNDS]
 *		one command line, one reply, ROUNDS times per connection, as an
 *		SMTP session without pipelining does; round trips/s
 *	build/bench/io_bench idle [-t] [-c CONNS]
 *		CONNS open connections doing nothing; heap per connection pair
 *
 * -t runs everything over TLS (a self-signed pair in a temporary directory).
 * The numbers are for comparing changes to src/net on one machine. */
#include "net/io.h"
#include "net/listen.h"
#include "net/tls.h"
#include "util/xalloc.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

enum bench_mode { BENCH_STREAM, BENCH_PINGPONG, BENCH_IDLE };

struct bench_conn {
	struct io	*io;
	long		 rounds_left;
	size_t		 sent;
};

static enum bench_mode mode;
static int use_tls;
static SSL_CTX *sctx, *cctx;
static size_t stream_bytes = 256u << 20;
static int conns_done;
static char chunk[64 * 1024];

static void
bench_server_cb(struct io *io, enum io_event ev, void *arg)
{
	struct buf *in = io_input(io);
	char *nl;

	(void)arg;
	if (ev == IO_CLOSED || ev == IO_ERROR) {
		io_close(io);
		return;
	}
	if (ev != IO_DATAIN)
		return;
	if (mode != BENCH_PINGPONG) {
		buf_consume(in, in->len);
		return;
	}
	while ((nl = memchr(in->data, '\n', in->len)) != NULL) {
		buf_consume(in, (size_t)(nl - in->data) + 1);
		io_write(io, "250 2.0.0 Ok\r\n", 14);
	}
}

static void
bench_accept(struct io *io, void *arg)
{
	(void)arg;
	io_set_cb(io, bench_server_cb, NULL);
	if (use_tls)
		io_starttls_server(io, sctx);
}

/* bench_stream_more() keeps about 4 MiB queued: the producer side of a big
 * transfer, paced by IO_DRAINED. */
static void
bench_stream_more(struct bench_conn *c)
{
	while (c->sent < stream_bytes && io_pending(c->io) < (4u << 20)) {
		io_write(c->io, chunk, sizeof(chunk));
		c->sent += sizeof(chunk);
	}
}

static void
bench_start(struct bench_conn *c)
{
	switch (mode) {
	case BENCH_STREAM:
		bench_stream_more(c);
		break;
	case BENCH_PINGPONG:
		io_write(c->io, "NOOP\r\n", 6);
		break;
	case BENCH_IDLE:
		conns_done++;
		break;
	}
}

static void
bench_client_cb(struct io *io, enum io_event ev, void *arg)
{
	struct bench_conn *c = arg;
	struct buf *in = io_input(io);
	char *nl;

	switch (ev) {
	case IO_CONNECTED:
		if (use_tls)
			io_starttls_client(io, cctx, NULL);
		else
			bench_start(c);
		break;
	case IO_TLS_READY:
		bench_start(c);
		break;
	case IO_DRAINED:
		if (mode == BENCH_STREAM) {
			bench_stream_more(c);
			if (c->sent >= stream_bytes && io_pending(io) == 0)
				conns_done++;
		}
		break;
	case IO_DATAIN:
		while ((nl = memchr(in->data, '\n', in->len)) != NULL) {
			buf_consume(in, (size_t)(nl - in->data) + 1);
			if (--c->rounds_left > 0)
				io_write(io, "NOOP\r\n", 6);
			else
				conns_done++;
		}
		break;
	default:
		fprintf(stderr, "io_bench: %s\n", io_error(io));
		exit(1);
	}
}

static void
bench_usage(void)
{
	fprintf(stderr, "usage: io_bench stream|pingpong|idle [-t] [-c CONNS] [-m MIB] [-n ROUNDS]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	uv_loop_t *loop = uv_default_loop();
	struct rlimit rl = { 65536, 65536 };
	struct listener *l;
	struct sockaddr_storage ss;
	struct bench_conn *cs;
	char addr[64], dir[] = "/tmp/io_bench.XXXXXX", cert[64], key[64], *err = NULL;
	int nconns = 1, i, opt;
	long rounds = 20000;
	size_t heap0;
	uint64_t t0;
	double secs;

	if (argc < 2)
		bench_usage();
	if (strcmp(argv[1], "stream") == 0)
		mode = BENCH_STREAM;
	else if (strcmp(argv[1], "pingpong") == 0)
		mode = BENCH_PINGPONG, nconns = 20;
	else if (strcmp(argv[1], "idle") == 0)
		mode = BENCH_IDLE, nconns = 2000;
	else
		bench_usage();
	optind = 2;
	while ((opt = getopt(argc, argv, "tc:m:n:")) != -1) {
		switch (opt) {
		case 't': use_tls = 1; break;
		case 'c': nconns = atoi(optarg); break;
		case 'm': stream_bytes = (size_t)atol(optarg) << 20; break;
		case 'n': rounds = atol(optarg); break;
		default: bench_usage();
		}
	}
	/* each connection pair is two descriptors */
	setrlimit(RLIMIT_NOFILE, &rl);
	if (use_tls) {
		if (mkdtemp(dir) == NULL)
			return 1;
		snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
		snprintf(key, sizeof(key), "%s/key.pem", dir);
		if (tls_make_selfsigned(cert, key, "localhost", &err) < 0 ||
		    (sctx = tls_server_ctx(cert, key, &err)) == NULL ||
		    (cctx = tls_client_ctx(&err)) == NULL) {
			fprintf(stderr, "io_bench: %s\n", err);
			return 1;
		}
		unlink(cert);
		unlink(key);
		rmdir(dir);
	}
	if (listener_start(loop, "127.0.0.1:0", bench_accept, NULL, &l, &err) < 0) {
		fprintf(stderr, "io_bench: %s\n", err);
		return 1;
	}
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", listener_port(l));
	listener_addr_parse(addr, &ss);
	cs = xcalloc((size_t)nconns, sizeof(*cs));
	heap0 = mallinfo2().uordblks;
	t0 = uv_hrtime();
	for (i = 0; i < nconns; i++) {
		cs[i].rounds_left = rounds;
		if (io_connect(loop, (struct sockaddr *)&ss, NULL, 10000, bench_client_cb, &cs[i],
		    &cs[i].io) < 0)
			return 1;
	}
	while (conns_done < nconns)
		uv_run(loop, UV_RUN_ONCE);
	secs = (double)(uv_hrtime() - t0) / 1e9;
	switch (mode) {
	case BENCH_STREAM:
		printf("stream%s: %d x %zu MiB in %.2f s: %.0f MiB/s\n", use_tls ? " TLS" : "",
		    nconns, stream_bytes >> 20, secs, nconns * (double)(stream_bytes >> 20) / secs);
		break;
	case BENCH_PINGPONG:
		printf("pingpong%s: %d x %ld round trips in %.2f s: %.0f/s\n", use_tls ? " TLS" : "",
		    nconns, rounds, secs, nconns * (double)rounds / secs);
		break;
	case BENCH_IDLE:
		uv_run(loop, UV_RUN_NOWAIT);
		printf("idle%s: %d connection pairs: %.1f KiB of heap each (both ends)\n",
		    use_tls ? " TLS" : "", nconns,
		    (double)(mallinfo2().uordblks - heap0) / 1024 / nconns);
		break;
	}
	return 0;
}
