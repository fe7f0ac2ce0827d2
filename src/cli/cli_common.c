/* cli_common: helpers shared by the subcommands. */
#include "cli/cli.h"
#include "util/config.h"
#include "util/xalloc.h"

#include <stdarg.h>
#include <stdio.h>

int
cli_error(const char *fmt, ...)
{
	va_list ap;

	fputs("hermod: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

char *
cli_ctl_path(const struct config *cfg)
{
	return xasprintf("%s/hermod.sock", cfg->data_dir);
}
