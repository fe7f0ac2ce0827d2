/* fuzz_smtp_cmd: libFuzzer harness for smtp_line_next() and smtp_cmd_parse().
 * Splits the input into lines as the server does and parses each; checks
 * the invariants callers rely on (consumed bounds, paths that parse are
 * valid mailboxes, parameters that parse hold no control characters). */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_parse.h"

static void
check_cmd(const char *line, size_t len)
{
	char *copy = malloc(len + 1);
	struct smtp_cmd cmd;
	const char *why;
	size_t i, j;

	memcpy(copy, line, len);
	copy[len] = '\0';
	if (smtp_cmd_parse(copy, len, &cmd, &why) == SMTP_CMD_OK &&
	    (cmd.verb == SMTP_CMD_MAIL || cmd.verb == SMTP_CMD_RCPT)) {
		size_t plen = strlen(cmd.path);

		assert(plen <= SMTP_PATH_MAX - 2);
		if (plen > 0)
			assert(smtp_mailbox_valid(cmd.path, plen, 1) == (cmd.path_utf8 ? 2 : 1));
		else
			assert(cmd.verb == SMTP_CMD_MAIL);
		assert(cmd.nparams <= SMTP_PARAMS_MAX);
		for (i = 0; i < cmd.nparams; i++) {
			const unsigned char *k = (const unsigned char *)cmd.params[i].key;
			const unsigned char *v = (const unsigned char *)cmd.params[i].value;

			assert(*k != '\0');
			for (j = 0; k[j]; j++)
				assert(k[j] > 32 && k[j] < 127 && k[j] != '=');
			for (j = 0; v && v[j]; j++)
				assert(v[j] > 32 && v[j] != 127);
		}
	}
	free(copy);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	size_t pos = 0, ll, c;
	uint64_t bsize;
	int last;

	/* The whole input as one line, then as a stream of lines. */
	check_cmd(buf, size);
	while (pos < size) {
		enum smtp_line_rc rc = smtp_line_next(buf + pos, size - pos, &ll, &c);

		if (rc == SMTP_LINE_PARTIAL)
			break;
		assert(c > 0 && c <= size - pos);
		if (rc == SMTP_LINE_OK) {
			assert(ll + 2 == c && ll <= SMTP_LINE_MAX - 2);
			assert(memchr(buf + pos, '\r', ll) == NULL && memchr(buf + pos, '\n', ll) == NULL);
			check_cmd(buf + pos, ll);
		} else if (rc == SMTP_LINE_TOOLONG)
			assert(c >= SMTP_LINE_MAX - 1);
		pos += c;
	}
	if (size < 64) {
		char arg[64];

		memcpy(arg, data, size);
		arg[size] = '\0';
		if (smtp_bdat_parse_arg(arg, &bsize, &last) == 0)
			assert(arg[0] >= '0' && arg[0] <= '9');
	}
	return 0;
}
