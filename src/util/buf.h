/* buf: the one growable byte buffer (STYLE 4). Binary safe; data is always
 * followed by a NUL that is not counted in len, so text can be used as a C
 * string. A buf is a plain struct; zero-filled is a valid empty buffer. */
#ifndef HERMOD_BUF_H
#define HERMOD_BUF_H
#include <stdarg.h>
#include <stddef.h>

struct buf {
	char	*data;
	size_t	 len;
	size_t	 cap;
};

void	buf_init(struct buf *b);
void	buf_free(struct buf *b);
/* buf_reset() empties the buffer and keeps its storage. */
void	buf_reset(struct buf *b);
/* buf_reserve() makes room for at least n more bytes after len. */
void	buf_reserve(struct buf *b, size_t n);
void	buf_append(struct buf *b, const void *p, size_t n);
void	buf_puts(struct buf *b, const char *s);
void	buf_putc(struct buf *b, char c);
void	buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void	buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* buf_consume() drops n bytes from the front. */
void	buf_consume(struct buf *b, size_t n);
/* buf_steal() hands the storage to the caller (NUL-terminated) and empties b. */
char   *buf_steal(struct buf *b, size_t *lenp);
/* buf_b64_digit() is the value (0-63) of a base64 digit of the standard
 * alphabet (RFC 4648 section 4), or -1 for any other byte ('=' included). */
int	buf_b64_digit(int c);
/* buf_json_str() appends s (n bytes) as a JSON string literal, quotes included;
 * control bytes and invalid UTF-8 are escaped so the output is always valid. */
void	buf_json_str(struct buf *b, const char *s, size_t n);

#endif
