/* cli_suppress: `hermod suppress`. PLACEHOLDER: not built yet. */
#include "cli/cli.h"

int
cli_suppress(struct config *cfg, int argc, char **argv)
{
	(void)cfg; (void)argc; (void)argv;
	return cli_error("suppress: not implemented yet");
}
