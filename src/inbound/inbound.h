/* inbound: what comes back. The listener on inbound.listen (an SMTP server
 * of src/smtp with this module's policy) takes mail only for the VERP
 * return paths hermod signs (feedback/verp.h) and the feedback addresses of
 * the bounce domains; each message is made durable in data_dir/inbound/
 * before its 250, then parsed (feedback/fb_parse.h) on a worker and turned
 * into `bounced` and `complained` events for the original message and
 * recipient. Reports that map to nothing are kept in data_dir/inbound/
 * unmatched/ for an operator (and still answered 250: a reporter must not
 * retry them forever).
 *
 *	inbound_start(loop, cfg, store, tls, &verp_key, &in, &err);
 *	...
 *	inbound_drain(in, done, arg);	then, after the loop has run,
 *	inbound_free(in);
 */
#ifndef HERMOD_INBOUND_H
#define HERMOD_INBOUND_H
#include <stddef.h>
#include <uv.h>
#include <openssl/ssl.h>

#include "feedback/verp.h"

struct config;
struct store;
struct inbound;
struct fb_report;

/* inbound_start() binds inbound.listen (nothing when it is empty: *out is
 * then NULL and 0 is returned), and queues the reports a previous run left
 * unprocessed in data_dir/inbound/new. key, cfg and st must outlive it.
 * 0, or -1 with *err (caller frees). */
int	inbound_start(uv_loop_t *loop, const struct config *cfg, struct store *st, SSL_CTX *tls,
	    const struct verp_key *key, struct inbound **out, char **err);
/* inbound_make_dirs() creates data_dir/inbound/{tmp,new,unmatched} (0700)
 * when missing: by `hermod init` and every start, before data_dir is handed
 * to server.user. Blocking. 0, or -1 with *err. */
int	inbound_make_dirs(const char *data_dir, char **err);

/* inbound_drain() stops accepting; sessions finish; done(arg) fires once
 * none is left. Reports being processed finish on their worker. */
void	inbound_drain(struct inbound *in, void (*done)(void *arg), void *arg);
/* inbound_free() frees it once drained and the loop has run (no work left). */
void	inbound_free(struct inbound *in);

/* --- the recipient policy (inbound_policy.c), pure ------------------------ */

enum inbound_rcpt {
	INBOUND_RCPT_REFUSE,	/* not ours: 550 5.7.1 */
	INBOUND_RCPT_VERP,	/* a return path hermod signed */
	INBOUND_RCPT_FEEDBACK,	/* a feedback address on the fixed bounce domain */
	INBOUND_RCPT_FEEDBACK_CHECK, /* a feedback address at bounce.DOMAIN: ours if
				 * DOMAIN (or a parent) is registered */
};

/* inbound_rcpt_classify() decides what addr (an RCPT path as parsed: no
 * brackets) is. Only plain local parts of letters, digits and . _ + - are
 * considered at all: %-hacks, bang paths, quoted local parts and second @s
 * are refused before anything else. bounce_domain is inbound.bounce_domain
 * (NULL or "": bounce.DOMAIN), feedback the space-separated local parts of
 * inbound.feedback_addresses. For INBOUND_RCPT_FEEDBACK_CHECK, sending_domain
 * (256 bytes) gets DOMAIN, lower case. */
enum inbound_rcpt inbound_rcpt_classify(const struct verp_key *key, const char *bounce_domain,
	    const char *feedback, const char *addr, char sending_domain[256]);

/* --- reports (inbound_process.c) ------------------------------------------ */

/* inbound_process_file() handles one durable report file (the envelope
 * lines inbound_spool.c writes, then the message): parses it, maps it to
 * the original message(s) through the VERP address it came to, else
 * through the returned message's Message-ID, and emits the events.
 * Blocking (file, store): on a worker. Returns the number of events
 * emitted; the file is then removed, or moved to unmatched/ when nothing
 * could be mapped. */
int	inbound_process_file(const char *data_dir, struct store *st, const struct verp_key *key,
	    const char *path);

#endif
