/* libFuzzer harness for the spool's record decoders (spool_record.c): the
 * bytes recovery reads from disk are whatever a crash or a bad disk left.
 * Mode byte 0: walk the input as a segment, as recovery does. Otherwise the
 * input is a payload handed straight to one decoder, since random bytes
 * rarely carry a valid crc. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spool/spool_record.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char id[ID_LEN + 1];
	struct spool_msg *m;
	struct spool_rcpt r;
	uint32_t idx;

	if (size < 1)
		return 0;
	switch (data[0] % 4) {
	case 0: {
		size_t off = 1;

		while (off < size) {
			const uint8_t *p;
			uint32_t plen;
			unsigned type;
			long n = spool_rec_parse(data + off, size - off, &type, &p, &plen);

			if (n <= 0)
				break;
			if (type == SPOOL_REC_MSG && spool_rec_decode_msg(p, plen, &m) == 0)
				spool_msg_free(m);
			else if (type == SPOOL_REC_RCPT && spool_rec_decode_rcpt(p, plen, id, &idx, &r) == 0)
				free(r.last_reply);
			else
				(void)spool_rec_decode_id(p, plen, id);
			off += (size_t)n;
		}
		break;
	}
	case 1:
		if (spool_rec_decode_msg(data + 1, (uint32_t)(size - 1), &m) == 0) {
			/* Decoding what was encoded and encoding it again must give
			 * the same bytes: the format has one reading. */
			struct buf b1 = { 0 }, b2 = { 0 };
			const uint8_t *body = data + size - m->env.size;
			struct spool_msg *m2;
			uint32_t rel;

			spool_rec_encode_msg(&b1, &m->env, body, m->env.size, &rel);
			if (spool_rec_decode_msg((const uint8_t *)b1.data + SPOOL_REC_HDR,
			    (uint32_t)(b1.len - SPOOL_REC_HDR), &m2) != 0)
				abort();
			spool_rec_encode_msg(&b2, &m2->env, body, m2->env.size, &rel);
			if (b1.len != b2.len || memcmp(b1.data, b2.data, b1.len) != 0)
				abort();
			buf_free(&b1);
			buf_free(&b2);
			spool_msg_free(m2);
			spool_msg_free(m);
		}
		break;
	case 2:
		if (spool_rec_decode_rcpt(data + 1, (uint32_t)(size - 1), id, &idx, &r) == 0)
			free(r.last_reply);
		break;
	default:
		(void)spool_rec_decode_id(data + 1, (uint32_t)(size - 1), id);
		break;
	}
	return 0;
}
