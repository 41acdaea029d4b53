/*
 * File operations inside a hostile tree: the supervisor reads, writes, lists
 * and removes files below a directory fd (a sandbox's root or workspace)
 * whose contents the sandbox controls. It may plant symlinks, ".." chains,
 * fifos, device nodes and hardlinks, and swap them while we look. Nothing
 * here ever resolves outside root_fd, blocks on a special file, or writes
 * through a link.
 *
 * Errors: CORRAL_ERR_USAGE with errnum set ("read /x: No such file or
 * directory"), so callers can map ENOENT and friends to their own codes;
 * CORRAL_ERR_INTERNAL when memory runs out.
 */
#ifndef CORRAL_FS_SAFE_FILE_H
#define CORRAL_FS_SAFE_FILE_H

#include "corral.h"   /* corral_error */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Open `path` (absolute or relative; both are taken relative to root_fd, and
 * ".." never climbs above it) with openat2 RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS;
 * where openat2 is missing (ENOSYS) a careful userspace walk: component by
 * component with O_NOFOLLOW|O_PATH, symlinks read with readlinkat and resolved
 * inside root (absolute targets restart at root), at most 40 links (ELOOP).
 * Returns the fd or -1. flags are open(2) flags; O_CLOEXEC is always added. */
int safe_open(int root_fd, const char *path, int flags, mode_t mode, corral_error *err);

/* Whole regular file, at most max_bytes (EFBIG beyond: "read PATH: file is larger than N bytes").
 * Refuses directories (EISDIR) and anything not regular (fifo, device, socket: "not a regular file"),
 * opening with O_NONBLOCK|O_NOCTTY so a fifo never blocks. *data is malloc'd, NUL-terminated
 * (the NUL not counted in *len). */
int safe_read_file(int root_fd, const char *path, size_t max_bytes, char **data, size_t *len, corral_error *err);

/* Atomically replace or create PATH: write a temp file in the same directory
 * (O_CREAT|O_EXCL, random name ".corral-XXXXXX"), fsync is NOT needed, fchmod to mode,
 * then renameat over PATH — so a hardlink or symlink planted at PATH is replaced, never written through.
 * The parent directory must exist (ENOENT otherwise); if PATH exists and is a directory: EISDIR.
 * On any failure the temp file is removed. */
int safe_write_file(int root_fd, const char *path, const void *data, size_t len, mode_t mode, corral_error *err);

/* mkdir -p inside root (existing directories are fine; a non-directory in the way is ENOTDIR). */
int safe_mkdirs(int root_fd, const char *path, mode_t mode, corral_error *err);

enum safe_file_type { SAFE_FILE_REGULAR, SAFE_FILE_DIRECTORY, SAFE_FILE_SYMLINK, SAFE_FILE_OTHER };
struct safe_dirent {
	char *name;
	enum safe_file_type type;   /* of the entry itself (lstat semantics: a symlink is SYMLINK) */
	uint64_t size;
	mode_t mode;                /* permission bits */
	int64_t mtime;              /* seconds */
};
/* Entries of directory PATH sorted by name, without "." and "..", at most max_entries
 * (then *truncated = true). */
int safe_list_dir(int root_fd, const char *path, size_t max_entries, struct safe_dirent **entries,
                  size_t *n_entries, bool *truncated, corral_error *err);
void safe_dirents_free(struct safe_dirent *entries, size_t n_entries);

/* Remove PATH (a file, a symlink itself, or a directory; a non-empty directory
 * only when recursive). Never follows a symlink and never crosses into another mount
 * while recursing (EXDEV). The root itself cannot be removed (EBUSY). */
int safe_remove(int root_fd, const char *path, bool recursive, corral_error *err);

/* rm -rf of the entry NAME in directory dirfd, not following symlinks, not crossing mounts;
 * used to delete a private workspace after its sandbox is gone. ENOENT is success. */
int safe_tree_remove(int dirfd, const char *name, corral_error *err);

/* For tests: skip openat2 and always use the userspace walk, so both
 * resolvers face the same hostile trees. */
extern bool safe_file_force_fallback;

#endif
