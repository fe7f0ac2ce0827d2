/* cli_init: `hermod init`. PLACEHOLDER: not built yet. */
#include "cli/cli.h"

int
cli_init(struct config *cfg, int argc, char **argv)
{
	(void)cfg; (void)argc; (void)argv;
	return cli_error("init: not implemented yet");
}
