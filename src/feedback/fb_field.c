/* fb_field: the small readers the feedback parser is built from: header-like
 * field groups (message headers, delivery-status and feedback-report
 * bodies), unfolding, comments, addresses with their RFC 3464 types, and
 * SMTP replies inside free text. Pure; each bounded by its input. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "feedback/fb_int.h"
#include "util/xalloc.h"

/* line() finds the line at p: its text length (without CR LF) and *next. */
static size_t
line(const char *buf, size_t len, size_t p, size_t *next)
{
	const char *lf = memchr(buf + p, '\n', len - p);
	size_t e;

	if (lf == NULL) {
		*next = len;
		e = len;
	} else {
		e = (size_t)(lf - buf);
		*next = e + 1;
	}
	if (e > p && buf[e - 1] == '\r')
		e--;
	return e - p;
}

static int
all_blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return 0;
	return 1;
}

int
fb_field_next(const char *buf, size_t len, size_t *pos, struct fb_field *f)
{
	size_t p = *pos, next, tlen, colon;

	memset(f, 0, sizeof(*f));
	while (p < len) {
		tlen = line(buf, len, p, &next);
		if (all_blank(buf + p, tlen)) {
			*pos = next;
			return 0;
		}
		colon = p;
		while (colon < p + tlen && buf[colon] != ':')
			colon++;
		/* A continuation without its field, or no colon: not a field.
		 * The name must be printable ASCII (blanks before the colon, the
		 * obsolete syntax, are tolerated and dropped). */
		if (buf[p] == ' ' || buf[p] == '\t' || colon == p + tlen) {
			p = next;
			continue;
		}
		f->namelen = colon - p;
		while (f->namelen > 0 && (buf[p + f->namelen - 1] == ' ' || buf[p + f->namelen - 1] == '\t'))
			f->namelen--;
		f->name = buf + p;
		f->value = buf + colon + 1;
		f->valuelen = p + tlen - (colon + 1);
		while (next < len && (buf[next] == ' ' || buf[next] == '\t')) {
			size_t start = next, l = line(buf, len, start, &next);

			if (all_blank(buf + start, l)) {
				/* An all-blank line ends the group: leave it
				 * for the next call. */
				next = start;
				break;
			}
			f->valuelen = start + l - (colon + 1);
		}
		*pos = next;
		if (f->namelen == 0) {
			/* ": value": no name, not a field. */
			p = next;
			continue;
		}
		return 1;
	}
	*pos = p;
	return 0;
}

int
fb_field_is(const struct fb_field *f, const char *name)
{
	size_t n = strlen(name);

	return f->namelen == n && strncasecmp(f->name, name, n) == 0;
}

const char *
fb_trim(const char *s, size_t *n)
{
	size_t e = *n;

	while (e > 0 && isspace((unsigned char)*s)) {
		s++;
		e--;
	}
	while (e > 0 && isspace((unsigned char)s[e - 1]))
		e--;
	*n = e;
	return s;
}

void
fb_unfold(const char *v, size_t n, struct buf *out)
{
	size_t i, start = out->len, kept = 0;
	int space = 0;

	v = fb_trim(v, &n);
	for (i = 0; i < n && kept < FB_FIELD_MAX; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c == '\r' || c == '\n') {
			/* The line end and the blanks on both sides: one space. */
			while (out->len > start && (out->data[out->len - 1] == ' ' ||
			    out->data[out->len - 1] == '\t')) {
				out->len--;
				kept--;
			}
			space = 1;
			continue;
		}
		if (space) {
			if (c == ' ' || c == '\t')
				continue;
			buf_putc(out, ' ');
			kept++;
			space = 0;
		}
		buf_putc(out, c < 0x20 && c != '\t' ? ' ' : (char)c);
		kept++;
	}
	if (out->data)
		out->data[out->len] = '\0';
}

void
fb_uncomment(const char *s, size_t n, struct buf *out)
{
	size_t i;
	int depth = 0, quoted = 0;

	for (i = 0; i < n; i++) {
		char c = s[i];

		if (c == '\\' && i + 1 < n && (quoted || depth > 0)) {
			if (!depth) {
				buf_putc(out, c);
				buf_putc(out, s[i + 1]);
			}
			i++;
			continue;
		}
		if (depth > 0) {
			if (c == '(')
				depth++;
			else if (c == ')' && --depth == 0)
				buf_putc(out, ' ');
			continue;
		}
		if (c == '"')
			quoted = !quoted;
		else if (c == '(' && !quoted) {
			depth = 1;
			continue;
		}
		buf_putc(out, c);
	}
	if (out->data == NULL)
		buf_append(out, "", 0);	/* allocated and NUL-terminated */
}

size_t
fb_enhanced(const char *s, size_t n, char status[16])
{
	size_t i = 0, d;

	if (n < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.')
		return 0;
	i = 2;
	for (int k = 0; k < 2; k++) {
		d = 0;
		while (i < n && d < 4 && isdigit((unsigned char)s[i])) {
			i++;
			d++;
		}
		if (d == 0 || d > 3)
			return 0;
		if (k == 0) {
			if (i >= n || s[i] != '.')
				return 0;
			i++;
		}
	}
	if (i < n && (isdigit((unsigned char)s[i]) || (s[i] == '.' && i + 1 < n &&
	    isdigit((unsigned char)s[i + 1]))))
		return 0;	/* "5.1.1.2", an address, a version */
	memcpy(status, s, i);
	status[i] = '\0';
	return i;
}

/* word_start() says whether s[i] may begin a code: not inside a number, an
 * address or a word. */
static int
word_start(const char *s, size_t i)
{
	return i == 0 || !(isalnum((unsigned char)s[i - 1]) || s[i - 1] == '.' ||
	    s[i - 1] == '-' || s[i - 1] == '_' || s[i - 1] == '@' || s[i - 1] == '[');
}

size_t
fb_smtp_scan(const char *s, size_t n, int *code, char status[16])
{
	size_t i, first_enh = n;
	char enh[16] = "";

	*code = 0;
	status[0] = '\0';
	for (i = 0; i + 3 <= n; i++) {
		if (!word_start(s, i))
			continue;
		if ((s[i] == '2' || s[i] == '4' || s[i] == '5') && isdigit((unsigned char)s[i + 1]) &&
		    isdigit((unsigned char)s[i + 2]) && (i + 3 == n || s[i + 3] == ' ' ||
		    s[i + 3] == '-' || s[i + 3] == '\t' || s[i + 3] == '\'' || s[i + 3] == '"')) {
			size_t j = i + 3;

			*code = (s[i] - '0') * 100 + (s[i + 1] - '0') * 10 + (s[i + 2] - '0');
			if (j < n && (s[j] == ' ' || s[j] == '-'))
				j++;
			fb_enhanced(s + j, n - j, status);
			return i;
		}
		if (first_enh == n && fb_enhanced(s + i, n - i, enh) > 0)
			first_enh = i;
	}
	if (first_enh < n) {
		memcpy(status, enh, sizeof(enh));
		return first_enh;
	}
	return n;
}

/* put_utf8() appends code point c in UTF-8 (RFC 6533 \x{...} escapes). */
static void
put_utf8(struct buf *b, unsigned long c)
{
	if (c < 0x80) {
		buf_putc(b, (char)c);
	} else if (c < 0x800) {
		buf_putc(b, (char)(0xc0 | (c >> 6)));
		buf_putc(b, (char)(0x80 | (c & 0x3f)));
	} else if (c < 0x10000) {
		buf_putc(b, (char)(0xe0 | (c >> 12)));
		buf_putc(b, (char)(0x80 | ((c >> 6) & 0x3f)));
		buf_putc(b, (char)(0x80 | (c & 0x3f)));
	} else {
		buf_putc(b, (char)(0xf0 | (c >> 18)));
		buf_putc(b, (char)(0x80 | ((c >> 12) & 0x3f)));
		buf_putc(b, (char)(0x80 | ((c >> 6) & 0x3f)));
		buf_putc(b, (char)(0x80 | (c & 0x3f)));
	}
}

char *
fb_addr(const char *s, size_t n)
{
	struct buf u = { 0 }, c = { 0 }, a = { 0 };
	const char *p, *semi, *lt, *gt;
	size_t len, i;
	int utf8 = 0, quoted = 0;
	char *at, *res = NULL;

	fb_unfold(s, n, &u);
	fb_uncomment(u.data ? u.data : "", u.len, &c);
	len = c.len;
	p = fb_trim(c.data, &len);
	/* "rfc822; a@b", "utf-8; ...": the type is an atom before the ';'. */
	semi = memchr(p, ';', len);
	if (semi != NULL) {
		size_t tl = (size_t)(semi - p);
		const char *t = fb_trim(p, &tl);
		int atom = tl > 0;

		for (i = 0; i < tl && atom; i++)
			if (!(isalnum((unsigned char)t[i]) || t[i] == '-' || t[i] == '.' || t[i] == '_'))
				atom = 0;
		if (atom) {
			utf8 = tl == 5 && strncasecmp(t, "utf-8", 5) == 0;
			len -= (size_t)(semi + 1 - p);
			p = fb_trim(semi + 1, &len);
		}
	}
	/* "Name <a@b>" or "<a@b>": what is inside the brackets. */
	lt = memchr(p, '<', len);
	if (lt != NULL && (gt = memchr(lt, '>', len - (size_t)(lt - p))) != NULL) {
		len = (size_t)(gt - lt - 1);
		p = fb_trim(lt + 1, &len);
	}
	for (i = 0; i < len; i++) {
		unsigned long cp = 0;
		size_t j;

		if (utf8 && p[i] == '\\' && i + 2 < len && p[i + 1] == 'x' && p[i + 2] == '{') {
			for (j = i + 3; j < len && j < i + 10 && isxdigit((unsigned char)p[j]); j++)
				cp = cp * 16 + (unsigned long)(isdigit((unsigned char)p[j]) ? p[j] - '0' :
				    (tolower((unsigned char)p[j]) - 'a' + 10));
			if (j < len && p[j] == '}' && j > i + 3 && cp > 0 && cp <= 0x10ffff) {
				put_utf8(&a, cp);
				i = j;
				continue;
			}
		}
		if (quoted && p[i] == '\\' && i + 1 < len) {
			buf_putc(&a, p[i++]);
			buf_putc(&a, p[i]);
			continue;
		}
		if (p[i] == '"')
			quoted = !quoted;
		/* The address is one word (a quoted local part may hold
		 * blanks): what follows it is not part of it. */
		if ((p[i] == ' ' || p[i] == '\t') && !quoted) {
			if (a.len > 0)
				break;
			continue;
		}
		buf_putc(&a, p[i]);
	}
	if (a.len > 0) {
		at = strrchr(a.data, '@');
		for (; at && *at; at++)
			*at = (char)tolower((unsigned char)*at);
		res = buf_steal(&a, NULL);
	}
	buf_free(&u);
	buf_free(&c);
	buf_free(&a);
	return res;
}

void
fb_reply_join(char *s)
{
	char st[16], pre[24];
	size_t n = strlen(s), e, pl, r, w;

	if (n < 5 || !isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) ||
	    !isdigit((unsigned char)s[2]) || (s[3] != '-' && s[3] != ' '))
		return;
	e = 4 + fb_enhanced(s + 4, n - 4, st);
	if (e >= sizeof(pre) - 1)
		return;
	/* The prefix of every line: "550-5.1.1" or "550 5.1.1". */
	memcpy(pre, s, e);
	pre[e] = '\0';
	pl = e;
	s[3] = ' ';
	for (r = w = e; r < n;) {
		if (s[r] == ' ' && r + 1 + pl <= n && memcmp(s + r + 1, pre, 3) == 0 &&
		    (s[r + 4] == '-' || s[r + 4] == ' ') && memcmp(s + r + 5, pre + 4, pl - 4) == 0 &&
		    (pl == 4 || r + 1 + pl == n || s[r + 1 + pl] == ' ')) {
			s[w++] = ' ';
			r += 1 + pl;
			while (r < n && s[r] == ' ')
				r++;
			continue;
		}
		s[w++] = s[r++];
	}
	s[w] = '\0';
}
