/* io: a buffered, optionally TLS, stream over a libuv TCP handle (see io.h).
 *
 * DESIGN
 *
 * Buffers. Plaintext received waits in `in` (io_input) for the session.
 * Plaintext to send is appended to `out` by io_write(); nothing is written
 * from inside io_write(). A per-io "tick" (a uv_check handle, which runs right
 * after the poll phase, paired with a uv_idle handle so that a write made
 * from a timer callback does not wait for the next poll to return) moves
 * `out` to `wire` (encrypting it when TLS is up) and hands `wire` to one
 * uv_write(). So everything a session writes during one loop iteration, for
 * example the replies to a pipelined batch of commands, leaves in one write
 * and, under TLS, in as few records as possible. While a write is in flight
 * new bytes accumulate; its completion schedules the next tick.
 *
 * TLS. OpenSSL talks to two memory BIOs: ciphertext read from the socket is
 * appended to `rbio`, SSL_read() drains it into `in`; SSL_write() and the
 * handshake fill `wbio`, which the tick drains into `wire`. The memory write
 * BIO grows as needed, so OpenSSL never reports want-write; want-read just
 * means "wait for more ciphertext". Plaintext written before the handshake
 * ends waits in `out` until it does.
 *
 * STARTTLS. io_starttls_server() and io_starttls_client() empty `in` first:
 * that holds everything received in plaintext, including whatever arrived in
 * the same read as the STARTTLS command or its 220 reply (CVE-2011-0411 and
 * its client-side mirror). Later bytes are ciphertext to OpenSSL; an injected
 * plaintext command there fails the handshake. Plaintext queued before the
 * call (the 220 reply) is moved to `wire` first so it leaves unencrypted.
 *
 * Input cap. Reading stops while `in` holds more than the cap, and resumes
 * when the callback returns having consumed enough, or on io_resume(). Under
 * TLS the ciphertext already read stays in `rbio` and is decrypted as room
 * appears; a resume therefore schedules a tick that pumps it (never from
 * inside io_resume, so the session is not re-entered).
 *
 * Lifetime. The callback is never called once io_close()/io_abort() ran:
 * `closing` is checked after every callback returns, before touching state
 * that the callback may have changed. Memory is freed only from the libuv
 * close callbacks, after all four handles (tcp, timer, check, idle) closed,
 * so an io stays valid until the current callback unwinds. io_close()
 * flushes what is queued (a TLS close_notify too), sends FIN, and waits for
 * the peer's EOF, reading and discarding, so that closing with unread input
 * does not turn into a reset that could destroy our last reply (Apache's
 * "lingering close"); a linger timer bounds all of it (5 s), the wait for
 * EOF after our FIN more tightly (2 s), since a hostile client may simply
 * go on sending. */
#include "net/io.h"
#include "util/log.h"
#include "util/xalloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#define IO_INPUT_CAP_DEFAULT	(64 * 1024)
#define IO_LINGER_MS		5000	/* io_close(): flushing and all */
#define IO_LINGER_EOF_MS	2000	/* of which waiting for the peer's EOF after our FIN */
#define IO_READ_CHUNK		(64 * 1024)
#define IO_TLS_CHUNK		(16 * 1024)
#define IO_TLS_BATCH		(1024 * 1024)	/* plaintext encrypted per write */

enum io_state {
	IO_S_CONNECTING,	/* io_connect() in progress */
	IO_S_OPEN,		/* connected; reading and writing */
	IO_S_LINGER,		/* io_close(): flushing, then FIN, then waiting for EOF */
	IO_S_CLOSED,		/* handles closing; freed when the last one is */
};

struct io {
	struct io	*next, *prev;	/* io_live: every io of this thread */
	uv_loop_t	*loop;
	uv_tcp_t	*tcp;
	uv_timer_t	 timer;		/* connect timeout, inactivity, or linger */
	uv_check_t	 check;		/* the tick, after poll */
	uv_idle_t	 idle;		/* the tick, when scheduled outside poll */
	uv_write_t	 wreq;
	uv_connect_t	 creq;
	uv_shutdown_t	 sreq;
	int		 handles_open;

	enum io_state	 state;
	io_cb		 cb;
	void		*arg;

	struct buf	 in;		/* plaintext received, not consumed */
	struct buf	 out;		/* plaintext queued by io_write() */
	size_t		 out_off;	/* TLS: the front of `out` already encrypted */
	struct buf	 wire;		/* bytes for the socket, not yet handed to uv_write */
	struct buf	 inflight;	/* bytes handed to uv_write */
	size_t		 cap;
	uint64_t	 timeout_ms;
	uint64_t	 rx, tx;	/* socket bytes, for io_stats() */

	unsigned	 reading:1;	/* uv_read_start is on */
	unsigned	 paused:1;	/* io_pause() */
	unsigned	 writing:1;	/* a uv_write is in flight */
	unsigned	 tick_on:1;	/* check/idle started */
	unsigned	 eof:1;		/* the peer closed; IO_CLOSED was (or will be) sent */
	unsigned	 failed:1;	/* IO_ERROR or a connect timeout happened */
	unsigned	 dead:1;	/* the socket failed: nothing can be written */
	unsigned	 pump_due:1;	/* the tick must decrypt/deliver input */
	unsigned	 shut_sent:1;	/* uv_shutdown issued */
	unsigned	 in_dispatch:1;	/* inside the callback */

	SSL		*ssl;
	BIO		*rbio;		/* ciphertext in: owned by ssl */
	BIO		*wbio;		/* ciphertext out: owned by ssl */
	unsigned	 tls_ready:1;	/* handshake done */
	unsigned	 notify_sent:1;	/* close_notify queued */

	struct sockaddr_storage peer;
	char		 peer_ip[INET6_ADDRSTRLEN];
	char		 tls_info[96];
	char		 err[256];
};

static void io_tick_schedule(struct io *io);
static void io_update_reading(struct io *io);
static void io_finish(struct io *io);
static void io_linger_step(struct io *io);

/* The read buffer is shared by every io of a loop thread: each read is copied
 * out (to `in` or to the TLS read BIO) before the next one, so idle
 * connections cost no read buffer. */
static __thread char io_readbuf[IO_READ_CHUNK];
/* Likewise for decrypted records, so that `in` grows by what arrived rather
 * than by a record's worth of reserve on every idle TLS connection. */
static __thread char io_plainbuf[IO_TLS_CHUNK];
/* Every io not yet freed, for io_abort_all() at exit. */
static __thread struct io *io_live;

static void
io_set_error(struct io *io, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(io->err, sizeof(io->err), fmt, ap);
	va_end(ap);
}

/* io_set_tls_error() records the OpenSSL error queue (its first entry) and
 * clears it, so one session's error never shows up in another's. */
static void
io_set_tls_error(struct io *io, const char *what)
{
	unsigned long e = ERR_get_error();
	char txt[200];

	if (e) {
		ERR_error_string_n(e, txt, sizeof(txt));
		io_set_error(io, "TLS: %s: %s", what, txt);
	} else
		io_set_error(io, "TLS: %s", what);
	ERR_clear_error();
}

/* io_fire() calls the session; the return tells whether the io may still be
 * used (0 once io_close/io_abort ran from inside). */
static int
io_fire(struct io *io, enum io_event ev)
{
	if (io->state >= IO_S_LINGER)
		return 0;
	if (io->cb) {
		io->in_dispatch = 1;
		io->cb(io, ev, io->arg);
		io->in_dispatch = 0;
	}
	return io->state < IO_S_LINGER;
}

/* io_fail() reports an error; dead tells that the socket itself failed (a
 * TLS error leaves it usable for sending the alert). */
static void
io_fail(struct io *io, int dead)
{
	io->failed = 1;
	if (dead)
		io->dead = 1;
	io_update_reading(io);
	io_fire(io, IO_ERROR);
}

/* --- reading --- */

static void
io_alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	b->base = io_readbuf;
	b->len = sizeof(io_readbuf);
}

static void io_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *b);

/* io_update_reading() starts or stops reading to match the state: the cap,
 * io_pause(), EOF, an error. While lingering it always reads (and discards). */
static void
io_update_reading(struct io *io)
{
	int want;

	if (io->state == IO_S_LINGER)
		want = !io->eof && !io->dead;
	else
		want = io->state == IO_S_OPEN && !io->paused && !io->eof && !io->failed &&
		    io->in.len <= io->cap;
	if (want && !io->reading) {
		if (uv_read_start((uv_stream_t *)io->tcp, io_alloc_cb, io_read_cb) == 0)
			io->reading = 1;
	} else if (!want && io->reading) {
		uv_read_stop((uv_stream_t *)io->tcp);
		io->reading = 0;
	}
}

static void
io_timer_restart(struct io *io)
{
	if (io->state == IO_S_OPEN && io->timeout_ms)
		uv_timer_again(&io->timer);
}

/* io_tls_pump() advances the handshake and decrypts what it can into `in`,
 * up to the cap. It fires IO_TLS_READY when the handshake completes. Returns
 * 1 when it stopped at the cap (more may be waiting), 0 when OpenSSL wants
 * more ciphertext, -1 when the io must not be touched further (closed, or
 * failed and the session told). *eofp is set on a close_notify. */
static int
io_tls_pump(struct io *io, int *eofp)
{
	int n, e, stopped = 0;

	if (!io->tls_ready) {
		ERR_clear_error();
		n = SSL_do_handshake(io->ssl);
		if (BIO_ctrl_pending(io->wbio))
			io_tick_schedule(io);
		if (n != 1) {
			e = SSL_get_error(io->ssl, n);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
				return 0;
			io_set_tls_error(io, "handshake failed");
			io_fail(io, 0);
			return -1;
		}
		io->tls_ready = 1;
		snprintf(io->tls_info, sizeof(io->tls_info), "%s %s",
		    SSL_get_version(io->ssl), SSL_get_cipher_name(io->ssl));
		/* plaintext queued during the handshake can go now */
		if (io->out.len)
			io_tick_schedule(io);
		if (!io_fire(io, IO_TLS_READY))
			return -1;
	}
	for (;;) {
		if (io->in.len > io->cap) {
			stopped = 1;
			break;
		}
		ERR_clear_error();
		n = SSL_read(io->ssl, io_plainbuf, sizeof(io_plainbuf));
		if (n > 0) {
			buf_append(&io->in, io_plainbuf, (size_t)n);
			continue;
		}
		e = SSL_get_error(io->ssl, n);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
			break;
		if (e == SSL_ERROR_ZERO_RETURN) {
			*eofp = 1;
			break;
		}
		io_set_tls_error(io, "read failed");
		io_fail(io, 0);
		return -1;
	}
	/* reading may produce output: key updates, session tickets */
	if (BIO_ctrl_pending(io->wbio))
		io_tick_schedule(io);
	return stopped;
}

/* io_tls_more() tells whether decryptable input may be waiting. */
static int
io_tls_more(struct io *io)
{
	return io->ssl && (BIO_ctrl_pending(io->rbio) > 0 || SSL_pending(io->ssl) > 0);
}

/* io_deliver() hands new input to the session, and under TLS goes on
 * decrypting while records wait and the session makes room. force fires
 * IO_DATAIN for input already in `in` (plaintext just read, or buffered
 * input after io_resume). Ends with IO_CLOSED on a close_notify. 0, or -1 when the io must
 * be left alone. */
static int
io_deliver(struct io *io, int force)
{
	int eof = 0, more = 0;
	size_t before;

	for (;;) {
		before = io->in.len;
		if (io->ssl && (more = io_tls_pump(io, &eof)) < 0)
			return -1;
		if (io->in.len > before || (force && io->in.len)) {
			force = 0;
			if (!io_fire(io, IO_DATAIN))
				return -1;
		}
		/* bounded: each round consumed records, and stops at the cap */
		if (!more || io->paused || io->failed || io->in.len > io->cap)
			break;
	}
	if (eof && !io->eof) {
		io->eof = 1;
		io_update_reading(io);
		if (!io_fire(io, IO_CLOSED))
			return -1;
	}
	io_update_reading(io);
	return 0;
}

static void
io_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
	struct io *io = s->data;

	if (io->state == IO_S_LINGER) {
		/* discarding until the peer's EOF, see DESIGN */
		if (nread < 0) {
			io->eof = 1;
			io_update_reading(io);
			io_linger_step(io);
		}
		return;
	}
	if (io->state != IO_S_OPEN)
		return;
	if (nread == 0)
		return;
	if (nread < 0) {
		if (nread == UV_EOF) {
			io->eof = 1;
			io_update_reading(io);
			/* decrypt what is left first; a TLS peer may close without close_notify */
			if (io->ssl && io_tls_more(io) && io_deliver(io, 0) < 0)
				return;
			io_fire(io, IO_CLOSED);
		} else {
			io_set_error(io, "%s", uv_strerror((int)nread));
			io_fail(io, 1);
		}
		return;
	}
	io->rx += (uint64_t)nread;
	io_timer_restart(io);
	if (io->ssl) {
		if (BIO_write(io->rbio, b->base, (int)nread) != (int)nread) {
			io_set_error(io, "TLS: out of memory");
			io_fail(io, 0);
			return;
		}
		io_deliver(io, 0);
	} else {
		buf_append(&io->in, b->base, (size_t)nread);
		io_deliver(io, 1);
	}
}

/* --- writing --- */

static void io_write_cb(uv_write_t *req, int status);

/* io_tls_encrypt() turns plaintext queued in `out` into records in the write
 * BIO: all of it up to IO_TLS_BATCH, so that replies share records while a
 * big message is not held three times over (plaintext, BIO, wire buffer).
 * 0, or -1 with the error recorded (the plaintext is dropped: the session is
 * failing). */
static int
io_tls_encrypt(struct io *io)
{
	size_t chunk = io->out.len - io->out_off;
	int n;

	if (chunk > IO_TLS_BATCH)
		chunk = IO_TLS_BATCH;
	ERR_clear_error();
	n = SSL_write(io->ssl, io->out.data + io->out_off, (int)chunk);
	if (n <= 0) {
		io_set_tls_error(io, "write failed");
		buf_reset(&io->out);
		io->out_off = 0;
		return -1;
	}
	io->out_off += (size_t)n;
	if (io->out_off == io->out.len) {
		buf_reset(&io->out);
		io->out_off = 0;
		/* shrink what a big message inflated */
		if (io->out.cap > 256 * 1024)
			buf_free(&io->out);
	}
	return 0;
}

/* io_flush() moves queued bytes to the socket in one uv_write, unless one is
 * in flight (its completion calls back here). */
static void
io_flush(struct io *io)
{
	uv_buf_t ub;
	struct buf t;
	int rc, n;

	if (io->writing || io->state == IO_S_CLOSED || io->state == IO_S_CONNECTING ||
	    io->dead)
		return;
	if (io->ssl) {
		if (io->tls_ready && !io->failed && !io->notify_sent &&
		    io->out.len > io->out_off && io_tls_encrypt(io) < 0 && io->state == IO_S_OPEN) {
			io_fail(io, 0);
			return;
		}
		while ((n = (int)BIO_ctrl_pending(io->wbio)) > 0) {
			buf_reserve(&io->wire, (size_t)n);
			n = BIO_read(io->wbio, io->wire.data + io->wire.len, n);
			if (n <= 0)
				break;
			io->wire.len += (size_t)n;
			io->wire.data[io->wire.len] = '\0';
		}
	} else if (io->out.len) {
		if (io->wire.len == 0) {
			t = io->wire;
			io->wire = io->out;
			io->out = t;
		} else {
			buf_append(&io->wire, io->out.data, io->out.len);
			buf_reset(&io->out);
		}
	}
	if (io->wire.len == 0)
		return;
	t = io->inflight;
	io->inflight = io->wire;
	io->wire = t;
	buf_reset(&io->wire);
	ub.base = io->inflight.data;
	ub.len = io->inflight.len;
	rc = uv_write(&io->wreq, (uv_stream_t *)io->tcp, &ub, 1, io_write_cb);
	if (rc < 0) {
		buf_reset(&io->inflight);
		io_set_error(io, "%s", uv_strerror(rc));
		io->dead = 1;
		if (io->state == IO_S_LINGER)
			return;	/* io_linger_step() sees dead */
		io_fail(io, 1);
		return;
	}
	io->writing = 1;
}

static size_t
io_queued(struct io *io)
{
	size_t n = io->out.len - io->out_off + io->wire.len + io->inflight.len;

	if (io->wbio)
		n += BIO_ctrl_pending(io->wbio);
	return n;
}

static void
io_write_cb(uv_write_t *req, int status)
{
	struct io *io = req->data;

	io->writing = 0;
	if (status == 0)
		io->tx += io->inflight.len;
	buf_reset(&io->inflight);
	/* shrink a buffer that a big transfer inflated */
	if (io->inflight.cap > 256 * 1024)
		buf_free(&io->inflight);
	if (io->state == IO_S_CLOSED)
		return;
	if (status < 0) {
		io->dead = 1;
		if (io->state == IO_S_LINGER) {
			io_finish(io);
			return;
		}
		io_set_error(io, "%s", uv_strerror(status));
		io_fail(io, 1);
		return;
	}
	if (io->state == IO_S_LINGER) {
		io_linger_step(io);
		return;
	}
	if (io_queued(io))
		io_tick_schedule(io);
	else
		io_fire(io, IO_DRAINED);
}

/* --- the tick --- */

static void
io_tick_stop(struct io *io)
{
	if (io->tick_on) {
		uv_check_stop(&io->check);
		uv_idle_stop(&io->idle);
		io->tick_on = 0;
	}
}

static void
io_tick(struct io *io)
{
	io_tick_stop(io);
	if (io->state == IO_S_LINGER) {
		io_linger_step(io);
		return;
	}
	if (io->pump_due && io->state == IO_S_OPEN) {
		io->pump_due = 0;
		if (io_deliver(io, 1) < 0)
			return;
	}
	if (io->state == IO_S_OPEN)
		io_flush(io);
}

static void
io_check_cb(uv_check_t *h)
{
	io_tick(h->data);
}

static void
io_idle_cb(uv_idle_t *h)
{
	io_tick(h->data);
}

static void
io_tick_schedule(struct io *io)
{
	if (io->tick_on || io->state == IO_S_CLOSED)
		return;
	uv_check_start(&io->check, io_check_cb);
	uv_idle_start(&io->idle, io_idle_cb);
	io->tick_on = 1;
}

/* --- lifetime --- */

static void
io_free(struct io *io)
{
	if (io->prev)
		io->prev->next = io->next;
	else
		io_live = io->next;
	if (io->next)
		io->next->prev = io->prev;
	if (io->ssl)
		SSL_free(io->ssl);	/* frees both BIOs */
	buf_free(&io->in);
	buf_free(&io->out);
	buf_free(&io->wire);
	buf_free(&io->inflight);
	free(io->tcp);
	free(io);
}

static void
io_close_cb(uv_handle_t *h)
{
	struct io *io = h->data;

	if (--io->handles_open == 0)
		io_free(io);
}

static struct io *
io_alloc(uv_loop_t *loop, uv_tcp_t *tcp)
{
	struct io *io = xcalloc(1, sizeof(*io));

	io->loop = loop;
	io->tcp = tcp;
	io->cap = IO_INPUT_CAP_DEFAULT;
	tcp->data = io;
	uv_timer_init(loop, &io->timer);
	uv_check_init(loop, &io->check);
	uv_idle_init(loop, &io->idle);
	io->timer.data = io->check.data = io->idle.data = io;
	io->wreq.data = io->creq.data = io->sreq.data = io;
	io->handles_open = 4;
	io->next = io_live;
	if (io_live)
		io_live->prev = io;
	io_live = io;
	return io;
}

/* io_finish() closes every handle; the last close callback frees the io. */
static void
io_finish(struct io *io)
{
	if (io->state == IO_S_CLOSED)
		return;
	io->state = IO_S_CLOSED;
	io->cb = NULL;
	io_tick_stop(io);
	/* At daemon exit a uv_walk() may have closed a lingering io's handles
	 * already (then its shutdown callback brings us here): never twice. */
	if (!uv_is_closing((uv_handle_t *)io->tcp))
		uv_close((uv_handle_t *)io->tcp, io_close_cb);
	if (!uv_is_closing((uv_handle_t *)&io->timer))
		uv_close((uv_handle_t *)&io->timer, io_close_cb);
	if (!uv_is_closing((uv_handle_t *)&io->check))
		uv_close((uv_handle_t *)&io->check, io_close_cb);
	if (!uv_is_closing((uv_handle_t *)&io->idle))
		uv_close((uv_handle_t *)&io->idle, io_close_cb);
}

static void
io_linger_timeout_cb(uv_timer_t *t)
{
	io_finish(t->data);
}

static void
io_shutdown_cb(uv_shutdown_t *req, int status)
{
	struct io *io = req->data;

	if (io->state != IO_S_LINGER)
		return;
	if (status < 0)
		io->dead = 1;
	io_linger_step(io);
}

/* io_linger_step() advances io_close(): once nothing is queued or in flight,
 * send FIN; once the peer's EOF came (or the socket failed), close. */
static void
io_linger_step(struct io *io)
{
	if (io->state != IO_S_LINGER || io->writing)
		return;	/* io_write_cb() comes back here */
	if (!io->dead)
		io_flush(io);
	if (io->dead) {
		io_finish(io);
		return;
	}
	if (io->writing)
		return;
	/* everything queued is out; under TLS the close_notify comes last (the
	 * peer ignores anything after it) */
	if (io->ssl && io->tls_ready && !io->failed && !io->notify_sent) {
		io->notify_sent = 1;
		ERR_clear_error();
		SSL_shutdown(io->ssl);
		io_flush(io);
		if (io->dead) {
			io_finish(io);
			return;
		}
		if (io->writing)
			return;
	}
	if (!io->shut_sent) {
		io->shut_sent = 1;
		if (uv_shutdown(&io->sreq, (uv_stream_t *)io->tcp, io_shutdown_cb) < 0) {
			io_finish(io);
			return;
		}
		/* a peer that keeps sending without reading our FIN gets a short
		 * grace, not the whole linger */
		if (uv_timer_get_due_in(&io->timer) > IO_LINGER_EOF_MS) {
			uv_timer_stop(&io->timer);
			uv_timer_start(&io->timer, io_linger_timeout_cb, IO_LINGER_EOF_MS, 0);
		}
	}
	if (io->eof)
		io_finish(io);
}

void
io_close(struct io *io)
{
	if (io == NULL || io->state >= IO_S_LINGER)
		return;
	if (io->state == IO_S_CONNECTING || io->dead) {
		io_finish(io);
		return;
	}
	io->state = IO_S_LINGER;
	io->cb = NULL;
	io->pump_due = 0;
	uv_timer_stop(&io->timer);
	uv_timer_start(&io->timer, io_linger_timeout_cb, IO_LINGER_MS, 0);
	io_update_reading(io);
	/* the tick flushes and goes on with io_linger_step() */
	io_tick_schedule(io);
}

void
io_abort(struct io *io)
{
	if (io == NULL)
		return;
	io_finish(io);
}

void
io_abort_all(uv_loop_t *loop)
{
	struct io *io;

	for (io = io_live; io; io = io->next)
		if (io->loop == loop)
			io_finish(io);	/* frees from the close callbacks: the list holds */
}

/* --- creation --- */

static void
io_timeout_cb(uv_timer_t *t)
{
	struct io *io = t->data;

	if (io->state == IO_S_CONNECTING) {
		io->failed = io->dead = 1;
		io_set_error(io, "connect timed out");
		io_fire(io, IO_TIMEOUT);
		return;
	}
	if (io->state == IO_S_OPEN) {
		io_set_error(io, "timed out");
		io_fire(io, IO_TIMEOUT);
	}
}

/* io_set_peer() records the peer address. An IPv4 client of a dual-stack
 * listener arrives as ::ffff:a.b.c.d; it is stored as plain IPv4 so that
 * address checks (trusted networks, per-client limits) see one form. */
static void
io_set_peer(struct io *io, const struct sockaddr *sa)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
	size_t len = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
	    sizeof(struct sockaddr_in);

	if (sa->sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&io->peer;

		memset(&io->peer, 0, sizeof(io->peer));
		s4->sin_family = AF_INET;
		s4->sin_port = s6->sin6_port;
		memcpy(&s4->sin_addr, &s6->sin6_addr.s6_addr[12], 4);
		uv_ip4_name(s4, io->peer_ip, sizeof(io->peer_ip));
		return;
	}
	memcpy(&io->peer, sa, len);
	if (sa->sa_family == AF_INET6)
		uv_ip6_name((const struct sockaddr_in6 *)sa, io->peer_ip, sizeof(io->peer_ip));
	else
		uv_ip4_name((const struct sockaddr_in *)sa, io->peer_ip, sizeof(io->peer_ip));
}

static void
io_opened(struct io *io)
{
	io->state = IO_S_OPEN;
	uv_tcp_nodelay(io->tcp, 1);
	if (io->timeout_ms)
		uv_timer_start(&io->timer, io_timeout_cb, io->timeout_ms, io->timeout_ms);
	io_update_reading(io);
	if (io_queued(io))
		io_tick_schedule(io);
}

struct io *
io_new_accepted(uv_loop_t *loop, uv_tcp_t *tcp, io_cb cb, void *arg)
{
	struct io *io = io_alloc(loop, tcp);
	struct sockaddr_storage ss;
	int len = sizeof(ss);

	io->cb = cb;
	io->arg = arg;
	memset(&ss, 0, sizeof(ss));
	if (uv_tcp_getpeername(tcp, (struct sockaddr *)&ss, &len) == 0)
		io_set_peer(io, (struct sockaddr *)&ss);
	else
		snprintf(io->peer_ip, sizeof(io->peer_ip), "unknown");
	io_opened(io);
	return io;
}

static void
io_connect_cb(uv_connect_t *req, int status)
{
	struct io *io = req->data;

	if (io->state != IO_S_CONNECTING || io->failed)
		return;	/* closed, or already reported as a timeout */
	uv_timer_stop(&io->timer);
	if (status < 0) {
		io_set_error(io, "connect: %s", uv_strerror(status));
		io->failed = io->dead = 1;
		io_fire(io, IO_ERROR);
		return;
	}
	io_opened(io);
	io_fire(io, IO_CONNECTED);
}

int
io_connect(uv_loop_t *loop, const struct sockaddr *sa, const struct sockaddr *src,
    uint64_t timeout_ms, io_cb cb, void *arg, struct io **out)
{
	uv_tcp_t *tcp = xmalloc(sizeof(*tcp));
	struct io *io;
	int rc;

	if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6) {
		free(tcp);
		return -EAFNOSUPPORT;
	}
	if ((rc = uv_tcp_init(loop, tcp)) < 0) {
		free(tcp);
		return rc;
	}
	io = io_alloc(loop, tcp);
	io->state = IO_S_CONNECTING;
	io_set_peer(io, sa);
	if (src && (rc = uv_tcp_bind(tcp, src, 0)) < 0)
		goto fail;
	if ((rc = uv_tcp_connect(&io->creq, tcp, sa, io_connect_cb)) < 0)
		goto fail;
	if (timeout_ms)
		uv_timer_start(&io->timer, io_timeout_cb, timeout_ms, 0);
	io->cb = cb;
	io->arg = arg;
	*out = io;
	return 0;
fail:
	io_finish(io);
	return rc;
}

/* --- accessors and small operations --- */

void
io_set_cb(struct io *io, io_cb cb, void *arg)
{
	if (io->state >= IO_S_LINGER)
		return;
	io->cb = cb;
	io->arg = arg;
}

struct buf *
io_input(struct io *io)
{
	return &io->in;
}

void
io_set_input_cap(struct io *io, size_t cap)
{
	io->cap = cap;
	if (!io->in_dispatch)
		io_update_reading(io);
}

void
io_write(struct io *io, const void *p, size_t n)
{
	if (io->state >= IO_S_LINGER || n == 0)
		return;
	buf_append(&io->out, p, n);
	if (io->state == IO_S_OPEN)
		io_tick_schedule(io);
}

void
io_printf(struct io *io, const char *fmt, ...)
{
	va_list ap;

	if (io->state >= IO_S_LINGER)
		return;
	va_start(ap, fmt);
	buf_vprintf(&io->out, fmt, ap);
	va_end(ap);
	if (io->state == IO_S_OPEN)
		io_tick_schedule(io);
}

size_t
io_pending(struct io *io)
{
	return io_queued(io);
}

void
io_set_timeout(struct io *io, uint64_t ms)
{
	io->timeout_ms = ms;
	if (io->state != IO_S_OPEN)
		return;	/* armed when the connection opens */
	if (ms)
		uv_timer_start(&io->timer, io_timeout_cb, ms, ms);
	else
		uv_timer_stop(&io->timer);
}

void
io_pause(struct io *io)
{
	io->paused = 1;
	io_update_reading(io);
}

void
io_resume(struct io *io)
{
	io->paused = 0;
	if (io->state != IO_S_OPEN)
		return;
	/* buffered input (or undecrypted TLS records) gets an IO_DATAIN from the
	 * loop; never from here, the session may be in the middle of something */
	if (io->in.len || io_tls_more(io)) {
		io->pump_due = 1;
		io_tick_schedule(io);
	}
	if (!io->in_dispatch)
		io_update_reading(io);
}

/* io_tls_start() sets up the SSL object over memory BIOs. Input received so
 * far is plaintext from before the upgrade and is thrown away (see DESIGN);
 * plaintext queued so far goes out unencrypted, ahead of the handshake. */
static int
io_tls_start(struct io *io, SSL_CTX *ctx, int server, const char *sni)
{
	if (io->ssl || io->state != IO_S_OPEN || io->failed) {
		if (io->ssl == NULL && !io->failed)
			io_set_error(io, "TLS: the connection is not open");
		return -1;	/* keeps the error of a failed or TLS io as it is */
	}
	ERR_clear_error();
	if ((io->ssl = SSL_new(ctx)) == NULL) {
		io_set_tls_error(io, "SSL_new");
		return -1;
	}
	io->rbio = BIO_new(BIO_s_mem());
	io->wbio = BIO_new(BIO_s_mem());
	if (io->rbio == NULL || io->wbio == NULL) {
		BIO_free(io->rbio);
		BIO_free(io->wbio);
		SSL_free(io->ssl);
		io->ssl = NULL;
		io->rbio = io->wbio = NULL;
		io_set_error(io, "TLS: out of memory");
		return -1;
	}
	BIO_set_mem_eof_return(io->rbio, -1);
	BIO_set_mem_eof_return(io->wbio, -1);
	SSL_set_bio(io->ssl, io->rbio, io->wbio);
	if (server)
		SSL_set_accept_state(io->ssl);
	else {
		SSL_set_connect_state(io->ssl);
		if (sni && *sni) {
			struct in6_addr a6;
			struct in_addr a4;

			/* an address literal (a relay given by IP) is never sent
			 * as SNI (RFC 6066 3) */
			if (inet_pton(AF_INET, sni, &a4) != 1 && inet_pton(AF_INET6, sni, &a6) != 1)
				SSL_set_tlsext_host_name(io->ssl, sni);
			/* the verification result then covers the name too (an
			 * address is matched against IP SANs) */
			SSL_set1_host(io->ssl, sni);
		}

	}
	buf_reset(&io->in);
	buf_append(&io->wire, io->out.data, io->out.len);
	buf_reset(&io->out);
	if (!server) {
		/* the ClientHello; failing here is a local problem (the context) */
		int n, e;

		ERR_clear_error();
		n = SSL_do_handshake(io->ssl);
		e = SSL_get_error(io->ssl, n);
		if (n <= 0 && e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
			io_set_tls_error(io, "cannot start the handshake");
			SSL_free(io->ssl);
			io->ssl = NULL;
			io->rbio = io->wbio = NULL;
			return -1;
		}
	}
	io_tick_schedule(io);
	return 0;
}

int
io_starttls_server(struct io *io, SSL_CTX *ctx)
{
	return io_tls_start(io, ctx, 1, NULL);
}

int
io_starttls_client(struct io *io, SSL_CTX *ctx, const char *sni)
{
	return io_tls_start(io, ctx, 0, sni);
}

int
io_tls_active(const struct io *io)
{
	return io->ssl != NULL;
}

const char *
io_tls_info(const struct io *io)
{
	return io->tls_ready ? io->tls_info : NULL;
}

int
io_tls_peer_verified(const struct io *io)
{
	X509 *cert;
	int ok;

	if (!io->tls_ready)
		return 0;
	if ((cert = SSL_get1_peer_certificate(io->ssl)) == NULL)
		return 0;
	ok = SSL_get_verify_result(io->ssl) == X509_V_OK;
	X509_free(cert);
	return ok;
}

void
io_stats(const struct io *io, uint64_t *rx, uint64_t *tx)
{
	*rx = io->rx;
	*tx = io->tx;
}

const struct sockaddr *
io_peer(const struct io *io)
{
	return (const struct sockaddr *)&io->peer;
}

const char *
io_peer_ip(const struct io *io)
{
	return io->peer_ip;
}

const char *
io_error(const struct io *io)
{
	return io->err[0] ? io->err : "no error";
}
