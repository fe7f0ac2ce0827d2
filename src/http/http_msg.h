/* http_msg: turns the JSON of POST /v1/messages into a validated send
 * request (struct http_send) ready for mime_build() and the spool. Every
 * problem is recorded as a field error ("to[1].email", "headers.X-Foo",
 * "attachments[0].content"), so the API answers one 422 naming them all;
 * nothing invalid gets further. Pure apart from IDNA conversion: runs on a
 * worker thread. */
#ifndef HERMOD_HTTP_MSG_H
#define HERMOD_HTTP_MSG_H
#include <stddef.h>

#include <jansson.h>

#include "http/http_json.h"
#include "mime/mime_build.h"

#define HTTP_MSG_MAX_ATTACHMENTS	100
#define HTTP_MSG_MAX_HEADERS		50
#define HTTP_MSG_MAX_TAGS		10

struct http_send {
	struct mime_msg	 mime;		/* points into the fields below and the JSON */
	char		*from_email;	/* envelope sender: domain as A-label */
	char		*from_domain;	/* A-label, lower case */
	struct mime_mailbox *addrs;	/* storage for reply_to, to, cc, bcc */
	size_t		 naddrs;
	struct mime_mailbox *bcc;
	size_t		 nbcc;
	char		**rcpts;	/* envelope recipients, deduplicated */
	size_t		 nrcpt;
	int		 smtputf8;	/* some address needs SMTPUTF8 */
	struct mime_part *parts;
	struct mime_header *headers;
	char		*meta_json;	/* {"tags", "metadata", "stream"} or NULL */
	char		**owned;	/* strings to free */
	size_t		 nowned;
};

/* http_send_parse() validates v (a JSON object) into s. max_recipients caps
 * to+cc+bcc. 0, or -1 with errors added to e (s is freed then). v must stay
 * alive while s is used. */
int	http_send_parse(json_t *v, size_t max_recipients, struct http_send *s, struct http_errors *e);
void	http_send_free(struct http_send *s);

/* http_addr_valid() checks an addr-spec (RFC 5321 Mailbox, RFC 6531 UTF-8,
 * IDN domains) and writes its normalised form (domain as lower-case A-label)
 * to out. 0, or -1 with *why. */
int	http_addr_valid(const char *addr, char *out, size_t outlen, const char **why);

#endif
