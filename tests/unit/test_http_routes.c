/* Unit test: docs/openapi.yaml and the server's route table describe the
 * same endpoints. Fails when a route exists on the server but not in the
 * document, or the other way round. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_server.h"
#include "util/xalloc.h"

#define MAX_OPS 64

/* doc_ops() reads "METHOD /path" for each operation under "paths:": a path
 * is a key indented by two spaces, an operation a method key under it. */
static size_t
doc_ops(char *ops[MAX_OPS])
{
	FILE *f = fopen("docs/openapi.yaml", "r");
	char line[1024], path[512] = "";
	int in_paths = 0;
	size_t n = 0;

	assert_non_null(f);
	while (fgets(line, sizeof line, f)) {
		static const char *const methods[] = { "get", "post", "put", "patch", "delete", NULL };
		size_t i;
		if (line[0] != ' ' && line[0] != '\n') {
			in_paths = strncmp(line, "paths:", 6) == 0;
			continue;
		}
		if (!in_paths)
			continue;
		if (strncmp(line, "  /", 3) == 0) {
			char *colon = strrchr(line, ':');
			assert_non_null(colon);
			snprintf(path, sizeof path, "%.*s", (int)(colon - line - 2), line + 2);
			continue;
		}
		if (strncmp(line, "    ", 4) != 0 || line[4] == ' ')
			continue;
		for (i = 0; methods[i]; i++) {
			size_t ml = strlen(methods[i]);
			if (strncmp(line + 4, methods[i], ml) == 0 && line[4 + ml] == ':') {
				char *op = xasprintf("%s %s", methods[i], path);
				char *p;
				for (p = op; *p != ' '; p++)
					*p = (char)toupper((unsigned char)*p);
				assert_true(n < MAX_OPS);
				ops[n++] = op;
			}
		}
	}
	fclose(f);
	return n;
}

static void
test_routes_match_openapi(void **state)
{
	char *ops[MAX_OPS];
	size_t n = doc_ops(ops), i, j, nroutes = 0;
	const char *const *routes = http_route_names();
	int bad = 0;

	(void)state;
	for (i = 0; routes[i]; i++, nroutes++) {
		for (j = 0; j < n && strcmp(ops[j], routes[i]) != 0; j++)
			;
		if (j == n) {
			print_error("route %s is not in docs/openapi.yaml\n", routes[i]);
			bad = 1;
		}
	}
	for (j = 0; j < n; j++) {
		for (i = 0; routes[i] && strcmp(ops[j], routes[i]) != 0; i++)
			;
		if (routes[i] == NULL) {
			print_error("docs/openapi.yaml has %s, the server does not\n", ops[j]);
			bad = 1;
		}
		free(ops[j]);
	}
	assert_true(nroutes >= 8);
	assert_false(bad);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes_match_openapi),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
