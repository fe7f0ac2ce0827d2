/* auth_sender: which domains an account may send from. */
#include "auth/auth_sender.h"
#include "store/store.h"
#include "util/xalloc.h"

#include <stdlib.h>

int
auth_sender_domains(struct store *st, const char *account, int verified_only, char ***out,
    char **err)
{
	struct store_domain *v = NULL;
	size_t n = 0, k = 0;
	char **list;

	*out = NULL;
	if (store_domain_list_info(st, account, &v, &n, err) != 0)
		return -1;
	list = xcalloc(n + 1, sizeof(*list));
	for (size_t i = 0; i < n; i++)
		if (!verified_only || v[i].verified)
			list[k++] = xstrdup(v[i].domain);
	list[k] = NULL;
	store_domain_list_info_free(v, n);
	*out = list;
	return 0;
}
