/* verp: the return path every message leaves with (VERP, variable envelope
 * return path). Each recipient's transaction gets its own envelope sender
 *
 *	b-<queue id>-<rcpt index>-<mac>@<bounce domain>
 *
 * so that a bounce, however late and however mangled its text, names the
 * message and the recipient it is about: the address it comes back to is
 * the answer. The bounce domain is bounce.<sender's domain> (published by
 * `hermod domain add`: MX to hermod, SPF for hermod), or one fixed domain
 * for every account (inbound.bounce_domain).
 *
 * The token is signed: mac = the first 80 bits of HMAC-SHA256 under a
 * secret kept in data_dir/verp.key (0600, made on first start) over the
 * queue id, the index and the bounce domain, so nobody can make hermod
 * accept mail for an address it did not issue, nor point a forged bounce at
 * another message. Everything is in lower-case letters, digits and '-'
 * (receivers may fold a local part's case; parsing folds it back), and the
 * local part is at most 47 octets (RFC 5321: 64). */
#ifndef HERMOD_VERP_H
#define HERMOD_VERP_H
#include <stddef.h>

#include "util/id.h"

#define VERP_KEY_LEN	32
#define VERP_MAC_CHARS	16	/* 80 bits of HMAC in base32 */
#define VERP_MAX_INDEX	9999999	/* 7 digits: far above any max_recipients */
#define VERP_ADDR_MAX	(64 + 1 + 255 + 1)
#define VERP_PREFIX	"b-"
#define VERP_BOUNCE_LABEL "bounce."

struct verp_key {
	unsigned char	 k[VERP_KEY_LEN];
};

/* What a VERP address says. */
struct verp_addr {
	char	 id[ID_LEN + 1];	/* the queue id, lower case */
	size_t	 rcpt_index;		/* the recipient's index in the envelope */
	char	 domain[256];		/* the bounce domain, lower case */
};

/* verp_key_load() reads data_dir/verp.key, or makes it (32 random bytes, mode
 * 0600, written atomically: two processes starting at once agree on one
 * key). Blocking: call it at start, never on the loop. 0, or -1 with *err. */
int	verp_key_load(const char *data_dir, struct verp_key *out, char **err);

/* verp_bounce_domain() writes the bounce domain for a message whose envelope
 * sender is mail_from: override when not NULL/empty, else "bounce." and
 * mail_from's domain, lower case. 0, or -1 when mail_from has no domain or
 * the result does not fit (out must hold 256). Pure. */
int	verp_bounce_domain(const char *override, const char *mail_from, char out[256]);

/* verp_make() writes the VERP address of recipient rcpt_index of message id
 * on bounce domain `domain` into out (VERP_ADDR_MAX bytes). 0, or -1 for an
 * id that is not a queue id, an index over VERP_MAX_INDEX or a domain that
 * is empty or too long. Pure. */
int	verp_make(const struct verp_key *k, const char *id, size_t rcpt_index, const char *domain,
	    char out[VERP_ADDR_MAX]);

/* verp_return_path() is the envelope sender for recipient rcpt_index of
 * message id sent by mail_from: "" stays "" (the null return path of DSNs),
 * anything else becomes its VERP address (bounce domain per
 * verp_bounce_domain()); when no VERP address can be made, mail_from as it
 * is. Pure. */
void	verp_return_path(const struct verp_key *k, const char *override, const char *mail_from,
	    const char *id, size_t rcpt_index, char out[VERP_ADDR_MAX]);

enum verp_rc {
	VERP_OK = 0,
	VERP_NOT_VERP = -1,	/* not of the form b-ID-N-MAC@domain */
	VERP_BAD_MAC = -2,	/* the form, but not signed by this key */
};

/* verp_parse() checks the address addr (len bytes, no angle brackets; any
 * case) and fills *out when it is a VERP address signed with k. Pure and
 * bounded (any input, any length): the MAC is compared in constant time. */
enum verp_rc verp_parse(const struct verp_key *k, const char *addr, size_t len,
	    struct verp_addr *out);

#endif
