/* spool_record: encoders and decoders of the spool's log records (format in
 * spool_record.h). Pure functions over byte buffers: the recovery code and the
 * fuzz harness feed them whatever the disk holds, so every length is checked
 * against what remains before it is used. */
#include "spool/spool_record.h"
#include "util/xalloc.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define STR_NULL 0xffffffffu

static void
put_u32(struct buf *b, uint32_t v)
{
	uint8_t p[4] = { v, v >> 8, v >> 16, v >> 24 };

	buf_append(b, p, 4);
}

static void
put_u64(struct buf *b, uint64_t v)
{
	put_u32(b, (uint32_t)v);
	put_u32(b, (uint32_t)(v >> 32));
}

static void
put_str(struct buf *b, const char *s)
{
	size_t n;

	if (s == NULL) {
		put_u32(b, STR_NULL);
		return;
	}
	n = strlen(s);
	put_u32(b, (uint32_t)n);
	buf_append(b, s, n);
}

static uint32_t
get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t
get_u64(const uint8_t *p)
{
	return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

static void
set_u32(uint8_t *p, uint32_t v)
{
	p[0] = v; p[1] = v >> 8; p[2] = v >> 16; p[3] = v >> 24;
}

/* begin_rec() appends a header with the length and crc still to fill in and
 * returns its offset in b. */
static size_t
begin_rec(struct buf *b, enum spool_rec_type type)
{
	size_t at = b->len;
	uint8_t h[SPOOL_REC_HDR] = { 0 };

	set_u32(h, SPOOL_REC_MAGIC);
	h[4] = (uint8_t)type;
	h[5] = SPOOL_REC_VERSION;
	buf_append(b, h, sizeof(h));
	return at;
}

/* end_rec() sets the payload length (extra: bytes that will follow and are
 * not in b) and the crc over what b holds of the record. */
static void
end_rec(struct buf *b, size_t at, uint64_t extra)
{
	uint8_t *h = (uint8_t *)b->data + at;
	uLong crc;

	set_u32(h + 8, (uint32_t)(b->len - at - SPOOL_REC_HDR + extra));
	crc = crc32(0L, h, 12);
	crc = crc32(crc, h + SPOOL_REC_HDR, (uInt)(b->len - at - SPOOL_REC_HDR));
	set_u32(h + 12, (uint32_t)crc);
}

static void
put_rcpt_state(struct buf *b, const struct spool_rcpt *r)
{
	buf_putc(b, (char)r->state);
	put_u32(b, r->attempts);
	put_u64(b, r->next_attempt);
	put_str(b, r->last_reply);
}

static size_t
encode_head(struct buf *b, const struct spool_env *env, uint64_t body_len, uint32_t *body_rel)
{
	size_t at = begin_rec(b, SPOOL_REC_MSG);

	buf_append(b, env->id, ID_LEN);
	put_u64(b, env->queued_at);
	put_u32(b, env->flags);
	put_u32(b, (uint32_t)env->ret);
	put_str(b, env->account);
	put_str(b, env->mail_from);
	put_str(b, env->envid);
	put_str(b, env->message_id);
	put_str(b, env->client);
	put_str(b, env->meta_json);
	put_u32(b, (uint32_t)env->nrcpt);
	for (size_t i = 0; i < env->nrcpt; i++) {
		put_str(b, env->rcpt[i].addr);
		put_str(b, env->rcpt[i].orcpt);
		put_u32(b, env->rcpt[i].notify);
		put_rcpt_state(b, &env->rcpt[i]);
	}
	put_u64(b, body_len);
	*body_rel = (uint32_t)(b->len - at);
	return at;
}

void
spool_rec_encode_msg(struct buf *b, const struct spool_env *env, const void *body, size_t len,
    uint32_t *body_rel)
{
	size_t at = encode_head(b, env, len, body_rel);

	buf_append(b, body, len);
	end_rec(b, at, 0);
}

void
spool_rec_encode_msg_head(struct buf *b, const struct spool_env *env, uint64_t body_len,
    uint32_t *body_rel)
{
	size_t at = encode_head(b, env, body_len, body_rel);

	end_rec(b, at, body_len);
}

void
spool_rec_seal(uint8_t *hdr, uint32_t body_crc, uint64_t body_len)
{
	uLong crc = get_u32(hdr + 12);

	crc = crc32_combine(crc, body_crc, (z_off_t)body_len);
	set_u32(hdr + 12, (uint32_t)crc);
}

void
spool_rec_encode_rcpt(struct buf *b, const char *id, uint32_t idx, const struct spool_rcpt *r)
{
	size_t at = begin_rec(b, SPOOL_REC_RCPT);

	buf_append(b, id, ID_LEN);
	put_u32(b, idx);
	put_rcpt_state(b, r);
	end_rec(b, at, 0);
}

void
spool_rec_encode_id(struct buf *b, enum spool_rec_type type, const char *id)
{
	size_t at = begin_rec(b, type);

	buf_append(b, id, ID_LEN);
	end_rec(b, at, 0);
}

long
spool_rec_parse(const uint8_t *p, size_t avail, unsigned *type, const uint8_t **payload,
    uint32_t *plen)
{
	uint32_t len, crc;
	uLong c;

	if (avail < SPOOL_REC_HDR) {
		for (size_t i = 0; i < avail; i++)
			if (p[i] != 0)
				return -1;
		return 0;
	}
	if (get_u32(p) != SPOOL_REC_MAGIC) {
		/* Zeros are preallocated space after the last record: a clean end. */
		static const uint8_t zero[SPOOL_REC_HDR];
		return memcmp(p, zero, SPOOL_REC_HDR) ? -1 : 0;
	}
	len = get_u32(p + 8);
	if (p[5] != SPOOL_REC_VERSION || p[6] || p[7] || len > SPOOL_REC_MAX ||
	    p[4] < SPOOL_REC_MSG || p[4] > SPOOL_REC_DELETE)
		return -1;
	if (avail - SPOOL_REC_HDR < len)
		return 0;
	crc = get_u32(p + 12);
	c = crc32(0L, p, 12);
	c = crc32(c, p + SPOOL_REC_HDR, len);
	if ((uint32_t)c != crc)
		return -1;
	*type = p[4];
	*payload = p + SPOOL_REC_HDR;
	*plen = len;
	return (long)SPOOL_REC_HDR + len;
}

/* A cursor over a payload: every get checks the remaining length first and
 * marks the cursor bad instead of reading past the end. */
struct cur {
	const uint8_t	*p;
	size_t		 left;
	int		 bad;
};

static const uint8_t *
take(struct cur *c, size_t n)
{
	const uint8_t *p = c->p;

	if (c->bad || c->left < n) {
		c->bad = 1;
		return NULL;
	}
	c->p += n;
	c->left -= n;
	return p;
}

static uint32_t
take_u32(struct cur *c)
{
	const uint8_t *p = take(c, 4);

	return p ? get_u32(p) : 0;
}

static uint64_t
take_u64(struct cur *c)
{
	const uint8_t *p = take(c, 8);

	return p ? get_u64(p) : 0;
}

static uint8_t
take_u8(struct cur *c)
{
	const uint8_t *p = take(c, 1);

	return p ? p[0] : 0;
}

/* take_str() returns the string's bytes and length; *isnull for NULL. */
static const uint8_t *
take_str(struct cur *c, uint32_t *n, int *isnull)
{
	*n = take_u32(c);
	*isnull = 0;
	if (*n == STR_NULL) {
		*isnull = 1;
		*n = 0;
		return NULL;
	}
	return take(c, *n);
}

static int
take_id(struct cur *c, char id[ID_LEN + 1])
{
	const uint8_t *p = take(c, ID_LEN);

	if (p == NULL)
		return -1;
	memcpy(id, p, ID_LEN);
	id[ID_LEN] = '\0';
	return 0;
}

static int
valid_state(unsigned s)
{
	return s <= SPOOL_RCPT_DROPPED;
}

/* The layout of a MSG payload is walked twice: once to size the block, once
 * to fill it. msg_walk() does either, depending on whether m is NULL. */
struct strslot {
	const uint8_t	*p;
	uint32_t	 n;
	int		 isnull;
};

#define MSG_NSTR 6

int
spool_rec_decode_msg(const uint8_t *p, uint32_t len, struct spool_msg **out)
{
	struct cur c = { p, len, 0 };
	struct strslot s[MSG_NSTR];
	char id[ID_LEN + 1];
	uint64_t queued_at, body_len;
	uint32_t flags, ret, nrcpt;
	size_t strbytes = 0, rcpt_start_left;
	const uint8_t *rcpt_start;
	struct spool_msg *m;
	char *w;

	if (take_id(&c, id) < 0)
		return -1;
	queued_at = take_u64(&c);
	flags = take_u32(&c);
	ret = take_u32(&c);
	for (int i = 0; i < MSG_NSTR; i++) {
		s[i].p = take_str(&c, &s[i].n, &s[i].isnull);
		strbytes += s[i].isnull ? 0 : (size_t)s[i].n + 1;
	}
	nrcpt = take_u32(&c);
	if (c.bad || nrcpt > c.left / 26)	/* a recipient takes at least 26 bytes */
		return -1;
	rcpt_start = c.p;
	rcpt_start_left = c.left;
	for (uint32_t i = 0; i < nrcpt; i++) {
		uint32_t n;
		int isnull;

		take_str(&c, &n, &isnull);
		if (isnull)	/* a recipient's address is never NULL */
			return -1;
		strbytes += (size_t)n + 1;
		take_str(&c, &n, &isnull);
		strbytes += isnull ? 0 : (size_t)n + 1;
		take_u32(&c);
		if (!valid_state(take_u8(&c)))
			return -1;
		take_u32(&c);
		take_u64(&c);
		take_str(&c, &n, &isnull);	/* last_reply: allocated apart */
	}
	body_len = take_u64(&c);
	if (c.bad || body_len != c.left)
		return -1;

	m = xcalloc(1, sizeof(*m) + (size_t)nrcpt * sizeof(struct spool_rcpt) + strbytes);
	m->env.rcpt = (struct spool_rcpt *)(m + 1);
	w = (char *)(m->env.rcpt + nrcpt);
	memcpy(m->env.id, id, sizeof(id));
	m->env.queued_at = queued_at;
	m->env.flags = flags;
	m->env.ret = (int)ret;
	m->env.size = body_len;
	m->env.nrcpt = nrcpt;
	{
		char **dst[MSG_NSTR] = { &m->env.account, &m->env.mail_from, &m->env.envid,
		    &m->env.message_id, &m->env.client, &m->env.meta_json };
		for (int i = 0; i < MSG_NSTR; i++) {
			if (s[i].isnull)
				continue;
			memcpy(w, s[i].p, s[i].n);
			w[s[i].n] = '\0';
			*dst[i] = w;
			w += s[i].n + 1;
		}
	}
	c.p = rcpt_start;
	c.left = rcpt_start_left;
	for (uint32_t i = 0; i < nrcpt; i++) {
		struct spool_rcpt *r = &m->env.rcpt[i];
		const uint8_t *sp;
		uint32_t n;
		int isnull;

		sp = take_str(&c, &n, &isnull);
		memcpy(w, sp, n);
		w[n] = '\0';
		r->addr = w;
		w += n + 1;
		sp = take_str(&c, &n, &isnull);
		if (!isnull) {
			memcpy(w, sp, n);
			w[n] = '\0';
			r->orcpt = w;
			w += n + 1;
		}
		r->notify = take_u32(&c);
		r->state = take_u8(&c);
		r->attempts = take_u32(&c);
		r->next_attempt = take_u64(&c);
		sp = take_str(&c, &n, &isnull);
		r->last_reply = isnull ? NULL : xstrndup((const char *)sp, n);
	}
	*out = m;
	return 0;
}

int
spool_rec_decode_rcpt(const uint8_t *p, uint32_t len, char id[ID_LEN + 1], uint32_t *idx,
    struct spool_rcpt *r)
{
	struct cur c = { p, len, 0 };
	const uint8_t *sp;
	uint32_t n;
	int isnull;

	memset(r, 0, sizeof(*r));
	if (take_id(&c, id) < 0)
		return -1;
	*idx = take_u32(&c);
	r->state = take_u8(&c);
	r->attempts = take_u32(&c);
	r->next_attempt = take_u64(&c);
	sp = take_str(&c, &n, &isnull);
	if (c.bad || c.left != 0 || !valid_state(r->state))
		return -1;
	r->last_reply = isnull ? NULL : xstrndup((const char *)sp, n);
	return 0;
}

int
spool_rec_decode_id(const uint8_t *p, uint32_t len, char id[ID_LEN + 1])
{
	struct cur c = { p, len, 0 };

	if (take_id(&c, id) < 0 || c.left != 0)
		return -1;
	return 0;
}

struct spool_msg *
spool_msg_new(const struct spool_env *env, const char *id, uint64_t queued_at, uint64_t size)
{
	const char *src[MSG_NSTR] = { env->account, env->mail_from, env->envid, env->message_id,
	    env->client, env->meta_json };
	size_t strbytes = 0;
	struct spool_msg *m;
	char *w;

	for (int i = 0; i < MSG_NSTR; i++)
		strbytes += src[i] ? strlen(src[i]) + 1 : 0;
	for (size_t i = 0; i < env->nrcpt; i++) {
		strbytes += strlen(env->rcpt[i].addr) + 1;
		strbytes += env->rcpt[i].orcpt ? strlen(env->rcpt[i].orcpt) + 1 : 0;
	}
	m = xcalloc(1, sizeof(*m) + env->nrcpt * sizeof(struct spool_rcpt) + strbytes);
	m->env.rcpt = (struct spool_rcpt *)(m + 1);
	w = (char *)(m->env.rcpt + env->nrcpt);
	memcpy(m->env.id, id, ID_LEN + 1);
	m->env.queued_at = queued_at;
	m->env.flags = env->flags;
	m->env.ret = env->ret;
	m->env.size = size;
	m->env.nrcpt = env->nrcpt;
	{
		char **dst[MSG_NSTR] = { &m->env.account, &m->env.mail_from, &m->env.envid,
		    &m->env.message_id, &m->env.client, &m->env.meta_json };
		for (int i = 0; i < MSG_NSTR; i++) {
			size_t n;

			if (src[i] == NULL)
				continue;
			n = strlen(src[i]) + 1;
			memcpy(w, src[i], n);
			*dst[i] = w;
			w += n;
		}
	}
	for (size_t i = 0; i < env->nrcpt; i++) {
		const struct spool_rcpt *s = &env->rcpt[i];
		struct spool_rcpt *r = &m->env.rcpt[i];
		size_t n = strlen(s->addr) + 1;

		memcpy(w, s->addr, n);
		r->addr = w;
		w += n;
		if (s->orcpt) {
			n = strlen(s->orcpt) + 1;
			memcpy(w, s->orcpt, n);
			r->orcpt = w;
			w += n;
		}
		r->notify = s->notify;
		r->state = s->state;
		r->attempts = s->attempts;
		r->next_attempt = s->next_attempt;
		r->last_reply = s->last_reply ? xstrdup(s->last_reply) : NULL;
	}
	return m;
}

void
spool_msg_free(struct spool_msg *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->env.nrcpt; i++)
		free(m->env.rcpt[i].last_reply);
	free(m);
}
