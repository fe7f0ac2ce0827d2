/* libFuzzer harness for dkim_canon: split any bytes into header fields and
 * body, canonicalize every field both ways, and check that the body fed in
 * chunks (split where the input's first byte says) gives exactly the output
 * of feeding it whole, in both modes. The signer runs over the input too
 * (Ed25519, cheap), to exercise field selection and folding. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "dkim/dkim_canon.h"
#include "dkim/dkim_sign.h"
#include "util/buf.h"

static void
emit(void *arg, const void *p, size_t n)
{
	buf_append(arg, p, n);
}

static struct dkim_key *
fuzz_key(void)
{
	static struct dkim_key *key;
	static const unsigned char seed[32] = { 1, 2, 3 };
	EVP_PKEY *pkey;
	BIO *bio;
	char *p, *err = NULL;
	long n;

	if (key != NULL)
		return key;
	pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
	bio = BIO_new(BIO_s_mem());
	PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL);
	n = BIO_get_mem_data(bio, &p);
	if (dkim_key_from_pem(&key, "fuzz.example", "f", p, (size_t)n, &err) != 0)
		abort();
	BIO_free(bio);
	EVP_PKEY_free(pkey);
	return key;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *msg = (const char *)data;
	struct dkim_field *f;
	struct dkim_canon_body cb;
	struct buf whole, part, hdr, sig;
	size_t nf, off, i, pos, step;
	char *err = NULL;
	int mode;

	off = dkim_canon_fields(msg, size, &f, &nf);
	if (off > size)
		abort();
	buf_init(&hdr);
	for (i = 0; i < nf; i++) {
		if (f[i].p < msg || f[i].p + f[i].len > msg + size || f[i].namelen > f[i].len)
			abort();
		dkim_canon_header(DKIM_CANON_RELAXED, f[i].p, f[i].len, &hdr);
		dkim_canon_header(DKIM_CANON_SIMPLE, f[i].p, f[i].len, &hdr);
	}
	free(f);
	buf_free(&hdr);

	step = size > 0 ? (size_t)(data[0] % 13) + 1 : 1;
	for (mode = DKIM_CANON_SIMPLE; mode <= DKIM_CANON_RELAXED; mode++) {
		buf_init(&whole);
		buf_init(&part);
		dkim_canon_body_init(&cb, mode, emit, &whole);
		dkim_canon_body_update(&cb, msg + off, size - off);
		if (dkim_canon_body_final(&cb) != whole.len)
			abort();
		dkim_canon_body_init(&cb, mode, emit, &part);
		for (pos = off; pos < size; pos += step)
			dkim_canon_body_update(&cb, msg + pos, step < size - pos ? step : size - pos);
		dkim_canon_body_final(&cb);
		if (whole.len != part.len ||
		    (whole.len > 0 && memcmp(whole.data, part.data, whole.len) != 0))
			abort();
		/* canonical bodies end with CRLF, or are empty (relaxed only) */
		if (whole.len == 0 ? mode != DKIM_CANON_RELAXED :
		    (whole.len < 2 || memcmp(whole.data + whole.len - 2, "\r\n", 2) != 0))
			abort();
		buf_free(&whole);
		buf_free(&part);
	}

	buf_init(&sig);
	if (dkim_sign(&(struct dkim_key *){ fuzz_key() }, 1, msg, size, 1, &sig, &err) != 0)
		free(err);
	buf_free(&sig);
	return 0;
}
