/*
 * Shared by the safe_file files (safe_resolve.c, safe_file.c, safe_list.c,
 * safe_remove.c); not part of the module's interface.
 */
#ifndef CORRAL_FS_SAFE_FILE_INTERNAL_H
#define CORRAL_FS_SAFE_FILE_INTERNAL_H

#include "fs/safe_file.h"

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

/* "VERB PATH: why", why defaulting to strerror(errnum); returns -1. */
int safe_file_fail(corral_error *err, int errnum, const char *verb, const char *path,
                   const char *why);
/* -1 with err for an empty or over-long path. */
int safe_file_check_path(const char *path, const char *verb, corral_error *err);
/* close(fd) if fd >= 0, keeping errno. */
void safe_file_close_quietly(int fd);
bool safe_file_is_dot_or_dotdot(const char *name);
/* Open path inside root_fd without leaving it; -1 with errno. */
int safe_file_open_in_root(int root_fd, const char *path, int flags, mode_t mode);
/* The directory holding path, opened inside root, and path's final name;
 * -1 with errno. */
int safe_file_open_parent(int root_fd, const char *path, char name[NAME_MAX + 1],
                          bool *dir_only);

#endif
