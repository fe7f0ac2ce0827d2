/* account_ctl: the account commands of the control socket, through which
 * `hermod account set|pause|resume|show` reach a running daemon:
 *   account.reload {}                       re-read limits and pauses from the store
 *   account.pause  {"name", "reason"?}      pause (mail held)
 *   account.resume {"name"}                 resume, release held mail
 *   account.show   {"name"}                 GET /v1/account's document */
#ifndef HERMOD_ACCOUNT_CTL_H
#define HERMOD_ACCOUNT_CTL_H

struct ctl;
struct account_state;

/* account_ctl_register() adds the account.* commands to c, served by a. */
void	account_ctl_register(struct ctl *c, struct account_state *a);

#endif
