/* mime_header: scanning an RFC 5322 header block: fields, folds, the blank
 * line that ends it, and the properties the SMTP server polices. One pass,
 * no backtracking, so the cost is linear in the input whatever its shape
 * (thousands of folded lines included). */
#include "mime/mime_header.h"

#include <string.h>
#include <strings.h>

/* line_end() finds the end of the line starting at p: returns the length of
 * its text, sets *next to the start of the following line and *bare when it
 * did not end with CRLF. A CR not followed by LF is text. */
static size_t
line_end(const char *buf, size_t len, size_t p, size_t *next, int *bare)
{
	const char *lf = memchr(buf + p, '\n', len - p);
	size_t e;

	*bare = 0;
	if (lf == NULL) {
		*next = len;
		return len - p;
	}
	e = lf - buf;
	*next = e + 1;
	if (e > p && buf[e - 1] == '\r')
		return e - 1 - p;
	*bare = 1;
	return e - p;
}

int
mime_header_next(const char *buf, size_t len, size_t *pos, struct mime_field *f)
{
	size_t p = *pos, next, tlen, i, colon;
	int bare;

	memset(f, 0, sizeof(*f));
	if (p >= len)
		return 0;
	tlen = line_end(buf, len, p, &next, &bare);
	if (tlen == 0) {
		*pos = next;	/* the blank line: the body starts after it */
		return 0;
	}
	if (buf[p] == ' ' || buf[p] == '\t') {
		/* A continuation with no field before it. */
		f->malformed = 1;
		*pos = next;
		return 1;
	}
	colon = p;
	while (colon < p + tlen && buf[colon] != ':')
		colon++;
	i = colon;
	while (i > p && (buf[i - 1] == ' ' || buf[i - 1] == '\t'))
		i--;
	f->name = buf + p;
	f->namelen = i - p;
	if (colon == p + tlen || f->namelen == 0)
		f->malformed = 1;
	for (i = 0; i < f->namelen && !f->malformed; i++)
		if ((unsigned char)f->name[i] < 33 || (unsigned char)f->name[i] > 126)
			f->malformed = 1;
	if (f->malformed) {
		f->name = NULL;
		f->namelen = 0;
		*pos = next;
		return 1;
	}
	f->value = buf + colon + 1;
	f->valuelen = tlen - (colon + 1 - p);
	/* Continuation lines: the value runs on to the end of the last one. */
	while (next < len && (buf[next] == ' ' || buf[next] == '\t')) {
		size_t start = next;

		tlen = line_end(buf, len, start, &next, &bare);
		f->valuelen = start + tlen - (colon + 1);
	}
	*pos = next;
	return 1;
}

void
mime_header_scan(const char *buf, size_t len, struct mime_header_info *info)
{
	size_t p = 0, next, tlen;
	int bare, have_field = 0;

	memset(info, 0, sizeof(*info));
	while (p < len) {
		tlen = line_end(buf, len, p, &next, &bare);
		info->nlines++;
		if (bare || memchr(buf + p, '\r', tlen) != NULL)
			info->bare = 1;
		if (tlen > info->longest)
			info->longest = tlen;
		if (memchr(buf + p, '\0', tlen) != NULL)
			info->nul = 1;
		if (!info->eightbit) {
			size_t i;

			for (i = p; i < p + tlen; i++)
				if ((unsigned char)buf[i] > 0x7f) {
					info->eightbit = 1;
					break;
				}
		}
		if (tlen == 0) {
			info->nlines--;		/* the blank line is not a header line */
			info->complete = 1;
			p = next;
			break;
		}
		if (buf[p] == ' ' || buf[p] == '\t') {
			info->nfolded++;
			if (!have_field)
				info->malformed = 1;
		} else {
			struct mime_field f;
			size_t q = p;

			/* Read the field head only: mime_header_next() would also walk
			 * the continuation lines, which this loop counts itself. */
			mime_header_next(buf, next, &q, &f);
			if (f.malformed) {
				info->malformed = 1;
				have_field = 0;
			} else {
				have_field = 1;
				info->nfields++;
				if (f.namelen == 4 && strncasecmp(f.name, "From", 4) == 0)
					info->n_from++;
				else if (f.namelen == 4 && strncasecmp(f.name, "Date", 4) == 0)
					info->n_date++;
				else if (f.namelen == 10 && strncasecmp(f.name, "Message-ID", 10) == 0)
					info->n_message_id++;
				else if (f.namelen == 6 && strncasecmp(f.name, "Sender", 6) == 0)
					info->n_sender++;
			}
		}
		p = next;
	}
	info->header_len = p;
}

void
mime_header_unfold(const char *value, size_t len, struct buf *out)
{
	size_t i = 0, end = len, start;

	while (i < end && (value[i] == ' ' || value[i] == '\t' || value[i] == '\r' || value[i] == '\n'))
		i++;
	while (end > i && (value[end - 1] == ' ' || value[end - 1] == '\t' || value[end - 1] == '\r' ||
	    value[end - 1] == '\n'))
		end--;
	buf_reserve(out, end - i);
	start = i;
	for (; i < end; i++) {
		/* A line end followed by a blank is a fold: drop the line end. */
		if (value[i] == '\r' && i + 2 < end && value[i + 1] == '\n' &&
		    (value[i + 2] == ' ' || value[i + 2] == '\t')) {
			buf_append(out, value + start, i - start);
			start = i + 2;
			i++;
		} else if (value[i] == '\n' && i + 1 < end && (value[i + 1] == ' ' || value[i + 1] == '\t')) {
			buf_append(out, value + start, i - start);
			start = i + 1;
		}
	}
	buf_append(out, value + start, end - start);
}

unsigned
mime_header_get(const char *buf, size_t len, const char *name, struct buf *out)
{
	struct mime_field f;
	size_t pos = 0, nlen = strlen(name);
	unsigned n = 0;

	while (mime_header_next(buf, len, &pos, &f)) {
		if (f.malformed || f.namelen != nlen || strncasecmp(f.name, name, nlen) != 0)
			continue;
		if (n++ == 0)
			mime_header_unfold(f.value, f.valuelen, out);
	}
	return n;
}
