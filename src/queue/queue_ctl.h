/* queue_ctl: the queue commands of the control socket (queue.list, .show,
 * .delete, .hold, .release, .flush, .destinations), answered from the
 * spool's index and the scheduler's hooks: what `hermod queue ...` talks to. */
#ifndef HERMOD_QUEUE_CTL_H
#define HERMOD_QUEUE_CTL_H
#include <jansson.h>

struct ctl;
struct spool;
struct spool_env;

/* queue_ctl_register() adds the queue.* commands to c, served from sp. */
void	queue_ctl_register(struct ctl *c, struct spool *sp);

/* queue_flush_hook: asks the scheduler to attempt delivery now of message id,
 * or of every queued message when id is NULL (held mail keeps waiting).
 * Returns how many messages were scheduled, or a negative errno (-ENOENT for
 * an unknown id). Runs on the loop thread. */
typedef int (*queue_flush_hook)(const char *id, void *arg);
/* queue_ctl_set_flush_hook() is called by the scheduler when it starts;
 * until then queue.flush answers that no delivery runs. */
void	queue_ctl_set_flush_hook(queue_flush_hook fn, void *arg);

/* queue_hold_reason_fn: why an account's mail waits though the message is
 * not held by an admin (a paused account: src/account), or NULL. */
typedef const char *(*queue_hold_reason_fn)(void *arg, const char *account);
/* queue_ctl_set_hold_reason() is called by the daemon when it starts;
 * queue_ctl_env_json() then reports such mail as held, with the reason. */
void	queue_ctl_set_hold_reason(queue_hold_reason_fn fn, void *arg);

/* queue_why_hook: why the recipients of message id at domain wait, when
 * the scheduler's shaping holds them ("suspended: gmail until 22:10 ..."),
 * as a string the caller frees, or NULL. Loop thread. */
typedef char *(*queue_why_hook)(const char *id, const char *domain, void *arg);
void	queue_ctl_set_why_hook(queue_why_hook fn, void *arg);

/* queue_dest_hook: the destinations table of `hermod queue destinations`
 * (a JSON array, new reference). Until it is set, queue.destinations
 * answers that no delivery runs. */
typedef json_t *(*queue_dest_hook)(void *arg);
void	queue_ctl_set_dest_hook(queue_dest_hook fn, void *arg);
/* queue_resume_hook: lifts the suspension of destination name (`hermod queue
 * resume NAME`): 0, or -1 when there is no such destination. */
typedef int (*queue_resume_hook)(const char *name, void *arg);
void	queue_ctl_set_resume_hook(queue_resume_hook fn, void *arg);

/* queue_ctl_env_json() is the JSON of one queued message (SPEC.md): {"id",
 * "message_id", "account", "from", "recipients": [{"email", "state",
 * "attempts", "next_attempt", "last_reply"}], "size", "queued_at", "held"}.
 * A pending recipient the shaper holds back also has "waiting": WHY, and a
 * message of a paused account "hold_reason" ("account paused (bounce rate
 * 12.0% > 10%)"). */
json_t *queue_ctl_env_json(const struct spool_env *env);

#endif
