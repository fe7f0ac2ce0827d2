/* metrics_hermod: the metrics of SPEC.md and a few more, defined in one
 * place. The families live in the process registry; each entry point
 * registers them on first use (pthread_once: one load on the fast path),
 * so unit tests of other modules need no set-up. Known label sets are
 * created at 0 at registration: an absent series and a zero one mean
 * different things to alerting rules (absent() vs rate()). */
#include "metrics/metrics.h"
#include "util/timeutil.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#ifndef HERMOD_VERSION
#define HERMOD_VERSION "0.0.0"
#endif

static const char *const event_types[] = { "queued", "delivered", "deferred", "bounced",
	"expired", "dropped", "complained", "unsubscribed", "opened", "clicked", NULL };
static const char *const attempt_results[] = { "delivered", "deferred", "bounced", "expired",
	NULL };
static const char *const smtp_listeners[] = { "submission", "submission_tls", "inbound", NULL };
static const char *const smtp_results[] = { "ok", "dropped", "timeout", "tls_failed",
	"rejected", "shutdown", "error", NULL };
static const char *const sources[] = { "smtp", "http", NULL };
static const char *const queue_states[] = { "queued", "deferred", "held", "active", NULL };

/* Queued to delivered: most mail takes well under a second on a healthy
 * path; the tail is retries (minutes to days). */
static const double delivery_bounds[] = { 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
	900, 3600, 14400, 86400 };

static pthread_once_t once = PTHREAD_ONCE_INIT;
static struct metrics_family *f_accepted, *f_accepted_rcpt;
static struct metrics_family *f_events, *f_attempts, *f_delivery, *f_smtp, *f_http, *f_queue;

static void
init_once(void)
{
	struct metrics_family *f;

	f_events = metrics_counter(NULL, "hermod_events_total",
	    "Events recorded (SPEC.md Events), by type.", "type");
	for (size_t i = 0; event_types[i]; i++)
		(void)metrics_series(f_events, event_types[i]);
	f_accepted = metrics_counter(NULL, "hermod_messages_accepted_total",
	    "Messages made durable and acknowledged (250 or 202), by source.", "source");
	f_accepted_rcpt = metrics_counter(NULL, "hermod_recipients_accepted_total",
	    "Recipients of the messages accepted, by source.", "source");
	for (size_t i = 0; sources[i]; i++) {
		(void)metrics_series(f_accepted, sources[i]);
		(void)metrics_series(f_accepted_rcpt, sources[i]);
	}
	f_attempts = metrics_counter(NULL, "hermod_delivery_attempts_total",
	    "Delivery attempts per recipient, by outcome.", "result");
	for (size_t i = 0; attempt_results[i]; i++)
		(void)metrics_series(f_attempts, attempt_results[i]);
	f_delivery = metrics_histogram(NULL, "hermod_delivery_seconds",
	    "Time from queued to delivered, per delivered recipient.", NULL, delivery_bounds,
	    sizeof(delivery_bounds) / sizeof(delivery_bounds[0]));
	f_smtp = metrics_counter(NULL, "hermod_smtp_sessions_total",
	    "SMTP sessions ended, by listener and result.", "listener,result");
	for (size_t i = 0; smtp_listeners[i]; i++)
		for (size_t k = 0; smtp_results[k]; k++)
			(void)metrics_series(f_smtp, smtp_listeners[i], smtp_results[k]);
	f_http = metrics_counter(NULL, "hermod_http_requests_total",
	    "HTTP requests answered, by route pattern and status code.", "route,code");
	f_queue = metrics_gauge(NULL, "hermod_queue_messages",
	    "Queued deliveries (one per message and destination domain), by state.", "state");
	for (size_t i = 0; queue_states[i]; i++)
		(void)metrics_series(f_queue, queue_states[i]);

	f = metrics_gauge(NULL, "hermod_build_info", "The running version; always 1.", "version");
	metrics_set(metrics_series(f, HERMOD_VERSION), 1);
	f = metrics_gauge(NULL, "process_start_time_seconds",
	    "Start time of the process since the Unix epoch, in seconds.", NULL);
	metrics_set(metrics_series(f), (double)(time_now_ms() / 1000));
}

void
metrics_hermod_init(void)
{
	pthread_once(&once, init_once);
}

void
metrics_event(const char *type)
{
	pthread_once(&once, init_once);
	metrics_inc(metrics_series(f_events, type));
}

void
metrics_accepted(const char *source, size_t nrcpt)
{
	pthread_once(&once, init_once);
	metrics_inc(metrics_series(f_accepted, source));
	metrics_add(metrics_series(f_accepted_rcpt, source), (uint64_t)nrcpt);
}

void
metrics_delivery_attempt(const char *result)
{
	pthread_once(&once, init_once);
	metrics_inc(metrics_series(f_attempts, result));
}

void
metrics_delivery_seconds(double seconds)
{
	pthread_once(&once, init_once);
	metrics_observe(metrics_series(f_delivery), seconds < 0 ? 0 : seconds);
}

const char *
metrics_smtp_result(const char *reason)
{
	static const struct {
		const char *reason, *result;
	} map[] = {
		{ "quit", "ok" },
		{ "disconnected", "dropped" },
		{ "lost-in-data", "dropped" },
		{ "io-error", "dropped" },	/* a reset: the client went away */
		{ "timeout", "timeout" },
		{ "session-timeout", "timeout" },
		{ "tls-failed", "tls_failed" },
		{ "tls-error", "tls_failed" },
		{ "pre-greeting-traffic", "rejected" },
		{ "auth-limit", "rejected" },
		{ "too-many-errors", "rejected" },
		{ "junk-limit", "rejected" },
		{ "connection-limit", "rejected" },
		{ "shutdown", "shutdown" },
	};

	if (reason == NULL)
		return "error";
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i].reason, reason) == 0)
			return map[i].result;
	return "error";
}

void
metrics_smtp_session(const char *listener, const char *reason)
{
	pthread_once(&once, init_once);
	metrics_inc(metrics_series(f_smtp, listener, metrics_smtp_result(reason)));
}

void
metrics_http_request(const char *route, int code)
{
	char c[16];

	pthread_once(&once, init_once);
	snprintf(c, sizeof(c), "%d", code);
	metrics_inc(metrics_series(f_http, route ? route : "unmatched", c));
}

void
metrics_queue_messages(const char *state, double n)
{
	pthread_once(&once, init_once);
	metrics_set(metrics_series(f_queue, state), n);
}
