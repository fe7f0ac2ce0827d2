/* cli_queue: `hermod queue`. PLACEHOLDER: not built yet. */
#include "cli/cli.h"

int
cli_queue(struct config *cfg, int argc, char **argv)
{
	(void)cfg; (void)argc; (void)argv;
	return cli_error("queue: not implemented yet");
}
