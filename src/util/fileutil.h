/* Thin, checked wrappers over file system calls. None of them allocate, so
 * the sandbox's setup child may use them. */
#ifndef CORRAL_UTIL_FILEUTIL_H
#define CORRAL_UTIL_FILEUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

bool path_is_directory(const char *path);

/* write(2) until done, retrying on EINTR; -1 with errno on failure. */
int write_all(int fd, const void *buf, size_t len);
/* read(2) until len bytes or EOF; returns bytes read or -1. */
ssize_t read_full(int fd, void *buf, size_t len);

/* Create (O_EXCL not required) or truncate `path` and write `content`. */
int write_file(const char *path, const char *content, mode_t mode);

/* mkdir -p relative to the cwd or absolute; existing dirs are fine. */
int mkdir_parents(const char *path, mode_t mode);

/* Create an empty regular file to bind a file over (existing is fine). */
int ensure_file(const char *path, mode_t mode);

#endif
