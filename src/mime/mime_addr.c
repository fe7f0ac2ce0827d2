/* mime_addr: RFC 5322 address lists. Two passes: a tokenizer that unfolds,
 * drops blanks and comments and keeps atoms, quoted strings, domain literals
 * and single specials; then a recursive descent over the tokens that picks
 * out mailboxes and groups. Each addr-spec is rebuilt from its tokens (so
 * obs-syntax blanks such as "a . b @ c" vanish) and must then pass the same
 * RFC 5321 check as an SMTP path: what hermod reads from a header can be
 * used in an envelope without a second opinion. */
#include "mime/mime_addr.h"
#include "mime/mime_header.h"
#include "smtp/smtp_parse.h"
#include "util/buf.h"
#include "util/xalloc.h"

#include <stdlib.h>
#include <string.h>

#define COMMENT_DEPTH_MAX	32

enum tok_type { T_END, T_ATOM, T_QSTR, T_DLIT, T_SPECIAL };

struct tok {
	enum tok_type	 type;
	char		 ch;		/* T_SPECIAL: which one */
	size_t		 start, end;	/* in the unfolded text */
};

struct parser {
	const char	*s;		/* the unfolded text */
	size_t		 len;
	struct tok	*t;
	size_t		 nt, cap, i;
	size_t		 outcap;
	int		 allow_utf8;
	struct mime_addr_list *out;
	const char	*why;
};

static int
is_atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* utf8_at() returns the length of a valid non-ASCII character at s[i] when
 * UTF-8 is allowed, else 0. */
static size_t
utf8_at(struct parser *p, size_t i)
{
	size_t n;

	if (!p->allow_utf8 || (unsigned char)p->s[i] < 0x80)
		return 0;
	n = smtp_utf8_len((const unsigned char *)p->s + i, p->len - i);
	return n >= 2 ? n : 0;
}

static void
push(struct parser *p, enum tok_type type, char ch, size_t start, size_t end)
{
	if (p->nt == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 16;
		p->t = xrealloc(p->t, p->cap * sizeof(*p->t));
	}
	p->t[p->nt].type = type;
	p->t[p->nt].ch = ch;
	p->t[p->nt].start = start;
	p->t[p->nt].end = end;
	p->nt++;
}

/* tokenize() splits the text; returns -1 with p->why on a lexical error. */
static int
tokenize(struct parser *p)
{
	size_t i = 0, n;

	while (i < p->len) {
		unsigned char c = p->s[i];
		size_t start = i;

		if (c == ' ' || c == '\t') {
			i++;
		} else if (c == '(') {
			int depth = 0;

			do {
				c = p->s[i];
				if (c == '\\' && i + 1 < p->len)
					i++;
				else if (c == '(' && ++depth > COMMENT_DEPTH_MAX) {
					p->why = "comments nested too deep";
					return -1;
				} else if (c == ')')
					depth--;
				else if ((c < 32 && c != '\t') || c == 127) {
					p->why = "control character in comment";
					return -1;
				}
				i++;
			} while (depth > 0 && i < p->len);
			if (depth > 0) {
				p->why = "unbalanced comment";
				return -1;
			}
		} else if (c == '"') {
			for (i++; i < p->len && p->s[i] != '"'; i++) {
				c = p->s[i];
				if (c == '\\')
					i++;
				else if ((c < 32 && c != '\t') || c == 127) {
					p->why = "control character in quoted string";
					return -1;
				} else if (c >= 0x80) {
					if ((n = utf8_at(p, i)) == 0) {
						p->why = "8-bit byte in quoted string";
						return -1;
					}
					i += n - 1;
				}
			}
			if (i >= p->len) {
				p->why = "unbalanced quote";
				return -1;
			}
			push(p, T_QSTR, 0, start, ++i);
		} else if (c == '[') {
			for (i++; i < p->len && p->s[i] != ']'; i++)
				if (p->s[i] == '[' || p->s[i] == '\\')
					break;
			if (i >= p->len || p->s[i] != ']') {
				p->why = "unbalanced bracket";
				return -1;
			}
			push(p, T_DLIT, 0, start, ++i);
		} else if (strchr("<>@,;:.", c) != NULL && c != 0) {
			push(p, T_SPECIAL, (char)c, start, ++i);
		} else if (is_atext(c) || utf8_at(p, i) > 0) {
			while (i < p->len) {
				if (is_atext((unsigned char)p->s[i]))
					i++;
				else if ((n = utf8_at(p, i)) > 0)
					i += n;
				else
					break;
			}
			push(p, T_ATOM, 0, start, i);
		} else {
			p->why = c >= 0x80 ? "8-bit byte in address list" :
			    c < 32 || c == 127 ? "control character in address list" :
			    "unexpected character in address list";
			return -1;
		}
	}
	push(p, T_END, 0, p->len, p->len);
	return 0;
}

static int
is_special(struct parser *p, size_t i, char ch)
{
	return p->t[i].type == T_SPECIAL && p->t[i].ch == ch;
}

static int
is_word(struct parser *p, size_t i)
{
	return p->t[i].type == T_ATOM || p->t[i].type == T_QSTR;
}

/* phrase() checks that tokens [p->i, end) are a phrase (words and, as
 * obs-phrase allows, dots) and returns the display name or NULL if empty. */
static int
phrase(struct parser *p, size_t end, char **name)
{
	size_t i;

	*name = NULL;
	for (i = p->i; i < end; i++)
		if (!is_word(p, i) && !is_special(p, i, '.')) {
			p->why = "bad display name";
			return -1;
		}
	if (end > p->i)
		*name = xstrndup(p->s + p->t[p->i].start, p->t[end - 1].end - p->t[p->i].start);
	p->i = end;
	return 0;
}

/* addr_spec() reads local-part "@" domain at p->i into out. */
static int
addr_spec(struct parser *p, struct buf *out)
{
	const char *bad = "bad address";

	if (!is_word(p, p->i))
		goto fail;
	for (;;) {
		struct tok *t = &p->t[p->i++];

		buf_append(out, p->s + t->start, t->end - t->start);
		if (!is_special(p, p->i, '.'))
			break;
		buf_putc(out, '.');
		p->i++;
		if (!is_word(p, p->i))
			goto fail;
	}
	if (!is_special(p, p->i, '@')) {
		bad = "address without a domain";
		goto fail;
	}
	buf_putc(out, '@');
	p->i++;
	if (p->t[p->i].type == T_DLIT) {
		buf_append(out, p->s + p->t[p->i].start, p->t[p->i].end - p->t[p->i].start);
		p->i++;
		return 0;
	}
	for (;;) {
		if (p->t[p->i].type != T_ATOM)
			goto fail;
		buf_append(out, p->s + p->t[p->i].start, p->t[p->i].end - p->t[p->i].start);
		p->i++;
		if (!is_special(p, p->i, '.'))
			return 0;
		buf_putc(out, '.');
		p->i++;
	}
fail:
	p->why = bad;
	return -1;
}

/* add() validates an addr-spec and appends it to the list. */
static int
add(struct parser *p, struct buf *addr, char *name, const char *group)
{
	struct mime_addr *a;
	int v;

	v = smtp_mailbox_valid(addr->data, addr->len, p->allow_utf8);
	if (v == 0) {
		p->why = "invalid address";
		free(name);
		return -1;
	}
	if (p->out->n == MIME_ADDR_MAX) {
		p->why = "too many addresses";
		free(name);
		return -1;
	}
	if (p->out->n == p->outcap) {
		p->outcap = p->outcap ? p->outcap * 2 : 4;
		p->out->v = xrealloc(p->out->v, p->outcap * sizeof(*p->out->v));
	}
	a = &p->out->v[p->out->n++];
	a->addr = xstrndup(addr->data, addr->len);
	a->name = name;
	a->group = group ? xstrdup(group) : NULL;
	a->utf8 = v == 2;
	return 0;
}

/* mailbox() reads name-addr or addr-spec at p->i. */
static int
mailbox(struct parser *p, const char *group)
{
	struct buf addr = { 0 };
	char *name = NULL;
	size_t j;
	int rc = -1;

	for (j = p->i; p->t[j].type != T_END; j++)
		if (p->t[j].type == T_SPECIAL && strchr("<:@,;>", p->t[j].ch) != NULL)
			break;
	if (is_special(p, j, '<')) {
		if (phrase(p, j, &name) < 0)
			goto out;
		p->i++;		/* "<" */
		if (is_special(p, p->i, '@')) {
			p->why = "route in angle address";
			goto out;
		}
		if (is_special(p, p->i, '>')) {
			p->why = "empty address";
			goto out;
		}
		if (addr_spec(p, &addr) < 0)
			goto out;
		if (!is_special(p, p->i, '>')) {
			p->why = "unbalanced angle bracket";
			goto out;
		}
		p->i++;
	} else if (addr_spec(p, &addr) < 0)
		goto out;
	rc = add(p, &addr, name, group);
	name = NULL;
out:
	free(name);
	buf_free(&addr);
	return rc;
}

/* address() reads a mailbox or a group at p->i. */
static int
address(struct parser *p)
{
	char *gname = NULL;
	size_t j;
	int rc = -1;

	for (j = p->i; p->t[j].type != T_END; j++)
		if (p->t[j].type == T_SPECIAL && strchr("<:@,;", p->t[j].ch) != NULL)
			break;
	if (!is_special(p, j, ':'))
		return mailbox(p, NULL);
	if (phrase(p, j, &gname) < 0)
		return -1;
	if (gname == NULL) {
		p->why = "group without a name";
		return -1;
	}
	p->i++;			/* ":" */
	for (;;) {
		if (is_special(p, p->i, ';')) {
			p->i++;
			rc = 0;
			break;
		}
		if (is_special(p, p->i, ',')) {
			p->i++;
			continue;
		}
		if (p->t[p->i].type == T_END) {
			p->why = "group without \";\"";
			break;
		}
		if (mailbox(p, gname) < 0)
			break;
		if (p->t[p->i].type == T_END) {
			p->why = "group without \";\"";
			break;
		}
		if (!is_special(p, p->i, ',') && !is_special(p, p->i, ';')) {
			p->why = "junk after address in group";
			break;
		}
	}
	free(gname);
	return rc;
}

void
mime_addr_list_free(struct mime_addr_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->v[i].addr);
		free(l->v[i].name);
		free(l->v[i].group);
	}
	free(l->v);
	memset(l, 0, sizeof(*l));
}

int
mime_addr_parse(const char *s, size_t len, int allow_utf8, struct mime_addr_list *out,
    const char **why)
{
	struct buf text = { 0 };
	struct parser p;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	memset(&p, 0, sizeof(p));
	mime_header_unfold(s, len, &text);
	if (text.data == NULL)
		buf_reserve(&text, 1);
	p.s = text.data;
	p.len = text.len;
	p.allow_utf8 = allow_utf8;
	p.out = out;
	if (memchr(text.data, '\r', text.len) || memchr(text.data, '\n', text.len)) {
		p.why = "line break in address list";
		goto done;
	}
	if (tokenize(&p) < 0)
		goto done;
	for (;;) {
		while (is_special(&p, p.i, ','))
			p.i++;
		if (p.t[p.i].type == T_END)
			break;
		if (address(&p) < 0)
			goto done;
		if (!is_special(&p, p.i, ',') && p.t[p.i].type != T_END) {
			p.why = "junk after address";
			goto done;
		}
	}
	rc = 0;
done:
	if (rc < 0) {
		mime_addr_list_free(out);
		*why = p.why ? p.why : "bad address list";
	}
	free(p.t);
	buf_free(&text);
	return rc;
}
