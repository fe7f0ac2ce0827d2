/* Tests of the delivery engine against real peers on loopback: a private
 * dnsmasq serving test zones, and scripted SMTP servers
 * (tests/integration/smtpfault.py) on 127.0.0.N, one per behaviour. Messages
 * go into a real spool; the assertions read the event lines of the log, the
 * spool, and what the servers recorded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "deliver/deliver.h"
#include "spool/spool.h"
#include "util/config.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

#define NSERV 40
static pid_t pids[NSERV + 1];
static int npids;
static char dir[256];
static int smtp_port;
static char resolver[64];


/* The fault matrix: one domain per scenario, its MX on 127.0.1.N, one
 * recipient each; expected event type and a piece of the event. */
struct scenario {
	const char	*name;		/* domain NAME.test, server log NAME.log */
	const char	*rules;
	const char	*type;
	const char	*want;
};

static const struct scenario matrix[] = {
	{ "g421", "{\"greeting\": \"421 4.3.2 Service not available\"}", "deferred", "\"code\":421" },
	{ "g554", "{\"greeting\": \"554 5.3.2 No SMTP service here\"}", "bounced", "\"code\":554" },
	{ "gstall", "{\"greeting\": \"stall\"}", "deferred", "timeout" },
	{ "e421", "{\"ehlo\": \"421 4.3.2 Closing\"}", "deferred", "\"code\":421" },
	{ "helo", "{\"no_esmtp\": true}", "delivered", "\"code\":250" },
	{ "m421", "{\"mail\": \"421 4.4.5 Too busy\"}", "deferred", "\"code\":421" },
	{ "m452", "{\"mail\": \"452 4.3.1 Insufficient system storage\"}", "deferred", "\"code\":452" },
	{ "m550", "{\"mail\": \"550 5.7.1 Sender rejected by policy\"}", "bounced", "\"category\":\"policy\"" },
	{ "m552", "{\"mail\": \"552 5.3.4 Message size exceeds fixed limit\"}", "bounced",
	  "\"class\":\"soft\",\"category\":\"message-too-large\"" },
	{ "mstall", "{\"mail\": \"stall\"}", "deferred", "timeout waiting for the reply to MAIL FROM" },
	{ "r450", "{\"rcpt\": \"450 4.2.1 Mailbox busy\"}", "deferred", "\"code\":450" },
	{ "r451", "{\"rcpt\": \"451 4.3.0 Local error\"}", "deferred", "\"code\":451" },
	{ "r452", "{\"rcpt\": \"452 4.5.3 Too many recipients\"}", "deferred", "\"code\":452" },
	{ "r550", "{\"rcpt\": \"550 5.1.1 User unknown\"}", "bounced", "\"category\":\"bad-mailbox\"" },
	{ "r554", "{\"rcpt\": \"554 5.7.1 Relay access denied\"}", "bounced", "\"category\":\"policy\"" },
	{ "d451", "{\"data\": \"451 4.3.0 Try later\"}", "deferred", "\"code\":451" },
	{ "d554", "{\"data\": \"554 5.5.1 No valid recipients\"}", "bounced", "\"code\":554" },
	{ "dstall", "{\"data\": \"stall\"}", "deferred", "timeout waiting for the reply to DATA" },
	{ "t421", "{\"dot\": \"421 4.3.2 Shutting down\"}", "deferred", "\"code\":421" },
	{ "t451", "{\"dot\": \"451 4.3.0 Queue file write error\"}", "deferred", "\"code\":451" },
	{ "t552", "{\"dot\": \"552 5.2.2 Mailbox full\"}", "bounced", "\"category\":\"mailbox-full\"" },
	{ "t554", "{\"dot\": \"554 5.7.1 Message rejected as spam\"}", "bounced", "\"category\":\"spam-content\"" },
	{ "tstall", "{\"dot\": \"stall\"}", "deferred", "timeout waiting for the reply to end of data" },
	{ "nopipe", "{\"no_pipelining\": true}", "delivered", "\"code\":250" },
	{ "noutf8", "{\"no_smtputf8\": true}", "bounced", "\"enhanced\":\"5.6.7\"" },
	{ "tlsok", "{\"offer_starttls\": true}", "delivered", "\"code\":250" },
	{ "authplain", "{\"offer_auth\": \"PLAIN LOGIN\"}", "delivered", "\"code\":250" },
	{ "authlogin", "{\"offer_auth\": \"LOGIN\"}", "delivered", "\"code\":250" },
	{ "tlsreq", "{}", "deferred", "TLS is required" },
};
#define NMATRIX (sizeof(matrix) / sizeof(matrix[0]))

/* free_port() picks a port below the kernel's ephemeral range (32768-60999),
 * where no client connection's local end can take it meanwhile; it must be
 * free on 127.0.0.1 for type. */
static int
free_port(int type)
{
	for (int tries = 0; tries < 200; tries++) {
		struct sockaddr_in sin = { .sin_family = AF_INET };
		int fd = socket(AF_INET, type, 0), port = 10000 + rand() % 22000, ok;

		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sin.sin_port = htons((uint16_t)port);
		ok = fd >= 0 && bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0;
		if (fd >= 0)
			close(fd);
		if (ok)
			return port;
	}
	return -1;
}

static pid_t
spawn(char *const argv[])
{
	pid_t p = fork();

	if (p == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		dup2(null, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	pids[npids++] = p;
	return p;
}

static void
fault_server(const char *ip, const char *name, const char *rules)
{
	char listen[64], logp[512], cert[512], key[512];

	snprintf(listen, sizeof(listen), "%s:%d", ip, smtp_port);
	snprintf(logp, sizeof(logp), "%s/%s.log", dir, name);
	snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	char *argv[] = { "python3", "tests/integration/smtpfault.py", "--listen", listen, "--log", logp,
		"--rules", (char *)rules, "--tls", cert, key, NULL };
	spawn(argv);
}

static int
setup(void **state)
{
	char port[32], slow[96];
	int dns, silent;

	srand((unsigned)getpid() ^ (unsigned)time(NULL));
	dns = free_port(SOCK_DGRAM);
	silent = free_port(SOCK_DGRAM);

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/hermod-deliver.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	{
		/* a self-signed pair for the servers that do STARTTLS */
		char cmd[1024];
		snprintf(cmd, sizeof(cmd), "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "
		    "/CN=mx.tlsok.test -keyout %s/key.pem -out %s/cert.pem >/dev/null 2>&1", dir, dir);
		if (system(cmd) != 0)
			return -1;
	}
	smtp_port = free_port(SOCK_STREAM);
	snprintf(resolver, sizeof(resolver), "127.0.0.1:%d", dns);
	snprintf(port, sizeof(port), "--port=%d", dns);
	snprintf(slow, sizeof(slow), "--server=/slow.test/127.0.0.1#%d", silent);
	char *dargv[] = { "dnsmasq", "-k", port, "--listen-address=127.0.0.1", "--bind-interfaces",
		"--no-resolv", "--no-hosts", "--local-ttl=60", "--pid-file=", "--user=", "--local=/test/", slow,
		"--mx-host=ok.test,mx.ok.test,10", "--host-record=mx.ok.test,127.0.0.2",
		"--mx-host=rej.test,mx.rej.test,10", "--host-record=mx.rej.test,127.0.0.3",
		"--mx-host=tmp.test,mx.tmp.test,10", "--host-record=mx.tmp.test,127.0.0.4",
		"--mx-host=stall.test,mx.stall.test,10", "--host-record=mx.stall.test,127.0.0.5",
		/* two MX hosts: the first refuses connections, the second works */
		"--mx-host=fallback.test,mx1.fallback.test,10", "--mx-host=fallback.test,mx2.fallback.test,20",
		"--host-record=mx1.fallback.test,127.0.0.250", "--host-record=mx2.fallback.test,127.0.0.2",
		"--host-record=implicit.test,127.0.0.2",
		"--mx-host=tls.test,mx.tls.test,10", "--host-record=mx.tls.test,127.0.0.6",
		"--mx-host=drop.test,mx.drop.test,10", "--host-record=mx.drop.test,127.0.0.7",
		"--mx-host=bad.test,mx.bad.test,10", "--host-record=mx.bad.test,127.0.0.8",
		"--dns-rr=null.test,15,000000", NULL };
	char *args[200];
	size_t na = 0;
	static char extra[NMATRIX * 2][128];
	for (; dargv[na]; na++)
		args[na] = dargv[na];
	for (size_t i = 0; i < NMATRIX; i++) {
		snprintf(extra[2 * i], sizeof(extra[0]), "--mx-host=%s.test,mx.%s.test,10", matrix[i].name,
		    matrix[i].name);
		snprintf(extra[2 * i + 1], sizeof(extra[0]), "--host-record=mx.%s.test,127.0.1.%zu",
		    matrix[i].name, i + 1);
		args[na++] = extra[2 * i];
		args[na++] = extra[2 * i + 1];
	}
	args[na] = NULL;
	spawn(args);
	fault_server("127.0.0.2", "ok", "{}");
	fault_server("127.0.0.3", "rej", "{\"rcpt\": {\"bad@rej.test\": \"550 5.1.1 No such user\"}}");
	fault_server("127.0.0.4", "tmp", "{\"mail\": \"451 4.3.0 Try again later\", \"once\": true}");
	fault_server("127.0.0.5", "stall", "{\"rcpt\": \"stall\"}");
	fault_server("127.0.0.6", "tls", "{\"offer_starttls\": true, \"starttls\": \"fail_handshake\"}");
	fault_server("127.0.0.7", "drop", "{\"dot\": \"drop_mid_data\"}");
	fault_server("127.0.0.8", "bad", "{\"data\": \"garbage\"}");
	for (size_t i = 0; i < NMATRIX; i++) {
		char ip[32];
		snprintf(ip, sizeof(ip), "127.0.1.%zu", i + 1);
		fault_server(ip, matrix[i].name, matrix[i].rules);
	}
	/* every server says when it listens; dnsmasq gets the same time */
	static const char *names[] = { "ok", "rej", "tmp", "stall", "tls", "drop", "bad" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) + NMATRIX; i++) {
		char path[512], *s = NULL;
		size_t n;
		int ready = 0;
		snprintf(path, sizeof(path), "%s/%s.log", dir,
		    i < sizeof(names) / sizeof(names[0]) ? names[i] : matrix[i - sizeof(names) / sizeof(names[0])].name);
		for (int k = 0; k < 200 && !ready; k++) {
			if (fs_read_file(path, 1 << 20, &s, &n) == 0) {
				ready = strstr(s, "\"ready\"") != NULL;
				free(s);
			}
			if (!ready)
				usleep(50000);
		}
		if (!ready)
			return -1;
	}
	usleep(200000);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[300];

	(void)state;
	for (int i = 0; i < npids; i++) {
		kill(pids[i], SIGTERM);
		waitpid(pids[i], NULL, 0);
	}
	if (getenv("KEEP") == NULL) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			return -1;
	}
	return 0;
}

static void
committed(int err, const char *id, void *arg)
{
	(void)id;
	*(int *)arg = err == 0 ? 1 : -1;
}

static unsigned next_notify;	/* NOTIFY for the next submit() */

static void
submit(uv_loop_t *loop, struct spool *sp, const char *from, unsigned flags, const char *const *rcpts,
    size_t n, const char *msg)
{
	struct spool_env e;
	struct spool_rcpt r[8];
	int done = 0;

	memset(&e, 0, sizeof(e));
	memset(r, 0, sizeof(r));
	e.account = "shop";
	e.mail_from = (char *)from;
	e.flags = flags;
	e.message_id = "m1@shop.example";
	e.client = "test";
	e.meta_json = "{\"tags\":[\"receipt\"],\"metadata\":{\"order\":\"42\"}}";
	e.size = strlen(msg);
	for (size_t i = 0; i < n; i++) {
		r[i].addr = (char *)rcpts[i];
		r[i].state = SPOOL_RCPT_QUEUED;
		r[i].notify = next_notify;
	}
	e.nrcpt = n;
	e.rcpt = r;
	next_notify = 0;
	assert_int_equal(spool_submit(sp, &e, msg, strlen(msg), committed, &done), 0);
	while (done == 0)
		uv_run(loop, UV_RUN_ONCE);
	assert_int_equal(done, 1);
}

static char *
slurp(const char *path)
{
	char *s = NULL;
	size_t n;

	if (fs_read_file(path, 1 << 24, &s, &n) < 0)
		return xstrdup("");
	return s;
}

/* event_has() tells whether the log holds an event of type for rcpt whose
 * line also contains want (or anything when want is NULL). */
static int
event_has(const char *log, const char *type, const char *rcpt, const char *want)
{
	char t[64], r[160];
	const char *p = log;

	snprintf(t, sizeof(t), "\"type\":\"%s\"", type);
	snprintf(r, sizeof(r), "\"recipient\":\"%s\"", rcpt);
	while (p && *p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		char *line = xstrndup(p, len);
		int hit = strstr(line, t) && strstr(line, r) && (want == NULL || strstr(line, want));
		free(line);
		if (hit)
			return 1;
		p = eol ? eol + 1 : NULL;
	}
	return 0;
}

struct run {
	uv_loop_t	*loop;
	int		 stopped;
};

static void
stopped(void *arg)
{
	((struct run *)arg)->stopped = 1;
}

static void
tick(uv_timer_t *t)
{
	(void)t;
}

static void
test_delivery(void **state)
{
	uv_loop_t loop;
	struct config cfg;
	struct spool *sp;
	struct deliver *d;
	char *err = NULL, text[2048], logpath[300], spooldir[300];
	int logfd;
	struct run run = { &loop, 0 };
	uv_timer_t t;
	static const char msg[] = "From: a@shop.example\r\nTo: x@ok.test\r\nSubject: hi\r\n\r\nline one\r\n"
	    ".leading dot\r\n..two dots\r\nlast line\r\n";

	(void)state;
	snprintf(text, sizeof(text),
	    "[server]\nhostname = mail.test.example\n"
	    "[delivery]\nresolver = %s\nport = %d\nretry = 1s\nmax_lifetime = 1h\n"
	    "connect_timeout = 2s\ngreeting_timeout = 2s\nehlo_timeout = 2s\nmail_timeout = 2s\n"
	    "rcpt_timeout = 2s\ndata_timeout = 2s\ndata_block_timeout = 2s\ndata_done_timeout = 2s\n"
	    "tls_timeout = 2s\nquit_timeout = 1s\n"
	    "[route tlsreq.test]\nrelay = 127.0.1.%zu:%d\ntls = required\n"
	    "[route authplain.test]\nrelay = 127.0.1.%zu:%d\ntls = off\nauth_user = relayuser\n"
	    "auth_password = s3cret\n"
	    "[route authlogin.test]\nrelay = 127.0.1.%zu:%d\ntls = off\nauth_user = relayuser\n"
	    "auth_password = s3cret\n", resolver, smtp_port,
	    NMATRIX, smtp_port, NMATRIX - 2, smtp_port, NMATRIX - 1, smtp_port);
	config_defaults(&cfg, dir);
	assert_int_equal(config_parse(&cfg, "t.conf", text, strlen(text), &err), 0);
	snprintf(logpath, sizeof(logpath), "%s/events.log", dir);
	logfd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0600);
	log_set_fd(logfd);
	uv_loop_init(&loop);
	snprintf(spooldir, sizeof(spooldir), "%s/spool", dir);
	assert_int_equal(spool_open(&sp, spooldir, &loop, &err), 0);

	const char *r1[] = { "x@ok.test", "y@ok.test" };
	submit(&loop, sp, "a@shop.example", 0, r1, 2, msg);
	const char *r2[] = { "good@rej.test", "bad@rej.test" };
	submit(&loop, sp, "sender@ok.test", SPOOL_F_DSN, r2, 2, msg);
	const char *r3[] = { "t@tmp.test" };
	submit(&loop, sp, "a@shop.example", 0, r3, 1, msg);
	const char *r4[] = { "n@null.test", "n@nx.test", "s@slow.test", "q@stall.test" };
	submit(&loop, sp, "", SPOOL_F_DSN, r4, 4, msg);
	const char *r5[] = { "f@fallback.test", "i@implicit.test", "t@tls.test", "d@drop.test", "b@bad.test" };
	submit(&loop, sp, "a@shop.example", 0, r5, 5, msg);
	const char *r6[] = { "u@ok.test" };
	submit(&loop, sp, "a@shop.example", SPOOL_F_SMTPUTF8, r6, 1, msg);
	/* NOTIFY=SUCCESS,DELAY: a "relayed" report for the delivery, one
	 * "delayed" report at the first deferral */
	const char *r7[] = { "w@ok.test", "q2@stall.test" };
	next_notify = SPOOL_NOTIFY_SUCCESS | SPOOL_NOTIFY_DELAY;
	submit(&loop, sp, "notify@ok.test", SPOOL_F_DSN, r7, 2, msg);

	for (size_t i = 0; i < NMATRIX; i++) {
		char *addr = xasprintf("m@%s.test", matrix[i].name);
		const char *rr[] = { addr };
		submit(&loop, sp, "a@shop.example", strcmp(matrix[i].name, "noutf8") == 0 ? SPOOL_F_SMTPUTF8 : 0,
		    rr, 1, msg);
		free(addr);
	}
	assert_int_equal(deliver_start(&loop, &cfg, sp, &d, &err), 0);
	uv_timer_init(&loop, &t);
	uv_timer_start(&t, tick, 100, 100);
	uint64_t t0 = time_mono_ms();
	char *log = NULL;
	while (time_mono_ms() - t0 < 60000) {
		uv_run(&loop, UV_RUN_ONCE);
		free(log);
		log = slurp(logpath);
		int all = 1;
		for (size_t i = 0; i < NMATRIX && all; i++) {
			char *addr = xasprintf("m@%s.test", matrix[i].name);
			all = event_has(log, matrix[i].type, addr, NULL);
			free(addr);
		}
		/* every event asserted below, so a slow machine only waits longer */
		static const char *const expect[][2] = {
			{ "delivered", "x@ok.test" }, { "delivered", "y@ok.test" },
			{ "delivered", "good@rej.test" }, { "bounced", "bad@rej.test" },
			{ "delivered", "sender@ok.test" }, { "delivered", "t@tmp.test" },
			{ "bounced", "n@null.test" }, { "bounced", "n@nx.test" },
			{ "deferred", "s@slow.test" }, { "deferred", "q@stall.test" },
			{ "delivered", "f@fallback.test" }, { "delivered", "i@implicit.test" },
			{ "delivered", "t@tls.test" }, { "deferred", "d@drop.test" },
			{ "deferred", "b@bad.test" }, { "delivered", "u@ok.test" },
			{ "delivered", "w@ok.test" }, { "deferred", "q2@stall.test" },
		};
		for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]) && all; i++)
			all = event_has(log, expect[i][0], expect[i][1], NULL);
		if (all) {
			/* ...and the delay report reached the return path */
			char *okp = xasprintf("%s/ok.log", dir), *okl = slurp(okp);
			all = strstr(okl, "Action: delayed") != NULL;
			free(okl);
			free(okp);
		}
		if (all)
			break;
	}
	deliver_stop(d, stopped, &run);
	while (!run.stopped)
		uv_run(&loop, UV_RUN_ONCE);
	deliver_free(d);
	uv_close((uv_handle_t *)&t, NULL);
	spool_close(sp);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	log_set_fd(1);
	close(logfd);
	free(log);
	log = slurp(logpath);

	/* plain delivery, two recipients in one transaction */
	assert_true(event_has(log, "delivered", "x@ok.test", "\"mx\":\"mx.ok.test\""));
	assert_true(event_has(log, "delivered", "y@ok.test", "\"smtp\":{\"code\":250,\"enhanced\":\"2.0.0\""));
	assert_true(event_has(log, "delivered", "x@ok.test", "\"tags\":[\"receipt\"],\"metadata\":{\"order\":\"42\"}"));
	/* one of two recipients rejected: bounced, classified, the other delivered */
	assert_true(event_has(log, "delivered", "good@rej.test", NULL));
	assert_true(event_has(log, "bounced", "bad@rej.test",
	    "\"smtp\":{\"code\":550,\"enhanced\":\"5.1.1\",\"text\":\"No such user\"},"
	    "\"bounce\":{\"class\":\"hard\",\"category\":\"bad-mailbox\"}"));
	/* ...and its DSN reached the return path, itself with a null sender */
	assert_true(event_has(log, "delivered", "sender@ok.test", NULL));
	char *oklog = xasprintf("%s/ok.log", dir);
	char *ok = slurp(oklog);
	assert_non_null(strstr(ok, "\"from\": \"\", \"rcpt\": [\"sender@ok.test\"]"));
	assert_non_null(strstr(ok, "report-type=delivery-status"));
	assert_non_null(strstr(ok, "Final-Recipient: rfc822; bad@rej.test"));
	/* the body arrived byte for byte (dot-stuffing undone by the server) */
	assert_non_null(strstr(ok, "line one\\r\\n.leading dot\\r\\n..two dots\\r\\nlast line\\r\\n\""));
	/* 451 at MAIL: deferred, retried after ~1 s, delivered */
	assert_true(event_has(log, "deferred", "t@tmp.test", "\"code\":451"));
	assert_true(event_has(log, "delivered", "t@tmp.test", "\"attempt\":2"));
	/* DNS: null MX and NXDOMAIN bounce at once; a timeout defers */
	assert_true(event_has(log, "bounced", "n@null.test", "\"code\":556,\"enhanced\":\"5.1.10\""));
	assert_true(event_has(log, "bounced", "n@nx.test", "\"category\":\"bad-domain\""));
	assert_true(event_has(log, "deferred", "s@slow.test", "\"code\":451"));
	/* no DSN to a null sender */
	assert_null(strstr(ok, "Final-Recipient: rfc822; n@null.test"));
	/* a stall past rcpt_timeout defers */
	assert_true(event_has(log, "deferred", "q@stall.test", "timeout"));
	/* the first MX refuses connections: the second takes the message */
	assert_true(event_has(log, "delivered", "f@fallback.test", "\"mx\":\"mx2.fallback.test\""));
	assert_true(event_has(log, "delivered", "i@implicit.test", "\"mx\":\"implicit.test\""));
	/* STARTTLS offered, then a broken handshake: plaintext retry delivers */
	assert_true(event_has(log, "delivered", "t@tls.test", NULL));
	/* connection dropped mid-DATA: deferred */
	assert_true(event_has(log, "deferred", "d@drop.test", NULL));
	/* a hostile reply: temporary failure, no crash */
	assert_true(event_has(log, "deferred", "b@bad.test", NULL));
	for (size_t i = 0; i < NMATRIX; i++) {
		char *addr = xasprintf("m@%s.test", matrix[i].name);
		if (!event_has(log, matrix[i].type, addr, matrix[i].want)) {
			fprintf(stderr, "scenario %s: no %s event with %s\n", matrix[i].name, matrix[i].type,
			    matrix[i].want);
			fail();
		}
		free(addr);
	}
	/* STARTTLS offered and working: the message travelled encrypted */
	char *tp = xasprintf("%s/tlsok.log", dir), *tl = slurp(tp);
	assert_non_null(strstr(tl, "\"line\": \"STARTTLS\", \"tls\": false"));
	assert_non_null(strstr(tl, "\"rcpt\": [\"m@tlsok.test\"]"));
	assert_non_null(strstr(tl, "\"tls\": true}"));	/* the message line */
	free(tl);
	free(tp);
	/* relay AUTH: PLAIN when offered ("\0relayuser\0s3cret"), else LOGIN */
	tp = xasprintf("%s/authplain.log", dir);
	tl = slurp(tp);
	assert_non_null(strstr(tl, "\"mech\": \"PLAIN\", \"resp\": \"AHJlbGF5dXNlcgBzM2NyZXQ=\""));
	free(tl);
	free(tp);
	tp = xasprintf("%s/authlogin.log", dir);
	tl = slurp(tp);
	assert_non_null(strstr(tl, "\"mech\": \"LOGIN\", \"user\": \"cmVsYXl1c2Vy\", \"pass\": \"czNjcmV0\""));
	free(tl);
	free(tp);
	/* NOTIFY=SUCCESS and DELAY honoured (and no failure report asked) */
	assert_non_null(strstr(ok, "Final-Recipient: rfc822; w@ok.test\\r\\nAction: relayed\\r\\nStatus: 2.0.0"));
	assert_non_null(strstr(ok, "Final-Recipient: rfc822; q2@stall.test\\r\\nAction: delayed\\r\\n"));
	{
		const char *p1 = strstr(ok, "Action: delayed");
		assert_null(p1 ? strstr(p1 + 1, "Action: delayed") : NULL);	/* once */
	}
	/* SMTPUTF8 needed, the server offers it: delivered */
	assert_true(event_has(log, "delivered", "u@ok.test", NULL));
	free(ok);
	free(oklog);
	free(log);
	free(err);
	config_free(&cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_delivery),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
