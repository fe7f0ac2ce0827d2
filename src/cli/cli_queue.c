/* cli_queue: `hermod queue list|show ID|delete ID|hold ID|release ID|flush
 * [ID]|destinations [--json]|resume DESTINATION`, the mailq/postqueue/postsuper of hermod. It talks to the
 * running daemon over the control socket (src/ctl); the queue lives in the
 * daemon's memory and spool, so without a daemon there is nothing to ask. */
#include "cli/cli.h"
#include "ctl/ctl.h"
#include "util/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char queue_usage[] =
    "usage: hermod queue list [--json]\n"
    "       hermod queue show ID [--json]\n"
    "       hermod queue delete ID | hold ID | release ID\n"
    "       hermod queue flush [ID]\n"
    "       hermod queue destinations [--json]\n"
    "       hermod queue resume DESTINATION\n";

static void
print_json(json_t *v)
{
	char *s = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY);

	if (s) {
		puts(s);
		free(s);
	}
}

static const char *
jstr(json_t *o, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : dflt;
}

/* print_entry() writes one message the way mailq does: id, size, arrival,
 * sender on the first line, a recipient a line below with its state. A '!'
 * after the id marks held mail, as in Postfix. */
static void
print_entry(json_t *m)
{
	json_t *rcpts = json_object_get(m, "recipients"), *r;
	const char *from = jstr(m, "from", "");
	size_t i;

	printf("%-20s%c %9lld %-20s %s\n", jstr(m, "id", "?"),
	    json_is_true(json_object_get(m, "held")) ? '!' : ' ',
	    (long long)json_integer_value(json_object_get(m, "size")),
	    jstr(m, "queued_at", "-"), *from ? from : "<>");
	if (json_is_string(json_object_get(m, "hold_reason")))
		printf("%52s held: %s\n", "", jstr(m, "hold_reason", ""));
	json_array_foreach(rcpts, i, r) {
		const char *state = jstr(r, "state", "?");
		const char *reply = jstr(r, "last_reply", NULL);
		long long attempts = json_integer_value(json_object_get(r, "attempts"));

		printf("%52s %s (%s", "", jstr(r, "email", "?"), state);
		if (attempts)
			printf(", %lld attempt%s", attempts, attempts == 1 ? "" : "s");
		if (json_is_string(json_object_get(r, "next_attempt")))
			printf(", next %s", jstr(r, "next_attempt", ""));
		printf(")\n");
		if (reply)
			printf("%52s   %s\n", "", reply);
		if (json_is_string(json_object_get(r, "waiting")))
			printf("%52s   waiting: %s\n", "", jstr(r, "waiting", ""));
	}
}

/* print_show() writes one message as a block of labelled lines. */
static void
print_show(json_t *m)
{
	json_t *rcpts = json_object_get(m, "recipients"), *r;
	const char *from = jstr(m, "from", "");
	size_t i;

	printf("id:          %s\n", jstr(m, "id", "?"));
	printf("message-id:  %s\n", jstr(m, "message_id", "-"));
	printf("account:     %s\n", jstr(m, "account", "-"));
	printf("from:        %s\n", *from ? from : "<>");
	printf("size:        %lld\n", (long long)json_integer_value(json_object_get(m, "size")));
	printf("queued at:   %s\n", jstr(m, "queued_at", "-"));
	if (json_is_string(json_object_get(m, "hold_reason")))
		printf("held:        %s\n", jstr(m, "hold_reason", ""));
	else
		printf("held:        %s\n", json_is_true(json_object_get(m, "held")) ? "yes" : "no");
	printf("recipients:\n");
	json_array_foreach(rcpts, i, r) {
		printf("  %s: %s, %lld attempt%s", jstr(r, "email", "?"), jstr(r, "state", "?"),
		    (long long)json_integer_value(json_object_get(r, "attempts")),
		    json_integer_value(json_object_get(r, "attempts")) == 1 ? "" : "s");
		if (json_is_string(json_object_get(r, "next_attempt")))
			printf(", next %s", jstr(r, "next_attempt", ""));
		putchar('\n');
		if (json_is_string(json_object_get(r, "last_reply")))
			printf("    %s\n", jstr(r, "last_reply", ""));
		if (json_is_string(json_object_get(r, "waiting")))
			printf("    waiting: %s\n", jstr(r, "waiting", ""));
	}
}

/* print_destinations() writes one line per destination (provider or
 * domain): its limits, what runs now, and a suspension if any. */
static void
print_destinations(json_t *arr)
{
	json_t *o;
	size_t i;

	if (json_array_size(arr) == 0) {
		puts("No destination known yet");
		return;
	}
	printf("%-28s %-8s %6s %6s %7s %7s  %-30s %s\n", "-Destination-", "-Kind-", "-Rdy-", "-Conn-",
	    "-Msg/m-", "-Con/m-", "-Conns ConnRate Msgs MsgRate-", "-State-");
	json_array_foreach(arr, i, o) {
		json_t *l = json_object_get(o, "limits");
		char lim[96], st[256], c[24], m[24];
		json_int_t maxc = json_integer_value(json_object_get(l, "max_connections"));
		json_int_t maxm = json_integer_value(json_object_get(l, "max_messages_per_connection"));

		/* the limits as set, "-" for none */
		snprintf(c, sizeof(c), maxc ? "%lld" : "-", (long long)maxc);
		snprintf(m, sizeof(m), maxm ? "%lld" : "-", (long long)maxm);
		snprintf(lim, sizeof(lim), "%5s %8s %4s %7s", c, jstr(l, "connection_rate", "-"), m,
		    jstr(l, "message_rate", "-"));
		if (json_is_string(json_object_get(o, "suspended_until")))
			snprintf(st, sizeof(st), "suspended until %s (%s, rule %s)", jstr(o, "suspended_until", ""),
			    jstr(o, "reason", ""), jstr(o, "rule", ""));
		else if (json_integer_value(json_object_get(o, "rate_divisor")) > 1)
			snprintf(st, sizeof(st), "rate / %lld until %s (rule %s)",
			    (long long)json_integer_value(json_object_get(o, "rate_divisor")),
			    jstr(o, "halved_until", ""), jstr(o, "rule", ""));
		else if (json_is_string(json_object_get(o, "waiting_until")))
			snprintf(st, sizeof(st), "waiting for %s until %s", jstr(o, "waiting_for", ""),
			    jstr(o, "waiting_until", ""));
		else
			snprintf(st, sizeof(st), "active");
		printf("%-28s %-8s %6lld %6lld %7lld %7lld  %-30s %s\n", jstr(o, "destination", "?"),
		    jstr(o, "kind", "?"), (long long)json_integer_value(json_object_get(o, "ready")),
		    (long long)json_integer_value(json_object_get(o, "connections")),
		    (long long)json_integer_value(json_object_get(o, "messages_last_minute")),
		    (long long)json_integer_value(json_object_get(o, "connections_last_minute")), lim, st);
		if (json_array_size(json_object_get(o, "domains")) > 0) {
			json_t *dm;
			size_t k;
			printf("%28s domains:", "");
			json_array_foreach(json_object_get(o, "domains"), k, dm)
				printf(" %s", json_string_value(dm));
			putchar('\n');
		}
	}
}

/* The list is printed as it arrives (ctl_call_each), so `hermod queue list`
 * on a million queued messages needs the memory of one entry. */
struct lister {
	int		 json;
	size_t		 n;
	long long	 bytes;
};

static int
list_each(json_t *m, void *arg)
{
	struct lister *l = arg;

	if (l->json) {
		char *s = json_dumps(m, JSON_INDENT(2));

		printf("%s%s", l->n ? ",\n" : "[\n", s ? s : "null");
		free(s);
	} else {
		if (l->n == 0)
			printf("%-21s %9s %-20s %s\n", "-Queue ID-", "-Size-", "-Arrival Time-",
			    "-Sender/Recipient-");
		print_entry(m);
		putchar('\n');
	}
	l->bytes += json_integer_value(json_object_get(m, "size"));
	l->n++;
	return 0;
}

static int
queue_list(struct config *cfg, int json)
{
	struct lister l = { .json = json };
	char *path = cli_ctl_path(cfg), *err = NULL;
	int rc = ctl_call_each(path, "queue.list", NULL, list_each, &l, &err);

	free(path);
	if (json && l.n > 0)
		printf("\n]\n");
	if (rc < 0) {
		fflush(stdout);
		cli_error("queue list: %s", err);
		free(err);
		return 1;
	}
	if (json && l.n == 0)
		printf("[]\n");
	else if (!json && l.n == 0)
		puts("Mail queue is empty");
	else if (!json)
		printf("-- %lld Kbytes in %zu Request%s.\n", (l.bytes + 1023) / 1024, l.n,
		    l.n == 1 ? "" : "s");
	return 0;
}

int
cli_queue(struct config *cfg, int argc, char **argv)
{
	const char *sub = NULL, *id = NULL;
	json_t *args, *result = NULL;
	char *path, *err = NULL, cmd[32];
	int json = 0, rc;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = 1;
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(queue_usage, stdout);
			return 0;
		} else if (argv[i][0] == '-' && argv[i][1])
			return cli_error("queue: unknown option %s", argv[i]);
		else if (sub == NULL)
			sub = argv[i];
		else if (id == NULL)
			id = argv[i];
		else
			return cli_error("queue: unexpected argument %s", argv[i]);
	}
	if (sub == NULL) {
		fputs(queue_usage, stderr);
		return 2;
	}
	if (!strcmp(sub, "list") || !strcmp(sub, "destinations")) {
		if (id)
			return cli_error("queue %s: unexpected argument %s", sub, id);
	} else if (!strcmp(sub, "show") || !strcmp(sub, "delete") || !strcmp(sub, "hold") ||
	    !strcmp(sub, "release")) {
		if (id == NULL)
			return cli_error("queue %s: a queue ID is required", sub);
	} else if (!strcmp(sub, "resume")) {
		if (id == NULL)
			return cli_error("queue resume: a destination (provider or domain) is required");
	} else if (strcmp(sub, "flush") != 0)
		return cli_error("queue: unknown subcommand %s (list, show, delete, hold, release, flush, destinations, resume)",
		    sub);

	if (!strcmp(sub, "list"))
		return queue_list(cfg, json);
	snprintf(cmd, sizeof(cmd), "queue.%s", sub);
	args = json_object();
	if (id)
		json_object_set_new(args, "id", json_string(id));
	path = cli_ctl_path(cfg);
	rc = ctl_call(path, cmd, args, &result, &err);
	json_decref(args);
	free(path);
	if (rc < 0) {
		cli_error("queue %s: %s", sub, err);
		free(err);
		return 1;
	}
	if (!strcmp(sub, "show")) {
		if (json)
			print_json(result);
		else
			print_show(result);
	} else if (!strcmp(sub, "destinations")) {
		if (json)
			print_json(result);
		else
			print_destinations(result);
	} else if (!strcmp(sub, "flush")) {
		if (json)
			print_json(result);
		else
			printf("%lld message%s scheduled for delivery now\n",
			    (long long)json_integer_value(json_object_get(result, "scheduled")),
			    json_integer_value(json_object_get(result, "scheduled")) == 1 ? "" : "s");
	} else {
		if (json)
			print_json(result);
		else
			printf("%s: %s\n", id, jstr(result, "done", sub));
	}
	json_decref(result);
	return 0;
}
