/* xalloc: allocation wrappers. Running out of memory is fatal (STYLE 5): the
 * daemon cannot keep its promises half-allocated, so it logs and aborts. */
#ifndef HERMOD_XALLOC_H
#define HERMOD_XALLOC_H
#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* xasprintf() returns a newly allocated formatted string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
