/* dkim_signfile: a test tool (not installed) that drives src/dkim from the
 * shell, so that independent verifiers can check hermod's signatures.
 *
 *   dkim_signfile setup DATA_DIR DOMAIN SELECTOR rsa|ed25519|dual HOSTNAME
 *       makes the key(s) like `hermod domain add` and prints the records JSON
 *   dkim_signfile sign DATA_DIR DOMAIN [SELECTOR] < message > signed
 *       signs through the key ring; prints the DKIM-Signature field(s)
 *       followed by the message, unchanged
 *
 * The message is read as bytes; the integration test writes CRLF line ends,
 * as hermod's SMTP server and MIME builder do. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dkim/dkim_keys.h"
#include "util/buf.h"

static int
usage(void)
{
	fprintf(stderr, "usage: dkim_signfile setup DATA_DIR DOMAIN SELECTOR rsa|ed25519|dual "
	    "HOSTNAME\n       dkim_signfile sign DATA_DIR DOMAIN [SELECTOR] < msg\n");
	return 2;
}

static int
cmd_setup(int argc, char **argv)
{
	struct dkim_records r;
	struct buf out;
	char *err = NULL;
	int algos;

	if (argc != 7)
		return usage();
	algos = strcmp(argv[5], "ed25519") == 0 ? DKIM_ALGO_ED25519 :
	    strcmp(argv[5], "dual") == 0 ? DKIM_ALGO_RSA | DKIM_ALGO_ED25519 : DKIM_ALGO_RSA;
	if (dkim_domain_setup(argv[2], argv[3], argv[4], algos, argv[6], NULL, &r, &err) != 0) {
		fprintf(stderr, "dkim_signfile: %s\n", err);
		free(err);
		return 1;
	}
	buf_init(&out);
	dkim_records_json(&r, &out);
	printf("%s\n", out.data);
	buf_free(&out);
	dkim_records_free(&r);
	return 0;
}

static int
cmd_sign(int argc, char **argv)
{
	struct dkim_keyring *ring;
	struct buf msg, out;
	char chunk[65536], *err = NULL;
	size_t n;
	int rc;

	if (argc != 4 && argc != 5)
		return usage();
	buf_init(&msg);
	while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
		buf_append(&msg, chunk, n);
	ring = dkim_keyring_new(argv[2]);
	buf_init(&out);
	rc = dkim_keyring_sign(ring, argv[3], argc == 5 ? argv[4] : NULL, msg.data, msg.len,
	    (long long)time(NULL), &out, &err);
	if (rc != 0) {
		fprintf(stderr, "dkim_signfile: %s\n", rc == DKIM_KEYS_NOKEY ? "no key" : err);
		free(err);
	} else {
		fwrite(out.data, 1, out.len, stdout);
		fwrite(msg.data, 1, msg.len, stdout);
	}
	dkim_keyring_free(ring);
	buf_free(&out);
	buf_free(&msg);
	return rc == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "setup") == 0)
		return cmd_setup(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "sign") == 0)
		return cmd_sign(argc, argv);
	return usage();
}
