/* cli_version: `hermod version`, with the versions of the linked libraries. */
#include "cli/cli.h"

#include <curl/curl.h>
#include <idn2.h>
#include <jansson.h>
#include <microhttpd.h>
#include <sodium.h>
#include <unbound.h>
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
	printf("libcurl %s\n", curl_version_info(CURLVERSION_NOW)->version);
	printf("libunbound %s\n", ub_version());
	printf("libsodium %s\n", sodium_version_string());
	printf("libidn2 %s\n", idn2_check_version(NULL));
	return 0;
}
