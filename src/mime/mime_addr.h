/* mime_addr: the RFC 5322 address-list parser (STYLE 1). Reads the value of
 * From:, To:, Cc:, Reply-To: (unfolded or not) and returns the addr-specs,
 * each checked with smtp_mailbox_valid() so that every address hermod takes
 * from a header could also be used in an SMTP envelope.
 *
 * Accepted: display names of atoms and quoted strings (encoded words are
 * atoms and stay as they are), comments (nested, anywhere blanks may be),
 * angle addresses, groups ("undisclosed-recipients:;", "team: a@x, b@y;"),
 * a trailing comma (a common client quirk). Refused: routes inside angle
 * brackets, nested groups, obs-local-parts that RFC 5321 cannot carry
 * ("a"."b"), anything left over. */
#ifndef HERMOD_MIME_ADDR_H
#define HERMOD_MIME_ADDR_H
#include <stddef.h>

#define MIME_ADDR_MAX	1000	/* addresses in one list */

struct mime_addr {
	char	*addr;		/* the addr-spec, e.g. "user@example.com" */
	char	*name;		/* the display name as written (quotes, encoded words
				 * and all), or NULL */
	char	*group;		/* the group's display name, or NULL */
	int	 utf8;		/* addr has non-ASCII characters (RFC 6532) */
};

struct mime_addr_list {
	struct mime_addr *v;
	size_t	 n;
};

/* mime_addr_parse() parses an address-list (len bytes at s) into *out, which
 * it zeroes first; UTF-8 is allowed in addresses and names when allow_utf8.
 * Returns 0, or -1 with *why saying what is wrong (out is then empty). A list
 * with only empty groups is valid and has no address. */
int	mime_addr_parse(const char *s, size_t len, int allow_utf8, struct mime_addr_list *out,
	    const char **why);

/* mime_addr_list_free() releases what mime_addr_parse() allocated. */
void	mime_addr_list_free(struct mime_addr_list *l);

#endif
