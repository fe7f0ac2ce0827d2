/* account_ctl: account commands over the control socket (account_ctl.h).
 * Each answers once its change is in the store, so `hermod account resume`
 * returning 0 means the account is resumed for good. Loop thread only. */
#include "account/account_ctl.h"
#include "account/account_state.h"
#include "auth/auth.h"
#include "ctl/ctl.h"
#include "util/xalloc.h"

#include <stdlib.h>

static void
answered(int rc, const char *msg, void *arg)
{
	struct ctl_request *req = arg;

	if (rc != 0)
		ctl_reply(req, NULL, msg ? msg : "failed");
	else
		ctl_reply(req, json_pack("{s:b}", "done", 1), NULL);
}

/* arg_name() returns args.name when it is a valid account name, else
 * answers the error and returns NULL. */
static const char *
arg_name(struct ctl_request *req, json_t *args)
{
	const char *name = json_string_value(json_object_get(args, "name"));

	if (name == NULL || !auth_account_name_valid(name)) {
		ctl_reply(req, NULL, "an account name is required");
		return NULL;
	}
	return name;
}

static void
h_reload(struct ctl_request *req, json_t *args, void *arg)
{
	(void)args;
	if (account_state_reload(arg, answered, req) < 0)
		ctl_reply(req, NULL, "cannot start a reload");
}

static void
h_pause(struct ctl_request *req, json_t *args, void *arg)
{
	const char *name = arg_name(req, args);
	const char *reason = json_string_value(json_object_get(args, "reason"));

	if (name == NULL)
		return;
	if (account_state_pause(arg, name, reason ? reason : "paused by an administrator",
	    answered, req) < 0)
		ctl_reply(req, NULL, "cannot start the pause");
}

static void
h_resume(struct ctl_request *req, json_t *args, void *arg)
{
	const char *name = arg_name(req, args);

	if (name == NULL)
		return;
	if (account_state_resume(arg, name, answered, req) < 0)
		ctl_reply(req, NULL, "cannot start the resume");
}

static void
h_show(struct ctl_request *req, json_t *args, void *arg)
{
	const char *name = arg_name(req, args);

	if (name != NULL)
		ctl_reply(req, account_state_json(arg, name), NULL);
}

void
account_ctl_register(struct ctl *c, struct account_state *a)
{
	ctl_register(c, "account.reload", h_reload, a);
	ctl_register(c, "account.pause", h_pause, a);
	ctl_register(c, "account.resume", h_resume, a);
	ctl_register(c, "account.show", h_show, a);
}
