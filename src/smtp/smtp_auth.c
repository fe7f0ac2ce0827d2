/* smtp_auth: SMTP AUTH for submission (RFC 4954): PLAIN and LOGIN, after
 * TLS only. The password is an API key of scope send (or admin); the user
 * name is the key's account name or the literal "apikey". Keys are verified
 * on the thread pool (SQLite), failures are counted per client address by
 * the server, and no secret is ever logged or kept longer than the check. */
#include "smtp/smtp_session_int.h"
#include "smtp/smtp_server.h"
#include "net/io.h"
#include "store/store.h"
#include "util/config.h"
#include "util/log.h"
#include "util/xalloc.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void
auth_done(struct smtp_session *s, struct lookup *lk)
{
	int scope_ok = lk->scope && (!strcmp(lk->scope, "send") || !strcmp(lk->scope, "admin"));
	int user_ok = s->auth_user == NULL || s->auth_user[0] == '\0' ||
	    !strcmp(s->auth_user, "apikey") || (lk->account && !strcmp(s->auth_user, lk->account));

	free(s->auth_user);
	s->auth_user = NULL;
	if (lk->rc != 0 || !scope_ok || !user_ok) {
		if (lk->rc < 0)
			log_warn("smtp.session", "key verification failed: %s", lk->err ? lk->err : "?");
		/* Counted per client address; the next AUTH past the limit gets 421. */
		smtp_server_auth_failed(s->lc->server, s->ip);
		smtp_session_error(s, "535 5.7.8 Error: authentication failed");
		return;
	}
	free(s->account);
	s->account = xstrdup(lk->account);
	store_strv_free(s->domains);
	s->domains = lk->domains;
	lk->domains = NULL;
	s->authenticated = 1;
	smtp_session_reply(s, "235 2.7.0 Authentication successful");
}

/* auth_check() verifies a password (an API key) off the loop. */
static void
auth_check(struct smtp_session *s, const char *user, const char *pass)
{
	struct lookup *lk = xcalloc(1, sizeof(*lk));

	free(s->auth_user);
	s->auth_user = xstrdup(user);
	lk->secret = xstrdup(pass);
	lk->done = auth_done;
	smtp_session_lookup(s, lk);
}

/* b64_decode() decodes standard base64; returns the length or -1. */
static long
b64_decode(const char *in, unsigned char *out, size_t outmax)
{
	size_t n = 0;

	if (sodium_base642bin(out, outmax, in, strlen(in), NULL, &n, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0)
		return -1;
	return (long)n;
}

static void
auth_plain(struct smtp_session *s, const char *b64)
{
	unsigned char dec[1024];
	long n = b64_decode(b64, dec, sizeof(dec) - 1);
	const char *authz, *user, *pass;

	if (n < 0) {
		smtp_session_error(s, "501 5.5.2 Error: invalid base64 in AUTH");
		return;
	}
	dec[n] = '\0';
	/* authzid NUL authcid NUL passwd */
	authz = (const char *)dec;
	user = memchr(dec, '\0', (size_t)n);
	if (user == NULL || (pass = memchr(user + 1, '\0', (size_t)n - (size_t)(user + 1 - authz))) == NULL) {
		smtp_session_error(s, "501 5.5.2 Error: malformed AUTH PLAIN");
		return;
	}
	user++;
	pass++;
	if (authz[0] && strcmp(authz, user) != 0) {
		smtp_session_error(s, "535 5.7.8 Error: authorization identity not allowed");
		return;
	}
	auth_check(s, user, pass);
	sodium_memzero(dec, sizeof(dec));
}

/* login_user() takes the base64 user name of AUTH LOGIN (initial response
 * or continuation) and asks for the password. */
static void
login_user(struct smtp_session *s, const char *b64)
{
	unsigned char dec[512];
	long n = b64_decode(b64, dec, sizeof(dec) - 1);

	if (n < 0) {
		smtp_session_error(s, "501 5.5.2 Error: invalid base64 in AUTH");
		return;
	}
	dec[n] = '\0';
	free(s->auth_user);
	s->auth_user = xstrdup((char *)dec);
	s->auth_step = AUTH_LOGIN_PASS;
	s->state = S_AUTH;
	smtp_session_reply(s, "334 UGFzc3dvcmQ6");
}

void
smtp_auth_cmd(struct smtp_session *s, struct smtp_cmd *c)
{
	char mech[32], init[1024];
	const char *arg = c->arg ? c->arg : "";
	const char *sp;

	if (s->lc->inbound != NULL) {
		/* the inbound listener takes reports, never submissions */
		smtp_session_error(s, "502 5.5.1 Error: AUTH not available here");
		return;
	}
	if (!io_tls_active(s->io)) {
		smtp_session_error(s, "538 5.7.11 Encryption required for requested authentication mechanism");
		return;
	}
	if (s->authenticated) {
		smtp_session_error(s, "503 5.5.1 Error: already authenticated");
		return;
	}
	if (!s->esmtp) {
		smtp_session_error(s, "503 5.5.1 Error: send EHLO first");
		return;
	}
	if (smtp_server_auth_blocked(s->lc->server, s->ip)) {
		smtp_session_reply(s, "421 4.7.0 %s Error: too many authentication failures", s->cfg->hostname);
		smtp_session_close(s, "auth-limit");
		return;
	}
	sp = strchr(arg, ' ');
	if ((sp ? (size_t)(sp - arg) : strlen(arg)) >= sizeof(mech) || strlen(arg) >= sizeof(init) + sizeof(mech)) {
		smtp_session_error(s, "501 5.5.4 Syntax: AUTH mechanism");
		return;
	}
	snprintf(mech, sizeof(mech), "%.*s", sp ? (int)(sp - arg) : (int)strlen(arg), arg);
	snprintf(init, sizeof(init), "%s", sp ? sp + 1 : "");
	if (!strcasecmp(mech, "PLAIN")) {
		if (init[0] == '\0') {
			s->auth_step = AUTH_PLAIN_WAIT;
			s->state = S_AUTH;
			smtp_session_reply(s, "334 ");
		} else if (!strcmp(init, "=")) {
			smtp_session_error(s, "535 5.7.8 Error: authentication failed");
		} else
			auth_plain(s, init);
	} else if (!strcasecmp(mech, "LOGIN")) {
		if (init[0] == '\0') {
			s->auth_step = AUTH_LOGIN_USER;
			s->state = S_AUTH;
			smtp_session_reply(s, "334 VXNlcm5hbWU6");
		} else
			login_user(s, init);
	} else
		smtp_session_error(s, "504 5.5.4 Error: unsupported authentication mechanism");
}

/* smtp_auth_line() handles a continuation line of AUTH PLAIN or LOGIN. */
void
smtp_auth_line(struct smtp_session *s, char *line)
{
	enum auth_step step = s->auth_step;

	s->auth_step = AUTH_NONE;
	s->state = S_READY;
	if (!strcmp(line, "*")) {
		smtp_session_error(s, "501 5.7.0 Authentication aborted");
		return;
	}
	if (step == AUTH_PLAIN_WAIT) {
		auth_plain(s, line);
	} else if (step == AUTH_LOGIN_USER) {
		login_user(s, line);
	} else if (step == AUTH_LOGIN_PASS) {
		unsigned char dec[1024];
		long n = b64_decode(line, dec, sizeof(dec) - 1);
		char *user;
		if (n < 0) {
			smtp_session_error(s, "501 5.5.2 Error: invalid base64 in AUTH");
			return;
		}
		dec[n] = '\0';
		user = s->auth_user ? xstrdup(s->auth_user) : xstrdup("");
		auth_check(s, user, (char *)dec);
		free(user);
		sodium_memzero(dec, sizeof(dec));
	}
}

