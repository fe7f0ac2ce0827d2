/* log: JSON lines. */
#include "util/log.h"
#include "util/buf.h"
#include "util/xalloc.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

struct log_line {
	struct buf b;
};

static enum log_level min_level = LOG_INFO;
static int log_fd = 1;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static const char *level_names[] = { "debug", "info", "warn", "error", "fatal" };

void
log_set_level(enum log_level level)
{
	min_level = level;
}

int
log_level_parse(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	return -1;
}

void
log_set_fd(int fd)
{
	log_fd = fd;
}

struct log_line *
log_begin(enum log_level level, const char *component)
{
	struct log_line *l;
	struct timeval tv;
	struct tm tm;
	char ts[32];

	if (level < min_level)
		return NULL;
	l = xcalloc(1, sizeof(*l));
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	buf_printf(&l->b, "{\"time\":\"%s.%03ldZ\",\"level\":\"%s\",\"component\":",
	    ts, (long)(tv.tv_usec / 1000), level_names[level]);
	buf_json_str(&l->b, component, strlen(component));
	return l;
}

void
log_strn(struct log_line *l, const char *key, const char *val, size_t n)
{
	if (l == NULL)
		return;
	buf_putc(&l->b, ',');
	buf_json_str(&l->b, key, strlen(key));
	buf_putc(&l->b, ':');
	if (val == NULL)
		buf_puts(&l->b, "null");
	else
		buf_json_str(&l->b, val, n);
}

void
log_str(struct log_line *l, const char *key, const char *val)
{
	log_strn(l, key, val, val ? strlen(val) : 0);
}

void
log_int(struct log_line *l, const char *key, int64_t val)
{
	if (l == NULL)
		return;
	buf_putc(&l->b, ',');
	buf_json_str(&l->b, key, strlen(key));
	buf_printf(&l->b, ":%lld", (long long)val);
}

void
log_raw(struct log_line *l, const char *key, const char *json)
{
	if (l == NULL)
		return;
	buf_putc(&l->b, ',');
	buf_json_str(&l->b, key, strlen(key));
	buf_putc(&l->b, ':');
	buf_puts(&l->b, json);
}

void
log_end(struct log_line *l)
{
	size_t off = 0;
	ssize_t n;

	if (l == NULL)
		return;
	buf_puts(&l->b, "}\n");
	pthread_mutex_lock(&log_mu);
	while (off < l->b.len) {
		n = write(log_fd, l->b.data + off, l->b.len - off);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	pthread_mutex_unlock(&log_mu);
	buf_free(&l->b);
	free(l);
}

static void
log_vmsg(enum log_level level, const char *component, const char *fmt, va_list ap)
{
	struct log_line *l = log_begin(level, component);
	struct buf m;

	if (l == NULL)
		return;
	buf_init(&m);
	buf_vprintf(&m, fmt, ap);
	log_strn(l, "msg", m.data, m.len);
	buf_free(&m);
	log_end(l);
}

void
log_msg(enum log_level level, const char *component, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, component, fmt, ap);
	va_end(ap);
}

void
log_fatal(const char *component, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_FATAL, component, fmt, ap);
	va_end(ap);
	exit(1);
}
