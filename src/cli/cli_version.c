/* cli_version: `hermod version`, with the versions of the linked libraries. */
#include "cli/cli.h"

#include <jansson.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <sqlite3.h>
#include <stdio.h>
#include <uv.h>
#include <zlib.h>

int
cli_version(struct config *cfg, int argc, char **argv)
{
	(void)cfg; (void)argc; (void)argv;
	printf("hermod %s\n", HERMOD_VERSION);
	printf("libuv %s\n", uv_version_string());
	printf("openssl %s\n", OpenSSL_version(OPENSSL_VERSION_STRING));
	printf("sqlite %s\n", sqlite3_libversion());
	printf("jansson %s\n", jansson_version_str());
	printf("libmicrohttpd %s\n", MHD_get_version());
	printf("zlib %s\n", zlibVersion());
	return 0;
}
