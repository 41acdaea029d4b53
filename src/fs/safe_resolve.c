/*
 * Resolving a path inside a root without leaving it: openat2
 * RESOLVE_IN_ROOT, else the userspace walk; plus the error and path helpers
 * every safe_file operation shares. Separate from the operations
 * (safe_file.c, safe_list.c, safe_remove.c) because this is the one part
 * that must hold against a sandbox racing renames and symlinks.
 */
#include "fs/safe_file_internal.h"

#include "util/error.h"
#include "util/fileutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

#define MAX_LINKS 40        /* the kernel's MAXSYMLINKS */
#define OPENAT2_RETRIES 16  /* EAGAIN: a rename raced a ".."; bounded, the sandbox can loop */

bool safe_file_force_fallback;

/* "VERB PATH: why", why defaulting to strerror(errnum), which callers get in
 * err->errnum either way. The path is cut so the reason always fits. */
int safe_file_fail(corral_error *err, int errnum, const char *verb, const char *path,
                   const char *why)
{
	enum corral_error_kind kind = errnum == ENOMEM ? CORRAL_ERR_INTERNAL : CORRAL_ERR_USAGE;
	if (!why)
		return error_set(err, kind, errnum, "%s %.300s", verb, path);
	error_set(err, kind, 0, "%s %.300s: %s", verb, path, why);
	if (err)
		err->errnum = errnum;
	return -1;
}

int safe_file_check_path(const char *path, const char *verb, corral_error *err)
{
	if (!path || !*path)
		return safe_file_fail(err, EINVAL, verb, "\"\"", "empty path");
	if (strnlen(path, PATH_MAX) >= PATH_MAX)
		return safe_file_fail(err, ENAMETOOLONG, verb, path, NULL);
	return 0;
}

void safe_file_close_quietly(int fd)
{
	int saved = errno;
	if (fd >= 0)
		close(fd);
	errno = saved;
}

bool safe_file_is_dot_or_dotdot(const char *name)
{
	return strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
}

/* ---- the userspace walk (no openat2) ------------------------------------- */

struct walk {
	int root_fd;
	int cur;                /* O_PATH fd of `done` */
	char done[PATH_MAX];    /* cur's path from root, "/a/b": real directories only */
	size_t done_len;
	char todo[PATH_MAX];    /* what is left to resolve, from `pos` */
	size_t pos;
	int links;
};

/* cur := the directory `done` names, opened from the root again. This is how
 * ".." is taken: the kernel's ".." of a directory the sandbox moved could
 * lead anywhere, the names we came through cannot. */
static int walk_reopen(struct walk *w)
{
	char buf[PATH_MAX], *save = NULL;
	safe_file_close_quietly(w->cur);
	w->cur = openat(w->root_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	memcpy(buf, w->done, w->done_len + 1);
	for (char *c = strtok_r(buf, "/", &save); c && w->cur >= 0; c = strtok_r(NULL, "/", &save)) {
		int next = openat(w->cur, c, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		safe_file_close_quietly(w->cur);
		w->cur = next;
	}
	return w->cur < 0 ? -1 : 0;
}

/* The component ending at todo[rest] was a link: todo := target + rest (rest
 * keeps its slashes); an absolute target starts again at the root. */
static int walk_link(struct walk *w, const char *target, ssize_t tlen, size_t rest)
{
	size_t rlen = strlen(w->todo + rest);
	if (tlen < 0)
		return -1;
	if (++w->links > MAX_LINKS)
		return errno = ELOOP, -1;
	if (tlen == 0)
		return errno = ENOENT, -1;
	if ((size_t)tlen + rlen >= sizeof w->todo)
		return errno = ENAMETOOLONG, -1;
	memmove(w->todo + tlen, w->todo + rest, rlen + 1);
	memcpy(w->todo, target, (size_t)tlen);
	w->pos = 0;
	if (target[0] != '/')
		return 0;
	w->done_len = 0;
	w->done[0] = '\0';
	return walk_reopen(w);
}

/* One component. Returns 1 to go on, 0 with *out open when the path is done,
 * -1 with errno. */
static int walk_step(struct walk *w, int flags, mode_t mode, int *out)
{
	char name[NAME_MAX + 1], target[PATH_MAX];
	struct stat st;
	const char *p = w->todo + w->pos + strspn(w->todo + w->pos, "/");
	size_t n = strcspn(p, "/"), rest = (size_t)(p + n - w->todo), slashes = strspn(p + n, "/");
	bool last = p[n + slashes] == '\0';
	bool dir_only = last && slashes > 0;   /* "name/" must be a directory, and is followed */
	bool follow = !(flags & O_NOFOLLOW) || dir_only;
	ssize_t t;
	int fd;

	if (n > NAME_MAX)
		return errno = ENAMETOOLONG, -1;
	memcpy(name, p, n);
	name[n] = '\0';
	if (n == 0 || safe_file_is_dot_or_dotdot(name)) {
		if (n == 2) {
			char *slash = strrchr(w->done, '/');
			w->done_len = slash ? (size_t)(slash - w->done) : 0;
			w->done[w->done_len] = '\0';
			if (walk_reopen(w) < 0)
				return -1;
		}
		w->pos = rest;
		if (!last)
			return 1;
		*out = openat(w->cur, ".", flags | O_CLOEXEC, mode);
		return *out < 0 ? -1 : 0;
	}
	if (!last) {
		fd = openat(w->cur, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) < 0) {
			safe_file_close_quietly(fd);
			return -1;
		}
		if (S_ISDIR(st.st_mode) && w->done_len + 1 + n < sizeof w->done) {
			w->done_len += (size_t)snprintf(w->done + w->done_len, sizeof w->done - w->done_len, "/%s", name);
			safe_file_close_quietly(w->cur);
			w->cur = fd;
			w->pos = rest;
			return 1;
		}
		/* Read the link from the fd we examined, not by name again. */
		errno = S_ISDIR(st.st_mode) ? ENAMETOOLONG : ENOTDIR;
		t = S_ISLNK(st.st_mode) ? readlinkat(fd, "", target, sizeof target) : -1;
		safe_file_close_quietly(fd);
	} else if (dir_only && (flags & O_CREAT)) {
		return errno = EISDIR, -1;
	} else if ((fd = openat(w->cur, name, flags | O_NOFOLLOW | O_CLOEXEC | (dir_only ? O_DIRECTORY : 0), mode)) >= 0) {
		/* O_PATH|O_NOFOLLOW opens a final link itself: follow it here. */
		if (!follow || !(flags & O_PATH) || (fstat(fd, &st) == 0 && !S_ISLNK(st.st_mode))) {
			*out = fd;
			return 0;
		}
		t = readlinkat(fd, "", target, sizeof target);
		safe_file_close_quietly(fd);
	} else {
		/* A final link fails O_NOFOLLOW with ELOOP (ENOTDIR under
		 * O_DIRECTORY); any other error is the answer. */
		int e = errno;
		if (!follow || (e != ELOOP && e != ENOTDIR))
			return -1;
		t = readlinkat(w->cur, name, target, sizeof target);
		if (t < 0 && errno == EINVAL && e == ELOOP && ++w->links <= MAX_LINKS)
			return 1;   /* no longer a link: swapped under us, look again */
		if (t < 0)
			return errno = e, -1;
	}
	if (t == (ssize_t)sizeof target)
		return errno = ENAMETOOLONG, -1;
	return walk_link(w, target, t, rest) < 0 ? -1 : 1;
}

/* fd or -1 with errno; path already checked. */
int safe_file_open_in_root(int root_fd, const char *path, int flags, mode_t mode)
{
	if (!safe_file_force_fallback) {
		bool with_mode = (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
		struct open_how how = {
			.flags = (uint64_t)(unsigned)(flags | O_CLOEXEC),
			.mode = with_mode ? mode : 0,   /* openat2 refuses a stray mode */
			.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
		};
		for (int i = 0; i < OPENAT2_RETRIES; i++) {
			long fd = syscall(SYS_openat2, root_fd, path, &how, sizeof how);
			if (fd >= 0)
				return (int)fd;
			if (errno != EAGAIN && errno != EINTR)
				break;
		}
		if (errno != ENOSYS)
			return -1;
	}
	struct walk w = {.root_fd = root_fd, .cur = -1};
	int fd = -1, rc;
	snprintf(w.todo, sizeof w.todo, "%s", path);
	if (walk_reopen(&w) < 0)
		return -1;
	while ((rc = walk_step(&w, flags, mode, &fd)) > 0)
		;
	safe_file_close_quietly(w.cur);
	return rc < 0 ? -1 : fd;
}

int safe_open(int root_fd, const char *path, int flags, mode_t mode, corral_error *err)
{
	if (safe_file_check_path(path, "open", err) < 0)
		return -1;
	int fd = safe_file_open_in_root(root_fd, path, flags, mode);
	return fd < 0 ? safe_file_fail(err, errno, "open", path, NULL) : fd;
}

/* The directory holding PATH, opened inside root, and PATH's final name for
 * the caller to act on without following it ("" for "/"; "." and ".." as
 * they are). *dir_only when PATH ends in "/". */
int safe_file_open_parent(int root_fd, const char *path, char name[NAME_MAX + 1], bool *dir_only)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);
	memcpy(buf, path, n + 1);
	for (*dir_only = false; n > 1 && buf[n - 1] == '/'; *dir_only = true)
		buf[--n] = '\0';
	char *slash = strrchr(buf, '/');
	const char *base = slash ? slash + 1 : buf;
	if (strlen(base) > NAME_MAX)
		return errno = ENAMETOOLONG, -1;
	memcpy(name, base, strlen(base) + 1);
	if (slash)
		slash[1] = '\0';   /* keep the slash: "/x" has the root as parent */
	return safe_file_open_in_root(root_fd, slash ? buf : ".", O_PATH | O_DIRECTORY, 0);
}
