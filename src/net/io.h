/* io: a buffered, optionally TLS, stream over a libuv TCP handle. Sessions
 * never read(2): the io object delivers events to one callback (as in
 * OpenSMTPD's io.c), and owns the socket, the buffers and the TLS state.
 *
 * TLS runs over OpenSSL memory BIOs: libuv reads ciphertext into the read BIO,
 * SSL_read() yields plaintext into io_input(); io_write() goes through
 * SSL_write() and the write BIO's bytes are written with uv_write(). So one
 * loop thread drives any number of TLS sessions without blocking.
 *
 * Contract (libuv's rule): a call that fails returns an error and its callback
 * never fires. After io_close() returns no callback fires either. */
#ifndef HERMOD_IO_H
#define HERMOD_IO_H
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>
#include <openssl/ssl.h>

#include "util/buf.h"

struct io;

enum io_event {
	IO_CONNECTED,	/* io_connect() succeeded */
	IO_DATAIN,	/* new plaintext in io_input() */
	IO_DRAINED,	/* everything written so far has left the process */
	IO_TLS_READY,	/* the TLS handshake completed */
	IO_TIMEOUT,	/* no input for the io_set_timeout() span, or connect timeout */
	IO_CLOSED,	/* the peer closed (EOF); pending input may remain */
	IO_ERROR,	/* socket or TLS error; io_error() tells which */
};

typedef void (*io_cb)(struct io *io, enum io_event ev, void *arg);

/* io_new_accepted() takes ownership of a TCP handle accepted on a listener
 * (allocated with xmalloc, initialised, accepted) and starts reading. cb may
 * be NULL until io_set_cb(): no event fires before the loop runs again. */
struct io *io_new_accepted(uv_loop_t *loop, uv_tcp_t *tcp, io_cb cb, void *arg);

/* io_connect() opens a TCP connection to sa (optionally from src), and fires
 * IO_CONNECTED, or IO_ERROR (refused, unreachable) / IO_TIMEOUT after
 * timeout_ms (0: none); after either the caller closes the io. io_write()
 * before IO_CONNECTED queues. 0 or a negative libuv error code (uv_strerror). */
int	io_connect(uv_loop_t *loop, const struct sockaddr *sa, const struct sockaddr *src,
	    uint64_t timeout_ms, io_cb cb, void *arg, struct io **out);

void	io_set_cb(struct io *io, io_cb cb, void *arg);

/* io_input() is the plaintext received and not yet consumed; the caller
 * removes what it used with buf_consume(). Reading pauses while it holds more
 * than the input cap (io_set_input_cap, default 64 KiB) and resumes on the next
 * io_resume() or when the callback returns with less buffered. A session that
 * leaves more than the cap unconsumed must consume or close: nothing else
 * arrives meanwhile. */
struct buf *io_input(struct io *io);
void	io_set_input_cap(struct io *io, size_t cap);

/* io_write() queues plaintext (encrypted when TLS is on) for sending. Nothing
 * is written from inside the call: everything queued during one loop
 * iteration leaves in one write (pipelined replies share a packet). Under
 * STARTTLS, what is queued before the io_starttls_*() call goes out in
 * plaintext, what is queued after it waits for the handshake. No-op after
 * io_close(). IO_DRAINED follows when all of it has been written. */
void	io_write(struct io *io, const void *p, size_t n);
void	io_printf(struct io *io, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* io_pending() is the number of bytes queued and not yet written. */
size_t	io_pending(struct io *io);

/* io_set_timeout() arms an inactivity timer, restarted by every read; 0
 * disarms. IO_TIMEOUT repeats every ms until input comes or the io closes. */
void	io_set_timeout(struct io *io, uint64_t ms);
/* io_pause() stops reading (e.g. while a spool commit is in flight).
 * io_resume() starts again; when input is already buffered (pipelined
 * commands) an IO_DATAIN follows from the loop, never from inside the call. */
void	io_pause(struct io *io);
void	io_resume(struct io *io);

/* io_starttls_server() throws away any unread plaintext, including whatever
 * came in the same read as the STARTTLS command (commands pipelined after
 * STARTTLS must never run inside TLS: CVE-2011-0411), and starts a server
 * handshake; IO_TLS_READY or IO_ERROR follows. Plaintext arriving later is
 * not a TLS record and fails the handshake. io_starttls_client() likewise
 * for the client side (what the server sent after its 220 is dropped), with
 * sni as the server name (may be NULL; an address literal is verified as an
 * IP, not sent as SNI). 0, or -1 (TLS already on, the
 * connection not open or failed, or a bad context: io_error tells). */
int	io_starttls_server(struct io *io, SSL_CTX *ctx);
int	io_starttls_client(struct io *io, SSL_CTX *ctx, const char *sni);
int	io_tls_active(const struct io *io);
/* io_tls_info() is "TLSv1.3 TLS_AES_256_GCM_SHA384" once TLS is up, else NULL. */
const char *io_tls_info(const struct io *io);
/* io_tls_peer_verified() tells whether the peer presented a certificate that
 * verified against the context's trust store (and, on the client side, the
 * sni name). Recorded, never enforced: policy decides. */
int	io_tls_peer_verified(const struct io *io);

/* io_stats() tells the bytes read from and written to the socket so far
 * (ciphertext under TLS): for logs, and to see that reading really stops. */
void	io_stats(const struct io *io, uint64_t *rx, uint64_t *tx);

/* io_peer() and io_peer_ip() are the peer's address, as text ("127.0.0.1",
 * "::1"); an IPv4 client of a dual-stack listener is plain IPv4, not
 * ::ffff:127.0.0.1. For io_connect(), the destination. */
const struct sockaddr *io_peer(const struct io *io);
const char *io_peer_ip(const struct io *io);
/* io_error() describes the last IO_ERROR ("connection reset", "TLS: ..."). */
const char *io_error(const struct io *io);

/* io_close() writes what is pending (a TLS close_notify too), sends FIN and
 * waits for the peer's EOF, discarding input, so that our last reply is not
 * destroyed by a reset; all of it bounded by a 5 s linger, the wait for EOF
 * by 2 s. Then it frees. Plaintext queued while a TLS handshake is still
 * running cannot be encrypted and is dropped.
 * io_abort() drops the connection at once. No callback fires after either
 * returns (both may be called from inside the callback); the io pointer must
 * not be used again. */
void	io_close(struct io *io);
void	io_abort(struct io *io);
/* io_abort_all() aborts every io of loop still open or lingering, for a
 * daemon that exits: run the loop afterwards so that they are freed (a
 * uv_walk() closing their handles itself would leak them). */
void	io_abort_all(uv_loop_t *loop);

#endif
