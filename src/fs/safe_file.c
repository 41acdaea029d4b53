/*
 * Safe file primitives (see safe_file.h).
 *
 * Every path goes through open_in_root(): openat2 RESOLVE_IN_ROOT where the
 * kernel has it, else a userspace walk that hands the kernel one component at
 * a time with O_NOFOLLOW and never asks it for "..". Operations that change a
 * name (write, mkdir, remove) resolve only its parent that way, then act on
 * the final name with *at calls that do not follow it.
 */
#include "fs/safe_file.h"

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

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

#define MAX_LINKS 40        /* the kernel's MAXSYMLINKS */
#define OPENAT2_RETRIES 16  /* EAGAIN: a rename raced a ".."; bounded, the sandbox can loop */

bool safe_file_force_fallback;

/* "VERB PATH: why", why defaulting to strerror(errnum), which callers get in
 * err->errnum either way. The path is cut so the reason always fits. */
static int fail(corral_error *err, int errnum, const char *verb, const char *path, const char *why)
{
	enum corral_error_kind kind = errnum == ENOMEM ? CORRAL_ERR_INTERNAL : CORRAL_ERR_USAGE;
	if (!why)
		return error_set(err, kind, errnum, "%s %.300s", verb, path);
	error_set(err, kind, 0, "%s %.300s: %s", verb, path, why);
	if (err)
		err->errnum = errnum;
	return -1;
}

static int check_path(const char *path, const char *verb, corral_error *err)
{
	if (!path || !*path)
		return fail(err, EINVAL, verb, "\"\"", "empty path");
	if (strnlen(path, PATH_MAX) >= PATH_MAX)
		return fail(err, ENAMETOOLONG, verb, path, NULL);
	return 0;
}

static void close_quietly(int fd)
{
	int saved = errno;
	if (fd >= 0)
		close(fd);
	errno = saved;
}

static bool is_dot_or_dotdot(const char *name)
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
	close_quietly(w->cur);
	w->cur = openat(w->root_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	memcpy(buf, w->done, w->done_len + 1);
	for (char *c = strtok_r(buf, "/", &save); c && w->cur >= 0; c = strtok_r(NULL, "/", &save)) {
		int next = openat(w->cur, c, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close_quietly(w->cur);
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
	if (n == 0 || is_dot_or_dotdot(name)) {
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
			close_quietly(fd);
			return -1;
		}
		if (S_ISDIR(st.st_mode) && w->done_len + 1 + n < sizeof w->done) {
			w->done_len += (size_t)snprintf(w->done + w->done_len, sizeof w->done - w->done_len, "/%s", name);
			close_quietly(w->cur);
			w->cur = fd;
			w->pos = rest;
			return 1;
		}
		/* Read the link from the fd we examined, not by name again. */
		errno = S_ISDIR(st.st_mode) ? ENAMETOOLONG : ENOTDIR;
		t = S_ISLNK(st.st_mode) ? readlinkat(fd, "", target, sizeof target) : -1;
		close_quietly(fd);
	} else if (dir_only && (flags & O_CREAT)) {
		return errno = EISDIR, -1;
	} else if ((fd = openat(w->cur, name, flags | O_NOFOLLOW | O_CLOEXEC | (dir_only ? O_DIRECTORY : 0), mode)) >= 0) {
		/* O_PATH|O_NOFOLLOW opens a final link itself: follow it here. */
		if (!follow || !(flags & O_PATH) || (fstat(fd, &st) == 0 && !S_ISLNK(st.st_mode))) {
			*out = fd;
			return 0;
		}
		t = readlinkat(fd, "", target, sizeof target);
		close_quietly(fd);
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
static int open_in_root(int root_fd, const char *path, int flags, mode_t mode)
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
	close_quietly(w.cur);
	return rc < 0 ? -1 : fd;
}

int safe_open(int root_fd, const char *path, int flags, mode_t mode, corral_error *err)
{
	if (check_path(path, "open", err) < 0)
		return -1;
	int fd = open_in_root(root_fd, path, flags, mode);
	return fd < 0 ? fail(err, errno, "open", path, NULL) : fd;
}

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
	if (check_path(path, "read", err) < 0)
		return -1;
	int fd = open_in_root(root_fd, path, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0);
	if (fd < 0)
		return fail(err, errno, "read", path, NULL);
	snprintf(too_big, sizeof too_big, "file is larger than %zu bytes", max_bytes);
	if (fstat(fd, &st) < 0) {
		fail(err, errno, "read", path, NULL);
		goto cleanup;
	}
	if (!S_ISREG(st.st_mode)) {
		if (S_ISDIR(st.st_mode))
			fail(err, EISDIR, "read", path, NULL);
		else
			fail(err, EINVAL, "read", path, "not a regular file");
		goto cleanup;
	}
	if ((uintmax_t)st.st_size > limit) {
		fail(err, EFBIG, "read", path, too_big);
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
			fail(err, ENOMEM, "read", path, NULL);
			goto cleanup;
		}
		ssize_t n = read(fd, buf + used, cap - used);
		if (n == 0)
			break;
		if (n < 0 && errno != EINTR) {
			fail(err, errno, "read", path, NULL);
			goto cleanup;
		}
		used += n > 0 ? (size_t)n : 0;
		if (used > limit) {
			fail(err, EFBIG, "read", path, too_big);
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
	close_quietly(fd);
	return rc;
}

/* The directory holding PATH, opened inside root, and PATH's final name for
 * the caller to act on without following it ("" for "/"; "." and ".." as
 * they are). *dir_only when PATH ends in "/". */
static int open_parent(int root_fd, const char *path, char name[NAME_MAX + 1], bool *dir_only)
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
	return open_in_root(root_fd, slash ? buf : ".", O_PATH | O_DIRECTORY, 0);
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

	if (check_path(path, "write", err) < 0)
		return -1;
	int dir = open_parent(root_fd, path, name, &dir_only);
	if (dir < 0)
		return fail(err, errno, "write", path, NULL);
	int e = fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : 0;
	if (dir_only || !*name || is_dot_or_dotdot(name) || (e != 0 && e != ENOENT)) {
		fail(err, e == 0 || e == ENOENT ? EISDIR : e, "write", path, NULL);
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
		fail(err, errno, "write", path, NULL);
		goto cleanup;
	}
	int closed = close(fd);
	fd = -1;
	if (closed < 0 || renameat(dir, tmp, dir, name) < 0) {
		fail(err, errno, "write", path, NULL);
		goto cleanup;
	}
	created = false;
	rc = 0;
cleanup:
	close_quietly(fd);
	if (created)
		(void)unlinkat(dir, tmp, 0);   /* best effort: err already says what failed */
	close_quietly(dir);
	return rc;
}

int safe_mkdirs(int root_fd, const char *path, mode_t mode, corral_error *err)
{
	char buf[PATH_MAX], name[NAME_MAX + 1];
	bool dir_only;
	if (check_path(path, "mkdir", err) < 0)
		return -1;
	size_t n = strlen(path);
	memcpy(buf, path, n + 1);
	/* Each prefix in turn: resolved inside root, created where missing. */
	for (size_t end = 1; end <= n; end++) {
		if ((end < n && buf[end] != '/') || buf[end - 1] == '/')
			continue;
		buf[end] = '\0';
		int fd = open_in_root(root_fd, buf, O_PATH | O_DIRECTORY, 0);
		if (fd < 0 && errno == ENOENT) {
			int dir = open_parent(root_fd, buf, name, &dir_only);
			if (dir < 0 || (mkdirat(dir, name, mode) < 0 && errno != EEXIST)) {
				close_quietly(dir);
				return fail(err, errno, "mkdir", path, NULL);
			}
			close_quietly(dir);
			/* Whatever is there now must be a directory inside root. */
			fd = open_in_root(root_fd, buf, O_PATH | O_DIRECTORY, 0);
		}
		if (fd < 0)
			return fail(err, errno, "mkdir", path, NULL);
		close_quietly(fd);
		buf[end] = path[end];
	}
	return 0;
}

/* ---- list, remove --------------------------------------------------------- */

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sort, keep the first `keep`: a listing is the alphabetically first
 * max_entries however many the sandbox made, in memory of a few times that. */
static size_t keep_first(char **names, size_t n, size_t keep)
{
	if (n > 1)
		qsort(names, n, sizeof *names, cmp_names);
	for (size_t i = keep; i < n; i++)
		free(names[i]);
	return n < keep ? n : keep;
}

static enum safe_file_type file_type(mode_t m)
{
	if (S_ISREG(m))
		return SAFE_FILE_REGULAR;
	if (S_ISDIR(m))
		return SAFE_FILE_DIRECTORY;
	return S_ISLNK(m) ? SAFE_FILE_SYMLINK : SAFE_FILE_OTHER;
}

int safe_list_dir(int root_fd, const char *path, size_t max_entries, struct safe_dirent **entries,
                  size_t *n_entries, bool *truncated, corral_error *err)
{
	char **names = NULL;
	size_t n = 0, cap = 0, seen = 0, n_out = 0;
	struct safe_dirent *out = NULL;
	struct dirent *de;
	DIR *d = NULL;
	int rc = -1;

	*entries = NULL;
	*n_entries = 0;
	*truncated = false;
	if (check_path(path, "list", err) < 0)
		return -1;
	int fd = open_in_root(root_fd, path, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0 || !(d = fdopendir(fd))) {
		close_quietly(fd);
		return fail(err, errno, "list", path, NULL);
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (is_dot_or_dotdot(de->d_name))
			continue;
		seen++;
		if (n == cap && cap > 0 && cap / 2 >= max_entries) {
			n = keep_first(names, n, max_entries);
		} else if (n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			char **bigger = ncap < SIZE_MAX / sizeof *names ? realloc(names, ncap * sizeof *names) : NULL;
			if (!bigger)
				goto nomem;
			names = bigger;
			cap = ncap;
		}
		if (!(names[n] = strdup(de->d_name)))
			goto nomem;
		n++;
	}
	if (errno) {
		fail(err, errno, "list", path, NULL);
		goto cleanup;
	}
	n = keep_first(names, n, max_entries);
	*truncated = seen > max_entries;
	if (n > 0 && !(out = calloc(n, sizeof *out)))
		goto nomem;
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		if (fstatat(dirfd(d), names[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue;   /* removed since readdir */
			fail(err, errno, "list", path, NULL);
			goto cleanup;
		}
		out[n_out++] = (struct safe_dirent){.name = names[i], .type = file_type(st.st_mode),
		                                    .size = (uint64_t)st.st_size, .mode = st.st_mode & 07777,
		                                    .mtime = (int64_t)st.st_mtim.tv_sec};
		names[i] = NULL;
	}
	*entries = out;
	*n_entries = n_out;
	out = NULL;
	rc = 0;
	goto cleanup;
nomem:
	fail(err, ENOMEM, "list", path, NULL);
cleanup:
	safe_dirents_free(out, n_out);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return rc;
}

void safe_dirents_free(struct safe_dirent *entries, size_t n_entries)
{
	for (size_t i = 0; entries && i < n_entries; i++)
		free(entries[i].name);
	free(entries);
}

/* The mount fd is on: its mount id where statx has one (bind mounts of one
 * file system share st_dev), else the device. */
static int mount_of(int fd, uint64_t *id)
{
	struct statx stx;
	if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &stx) < 0)
		return -1;
	if (stx.stx_mask & STATX_MNT_ID)
		*id = stx.stx_mnt_id;
	else
		*id = (1ULL << 63) | ((uint64_t)stx.stx_dev_major << 32) | stx.stx_dev_minor;
	return 0;
}

/* NAME in dir as a directory to descend into: not through a link (ENOTDIR,
 * ELOOP), not onto another mount (EXDEV). */
static int open_child(int dir, const char *name, uint64_t mnt, struct stat *st)
{
	uint64_t m;
	int fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0 && (fstat(fd, st) < 0 || mount_of(fd, &m) < 0 || (m != mnt && (errno = EXDEV)))) {
		close_quietly(fd);
		return -1;
	}
	return fd;
}

/* The directories remove_tree is in, top first. */
struct tree {
	struct level {
		dev_t dev;
		ino_t ino;
		char *name;   /* in the level above */
	} *lv;
	size_t depth, cap;
};

static int tree_push(struct tree *t, const struct stat *st, const char *name)
{
	if (t->depth == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 16;
		struct level *bigger = realloc(t->lv, ncap * sizeof *t->lv);
		if (!bigger)
			return errno = ENOMEM, -1;
		t->lv = bigger;
		t->cap = ncap;
	}
	char *copy = strdup(name);
	if (!copy)
		return errno = ENOMEM, -1;
	t->lv[t->depth++] = (struct level){.dev = st->st_dev, .ino = st->st_ino, .name = copy};
	return 0;
}

/* rm -rf NAME in PARENT. One directory is open at a time, so depth costs
 * memory, not fds or stack. Going back up takes "..", checked against the
 * directory we came down from: a subtree the sandbox moves away mid-walk
 * stops the removal (EAGAIN) instead of leading it outside the root. */
static int remove_tree(int parent, const char *name)
{
	struct tree t = {0};
	struct stat st;
	struct dirent *de;
	uint64_t mnt;
	DIR *d = NULL;
	int rc = -1, fd;

	if (mount_of(parent, &mnt) < 0)
		return -1;
	fd = open_child(parent, name, mnt, &st);
	if (fd < 0)
		return errno == ENOTDIR || errno == ELOOP ? unlinkat(parent, name, 0) : -1;
	if (tree_push(&t, &st, name) < 0)
		goto out;
	while (t.depth > 0) {
		/* fd: the directory at level depth - 1, to empty. */
		if (!(d = fdopendir(fd)))
			goto out;
		fd = -1;
		while ((errno = 0, de = readdir(d)) != NULL) {
			if (is_dot_or_dotdot(de->d_name))
				continue;
			if (de->d_type != DT_DIR && (unlinkat(dirfd(d), de->d_name, 0) == 0 || errno == ENOENT))
				continue;
			if (de->d_type != DT_DIR && errno != EISDIR)
				goto out;
			if ((fd = open_child(dirfd(d), de->d_name, mnt, &st)) >= 0)
				break;
			if (errno == ENOENT || ((errno == ENOTDIR || errno == ELOOP) &&
			                        (unlinkat(dirfd(d), de->d_name, 0) == 0 || errno == ENOENT)))
				continue;   /* gone, or swapped for a non-directory: unlinked */
			goto out;
		}
		if (fd >= 0) {                  /* down into it */
			if (tree_push(&t, &st, de->d_name) < 0)
				goto out;
		} else if (errno) {
			goto out;
		} else if (t.depth == 1) {      /* the top is empty */
			if (unlinkat(parent, t.lv[0].name, AT_REMOVEDIR) < 0 && errno != ENOENT)
				goto out;
			free(t.lv[--t.depth].name);
		} else {                        /* empty: up, and remove it from there */
			fd = openat(dirfd(d), "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (fd < 0 || fstat(fd, &st) < 0)
				goto out;
			if (st.st_dev != t.lv[t.depth - 2].dev || st.st_ino != t.lv[t.depth - 2].ino) {
				errno = EAGAIN;
				goto out;
			}
			if (unlinkat(fd, t.lv[t.depth - 1].name, AT_REMOVEDIR) < 0 && errno != ENOENT)
				goto out;
			free(t.lv[--t.depth].name);
		}
		closedir(d);
		d = NULL;
	}
	rc = 0;
out: {
	int saved = errno;
	if (d)
		closedir(d);
	close_quietly(fd);
	for (size_t i = 0; i < t.depth; i++)
		free(t.lv[i].name);
	free(t.lv);
	errno = saved;
	return rc;
}
}

int safe_remove(int root_fd, const char *path, bool recursive, corral_error *err)
{
	char name[NAME_MAX + 1];
	struct stat st, root_st;
	bool dir_only;
	int rc = -1;

	if (check_path(path, "remove", err) < 0)
		return -1;
	int dir = open_parent(root_fd, path, name, &dir_only);
	if (dir < 0)
		return fail(err, errno, "remove", path, NULL);
	bool dot = !*name || is_dot_or_dotdot(name);
	if (fstat(root_fd, &root_st) < 0 || (!dot && fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)) {
		fail(err, errno, "remove", path, NULL);
	} else if (dot) {
		/* "/", ".", "a/..": the root is refused; other dot names as rmdir(2) does. */
		int fd = open_in_root(root_fd, path, O_PATH | O_DIRECTORY, 0);
		bool is_root = fd >= 0 && fstat(fd, &st) == 0 && st.st_dev == root_st.st_dev &&
		               st.st_ino == root_st.st_ino;
		close_quietly(fd);
		fail(err, is_root ? EBUSY : EINVAL, "remove", path, NULL);
	} else if (st.st_dev == root_st.st_dev && st.st_ino == root_st.st_ino) {
		fail(err, EBUSY, "remove", path, NULL);   /* the root, mounted inside itself */
	} else {
		/* Races are harmless: unlinkat fails on a swapped-in directory,
		 * rmdir on a swapped-in non-directory, remove_tree never follows. */
		if (!S_ISDIR(st.st_mode))
			rc = dir_only ? (errno = ENOTDIR, -1) : unlinkat(dir, name, 0);
		else
			rc = recursive ? remove_tree(dir, name) : unlinkat(dir, name, AT_REMOVEDIR);
		if (rc < 0)
			fail(err, errno, "remove", path, NULL);
	}
	close_quietly(dir);
	return rc;
}

int safe_tree_remove(int dirfd, const char *name, corral_error *err)
{
	if (!name || !*name || strchr(name, '/') || is_dot_or_dotdot(name))
		return fail(err, EINVAL, "remove", name ? name : "\"\"", "not a name in the directory");
	if (strlen(name) > NAME_MAX)
		return fail(err, ENAMETOOLONG, "remove", name, NULL);
	if (remove_tree(dirfd, name) < 0 && errno != ENOENT)
		return fail(err, errno, "remove", name, NULL);
	return 0;
}
