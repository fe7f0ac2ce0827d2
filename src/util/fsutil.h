/* fsutil: small file-system helpers for startup and the CLI (blocking: never
 * call them on the event loop thread once it runs). */
#ifndef HERMOD_FSUTIL_H
#define HERMOD_FSUTIL_H
#include <stddef.h>
#include <sys/types.h>

/* fs_mkdirs() creates dir and its parents with mode; 0 or -1 (errno set). */
int	fs_mkdirs(const char *dir, mode_t mode);
/* fs_write_atomic() writes data to path through a temporary file, fsync and
 * rename, then fsyncs the directory; the file gets mode. 0 or -1. */
int	fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* fs_read_file() reads a whole file (up to max bytes) into a NUL-terminated
 * allocation; 0 or -1. */
int	fs_read_file(const char *path, size_t max, char **out, size_t *outlen);
/* fs_fsync_dir() fsyncs the directory that holds path (or path itself if a dir). */
int	fs_fsync_dir(const char *dir);

#endif
