/* mime_rcpt: header scanning and address lists for `sendmail -t` (see
 * mime_rcpt.h). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mime/mime_addr.h"
#include "mime/mime_header.h"
#include "mime/mime_rcpt.h"
#include "smtp/smtp_parse.h"
#include "util/buf.h"
#include "util/xalloc.h"

int
mime_addr_list_each(const char *s, size_t n, int (*fn)(const char *addr, void *arg),
    void *arg, char **bad)
{
	struct mime_addr_list l;
	const char *why;
	size_t i;

	*bad = NULL;
	if (mime_addr_parse(s, n, 1, &l, &why) < 0) {
		*bad = xstrndup(s, n > 200 ? 200 : n);
		return -1;
	}
	for (i = 0; i < l.n; i++) {
		if (fn(l.v[i].addr, arg) != 0) {
			*bad = xstrdup(l.v[i].addr);
			mime_addr_list_free(&l);
			return -1;
		}
	}
	mime_addr_list_free(&l);
	return 0;
}

struct collect {
	struct mime_rcpt *r;
	int		 from;
};

static int
collect(const char *addr, void *arg)
{
	struct collect *c = arg;
	struct mime_rcpt *r = c->r;
	size_t i;

	if (c->from) {
		if (r->from == NULL)
			r->from = xstrdup(addr);
		return 0;
	}
	for (i = 0; i < r->nrcpt; i++)
		if (strcasecmp(r->rcpt[i], addr) == 0)
			return 0;
	if (r->nrcpt >= MIME_RCPT_MAX)
		return -1;
	r->rcpt = xrealloc(r->rcpt, (r->nrcpt + 2) * sizeof *r->rcpt);
	r->rcpt[r->nrcpt++] = xstrdup(addr);
	r->rcpt[r->nrcpt] = NULL;
	return 0;
}

int
mime_rcpt_scan(const char *msg, size_t len, struct mime_rcpt *out, const char **why, char **bad)
{
	size_t pos = 0, start;
	struct mime_field f;

	memset(out, 0, sizeof *out);
	*bad = NULL;
	*why = NULL;
	/* An mbox "From " line some programs write first is not a header. */
	if (len >= 5 && memcmp(msg, "From ", 5) == 0) {
		const char *lf = memchr(msg, '\n', len);
		pos = lf ? (size_t)(lf - msg) + 1 : len;
	}
	for (;;) {
		struct buf val = { 0 };
		if (pos > MIME_RCPT_HEADER_MAX) {
			*why = "header section too large";
			return -1;
		}
		start = pos;
		if (mime_header_next(msg, len, &pos, &f) == 0)
			break;
		if (f.malformed) {
			*why = "a malformed header line";
			return -1;
		}
#define IS(nm) (f.namelen == sizeof(nm) - 1 && strncasecmp(f.name, nm, f.namelen) == 0)
		if (IS("To") || IS("Cc") || IS("Bcc") || IS("From")) {
			struct collect c = { out, IS("From") };
			mime_header_unfold(f.value, f.valuelen, &val);
			if (mime_addr_list_each(val.data ? val.data : "", val.len, collect, &c, bad) < 0) {
				*why = IS("From") ? "a bad From: address" : "a bad recipient address";
				buf_free(&val);
				return -1;
			}
			if (IS("Bcc")) {
				out->bcc = xrealloc(out->bcc, (out->nbcc + 1) * sizeof *out->bcc);
				out->bcc[out->nbcc].off = start;
				out->bcc[out->nbcc++].len = pos - start;
			}
		} else if (IS("Date")) {
			out->has_date = 1;
		} else if (IS("Message-ID")) {
			out->has_message_id = 1;
		}
#undef IS
		buf_free(&val);
	}
	out->header_end = pos;
	return 0;
}

void
mime_rcpt_free(struct mime_rcpt *r)
{
	size_t i;

	for (i = 0; i < r->nrcpt; i++)
		free(r->rcpt[i]);
	free(r->rcpt);
	free(r->from);
	free(r->bcc);
	memset(r, 0, sizeof *r);
}
