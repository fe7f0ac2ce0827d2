/* cli_account: `hermod account`. PLACEHOLDER: not built yet. */
#include "cli/cli.h"

int
cli_account(struct config *cfg, int argc, char **argv)
{
	(void)cfg; (void)argc; (void)argv;
	return cli_error("account: not implemented yet");
}
