/* log: one JSON object a line on stdout (STYLE 9), with a fixed vocabulary of
 * levels. Never pass a secret to it. Thread safe: a line is written whole.
 *
 *	struct log_line *l = log_begin(LOG_INFO, "smtp.session");
 *	log_str(l, "client", ip);
 *	log_int(l, "messages", n);
 *	log_end(l);
 *
 * or, for a sentence: log_info("spool", "recovered %zu messages", n);
 */
#ifndef HERMOD_LOG_H
#define HERMOD_LOG_H
#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_FATAL };

struct log_line;

/* log_set_level() drops lines below level. log_set_fd() redirects (default 1). */
void	log_set_level(enum log_level level);
int	log_level_parse(const char *s, enum log_level *out);
void	log_set_fd(int fd);

/* log_begin() returns NULL when the level is filtered out; the other calls
 * accept NULL and do nothing, so callers need no check. */
struct log_line *log_begin(enum log_level level, const char *component);
void	log_str(struct log_line *l, const char *key, const char *val);
void	log_strn(struct log_line *l, const char *key, const char *val, size_t n);
void	log_int(struct log_line *l, const char *key, int64_t val);
/* log_raw() adds a value that is already valid JSON. */
void	log_raw(struct log_line *l, const char *key, const char *json);
void	log_end(struct log_line *l);

void	log_msg(enum log_level level, const char *component, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
#define log_debug(c, ...) log_msg(LOG_DEBUG, c, __VA_ARGS__)
#define log_info(c, ...) log_msg(LOG_INFO, c, __VA_ARGS__)
#define log_warn(c, ...) log_msg(LOG_WARN, c, __VA_ARGS__)
#define log_error(c, ...) log_msg(LOG_ERROR, c, __VA_ARGS__)
/* log_fatal() logs and exits 1: for startup errors, not broken invariants. */
void	log_fatal(const char *component, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3), noreturn));

#endif
