/*
 * Safe file primitives (see safe_file.h).
 *
 * Every path goes through safe_file_open_in_root(): openat2 RESOLVE_IN_ROOT
 * where the kernel has it, else a userspace walk that hands the kernel one
 * component at a time with O_NOFOLLOW and never asks it for "..". Operations
 * that change a name (write, mkdir, remove) resolve only its parent that way,
 * then act on the final name with *at calls that do not follow it.
 *
 * Resolution is in safe_resolve.c; this file has read, write and mkdir;
 * listing is in safe_list.c, removal in safe_remove.c.
 */
#include "fs/safe_file_internal.h"

#include "util/error.h"
#include "util/fileutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ---- read, write, mkdir --------------------------------------------------- */

int safe_read_file(int root_fd, const char *path, size_t max_bytes, char **data, size_t *len, corral_error *err)
{
	/* One byte beyond the bound is read to tell "exactly max" from "more". */
	size_t limit = max_bytes < SIZE_MAX - 2 ? max_bytes : SIZE_MAX - 2;
	size_t used = 0, cap;
	char *buf = NULL, too_big[64];
	struct stat st;
	int rc = -1;

	*data = NULL;
	*len = 0;
	if (safe_file_check_path(path, "read", err) < 0)
		return -1;
	int fd = safe_file_open_in_root(root_fd, path, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0);
	if (fd < 0)
		return safe_file_fail(err, errno, "read", path, NULL);
	snprintf(too_big, sizeof too_big, "file is larger than %zu bytes", max_bytes);
	if (fstat(fd, &st) < 0) {
		safe_file_fail(err, errno, "read", path, NULL);
		goto cleanup;
	}
	if (!S_ISREG(st.st_mode)) {
		if (S_ISDIR(st.st_mode))
			safe_file_fail(err, EISDIR, "read", path, NULL);
		else
			safe_file_fail(err, EINVAL, "read", path, "not a regular file");
		goto cleanup;
	}
	if ((uintmax_t)st.st_size > limit) {
		safe_file_fail(err, EFBIG, "read", path, too_big);
		goto cleanup;
	}
	cap = (size_t)st.st_size + 1;   /* only a hint: files change, /proc says 0 */
	buf = malloc(cap + 1);
	for (;;) {
		if (buf && used == cap) {   /* then cap <= limit: room to grow */
			size_t want = cap < 4096 ? 4096 : cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
			cap = want < limit + 1 ? want : limit + 1;
			char *bigger = realloc(buf, cap + 1);
			if (!bigger)
				free(buf);
			buf = bigger;
		}
		if (!buf) {
			safe_file_fail(err, ENOMEM, "read", path, NULL);
			goto cleanup;
		}
		ssize_t n = read(fd, buf + used, cap - used);
		if (n == 0)
			break;
		if (n < 0 && errno != EINTR) {
			safe_file_fail(err, errno, "read", path, NULL);
			goto cleanup;
		}
		used += n > 0 ? (size_t)n : 0;
		if (used > limit) {
			safe_file_fail(err, EFBIG, "read", path, too_big);
			goto cleanup;
		}
	}
	buf[used] = '\0';
	*data = buf;
	*len = used;
	buf = NULL;
	rc = 0;
cleanup:
	free(buf);
	safe_file_close_quietly(fd);
	return rc;
}

/* ".corral-XXXXXX". Only uniqueness matters (O_EXCL guards the rest), so
 * never wait for entropy. */
static int random_name(char out[15])
{
	static const char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char r[6];
	if (getrandom(r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
		return -1;
	memcpy(out, ".corral-", 8);
	for (size_t i = 0; i < sizeof r; i++)
		out[8 + i] = chars[r[i] % (sizeof chars - 1)];
	out[8 + sizeof r] = '\0';
	return 0;
}

int safe_write_file(int root_fd, const char *path, const void *data, size_t len, mode_t mode, corral_error *err)
{
	char name[NAME_MAX + 1], tmp[15];
	bool dir_only, created = false;
	struct stat st;
	int fd = -1, rc = -1;

	if (safe_file_check_path(path, "write", err) < 0)
		return -1;
	int dir = safe_file_open_parent(root_fd, path, name, &dir_only);
	if (dir < 0)
		return safe_file_fail(err, errno, "write", path, NULL);
	int e = fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : 0;
	if (dir_only || !*name || safe_file_is_dot_or_dotdot(name) || (e != 0 && e != ENOENT)) {
		safe_file_fail(err, e == 0 || e == ENOENT ? EISDIR : e, "write", path, NULL);
		goto cleanup;
	}
	for (int tries = 0; fd < 0 && tries < 100 && random_name(tmp) == 0; tries++) {
		fd = openat(dir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	created = fd >= 0;
	/* The new file is ours alone until the rename: no link of the
	 * sandbox's is written through, one at PATH is replaced. */
	if (fd < 0 || write_all(fd, data, len) < 0 || fchmod(fd, mode & 07777) < 0) {
		safe_file_fail(err, errno, "write", path, NULL);
		goto cleanup;
	}
	int closed = close(fd);
	fd = -1;
	if (closed < 0 || renameat(dir, tmp, dir, name) < 0) {
		safe_file_fail(err, errno, "write", path, NULL);
		goto cleanup;
	}
	created = false;
	rc = 0;
cleanup:
	safe_file_close_quietly(fd);
	if (created)
		(void)unlinkat(dir, tmp, 0);   /* best effort: err already says what failed */
	safe_file_close_quietly(dir);
	return rc;
}

int safe_mkdirs(int root_fd, const char *path, mode_t mode, corral_error *err)
{
	char buf[PATH_MAX], name[NAME_MAX + 1];
	bool dir_only;
	if (safe_file_check_path(path, "mkdir", err) < 0)
		return -1;
	size_t n = strlen(path);
	memcpy(buf, path, n + 1);
	/* Each prefix in turn: resolved inside root, created where missing. */
	for (size_t end = 1; end <= n; end++) {
		if ((end < n && buf[end] != '/') || buf[end - 1] == '/')
			continue;
		buf[end] = '\0';
		int fd = safe_file_open_in_root(root_fd, buf, O_PATH | O_DIRECTORY, 0);
		if (fd < 0 && errno == ENOENT) {
			int dir = safe_file_open_parent(root_fd, buf, name, &dir_only);
			if (dir < 0 || (mkdirat(dir, name, mode) < 0 && errno != EEXIST)) {
				safe_file_close_quietly(dir);
				return safe_file_fail(err, errno, "mkdir", path, NULL);
			}
			safe_file_close_quietly(dir);
			/* Whatever is there now must be a directory inside root. */
			fd = safe_file_open_in_root(root_fd, buf, O_PATH | O_DIRECTORY, 0);
		}
		if (fd < 0)
			return safe_file_fail(err, errno, "mkdir", path, NULL);
		safe_file_close_quietly(fd);
		buf[end] = path[end];
	}
	return 0;
}

