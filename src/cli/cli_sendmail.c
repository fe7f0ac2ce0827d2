/* cli_sendmail: `hermod sendmail [-t] [-i] [-f SENDER] [RCPT...]`, the
 * sendmail-compatible entry for cron, PHP mail() and scripts: the message on
 * stdin is handed to the running daemon.
 *
 * Why SMTP to submission.listen rather than an HTTP endpoint for raw
 * messages: the submission server already owns every rule for a message
 * that arrives whole (From: on the account's domains, Received:, Message-ID
 * and Date when missing, line-length and smuggling checks, the spool's
 * group commit), so the message reaches the spool exactly as over SMTP and
 * no second raw-message surface needs securing. Like Postfix's sendmail,
 * which needs no password because postdrop is local, this needs none when
 * the client is in submission.trusted_networks (e.g. 127.0.0.0/8 with
 * trusted_account set); otherwise $HERMOD_KEY is used for AUTH PLAIN
 * (user "apikey") after STARTTLS, verified against the daemon's certificate
 * (submission.tls_cert, or the self-signed data_dir/tls/cert.pem).
 *
 * Exit codes follow sysexits(3), as sendmail's do: 64 usage, 65 bad message,
 * 69 daemon unreachable, 75 temporary failure, 77 refused. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "mime/mime_rcpt.h"
#include "smtp/smtp_parse.h"
#include "util/buf.h"
#include "util/config.h"
#include "util/xalloc.h"

#define EX_USAGE	64
#define EX_DATAERR	65
#define EX_UNAVAILABLE	69
#define EX_TEMPFAIL	75
#define EX_NOPERM	77

struct upload {
	const char	*p;
	size_t		 left;
};

static size_t
on_read(char *dst, size_t size, size_t n, void *arg)
{
	struct upload *u = arg;
	size_t k = size * n < u->left ? size * n : u->left;

	memcpy(dst, u->p, k);
	u->p += k;
	u->left -= k;
	return k;
}

/* on_debug() keeps the server's last 4xx/5xx reply line, so a refusal can
 * be shown as the server worded it ("550 5.7.1 ..."), not as libcurl's
 * summary. */
static int
on_debug(CURL *c, curl_infotype type, char *data, size_t size, void *arg)
{
	struct buf *last = arg;
	size_t n = size;

	(void)c;
	if (type != CURLINFO_HEADER_IN)
		return 0;
	while (n > 0 && (data[n - 1] == '\n' || data[n - 1] == '\r'))
		n--;
	if (n >= 3 && (data[0] == '4' || data[0] == '5')) {
		buf_reset(last);
		buf_append(last, data, n > 300 ? 300 : n);
	}
	return 0;
}

/* read_message() reads stdin with every line end made CRLF; without -i a
 * line holding a single "." ends the message, as in sendmail. */
static int
read_message(struct buf *out, int dot_ends, uint64_t max)
{
	struct buf line = { 0 };
	int c, prev_cr = 0, rc = 0;

	for (;;) {
		c = getchar();
		if (c == EOF || c == '\n' || c == '\r') {
			if (c == '\n' && prev_cr) {	/* the LF of a CRLF */
				prev_cr = 0;
				continue;
			}
			prev_cr = c == '\r';
			if (c == EOF && line.len == 0)
				break;
			if (dot_ends && line.len == 1 && line.data[0] == '.')
				break;
			buf_append(out, line.data, line.len);
			buf_puts(out, "\r\n");
			buf_reset(&line);
			if (out->len > max) {
				rc = -1;
				break;
			}
			if (c == EOF)
				break;
			continue;
		}
		prev_cr = 0;
		buf_putc(&line, (char)c);
		if (line.len > max) {
			rc = -1;
			break;
		}
	}
	buf_free(&line);
	return rc;
}

/* smtp_url() is the submission listener as an smtp:// URL; wildcard
 * addresses are reached on loopback. */
static char *
smtp_url(const struct config *cfg)
{
	const char *l = cfg->sub_listen, *colon = strrchr(l, ':');

	if (colon == NULL)
		return xasprintf("smtp://%s", l);
	if (strncmp(l, "*:", 2) == 0 || strncmp(l, "0.0.0.0:", 8) == 0)
		return xasprintf("smtp://127.0.0.1%s", colon);
	if (strncmp(l, "[::]:", 5) == 0)
		return xasprintf("smtp://[::1]%s", colon);
	return xasprintf("smtp://%s", l);
}

static int
add_rcpt(struct curl_slist **list, const char *addr)
{
	char *a;

	if (smtp_mailbox_valid(addr, strlen(addr), 1) == 0)
		return -1;
	a = xasprintf("<%s>", addr);
	*list = curl_slist_append(*list, a);
	free(a);
	return 0;
}

int
cli_sendmail(struct config *cfg, int argc, char **argv)
{
	const char *sender = NULL, *key = getenv("HERMOD_KEY"), *why = NULL;
	int extract = 0, dot_ends = 1, i, rc = EX_TEMPFAIL;
	struct buf msg = { 0 }, out = { 0 }, last = { 0 };
	struct mime_rcpt hdr = { 0 };
	struct curl_slist *rcpts = NULL;
	char *bad = NULL, *url = NULL, *ca = NULL, *from_line = NULL, *mail_from = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	size_t nrcpt = 0, off, b;
	struct upload up;
	CURL *c = NULL;
	CURLcode cc;

	/* Options as sendmail takes them; -o and -F are accepted and ignored. */
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (strcmp(a, "-t") == 0) {
			extract = 1;
		} else if (strcmp(a, "-i") == 0 || strcmp(a, "-oi") == 0) {
			dot_ends = 0;
		} else if (strncmp(a, "-f", 2) == 0 || strncmp(a, "-r", 2) == 0) {
			if (a[2] != '\0')
				sender = a + 2;
			else if (i + 1 < argc)
				sender = argv[++i];
			else
				return cli_error("sendmail: -f needs a sender"), EX_USAGE;
		} else if (strncmp(a, "-F", 2) == 0) {
			if (a[2] == '\0' && i + 1 < argc)
				i++;
		} else if (strncmp(a, "-o", 2) == 0 || strcmp(a, "-bm") == 0 || strcmp(a, "-v") == 0) {
			/* accepted for compatibility */
		} else {
			return cli_error("sendmail: unknown option %s", a), EX_USAGE;
		}
	}
	if (read_message(&msg, dot_ends, cfg->max_message_size + 65536) < 0) {
		cli_error("sendmail: the message is larger than max_message_size");
		rc = EX_DATAERR;
		goto out;
	}
	if (mime_rcpt_scan(msg.data ? msg.data : "", msg.len, &hdr, &why, &bad) < 0) {
		cli_error("sendmail: %s%s%s", why, bad ? ": " : "", bad ? bad : "");
		rc = EX_DATAERR;
		goto out;
	}
	for (; i < argc; i++, nrcpt++) {
		if (add_rcpt(&rcpts, argv[i]) < 0) {
			cli_error("sendmail: bad recipient address %s", argv[i]);
			rc = EX_USAGE;
			goto out;
		}
	}
	if (extract)
		for (b = 0; b < hdr.nrcpt; b++, nrcpt++)
			add_rcpt(&rcpts, hdr.rcpt[b]);	/* checked by the scan */
	if (nrcpt == 0) {
		cli_error("sendmail: no recipients (give them as arguments, or -t)");
		rc = EX_USAGE;
		goto out;
	}
	if (sender == NULL)
		sender = hdr.from;
	if (sender == NULL) {
		cli_error("sendmail: no sender (give -f SENDER or a From: header)");
		rc = EX_USAGE;
		goto out;
	}
	if (sender[0] != '\0' && smtp_mailbox_valid(sender, strlen(sender), 1) == 0) {
		cli_error("sendmail: bad sender address %s", sender);
		rc = EX_USAGE;
		goto out;
	}
	/* The message as sent: a From: when it has none, Bcc: fields cut. */
	if (hdr.from == NULL && sender[0] != '\0') {
		from_line = xasprintf("From: <%s>\r\n", sender);
		buf_puts(&out, from_line);
	}
	off = 0;
	for (b = 0; b < hdr.nbcc; b++) {
		buf_append(&out, msg.data + off, hdr.bcc[b].off - off);
		off = hdr.bcc[b].off + hdr.bcc[b].len;
	}
	if (msg.len > off)
		buf_append(&out, msg.data + off, msg.len - off);
	if (hdr.header_end == msg.len && (msg.len < 2 || memcmp(msg.data + msg.len - 2, "\r\n", 2) == 0))
		buf_puts(&out, "\r\n");		/* headers only: add the blank line */

	if ((c = curl_easy_init()) == NULL) {
		cli_error("sendmail: libcurl failed to start");
		goto out;
	}
	url = smtp_url(cfg);
	mail_from = xasprintf("<%s>", sender);
	up.p = out.data;
	up.left = out.len;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_MAIL_FROM, mail_from);
	curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpts);
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(c, CURLOPT_READDATA, &up);
	curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)out.len);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_DEBUGFUNCTION, on_debug);
	curl_easy_setopt(c, CURLOPT_DEBUGDATA, &last);
	curl_easy_setopt(c, CURLOPT_VERBOSE, 1L);	/* feeds on_debug only */
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 300L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	/* The daemon's own certificate is the trust anchor; the name in it is
	 * the server hostname while we dial an address, so only the key is
	 * pinned, not the name. */
	ca = cfg->sub_tls_cert && cfg->sub_tls_cert[0] ? xstrdup(cfg->sub_tls_cert) :
	    xasprintf("%s/tls/cert.pem", cfg->data_dir);
	if (access(ca, R_OK) == 0) {
		curl_easy_setopt(c, CURLOPT_CAINFO, ca);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (key != NULL && key[0] != '\0') {
		curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
		curl_easy_setopt(c, CURLOPT_USERNAME, "apikey");
		curl_easy_setopt(c, CURLOPT_PASSWORD, key);
		curl_easy_setopt(c, CURLOPT_LOGIN_OPTIONS, "AUTH=PLAIN");
	}
	cc = curl_easy_perform(c);
	if (cc == CURLE_OK) {
		rc = 0;
	} else {
		long code = 0;
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
		if (code >= 400 && last.len > 0)
			cli_error("sendmail: refused: %s", last.data);
		else
			cli_error("sendmail: %s%s%s", curl_easy_strerror(cc), errbuf[0] ? ": " : "",
			    errbuf);
		rc = cc == CURLE_COULDNT_CONNECT ? EX_UNAVAILABLE :
		    code >= 500 || cc == CURLE_LOGIN_DENIED ? EX_NOPERM : EX_TEMPFAIL;
	}
out:
	if (c)
		curl_easy_cleanup(c);
	curl_slist_free_all(rcpts);
	mime_rcpt_free(&hdr);
	buf_free(&msg);
	buf_free(&out);
	buf_free(&last);
	free(bad);
	free(url);
	free(ca);
	free(from_line);
	free(mail_from);
	return rc;
}
