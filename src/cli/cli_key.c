/* cli_key: `hermod key`. PLACEHOLDER: not built yet. */
#include "cli/cli.h"

int
cli_key(struct config *cfg, int argc, char **argv)
{
	(void)cfg; (void)argc; (void)argv;
	return cli_error("key: not implemented yet");
}
