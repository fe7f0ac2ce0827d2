/* cli_domain: `hermod domain`. PLACEHOLDER: not built yet. */
#include "cli/cli.h"

int
cli_domain(struct config *cfg, int argc, char **argv)
{
	(void)cfg; (void)argc; (void)argv;
	return cli_error("domain: not implemented yet");
}
