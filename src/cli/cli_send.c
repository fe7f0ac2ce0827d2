/* cli_send: `hermod send --key KEY --from A --to B... --subject S
 * (--text T|--html H) [--cc C] [--bcc D] [--attach FILE]...`: one message
 * through the running daemon's HTTP API (POST /v1/messages on http.listen),
 * with libcurl. Prints the queue id; on a refusal, the problem's detail and
 * each field error on stderr, exit 1. The key may come from $HERMOD_KEY. */
#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"
#include "util/buf.h"
#include "util/config.h"
#include "util/xalloc.h"

#define SEND_MAX_ATTACH	(50 * 1024 * 1024)

/* http_base() is the base URL of the daemon's API from http.listen:
 * a wildcard address is reached on loopback. Caller frees. */
static char *
http_base(const struct config *cfg)
{
	const char *l = cfg->http_listen, *colon = strrchr(l, ':');

	if (colon == NULL)
		return xasprintf("http://%s", l);
	if (strncmp(l, "*:", 2) == 0 || strncmp(l, "0.0.0.0:", 8) == 0 || l[0] == ':')
		return xasprintf("http://127.0.0.1%s", colon);
	if (strncmp(l, "[::]:", 5) == 0)
		return xasprintf("http://[::1]%s", colon);
	return xasprintf("http://%s", l);
}

static const char *
guess_type(const char *path)
{
	static const struct { const char *ext, *type; } t[] = {
		{ ".pdf", "application/pdf" }, { ".png", "image/png" }, { ".jpg", "image/jpeg" },
		{ ".jpeg", "image/jpeg" }, { ".gif", "image/gif" }, { ".txt", "text/plain" },
		{ ".html", "text/html" }, { ".csv", "text/csv" }, { ".json", "application/json" },
		{ ".zip", "application/zip" }, { ".ics", "text/calendar" }, { NULL, NULL },
	};
	const char *dot = strrchr(path, '.');
	size_t i;

	for (i = 0; dot && t[i].ext; i++)
		if (strcasecmp(dot, t[i].ext) == 0)
			return t[i].type;
	return "application/octet-stream";
}

static int
attach(json_t *list, const char *path)
{
	FILE *f = fopen(path, "rb");
	struct buf b = { 0 };
	char tmp[65536], *b64;
	size_t n, blen;
	const char *base = strrchr(path, '/');

	if (f == NULL)
		return cli_error("send: %s: cannot open", path);
	while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) {
		buf_append(&b, tmp, n);
		if (b.len > SEND_MAX_ATTACH) {
			fclose(f);
			buf_free(&b);
			return cli_error("send: %s: larger than 50 MB", path);
		}
	}
	fclose(f);
	blen = sodium_base64_encoded_len(b.len, sodium_base64_VARIANT_ORIGINAL);
	b64 = xmalloc(blen);
	sodium_bin2base64(b64, blen, (const unsigned char *)(b.data ? b.data : ""), b.len,
	    sodium_base64_VARIANT_ORIGINAL);
	json_array_append_new(list, json_pack("{s:s, s:s, s:s}", "filename", base ? base + 1 : path,
	    "content_type", guess_type(path), "content", b64));
	free(b64);
	buf_free(&b);
	return 0;
}

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	buf_append(arg, p, size * n);
	return size * n;
}

/* print_problem() writes a problem document's detail and field errors. */
static void
print_problem(long code, const char *body)
{
	json_error_t jerr;
	json_t *p = json_loads(body, 0, &jerr), *e;
	size_t i;

	if (p == NULL) {
		cli_error("send: HTTP %ld", code);
		return;
	}
	cli_error("send: %ld %s%s%s", code, json_string_value(json_object_get(p, "title")) ?: "",
	    json_is_string(json_object_get(p, "detail")) ? ": " : "",
	    json_string_value(json_object_get(p, "detail")) ?: "");
	json_array_foreach(json_object_get(p, "errors"), i, e)
		fprintf(stderr, "  %s: %s\n", json_string_value(json_object_get(e, "field")) ?: "",
		    json_string_value(json_object_get(e, "message")) ?: "");
	json_decref(p);
}

int
cli_send(struct config *cfg, int argc, char **argv)
{
	const char *key = getenv("HERMOD_KEY"), *from = NULL, *subject = NULL, *text = NULL;
	const char *html = NULL;
	json_t *msg = json_object(), *to = json_array(), *cc = json_array(), *bcc = json_array();
	json_t *att = json_array(), *list = NULL;
	int i, rc = 1, json_out = 0;
	char *body = NULL, *url = NULL, *auth = NULL;
	CURL *c = NULL;
	struct curl_slist *hdrs = NULL;
	struct buf resp = { 0 };
	long code = 0;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		int more = i + 1 < argc;
		if (strcmp(a, "--json") == 0) {
			json_out = 1;
			continue;
		}
		if (!more) {
			cli_error("send: %s needs a value", a);
			goto out;
		}
		if (strcmp(a, "--key") == 0)
			key = argv[++i];
		else if (strcmp(a, "--from") == 0)
			from = argv[++i];
		else if (strcmp(a, "--to") == 0 || strcmp(a, "--cc") == 0 || strcmp(a, "--bcc") == 0) {
			list = a[2] == 't' ? to : a[2] == 'c' ? cc : bcc;
			/* "--to a b c": every following word that is not an option */
			while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0)
				json_array_append_new(list, json_string(argv[++i]));
		} else if (strcmp(a, "--subject") == 0)
			subject = argv[++i];
		else if (strcmp(a, "--text") == 0)
			text = argv[++i];
		else if (strcmp(a, "--html") == 0)
			html = argv[++i];
		else if (strcmp(a, "--attach") == 0) {
			if (attach(att, argv[++i]) != 0)
				goto out;
		} else {
			cli_error("send: unknown option %s", a);
			goto out;
		}
	}
	if (key == NULL || from == NULL || json_array_size(to) + json_array_size(cc) +
	    json_array_size(bcc) == 0 || (text == NULL && html == NULL)) {
		cli_error("usage: hermod send --key KEY --from A --to B... --subject S "
		    "(--text T|--html H) [--attach FILE]");
		goto out;
	}
	json_object_set_new(msg, "from", json_string(from));
	json_object_set(msg, "to", to);
	if (json_array_size(cc))
		json_object_set(msg, "cc", cc);
	if (json_array_size(bcc))
		json_object_set(msg, "bcc", bcc);
	if (subject)
		json_object_set_new(msg, "subject", json_string(subject));
	if (text)
		json_object_set_new(msg, "text", json_string(text));
	if (html)
		json_object_set_new(msg, "html", json_string(html));
	if (json_array_size(att))
		json_object_set(msg, "attachments", att);
	if (json_object_get(msg, "from") == NULL || (subject && !json_object_get(msg, "subject")) ||
	    (text && !json_object_get(msg, "text")) || (html && !json_object_get(msg, "html"))) {
		cli_error("send: arguments must be valid UTF-8");
		goto out;
	}
	body = json_dumps(msg, JSON_COMPACT);
	{
		char *base = http_base(cfg);
		url = xasprintf("%s/v1/messages", base);
		free(base);
	}
	auth = xasprintf("Authorization: Bearer %s", key);
	if ((c = curl_easy_init()) == NULL) {
		cli_error("send: libcurl failed to start");
		goto out;
	}
	hdrs = curl_slist_append(hdrs, auth);
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	hdrs = curl_slist_append(hdrs, "Expect:");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (curl_easy_perform(c) != CURLE_OK) {
		cli_error("send: cannot reach the daemon at %s (is hermod serve running?)", url);
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	if (code != 202) {
		print_problem(code, resp.data ? resp.data : "");
		goto out;
	}
	if (json_out) {
		fputs(resp.data, stdout);
	} else {
		json_error_t jerr;
		json_t *r = json_loads(resp.data, 0, &jerr);
		printf("%s\n", r ? json_string_value(json_object_get(r, "id")) ?: "?" : "?");
		json_decref(r);
	}
	rc = 0;
out:
	if (auth != NULL)
		sodium_memzero(auth, strlen(auth));
	free(auth);
	free(url);
	free(body);
	buf_free(&resp);
	curl_slist_free_all(hdrs);
	if (c)
		curl_easy_cleanup(c);
	json_decref(msg);
	json_decref(to);
	json_decref(cc);
	json_decref(bcc);
	json_decref(att);
	return rc;
}
