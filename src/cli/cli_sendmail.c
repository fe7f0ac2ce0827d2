/* cli_sendmail: `hermod sendmail`. PLACEHOLDER: not built yet. */
#include "cli/cli.h"

int
cli_sendmail(struct config *cfg, int argc, char **argv)
{
	(void)cfg; (void)argc; (void)argv;
	return cli_error("sendmail: not implemented yet");
}
