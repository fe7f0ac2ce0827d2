/* Unit tests for src/dkim: canonicalization against golden files written by
 * an independent implementation (dkimpy, tests/tools/dkim_canon_golden.py),
 * chunked == whole, the RFC 8463 Appendix A signature reproduced exactly,
 * sign/verify round trips checked with OpenSSL directly, key files, the key
 * ring and the DNS records. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "dkim/dkim_canon.h"
#include "dkim/dkim_check.h"
#include "dkim/dkim_keys.h"
#include "dkim/dkim_sign.h"
#include "util/buf.h"
#include "util/fsutil.h"

#define GOLDEN_DIR "tests/golden/dkim_canon"

/* RFC 8463 Appendix A: the example message, key and signature. */
static const char rfc8463_msg[] =
    "From: Joe SixPack <joe@football.example.com>\r\n"
    "To: Suzie Q <suzie@shopping.example.net>\r\n"
    "Subject: Is dinner ready?\r\n"
    "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
    "Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
    "\r\n"
    "Hi.\r\n"
    "\r\n"
    "We lost the game.  Are you hungry yet?\r\n"
    "\r\n"
    "Joe.\r\n";
static const char rfc8463_seed_b64[] = "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=";
static const char rfc8463_pub_txt[] =
    "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
static const char rfc8463_bh[] = "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=";
static const char rfc8463_b[] =
    "/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus"
    "Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==";

static void
emit_buf(void *arg, const void *p, size_t n)
{
	buf_append(arg, p, n);
}

/* canon_all() writes the golden format of tests/tools/dkim_canon_golden.py;
 * the body is fed in chunks of chunk bytes (0: whole), or at the random
 * split points of seed when chunk is (size_t)-1. */
static void
canon_all(const char *msg, size_t len, size_t chunk, unsigned seed, struct buf *out)
{
	struct dkim_field *f;
	struct dkim_canon_body cb;
	size_t nf, i, off, pos, n;
	int mode;

	off = dkim_canon_fields(msg, len, &f, &nf);
	buf_puts(out, "== headers relaxed\r\n");
	for (i = 0; i < nf; i++)
		dkim_canon_header(DKIM_CANON_RELAXED, f[i].p, f[i].len, out);
	free(f);
	for (mode = DKIM_CANON_RELAXED; mode >= DKIM_CANON_SIMPLE; mode--) {
		buf_puts(out, mode == DKIM_CANON_RELAXED ? "== body relaxed\r\n" :
		    "== body simple\r\n");
		dkim_canon_body_init(&cb, mode, emit_buf, out);
		srand(seed);
		for (pos = off; pos < len; pos += n) {
			n = chunk == 0 ? len - pos : chunk == (size_t)-1 ?
			    (size_t)(rand() % 7) : chunk;
			if (n > len - pos)
				n = len - pos;
			dkim_canon_body_update(&cb, msg + pos, n);
		}
		dkim_canon_body_final(&cb);
	}
}

static void
test_golden(void **state)
{
	DIR *d;
	struct dirent *de;
	int cases = 0;

	(void)state;
	d = opendir(GOLDEN_DIR);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		char path[512], *in, *want;
		size_t inlen, wantlen, chunks[] = { 0, 1, 2, 3, 64, (size_t)-1 }, c;
		size_t n = strlen(de->d_name);

		if (n < 4 || strcmp(de->d_name + n - 3, ".in") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", GOLDEN_DIR, de->d_name);
		assert_int_equal(fs_read_file(path, 1 << 20, &in, &inlen), 0);
		snprintf(path, sizeof(path), "%s/%.*s.out", GOLDEN_DIR, (int)(n - 3), de->d_name);
		assert_int_equal(fs_read_file(path, 1 << 20, &want, &wantlen), 0);
		for (c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
			struct buf got;

			buf_init(&got);
			canon_all(in, inlen, chunks[c], (unsigned)c, &got);
			if (got.len != wantlen || memcmp(got.data, want, wantlen) != 0)
				fail_msg("golden %s (chunk %zu): got\n%s\nwant\n%s", de->d_name,
				    chunks[c], got.data, want);
			buf_free(&got);
		}
		free(in);
		free(want);
		cases++;
	}
	closedir(d);
	assert_true(cases >= 8);
}

/* Random bodies over the bytes that matter (CR, LF, SP, TAB, 'a'): every
 * chunking gives the output of feeding the body whole. */
static void
test_chunked_random(void **state)
{
	static const char alphabet[] = "\r\n \ta";
	char msg[300];
	int iter;

	(void)state;
	srand(42);
	for (iter = 0; iter < 3000; iter++) {
		size_t len = (size_t)(rand() % (int)sizeof(msg)), i;
		struct buf whole, part;

		for (i = 0; i < len; i++)
			msg[i] = alphabet[rand() % 5];
		buf_init(&whole);
		buf_init(&part);
		canon_all(msg, len, 0, 0, &whole);
		canon_all(msg, len, (size_t)-1, (unsigned)iter, &part);
		assert_int_equal(whole.len, part.len);
		assert_memory_equal(whole.data, part.data, whole.len);
		buf_free(&whole);
		buf_free(&part);
	}
}

static void
test_body_edges(void **state)
{
	static const struct { int mode; const char *in, *out; } cases[] = {
		{ DKIM_CANON_RELAXED, "", "" },
		{ DKIM_CANON_SIMPLE, "", "\r\n" },
		{ DKIM_CANON_RELAXED, "\r\n\r\n", "" },
		{ DKIM_CANON_SIMPLE, "\r\n\r\n", "\r\n" },
		{ DKIM_CANON_RELAXED, " \t \r\n", "" },
		{ DKIM_CANON_SIMPLE, " \r\n", " \r\n" },
		{ DKIM_CANON_RELAXED, "a  b\t\tc \r\n\r\nd", "a b c\r\n\r\nd\r\n" },
		{ DKIM_CANON_RELAXED, "x\t", "x\r\n" },	/* the wire adds CRLF, then WSP goes */
		{ DKIM_CANON_SIMPLE, "x\r", "x\r\r\n" },
		{ DKIM_CANON_RELAXED, "\r\r\n", "\r\r\n" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct dkim_canon_body cb;
		struct buf out;
		unsigned long long total;

		buf_init(&out);
		dkim_canon_body_init(&cb, cases[i].mode, emit_buf, &out);
		dkim_canon_body_update(&cb, cases[i].in, strlen(cases[i].in));
		total = dkim_canon_body_final(&cb);
		assert_int_equal(out.len, strlen(cases[i].out));
		assert_int_equal(total, out.len);
		if (out.len)
			assert_memory_equal(out.data, cases[i].out, out.len);
		buf_free(&out);
	}
}

static void
test_header_canon(void **state)
{
	struct buf out;

	(void)state;
	buf_init(&out);
	dkim_canon_header(DKIM_CANON_RELAXED, "SubJect \t: \t Hello \r\n\t World \t\r\n", 32,
	    &out);
	assert_string_equal(out.data, "subject:Hello World\r\n");
	buf_reset(&out);
	dkim_canon_header(DKIM_CANON_SIMPLE, "SubJect : x", 11, &out);
	assert_string_equal(out.data, "SubJect : x\r\n");
	buf_free(&out);
}

static EVP_PKEY *
rfc8463_pkey(void)
{
	unsigned char seed[48];
	int n = EVP_DecodeBlock(seed, (const unsigned char *)rfc8463_seed_b64,
	    (int)strlen(rfc8463_seed_b64));

	assert_true(n >= 32);
	return EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
}

/* pem_of() writes pkey as PKCS#8 PEM (caller frees). */
static char *
pem_of(EVP_PKEY *pkey)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *p, *s;
	long n;

	assert_int_equal(PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL), 1);
	n = BIO_get_mem_data(bio, &p);
	s = strndup(p, (size_t)n);
	BIO_free(bio);
	return s;
}

/* tag() copies the value of tag name (e.g. "b") from a DKIM-Signature field
 * with all white space removed. */
static void
tag(const char *field, const char *name, char *out, size_t size)
{
	const char *p = field, *v;
	size_t n = strlen(name), o = 0;

	out[0] = '\0';
	while ((p = strstr(p, name)) != NULL) {
		if (p[n] == '=' && (p == field || strchr(" \t\n;:", p[-1]))) {
			for (v = p + n + 1; *v && *v != ';' && o + 1 < size; v++)
				if (!strchr(" \t\r\n", *v))
					out[o++] = *v;
			out[o] = '\0';
			return;
		}
		p += n;
	}
}

static void
test_rfc8463(void **state)
{
	static const char head[] =
	    "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
	    " d=football.example.com; i=@football.example.com;\r\n"
	    " q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"
	    " subject : date : message-id : from : subject : date;\r\n ";
	static const char *const names[] = {
		"from", "to", "subject", "date", "message-id", "from", "subject", "date",
	};
	EVP_PKEY *pkey = rfc8463_pkey();
	struct dkim_key *key;
	struct buf out, txt;
	char *pem = pem_of(pkey), *err = NULL, v[200], bh[45];

	(void)state;
	assert_int_equal(dkim_key_from_pem(&key, "football.example.com", "brisbane", pem,
	    strlen(pem), &err), 0);
	assert_int_equal(dkim_key_algo(key), DKIM_ALGO_ED25519);
	buf_init(&txt);
	dkim_key_txt(key, &txt);
	assert_string_equal(txt.data, rfc8463_pub_txt);

	dkim_body_hash(rfc8463_msg, strlen(rfc8463_msg), bh);
	assert_string_equal(bh, rfc8463_bh);

	buf_init(&out);
	assert_int_equal(dkim_sign_head(key, rfc8463_msg, strlen(rfc8463_msg), names, 8, head,
	    &out, &err), 0);
	tag(out.data, "bh", v, sizeof(v));
	assert_string_equal(v, rfc8463_bh);
	tag(out.data, "b", v, sizeof(v));
	assert_string_equal(v, rfc8463_b);
	assert_true(strncmp(out.data, head, strlen(head)) == 0);

	buf_free(&out);
	buf_free(&txt);
	dkim_key_free(key);
	free(pem);
	EVP_PKEY_free(pkey);
}

/* verify() checks one DKIM-Signature field over msg the way a verifier
 * does, with OpenSSL and the public key taken from the TXT record value:
 * 1 if it verifies, 0 if not. */
static int
verify(const char *field, size_t flen, const char *msg, size_t len, const char *txt)
{
	char h[600], b[1200], a[40], bh[60], mybh[45], *stripped, *p;
	unsigned char sig[1024], der[1024], dig[32];
	struct dkim_field *f;
	struct buf data;
	size_t nf, i, j, nsig, nder;
	EVP_PKEY *pub;
	EVP_MD_CTX *ctx;
	unsigned int dlen = 32;
	int ok, ed;
	const char *pv;

	tag(field, "h", h, sizeof(h));
	tag(field, "b", b, sizeof(b));
	tag(field, "a", a, sizeof(a));
	tag(field, "bh", bh, sizeof(bh));
	dkim_body_hash(msg, len, mybh);
	if (strcmp(bh, mybh) != 0)
		return 0;
	ed = strcmp(a, "ed25519-sha256") == 0;

	pv = strstr(txt, "p=") + 2;
	nder = (size_t)EVP_DecodeBlock(der, (const unsigned char *)pv, (int)strlen(pv));
	if (ed)
		pub = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, der, 32);
	else {
		const unsigned char *q = der;

		pub = d2i_PUBKEY(NULL, &q, (long)nder);
	}
	assert_non_null(pub);

	/* the headers of h=, bottom up for repeated names */
	buf_init(&data);
	dkim_canon_fields(msg, len, &f, &nf);
	{
		char *names[64], *save = NULL, *tok;
		size_t nn = 0;

		for (tok = strtok_r(h, ":", &save); tok && nn < 64; tok = strtok_r(NULL, ":", &save))
			names[nn++] = tok;
		for (i = 0; i < nn; i++) {
			size_t skip = 0, seen = 0;

			for (j = 0; j < i; j++)
				if (strcasecmp(names[j], names[i]) == 0)
					skip++;
			for (j = nf; j-- > 0;) {
				if (f[j].namelen != strlen(names[i]) ||
				    strncasecmp(f[j].p, names[i], f[j].namelen) != 0)
					continue;
				if (seen++ == skip) {
					dkim_canon_header(DKIM_CANON_RELAXED, f[j].p, f[j].len, &data);
					break;
				}
			}
		}
	}
	free(f);
	/* the signature field itself with b= emptied, without its CRLF */
	stripped = strndup(field, flen);
	p = strstr(stripped, "\tb=");
	assert_non_null(p);
	p[3] = '\0';
	dkim_canon_header(DKIM_CANON_RELAXED, stripped, strlen(stripped), &data);
	data.len -= 2;
	free(stripped);

	nsig = (size_t)EVP_DecodeBlock(sig, (const unsigned char *)b, (int)strlen(b));
	if (strlen(b) >= 2 && b[strlen(b) - 1] == '=')
		nsig -= b[strlen(b) - 2] == '=' ? 2 : 1;
	ctx = EVP_MD_CTX_new();
	if (ed) {
		EVP_Digest(data.data, data.len, dig, &dlen, EVP_sha256(), NULL);
		ok = EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pub) == 1 &&
		    EVP_DigestVerify(ctx, sig, nsig, dig, 32) == 1;
	} else {
		ok = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pub) == 1 &&
		    EVP_DigestVerify(ctx, sig, nsig, (unsigned char *)data.data, data.len) == 1;
	}
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pub);
	buf_free(&data);
	return ok;
}

static const char test_msg[] =
    "Received: from x by y; Thu, 26 Nov 2026 18:00:00 +0000\r\n"
    "From: =?UTF-8?B?SsO2cmc=?= <jorg@shop.example>\r\n"
    "To: a@x.example,\r\n b@y.example\r\n"
    "Subject: Your order, with a subject long enough to be folded across more\r\n"
    " than one line\r\n"
    "Date: Thu, 26 Nov 2026 18:00:00 +0000\r\n"
    "Message-ID: <1@shop.example>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "X-Order: 42\r\n"
    "\r\n"
    "Gr\xc3\xbc\xc3\x9f" "e  \r\n\r\n";

/* sign_and_check() signs test_msg with keys and verifies each field. */
static void
sign_and_check(struct dkim_key **keys, size_t nkeys)
{
	struct buf out, txt;
	char *err = NULL, *fields[2], *p, *tampered;
	size_t k, len = strlen(test_msg);

	buf_init(&out);
	assert_int_equal(dkim_sign(keys, nkeys, test_msg, len, 1795716000LL, &out, &err), 0);
	/* split the output into its fields */
	p = out.data;
	for (k = 0; k < nkeys; k++) {
		char *next = strstr(p + 1, "\r\nDKIM-Signature:");

		fields[k] = strndup(p, next ? (size_t)(next - p) + 2 : strlen(p));
		p = next ? next + 2 : p + strlen(p);
	}
	assert_int_equal(*p, '\0');
	for (k = 0; k < nkeys; k++) {
		char h[600], t[40], l[10];
		const char *line;

		buf_init(&txt);
		dkim_key_txt(keys[k], &txt);
		tag(fields[k], "h", h, sizeof(h));
		assert_string_equal(h, "from:to:subject:date:message-id:mime-version:"
		    "content-type:from:subject");
		tag(fields[k], "t", t, sizeof(t));
		assert_string_equal(t, "1795716000");
		tag(fields[k], "l", l, sizeof(l));
		assert_string_equal(l, "");
		/* folded: no line over 78 columns, every line ends with CRLF */
		for (line = fields[k]; *line; ) {
			const char *e = strstr(line, "\r\n");

			assert_non_null(e);
			assert_true(e - line <= 78);
			line = e + 2;
		}
		assert_true(verify(fields[k], strlen(fields[k]), test_msg, len, txt.data));

		/* a changed body byte fails */
		tampered = strdup(test_msg);
		tampered[len - 6] = 'X';
		assert_false(verify(fields[k], strlen(fields[k]), tampered, len, txt.data));
		free(tampered);
		/* a changed signed header fails */
		tampered = strdup(test_msg);
		memcpy(strstr(tampered, "Your order"), "Our  order", 10);
		assert_false(verify(fields[k], strlen(fields[k]), tampered, len, txt.data));
		free(tampered);
		/* an unsigned header may change */
		tampered = strdup(test_msg);
		memcpy(strstr(tampered, "X-Order: 42"), "X-Order: 43", 11);
		assert_true(verify(fields[k], strlen(fields[k]), tampered, len, txt.data));
		free(tampered);
		/* an added From (oversigned) fails */
		{
			struct buf added;

			buf_init(&added);
			buf_puts(&added, "From: evil@attacker.example\r\n");
			buf_puts(&added, test_msg);
			assert_false(verify(fields[k], strlen(fields[k]), added.data, added.len,
			    txt.data));
			buf_free(&added);
		}
		buf_free(&txt);
		free(fields[k]);
	}
	buf_free(&out);
}

static void
test_roundtrip(void **state)
{
	struct dkim_key *keys[2];
	char *pem, *err = NULL;

	(void)state;
	assert_int_equal(dkim_keys_generate(DKIM_ALGO_RSA, &pem, &err), 0);
	assert_int_equal(dkim_key_from_pem(&keys[0], "shop.example", "s1", pem, strlen(pem),
	    &err), 0);
	free(pem);
	assert_int_equal(dkim_keys_generate(DKIM_ALGO_ED25519, &pem, &err), 0);
	assert_int_equal(dkim_key_from_pem(&keys[1], "shop.example", "s1-ed", pem, strlen(pem),
	    &err), 0);
	free(pem);
	assert_int_equal(dkim_key_algo(keys[0]), DKIM_ALGO_RSA);
	assert_int_equal(dkim_key_algo(keys[1]), DKIM_ALGO_ED25519);
	sign_and_check(&keys[0], 1);
	sign_and_check(&keys[1], 1);
	sign_and_check(keys, 2);
	dkim_key_free(keys[0]);
	dkim_key_free(keys[1]);
}

static void
test_errors(void **state)
{
	struct dkim_key *key;
	struct buf out;
	char *err = NULL, *pem;
	EVP_PKEY *pkey = rfc8463_pkey();

	(void)state;
	assert_int_equal(dkim_key_from_pem(&key, "a.example", "s", "junk", 4, &err), -1);
	assert_non_null(err);
	free(err);
	err = NULL;
	pem = pem_of(pkey);
	assert_int_equal(dkim_key_from_pem(&key, "a.example", "s; x=1", pem, strlen(pem), &err),
	    -1);
	free(err);
	err = NULL;
	assert_int_equal(dkim_key_from_pem(&key, "a.example", "s", pem, strlen(pem), &err), 0);
	buf_init(&out);
	assert_int_equal(dkim_sign(&key, 1, "To: a@b\r\n\r\nx\r\n", 14, 1, &out, &err), -1);
	assert_int_equal(out.len, 0);
	free(err);
	buf_free(&out);
	dkim_key_free(key);
	free(pem);
	EVP_PKEY_free(pkey);
}

static void
test_domain_setup(void **state)
{
	char dir[] = "/tmp/hermod-dkim-test.XXXXXX", *err = NULL, *path, *json;
	struct dkim_records r, r2;
	struct dkim_keyring *ring;
	struct buf out;
	struct stat st;
	json_t *root, *recs;
	json_error_t jerr;
	size_t i;
	int ndkim = 0, nspf = 0, ndmarc = 0, nmx = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(dkim_domain_setup(dir, "shop.example", "sel1",
	    DKIM_ALGO_RSA | DKIM_ALGO_ED25519, "mail.test.example", NULL, &r, &err), 0);
	path = dkim_keys_path(dir, "shop.example", "sel1", DKIM_ALGO_RSA);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	free(path);
	path = dkim_keys_path(dir, "shop.example", "sel1-ed", DKIM_ALGO_ED25519);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	free(path);

	buf_init(&out);
	dkim_records_json(&r, &out);
	root = json_loads(out.data, 0, &jerr);
	assert_non_null(root);
	assert_string_equal(json_string_value(json_object_get(root, "domain")), "shop.example");
	recs = json_object_get(root, "records");
	assert_true(json_is_array(recs));
	for (i = 0; i < json_array_size(recs); i++) {
		json_t *rec = json_array_get(recs, i);
		const char *type = json_string_value(json_object_get(rec, "type"));
		const char *name = json_string_value(json_object_get(rec, "name"));
		const char *value = json_string_value(json_object_get(rec, "value"));

		assert_non_null(type);
		assert_non_null(name);
		assert_non_null(value);
		assert_non_null(json_string_value(json_object_get(rec, "purpose")));
		if (strstr(value, "v=DKIM1") == value) {
			ndkim++;
			assert_true(strcmp(name, "sel1._domainkey.shop.example") == 0 ||
			    strcmp(name, "sel1-ed._domainkey.shop.example") == 0);
		} else if (strstr(value, "v=spf1") == value) {
			nspf++;
			assert_string_equal(name, "bounce.shop.example");
			assert_string_equal(value, "v=spf1 a:mail.test.example -all");
		} else if (strstr(value, "v=DMARC1") == value) {
			ndmarc++;
			assert_string_equal(name, "_dmarc.shop.example");
			assert_non_null(strstr(value, "p=none"));
			assert_non_null(strstr(value, "rua=mailto:"));
		} else if (strcmp(type, "MX") == 0) {
			nmx++;
			assert_string_equal(value, "10 mail.test.example");
		}
	}
	assert_int_equal(ndkim, 2);
	assert_int_equal(nspf, 1);
	assert_int_equal(ndmarc, 1);
	assert_int_equal(nmx, 1);
	json_decref(root);

	/* again: the same keys, not new ones */
	assert_int_equal(dkim_domain_setup(dir, "shop.example", "sel1",
	    DKIM_ALGO_RSA | DKIM_ALGO_ED25519, "mail.test.example", NULL, &r2, &err), 0);
	assert_string_equal(r.v[0].value, r2.v[0].value);
	assert_string_equal(r.v[1].value, r2.v[1].value);
	dkim_records_free(&r2);

	/* inbound.bounce_domain set: the return path's MX and SPF are there */
	assert_int_equal(dkim_domain_records(dir, "shop.example", "sel1",
	    DKIM_ALGO_RSA | DKIM_ALGO_ED25519, "mail.test.example", "rp.example.net", &r2, &err), 0);
	{
		int spf = 0, mx = 0;
		for (i = 0; i < r2.n; i++) {
			if (strcmp(r2.v[i].type, "MX") == 0) {
				assert_string_equal(r2.v[i].name, "rp.example.net");
				mx++;
			} else if (strncmp(r2.v[i].value, "v=spf1", 6) == 0) {
				assert_string_equal(r2.v[i].name, "rp.example.net");
				spf++;
			}
			assert_null(strstr(r2.v[i].name, "bounce.shop.example"));
		}
		assert_int_equal(spf, 1);
		assert_int_equal(mx, 1);
	}
	dkim_records_free(&r2);

	/* the key ring finds both keys by the domain alone */
	ring = dkim_keyring_new(dir);
	buf_reset(&out);
	assert_int_equal(dkim_keyring_sign(ring, "shop.example", NULL, test_msg, strlen(test_msg),
	    1795716000LL, &out, &err), 0);
	assert_non_null(strstr(out.data, "a=rsa-sha256"));
	assert_non_null(strstr(out.data, "a=ed25519-sha256"));
	assert_non_null(strstr(out.data, "s=sel1-ed;"));
	assert_int_equal(dkim_keyring_sign(ring, "other.example", NULL, test_msg,
	    strlen(test_msg), 1, &out, &err), DKIM_KEYS_NOKEY);
	/* by the From domain, or its nearest parent with a key */
	{
		static const char sub[] = "From: \"A <x@y>\" <News@Mail.Shop.Example>\r\n"
		    "Subject: s\r\n\r\nbody\r\n";
		static const char none[] = "From: a@nowhere.example\r\n\r\nx\r\n";
		char dom[64];

		assert_int_equal(dkim_from_domain(sub, strlen(sub), dom, sizeof(dom)), 0);
		assert_string_equal(dom, "mail.shop.example");
		assert_int_equal(dkim_from_domain("To: a@b\r\n\r\n", 11, dom, sizeof(dom)), -1);
		assert_int_equal(dkim_from_domain("From: x\r\n\r\n", 11, dom, sizeof(dom)), -1);
		assert_int_equal(dkim_from_domain("From: a@b.example (c)\r\n", 24, dom, sizeof(dom)),
		    -1);
		buf_reset(&out);
		assert_int_equal(dkim_keyring_sign_from(ring, sub, strlen(sub), 1, &out, &err), 0);
		assert_non_null(strstr(out.data, "d=shop.example;"));
		assert_int_equal(dkim_keyring_sign_from(ring, none, strlen(none), 1, &out, &err),
		    DKIM_KEYS_NOKEY);
		/* in place, after the trace fields */
		buf_reset(&out);
		buf_puts(&out, "Received: from a by b;\r\n\tThu, 26 Nov 2026 18:00:00 +0000\r\n");
		buf_puts(&out, sub);
		assert_int_equal(dkim_keyring_sign_message(ring, &out, 1, &err), 0);
		assert_true(strncmp(out.data, "Received: from a by b;\r\n\tThu", 28) == 0);
		assert_non_null(strstr(out.data, "+0000\r\nDKIM-Signature: v=1; a=rsa-sha256;"));
		assert_non_null(strstr(out.data, "\r\nFrom: \"A <x@y>\""));
	}
	dkim_keyring_free(ring);

	/* rotation: a second key does not sign until it is made active */
	assert_int_equal(dkim_domain_setup(dir, "shop.example", "sel2", DKIM_ALGO_ED25519,
	    "mail.test.example", NULL, &r2, &err), 0);
	dkim_records_free(&r2);
	ring = dkim_keyring_new(dir);
	buf_reset(&out);
	assert_int_equal(dkim_keyring_sign(ring, "shop.example", NULL, test_msg, strlen(test_msg),
	    1, &out, &err), 0);
	assert_non_null(strstr(out.data, "s=sel1;"));
	assert_null(strstr(out.data, "s=sel2;"));
	dkim_keyring_free(ring);
	assert_int_equal(dkim_keys_set_active(dir, "shop.example", "sel2", &err), 0);
	ring = dkim_keyring_new(dir);
	buf_reset(&out);
	assert_int_equal(dkim_keyring_sign(ring, "shop.example", NULL, test_msg, strlen(test_msg),
	    1, &out, &err), 0);
	assert_non_null(strstr(out.data, "s=sel2;"));
	assert_null(strstr(out.data, "s=sel1;"));
	assert_non_null(strstr(out.data, "a=ed25519-sha256;"));
	dkim_keyring_free(ring);
	ring = dkim_keyring_new(dir);
	dkim_keyring_set_selector(ring, "shop.example", "sel1");
	buf_reset(&out);
	assert_int_equal(dkim_keyring_sign(ring, "shop.example", NULL, test_msg, strlen(test_msg),
	    1, &out, &err), 0);
	assert_non_null(strstr(out.data, "s=sel1;"));
	dkim_keyring_free(ring);

	/* optional records and explicit SPF addresses */
	{
		const char *ips[] = { "192.0.2.1", "2001:db8::/64", NULL };
		struct dkim_records_params p = {
			.domain = "shop.example", .hostname = "mx.example", .spf_ips = ips,
			.mta_sts = 1, .now = 1795716000LL,
		};
		struct dkim_records r3;

		dkim_records_build(&p, &r3);
		json = NULL;
		for (i = 0; i < r3.n; i++) {
			if (strncmp(r3.v[i].value, "v=spf1", 6) == 0)
				assert_string_equal(r3.v[i].value,
				    "v=spf1 ip4:192.0.2.1 ip6:2001:db8::/64 -all");
			if (strcmp(r3.v[i].name, "_mta-sts.shop.example") == 0)
				json = r3.v[i].value;
		}
		assert_non_null(json);
		assert_string_equal(json, "v=STSv1; id=20261126180000");
		dkim_records_free(&r3);
	}

	dkim_records_free(&r);
	buf_free(&out);
	{
		char cmd[600];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		assert_int_equal(system(cmd), 0);
	}
}

static void
test_check(void **state)
{
	struct dkim_record dk = { "TXT", "s._domainkey.a.example", "v=DKIM1; k=ed25519; p=AbC=", "" };
	struct dkim_record spf = { "TXT", "bounce.a.example", "v=spf1 a:mx.a.example -all", "" };
	struct dkim_record dmarc = { "TXT", "_dmarc.a.example", "v=DMARC1; p=none", "" };
	struct dkim_record mx = { "MX", "bounce.a.example", "10 mx.a.example", "" };
	const char *a1[] = { "v=DKIM1; k=ed25519; p = Ab C=" };
	const char *a2[] = { "v=DKIM1; k=ed25519; p=XYZ=" };
	const char *a3[] = { "v=spf1 ip4:192.0.2.1 a:mx.a.example ~all" };
	const char *a4[] = { "v=spf1 ip4:192.0.2.1 -all" };
	const char *a5[] = { "v=spf1 a:mx.a.example -all", "v=spf1 -all" };
	const char *a6[] = { "some other text", "v=DMARC1; p=reject" };
	const char *a7[] = { "20 other.example.", "10 MX.A.example." };
	const char *a8[] = { "10 other.example." };
	char *why = NULL;

	(void)state;
	assert_int_equal(dkim_check_record(&dk, a1, 1, &why), DKIM_CHECK_OK);
	assert_int_equal(dkim_check_record(&dk, a2, 1, &why), DKIM_CHECK_WRONG);
	assert_non_null(why);
	free(why);
	assert_int_equal(dkim_check_record(&dk, NULL, 0, &why), DKIM_CHECK_MISSING);
	assert_int_equal(dkim_check_record(&spf, a3, 1, &why), DKIM_CHECK_OK);
	assert_int_equal(dkim_check_record(&spf, a4, 1, &why), DKIM_CHECK_WRONG);
	assert_non_null(strstr(why, "a:mx.a.example"));
	free(why);
	assert_int_equal(dkim_check_record(&spf, a5, 2, &why), DKIM_CHECK_WRONG);
	free(why);
	assert_int_equal(dkim_check_record(&spf, a6, 1, &why), DKIM_CHECK_MISSING);
	assert_int_equal(dkim_check_record(&dmarc, a6, 2, &why), DKIM_CHECK_OK);
	assert_int_equal(dkim_check_record(&dmarc, a6, 1, &why), DKIM_CHECK_MISSING);
	assert_int_equal(dkim_check_record(&mx, a7, 2, &why), DKIM_CHECK_OK);
	assert_int_equal(dkim_check_record(&mx, a8, 1, &why), DKIM_CHECK_WRONG);
	free(why);
	assert_true(dkim_check_required(&dk));
	assert_false(dkim_check_required(&spf));
	assert_string_equal(dkim_check_status_name(DKIM_CHECK_MISSING), "missing");
}

/* Threads share keys (and a fresh key ring) while signing: every signature
 * must equal the one made alone (RSA PKCS#1 v1.5 and Ed25519 are both
 * deterministic), so a shared mutable context would show. */
struct thr {
	struct dkim_key		**keys;
	struct dkim_keyring	*ring;
	const char		*want;
	int			 bad;
};

static void *
thr_run(void *arg)
{
	struct thr *t = arg;
	struct buf out;
	char *err = NULL;
	int i;

	buf_init(&out);
	for (i = 0; i < 60; i++) {
		buf_reset(&out);
		if (t->ring != NULL) {
			if (dkim_keyring_sign(t->ring, "shop.example", "t1", test_msg, strlen(test_msg),
			    1795716000LL, &out, &err) != 0)
				t->bad++;
		} else if (dkim_sign(t->keys, 2, test_msg, strlen(test_msg), 1795716000LL, &out,
		    &err) != 0)
			t->bad++;
		if (strcmp(out.data, t->want) != 0)
			t->bad++;
	}
	buf_free(&out);
	return NULL;
}

static void
test_threads(void **state)
{
	char dir[] = "/tmp/hermod-dkim-thr.XXXXXX", cmd[300], *err = NULL;
	struct dkim_records r;
	struct dkim_key *keys[2];
	struct buf want;
	pthread_t tid[4];
	struct thr t[4];
	int i, pass;
	char *path;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(dkim_domain_setup(dir, "shop.example", "t1",
	    DKIM_ALGO_RSA | DKIM_ALGO_ED25519, "mx.example", NULL, &r, &err), 0);
	dkim_records_free(&r);
	path = dkim_keys_path(dir, "shop.example", "t1", DKIM_ALGO_RSA);
	assert_int_equal(dkim_key_load(&keys[0], "shop.example", "t1", path, &err), 0);
	free(path);
	path = dkim_keys_path(dir, "shop.example", "t1-ed", DKIM_ALGO_ED25519);
	assert_int_equal(dkim_key_load(&keys[1], "shop.example", "t1-ed", path, &err), 0);
	free(path);
	buf_init(&want);
	assert_int_equal(dkim_sign(keys, 2, test_msg, strlen(test_msg), 1795716000LL, &want,
	    &err), 0);
	for (pass = 0; pass < 2; pass++) {
		struct dkim_keyring *ring = pass ? dkim_keyring_new(dir) : NULL;

		for (i = 0; i < 4; i++) {
			t[i] = (struct thr){ .keys = keys, .ring = ring, .want = want.data };
			assert_int_equal(pthread_create(&tid[i], NULL, thr_run, &t[i]), 0);
		}
		for (i = 0; i < 4; i++) {
			pthread_join(tid[i], NULL);
			assert_int_equal(t[i].bad, 0);
		}
		dkim_keyring_free(ring);
	}
	buf_free(&want);
	dkim_key_free(keys[0]);
	dkim_key_free(keys[1]);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_chunked_random),
		cmocka_unit_test(test_body_edges),
		cmocka_unit_test(test_header_canon),
		cmocka_unit_test(test_rfc8463),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_domain_setup),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
