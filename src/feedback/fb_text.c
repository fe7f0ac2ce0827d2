/* fb_text: the bounces that come without a delivery-status part, read from
 * their wording. Each reader knows one mail system's text: Exim, qmail (and
 * Yahoo, whose bounces are qmail's), Postfix's notification part alone, and
 * the texts Gmail and Outlook/Office 365 write. A reader answers only when
 * its system's own sentences are there and it finds a recipient, so mail
 * that merely talks about bounces is not taken for one. Phrases are matched
 * with memmem (linear) and exact case, as the systems write them. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "feedback/fb_int.h"
#include "util/xalloc.h"

struct text {
	const char	*s;
	size_t		 n;
};

static const char *
find(const struct text *t, size_t from, const char *needle)
{
	if (from >= t->n)
		return NULL;
	return memmem(t->s + from, t->n - from, needle, strlen(needle));
}

/* after() is the offset just past needle, or 0 when it is not there. */
static size_t
after(const struct text *t, const char *needle)
{
	const char *p = find(t, 0, needle);

	return p ? (size_t)(p - t->s) + strlen(needle) : 0;
}

/* next_line() yields the line at *pos (without its LF); 0 at the end. */
static int
next_line(const struct text *t, size_t *pos, const char **l, size_t *ll)
{
	const char *lf;

	if (*pos >= t->n)
		return 0;
	*l = t->s + *pos;
	lf = memchr(*l, '\n', t->n - *pos);
	*ll = lf ? (size_t)(lf - *l) : t->n - *pos;
	*pos += *ll + (lf != NULL);
	return 1;
}

static int
blank(const char *l, size_t ll)
{
	for (size_t i = 0; i < ll; i++)
		if (!isspace((unsigned char)l[i]))
			return 0;
	return 1;
}

static size_t
indent(const char *l, size_t ll)
{
	size_t i = 0;

	while (i < ll && (l[i] == ' ' || l[i] == '\t'))
		i++;
	return i;
}

/* addr_char() says whether c may be part of an address word. An '@' is not:
 * the scan around each '@' then stops at the next one, which keeps
 * addr_token() linear in the line however many '@' it holds. */
static int
addr_char(char c)
{
	return !(isspace((unsigned char)c) || c == '<' || c == '>' || c == '(' || c == ')' ||
	    c == ',' || c == ';' || c == '"' || c == '\'' || c == '[' || c == ']' || c == ':' ||
	    c == '@');
}

/* addr_token() finds the first word with an '@' in the line and returns it
 * as an address (trailing dots dropped), or NULL. */
static char *
addr_token(const char *l, size_t ll)
{
	const char *at = memchr(l, '@', ll);
	size_t a, b;

	while (at != NULL) {
		a = (size_t)(at - l);
		b = a + 1;
		while (a > 0 && addr_char(l[a - 1]))
			a--;
		while (b < ll && addr_char(l[b]))
			b++;
		while (b > a && l[b - 1] == '.')
			b--;
		if (at - l > (long)a && b > (size_t)(at - l) + 1)
			return fb_addr(l + a, b - a);
		at = memchr(at + 1, '@', ll - (size_t)(at + 1 - l));
	}
	return NULL;
}

/* lone_addr() says whether the line holds nothing but one address (maybe in
 * angle brackets, maybe with a "<mailto:...>" after it, maybe a colon). */
static int
lone_addr(const char *l, size_t ll)
{
	size_t i;
	int words = 0, in = 0, at = 0;

	l = fb_trim(l, &ll);
	for (i = 0; i < ll; i++) {
		if (isspace((unsigned char)l[i])) {
			in = 0;
		} else if (!in) {
			in = 1;
			words++;
		}
		if (l[i] == '@')
			at = 1;
	}
	return at && words == 1;
}

/* A reply's lines joined: "550-5.1.1 a" "550 5.1.1 b" become
 * "550 5.1.1 a b", the repeated code dropped from the later lines. */
struct diag {
	struct buf	 b;
	char		 prefix[24];	/* the code and status of the first line */
	size_t		 plen;
};

static void
diag_line(struct diag *d, const char *l, size_t ll)
{
	l = fb_trim(l, &ll);
	if (ll == 0 || d->b.len > FB_FIELD_MAX)
		return;
	if (ll >= 4 && isdigit((unsigned char)l[0]) && isdigit((unsigned char)l[1]) &&
	    isdigit((unsigned char)l[2]) && (l[3] == '-' || l[3] == ' ')) {
		char st[16];
		size_t e = 4 + fb_enhanced(l + 4, ll - 4, st);

		if (d->plen == 0 || d->b.len == 0) {
			if (e < sizeof(d->prefix)) {
				memcpy(d->prefix, l, 3);
				memcpy(d->prefix + 3, l + 3, e - 3);
				d->plen = e;
			}
		} else if (e == d->plen && memcmp(l, d->prefix, 3) == 0 &&
		    memcmp(l + 4, d->prefix + 4, e - 4) == 0) {
			l += e;
			ll -= e;
			l = fb_trim(l, &ll);
		}
	}
	if (d->b.len)
		buf_putc(&d->b, ' ');
	fb_unfold(l, ll, &d->b);
}

/* rcpt_diag() fills code, status, diagnostic (from the reply on) and the
 * remote host ("host mx.example.org[192.0.2.1]") from a joined text. */
static void
rcpt_diag(struct fb_rcpt *rc, struct diag *d)
{
	const char *s = d->b.data, *h;
	size_t n = d->b.len, at;

	if (n == 0) {
		buf_free(&d->b);
		memset(d, 0, sizeof(*d));
		return;
	}
	at = fb_smtp_scan(s, n, &rc->smtp_code, rc->status);
	if (rc->smtp_code == 0)
		at = 0;
	/* "550-5.1.1" opening a multi-line reply: its joined form. */
	else if (at + 3 < n && s[at + 3] == '-')
		d->b.data[at + 3] = ' ';
	while (n > at && (s[n - 1] == '\'' || s[n - 1] == ' '))
		n--;
	if (n > at) {
		free(rc->diagnostic);
		rc->diagnostic = xstrndup(s + at, n - at);
	}
	if (rc->remote_mta == NULL && (h = memmem(s, d->b.len, "host ", 5)) != NULL &&
	    (h == s || !isalnum((unsigned char)h[-1]))) {
		size_t k = 0, off = (size_t)(h + 5 - s);

		while (off + k < d->b.len && !isspace((unsigned char)s[off + k]) && s[off + k] != '[' &&
		    s[off + k] != ':' && s[off + k] != ',')
			k++;
		if (k > 0 && memchr(s + off, '.', k) != NULL)
			rc->remote_mta = xstrndup(s + off, k);
	}
	buf_free(&d->b);
	memset(d, 0, sizeof(*d));
}

/* rcpt_new() adds the recipient addr (taken over; NULL is no address) or
 * finds it among those already read; NULL when there is none to add. */
static struct fb_rcpt *
rcpt_new(struct fb_report *r, char *addr, const char *action)
{
	struct fb_rcpt *rc;

	if (addr == NULL)
		return NULL;
	for (size_t i = 0; i < r->nrcpt; i++)
		if (strcmp(r->rcpts[i].recipient, addr) == 0) {
			free(addr);
			return &r->rcpts[i];
		}
	if ((rc = fb_rcpt_add(r)) == NULL) {
		free(addr);
		return NULL;
	}
	rc->recipient = addr;
	rc->action = xstrdup(action);
	return rc;
}

/* word_after() copies the word that follows needle (a host name), without
 * trailing dots or colons. */
static char *
word_after(const struct text *t, const char *needle)
{
	size_t p = after(t, needle), k = 0;

	if (p == 0)
		return NULL;
	while (p < t->n && (t->s[p] == ' ' || t->s[p] == '\t'))
		p++;
	while (p + k < t->n && !isspace((unsigned char)t->s[p + k]))
		k++;
	while (k > 0 && (t->s[p + k - 1] == '.' || t->s[p + k - 1] == ':' || t->s[p + k - 1] == ','))
		k--;
	return k ? xstrndup(t->s + p, k) : NULL;
}

/* orig_after() points *orig past the line that holds marker. */
static void
orig_after(const struct text *t, const char *marker, const char **orig, size_t *origlen)
{
	const char *m = find(t, 0, marker), *lf;

	if (m == NULL || *orig != NULL)
		return;
	lf = memchr(m, '\n', t->n - (size_t)(m - t->s));
	if (lf == NULL)
		return;
	*orig = lf + 1;
	*origlen = t->n - (size_t)(lf + 1 - t->s);
}

/* Exim: "This message was created automatically by mail delivery software."
 * then each address indented two spaces, its reasons indented four. */
static int
read_exim(const struct text *t, struct fb_report *r, const char **orig, size_t *origlen)
{
	size_t pos = after(t, "This message was created automatically by mail delivery software");
	const char *action = "failed", *l;
	struct fb_rcpt *rc = NULL;
	struct diag d = { 0 };
	size_t ll;

	if (pos == 0)
		return -1;
	if (find(t, 0, "has not yet been delivered to one or more of its") != NULL)
		action = "delayed";
	while (next_line(t, &pos, &l, &ll)) {
		size_t in = indent(l, ll);

		if (ll >= 6 && memcmp(l, "------", 6) == 0)
			break;	/* the copy of the message */
		if (blank(l, ll))
			continue;
		if (in >= 1 && in <= 3 && lone_addr(l, ll)) {
			if (rc != NULL)
				rcpt_diag(rc, &d);
			rc = rcpt_new(r, addr_token(l, ll), action);
			continue;
		}
		if (in >= 4 && rc != NULL) {
			diag_line(&d, l, ll);
			continue;
		}
		if (rc != NULL) {
			rcpt_diag(rc, &d);
			rc = NULL;
		}
	}
	if (rc != NULL)
		rcpt_diag(rc, &d);
	buf_free(&d.b);
	orig_after(t, "------ This is a copy of the message", orig, origlen);
	r->format = "exim";
	return r->nrcpt ? 0 : -1;
}

/* angle_blocks() reads the "<addr>: reason" paragraphs of qmail, Yahoo and
 * Postfix, from offset pos: an address in angle brackets at the start of a
 * line (Postfix may add "(expanded from <x>)"), a colon, then the reason on
 * that line and the following ones up to a blank line. */
static void
angle_blocks(const struct text *t, size_t pos, const char *stop, struct fb_report *r,
    const char *action)
{
	struct fb_rcpt *rc = NULL;
	struct diag d = { 0 };
	const char *l;
	size_t ll;

	while (next_line(t, &pos, &l, &ll)) {
		const char *gt, *colon;

		if (stop != NULL && ll >= strlen(stop) && memcmp(l, stop, strlen(stop)) == 0)
			break;
		if (blank(l, ll)) {
			if (rc != NULL)
				rcpt_diag(rc, &d);
			rc = NULL;
			continue;
		}
		if (l[0] == '<' && (gt = memchr(l, '>', ll)) != NULL && memchr(l, '@', (size_t)(gt - l)) &&
		    (colon = memchr(gt, ':', ll - (size_t)(gt - l))) != NULL) {
			if (rc != NULL)
				rcpt_diag(rc, &d);
			rc = rcpt_new(r, fb_addr(l, (size_t)(gt - l) + 1), action);
			if (rc != NULL)
				diag_line(&d, colon + 1, ll - (size_t)(colon + 1 - l));
			continue;
		}
		if (rc != NULL)
			diag_line(&d, l, ll);
	}
	if (rc != NULL)
		rcpt_diag(rc, &d);
	buf_free(&d.b);
}

/* qmail: "Hi. This is the qmail-send program at HOST."; Yahoo writes the
 * same layout under "Sorry, we were unable to deliver your message". */
static int
read_qmail(const struct text *t, struct fb_report *r, const char **orig, size_t *origlen)
{
	size_t pos;

	if ((pos = after(t, "This is the qmail-send program at")) != 0) {
		r->format = "qmail";
		r->reporting_mta = word_after(t, "This is the qmail-send program at");
	} else if ((pos = after(t, "Sorry, we were unable to deliver your message to the following address")) != 0) {
		r->format = "yahoo";
	} else {
		return -1;
	}
	angle_blocks(t, pos, "--- ", r, "failed");
	orig_after(t, "--- Below this line is a copy of the message", orig, origlen);
	orig_after(t, "--- Enclosed are the original headers of the message", orig, origlen);
	return r->nrcpt ? 0 : -1;
}

/* Postfix's notification text without its delivery-status part (a
 * forwarded or reduced bounce): "This is the mail system at host HOST." */
static int
read_postfix(const struct text *t, struct fb_report *r)
{
	size_t pos = after(t, "This is the mail system at host ");

	if (pos == 0)
		return -1;
	r->format = "postfix-text";
	r->reporting_mta = word_after(t, "This is the mail system at host ");
	angle_blocks(t, pos, NULL, r, find(t, 0, "THIS IS A WARNING ONLY") ? "delayed" : "failed");
	return r->nrcpt ? 0 : -1;
}

/* diag_after() joins into d what follows marker: the rest of its line
 * ("The response was: 550 ...") and the lines after, up to a blank line
 * (blank lines right after the marker skipped). */
static int
diag_after(const struct text *t, const char *marker, struct diag *d)
{
	const char *m = find(t, 0, marker), *l;
	size_t pos, ll;
	int started = 0;

	if (m == NULL)
		return 0;
	pos = (size_t)(m - t->s) + strlen(marker);
	while (next_line(t, &pos, &l, &ll)) {
		if (blank(l, ll)) {
			if (started)
				break;
			continue;
		}
		started = 1;
		diag_line(d, l, ll);
	}
	return started;
}

/* Gmail: "** Address not found **", "Your message wasn't delivered to X
 * because ...", or the older "Delivery to the following recipient failed
 * permanently:" with the addresses indented below; the server's answer
 * after "The response from the remote server was:" (or older wordings). */
static int
read_gmail(const struct text *t, const char *subject, struct fb_report *r)
{
	static const char *const answers[] = {
		"The response from the remote server was:",
		"The error that the other server returned was:",
		"The response was:",
	};
	const char *action = "failed", *l;
	struct diag d = { 0 };
	size_t pos, ll, i, first;
	char *a;

	if (find(t, 0, "** Address not found **") == NULL &&
	    find(t, 0, "Your message wasn't delivered to ") == NULL &&
	    find(t, 0, "Delivery to the following recipient") == NULL &&
	    find(t, 0, "There was a temporary problem delivering your message to ") == NULL &&
	    find(t, 0, "The email account that you tried to reach does not exist") == NULL)
		return -1;
	if (find(t, 0, "has been delayed") != NULL || find(t, 0, "temporary problem delivering") != NULL ||
	    strstr(subject, "(Delay)") != NULL)
		action = "delayed";
	r->format = "gmail";
	if ((pos = after(t, "Your message wasn't delivered to ")) != 0 ||
	    (pos = after(t, "There was a temporary problem delivering your message to ")) != 0) {
		const char *e = t->s + pos;

		while (e < t->s + t->n && !isspace((unsigned char)*e))
			e++;
		if ((a = addr_token(t->s + pos, (size_t)(e - t->s) - pos)) != NULL)
			rcpt_new(r, a, action);
	}
	if ((pos = after(t, "Delivery to the following recipient")) != 0) {
		/* The rest of that line, then the indented addresses. */
		next_line(t, &pos, &l, &ll);
		while (next_line(t, &pos, &l, &ll)) {
			if (blank(l, ll)) {
				if (r->nrcpt)
					break;
				continue;
			}
			if (!lone_addr(l, ll))
				break;
			if ((a = addr_token(l, ll)) != NULL)
				rcpt_new(r, a, action);
		}
	}
	if (r->nrcpt == 0)
		return -1;
	for (i = 0; i < sizeof(answers) / sizeof(answers[0]); i++)
		if (diag_after(t, answers[i], &d))
			break;
	first = r->nrcpt;
	for (i = 0; i < first; i++) {
		struct diag c = { 0 };

		buf_append(&c.b, d.b.data ? d.b.data : "", d.b.len);
		memcpy(c.prefix, d.prefix, sizeof(c.prefix));
		c.plen = d.plen;
		rcpt_diag(&r->rcpts[i], &c);
		if (r->rcpts[i].remote_mta == NULL) {
			/* "... for the recipient domain x by mx.x. [192.0.2.1]." */
			const char *dom = find(t, 0, "for the recipient domain ");

			if (dom != NULL) {
				struct text rest = { dom, t->n - (size_t)(dom - t->s) };
				const char *lf = memchr(dom, '\n', rest.n);

				if (lf != NULL)
					rest.n = (size_t)(lf - dom);
				r->rcpts[i].remote_mta = word_after(&rest, " by ");
			}
		}
	}
	buf_free(&d.b);
	return 0;
}

/* Outlook and Office 365: "Delivery has failed to these recipients or
 * groups:", and in the part for administrators each address followed by
 * "Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; ...'". */
static int
read_outlook(const struct text *t, const char *subject, struct fb_report *r,
    const char **orig, size_t *origlen)
{
	const char *action = "failed", *l, *prev = NULL;
	size_t pos = 0, ll, prevlen = 0;
	char *a;

	if (find(t, 0, "Delivery has failed to these recipients or groups") == NULL &&
	    find(t, 0, "Delivery is delayed to these recipients or groups") == NULL &&
	    find(t, 0, "Remote Server returned '") == NULL &&
	    find(t, 0, "Remote server returned '") == NULL &&
	    !(strncasecmp(subject, "Undeliverable:", 14) == 0 && find(t, 0, "Your message to ") != NULL))
		return -1;
	if (find(t, 0, "Delivery is delayed to these recipients or groups") != NULL ||
	    strncasecmp(subject, "Delivery delayed:", 17) == 0)
		action = "delayed";
	r->format = "outlook";
	r->reporting_mta = word_after(t, "Generating server:");
	while (next_line(t, &pos, &l, &ll)) {
		const char *q = memmem(l, ll, "emote Server returned '", 23);

		if (q == NULL)
			q = memmem(l, ll, "emote server returned '", 23);
		if (q != NULL && prev != NULL && (a = addr_token(prev, prevlen)) != NULL) {
			struct fb_rcpt *rc = rcpt_new(r, a, action);
			struct diag d = { 0 };

			q += 23;
			if (rc != NULL) {
				diag_line(&d, q, ll - (size_t)(q - l));
				rcpt_diag(rc, &d);
			}
			buf_free(&d.b);
		}
		if (!blank(l, ll)) {
			prev = l;
			prevlen = ll;
		}
	}
	if (r->nrcpt == 0) {
		pos = after(t, "these recipients or groups:");
		while (pos != 0 && next_line(t, &pos, &l, &ll)) {
			if (blank(l, ll))
				continue;
			if ((a = addr_token(l, ll)) != NULL)
				rcpt_new(r, a, action);
			break;
		}
	}
	if (r->nrcpt == 0 && (pos = after(t, "Your message to ")) != 0) {
		const char *e = t->s + pos;

		while (e < t->s + t->n && !isspace((unsigned char)*e))
			e++;
		if ((a = addr_token(t->s + pos, (size_t)(e - t->s) - pos)) != NULL)
			rcpt_new(r, a, action);
	}
	orig_after(t, "Original message headers:", orig, origlen);
	return r->nrcpt ? 0 : -1;
}

int
fb_text_parse(const char *subject, const char *text, size_t n, struct fb_report *r,
    const char **orig, size_t *origlen)
{
	struct text t = { text ? text : "", text ? n : 0 };

	*orig = NULL;
	*origlen = 0;
	if (t.n > FB_TEXT_MAX)
		t.n = FB_TEXT_MAX;
	/* Most specific wording first: a Gmail or Outlook text may quote
	 * another system's bounce. A reader that gives up may have set
	 * fields: they go before the next one tries. */
	for (int k = 0; k < 5; k++) {
		int rc = -1;

		r->kind = FB_DSN;
		*orig = NULL;
		*origlen = 0;
		switch (k) {
		case 0: rc = read_outlook(&t, subject, r, orig, origlen); break;
		case 1: rc = read_gmail(&t, subject, r); break;
		case 2: rc = read_exim(&t, r, orig, origlen); break;
		case 3: rc = read_qmail(&t, r, orig, origlen); break;
		case 4: rc = read_postfix(&t, r); break;
		}
		if (rc == 0)
			return 0;
		fb_report_free(r);
	}
	*orig = NULL;
	*origlen = 0;
	return -1;
}
