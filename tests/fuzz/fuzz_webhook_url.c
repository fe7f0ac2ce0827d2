/* libFuzzer harness for webhook_url and webhook_sign: any bytes as a
 * subscription URL and as a secret. webhook_url_check() must answer 0 or -1
 * with a reason, and never accept with allow_private = 0 what it refuses
 * with allow_private = 1; webhook_secret_key() must decode at most
 * WEBHOOK_KEY_MAX bytes, and webhook_sign() must succeed exactly when the
 * secret decodes, with a signature of the fixed length. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"
#include "webhook/webhook.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char key[WEBHOOK_KEY_MAX];
	char sig[WEBHOOK_SIG_LEN + 1];
	const char *why = NULL;
	char *in;
	int strict, lax, klen;

	if (size > 4096)
		return 0;
	in = xstrndup((const char *)data, size);
	strict = webhook_url_check(in, 0, &why);
	if (strict < 0 && why == NULL)
		abort();
	lax = webhook_url_check(in, 1, &why);
	if (lax < 0 && why == NULL)
		abort();
	if (strict == 0 && lax != 0)
		abort();	/* allowing private targets never refuses more */
	klen = webhook_secret_key(in, key);
	if (klen > WEBHOOK_KEY_MAX || klen == 0)
		abort();
	if ((webhook_sign(in, "msg", 1, "{}", 2, sig) == 0) != (klen > 0))
		abort();
	if (klen > 0 && (strlen(sig) != WEBHOOK_SIG_LEN || memcmp(sig, "v1,", 3) != 0))
		abort();
	free(in);
	return 0;
}
