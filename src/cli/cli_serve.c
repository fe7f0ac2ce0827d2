/* cli_serve: `hermod serve`. PLACEHOLDER: not built yet. */
#include "cli/cli.h"

int
cli_serve(struct config *cfg, int argc, char **argv)
{
	(void)cfg; (void)argc; (void)argv;
	return cli_error("serve: not implemented yet");
}
