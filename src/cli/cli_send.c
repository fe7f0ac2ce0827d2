/* cli_send: `hermod send`. PLACEHOLDER: not built yet. */
#include "cli/cli.h"

int
cli_send(struct config *cfg, int argc, char **argv)
{
	(void)cfg; (void)argc; (void)argv;
	return cli_error("send: not implemented yet");
}
