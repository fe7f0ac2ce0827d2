/* webhook_int: what the dispatcher (webhook.c) and the transport
 * (webhook_curl.c) share. Private to src/webhook. */
#ifndef HERMOD_WEBHOOK_INT_H
#define HERMOD_WEBHOOK_INT_H
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

struct config;
struct wh_curl;

/* The outcome of one POST. */
struct wh_result {
	long	 status;	/* HTTP status; 0: no answer */
	int	 curl_code;	/* CURLcode; 0: CURLE_OK */
	int	 refused;	/* the SSRF guard refused every address */
	char	 refused_class[24];	/* what the refused address was */
	char	 error[256];	/* curl's message, for logs */
	uint64_t ms;		/* how long it took */
};

typedef void (*wh_post_cb)(const struct wh_result *res, void *arg);

/* wh_curl_new() makes a transport on loop: a curl multi handle whose
 * sockets and timer are libuv handles, so transfers never block the loop.
 * cfg gives the timeouts, the connection limits and allow_private_targets. */
struct wh_curl *wh_curl_new(uv_loop_t *loop, const struct config *cfg);

/* wh_curl_post() starts a POST of body (copied) to url with the Standard
 * Webhooks headers; cb(res, arg) runs on the loop when it ends. 0, or -1
 * (then cb never runs). */
int	wh_curl_post(struct wh_curl *c, const char *url, const char *msg_id, int64_t timestamp,
	    const char *signature, const char *body, size_t len, wh_post_cb cb, void *arg);

/* wh_curl_close() abandons every transfer (their callbacks never run),
 * closes the handles, frees c and calls done(arg) once they are closed. */
void	wh_curl_close(struct wh_curl *c, void (*done)(void *arg), void *arg);

#endif
