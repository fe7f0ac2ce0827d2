/* Unit tests for the store's Idempotency-Key records (store_idem_*), which
 * the HTTP API uses so that a repeat after a restart gets the first answer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

static void
test_idem(void **state)
{
	char dir[] = "/tmp/hermod-idem.XXXXXX", *url, *err = NULL;
	struct store *st;
	struct store_idem r;
	unsigned char h1[STORE_IDEM_HASH_LEN] = { 1 }, h2[STORE_IDEM_HASH_LEN] = { 2 };
	int64_t now = (int64_t)time_now_ms();

	(void)state;
	assert_non_null(mkdtemp(dir));
	url = xasprintf("sqlite:%s/h.db", dir);
	assert_int_equal(store_open(&st, url, &err), 0);
	assert_int_equal(store_idem_get(st, "shop", "/v1/messages\x1fk1", now - 1000, &r, &err),
	    STORE_NOTFOUND);
	assert_int_equal(store_idem_put(st, "shop", "/v1/messages\x1fk1", h1, 202, "{\"id\":\"a\"}",
	    86400000, &err), 0);
	/* the first answer wins */
	assert_int_equal(store_idem_put(st, "shop", "/v1/messages\x1fk1", h2, 422, "{}", 86400000,
	    &err), 0);
	assert_int_equal(store_idem_get(st, "shop", "/v1/messages\x1fk1", now - 1000, &r, &err), 0);
	assert_int_equal(r.status, 202);
	assert_string_equal(r.answer, "{\"id\":\"a\"}");
	assert_memory_equal(r.hash, h1, sizeof h1);
	store_idem_free(&r);
	/* per account */
	assert_int_equal(store_idem_get(st, "other", "/v1/messages\x1fk1", now - 1000, &r, &err),
	    STORE_NOTFOUND);
	/* too old for the caller's window, then expired */
	assert_int_equal(store_idem_get(st, "shop", "/v1/messages\x1fk1", now + 100000, &r, &err),
	    STORE_NOTFOUND);
	assert_int_equal(store_idem_expire(st, now + 100000, &err), 0);
	assert_int_equal(store_idem_get(st, "shop", "/v1/messages\x1fk1", 0, &r, &err),
	    STORE_NOTFOUND);
	/* a record past its TTL is replaced */
	assert_int_equal(store_idem_put(st, "shop", "k2", h1, 202, "{\"n\":1}", 86400000, &err), 0);
	assert_int_equal(store_idem_put(st, "shop", "k2", h2, 202, "{\"n\":2}", -1000, &err), 0);
	assert_int_equal(store_idem_get(st, "shop", "k2", 0, &r, &err), 0);
	assert_string_equal(r.answer, "{\"n\":2}");
	store_idem_free(&r);
	store_close(st);
	{
		char *cmd = xasprintf("rm -rf %s", dir);
		assert_int_equal(system(cmd), 0);
		free(cmd);
	}
	free(url);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_idem),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
