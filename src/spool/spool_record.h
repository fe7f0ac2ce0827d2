/* spool_record: the on-disk record format of the spool's log segments, and
 * its pure encoders and decoders (no I/O). Private to src/spool/.
 *
 * A record is a 16-byte header followed by its payload:
 *
 *	0  magic    u32  SPOOL_REC_MAGIC
 *	4  type     u8   SPOOL_REC_*
 *	5  version  u8   1
 *	6  zero     u16
 *	8  length   u32  payload bytes
 *	12 crc      u32  zlib crc32 over bytes 0..11 and the payload
 *
 * Integers are little-endian. A string is a u32 length (0xffffffff for NULL)
 * and its bytes, never interpreted (envelope data may hold anything the
 * session let through; the length prefix is the only framing). Payloads:
 *
 *	MSG      id[20] queued_at:u64 flags:u32 ret:u32 account mail_from envid
 *	         message_id client meta_json nrcpt:u32
 *	         nrcpt * (addr orcpt notify:u32 state:u8 attempts:u32
 *	                  next_attempt:u64 last_reply)
 *	         body_len:u64 body            (the body comes last)
 *	RCPT     id[20] idx:u32 state:u8 attempts:u32 next_attempt:u64 last_reply
 *	HOLD, RELEASE, DELETE   id[20]
 */
#ifndef HERMOD_SPOOL_RECORD_H
#define HERMOD_SPOOL_RECORD_H
#include <stddef.h>
#include <stdint.h>

#include "spool/spool.h"
#include "util/buf.h"

#define SPOOL_REC_MAGIC		0x50534d48u	/* "HMSP" little-endian */
#define SPOOL_REC_VERSION	1
#define SPOOL_REC_HDR		16
#define SPOOL_REC_MAX		(1u << 30)	/* payload cap: anything larger is corrupt */

enum spool_rec_type {
	SPOOL_REC_MSG = 1,
	SPOOL_REC_RCPT = 2,
	SPOOL_REC_HOLD = 3,
	SPOOL_REC_RELEASE = 4,
	SPOOL_REC_DELETE = 5,
};

/* The index's view of a queued message: the public envelope plus where its
 * record lies. Allocated as one block (struct, recipients, strings) so a
 * queued message costs one allocation; only last_reply strings are separate
 * allocations because they change. */
struct spool_msg {
	struct spool_env env;
	struct spool_msg *hnext;		/* hash chain */
	struct spool_msg *prev, *next;		/* queue order */
	uint32_t	 seg;			/* segment number of the MSG record */
	uint32_t	 reclen;		/* whole record bytes, for live accounting */
	uint64_t	 off;			/* file offset of the MSG record */
	uint32_t	 body_rel;		/* body offset from the record start */
};

/* spool_rec_encode_msg() appends a MSG record for env (its id, queued_at,
 * strings and recipient states) and body. *body_rel gets the body's offset
 * from the record start. */
void	spool_rec_encode_msg(struct buf *b, const struct spool_env *env, const void *body,
	    size_t len, uint32_t *body_rel);
/* spool_rec_encode_msg_head() appends a MSG record for env without its body
 * bytes: the header's length counts body_len more bytes and its crc covers
 * only what was appended. Writing these bytes then the body makes a whole
 * record once spool_rec_seal() has folded the body's crc in. Compaction uses
 * it to copy a body it reads from disk under a fresh envelope. */
void	spool_rec_encode_msg_head(struct buf *b, const struct spool_env *env, uint64_t body_len,
	    uint32_t *body_rel);
/* spool_rec_seal() folds body_crc (zlib crc32 of body_len bytes) into the crc
 * of the record header at hdr. */
void	spool_rec_seal(uint8_t *hdr, uint32_t body_crc, uint64_t body_len);
void	spool_rec_encode_rcpt(struct buf *b, const char *id, uint32_t idx, const struct spool_rcpt *r);
void	spool_rec_encode_id(struct buf *b, enum spool_rec_type type, const char *id);

/* spool_rec_parse() looks at the record starting at p (avail bytes there).
 * Returns the record's total length and sets *type, *payload, *plen when it is
 * whole and its checksum holds; 0 when the bytes end inside it (a torn tail)
 * or are zero (preallocated space); -1 when it is corrupt. */
long	spool_rec_parse(const uint8_t *p, size_t avail, unsigned *type, const uint8_t **payload,
	    uint32_t *plen);

/* spool_rec_decode_msg() builds an index entry from a MSG payload (seg, off
 * and reclen left 0). 0, or -1 when the payload is malformed. */
int	spool_rec_decode_msg(const uint8_t *p, uint32_t len, struct spool_msg **out);
/* spool_rec_decode_rcpt(): r->last_reply is allocated (or NULL). 0 or -1. */
int	spool_rec_decode_rcpt(const uint8_t *p, uint32_t len, char id[ID_LEN + 1], uint32_t *idx,
	    struct spool_rcpt *r);
int	spool_rec_decode_id(const uint8_t *p, uint32_t len, char id[ID_LEN + 1]);

/* spool_msg_new() builds an index entry copying env's strings (id and
 * queued_at from the arguments). spool_msg_free() frees one. */
struct spool_msg *spool_msg_new(const struct spool_env *env, const char *id, uint64_t queued_at,
	    uint64_t size);
void	spool_msg_free(struct spool_msg *m);

#endif
