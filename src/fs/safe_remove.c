/*
 * safe_remove and safe_tree_remove: deleting a file or a whole tree inside a
 * root without following symlinks or crossing mounts, iteratively (a
 * sandbox controls the depth). Separate from safe_file.c for its size and
 * its own traversal.
 */
#include "fs/safe_file_internal.h"

#include "util/error.h"
#include "util/fileutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
		safe_file_close_quietly(fd);
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
			if (safe_file_is_dot_or_dotdot(de->d_name))
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
	safe_file_close_quietly(fd);
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

	if (safe_file_check_path(path, "remove", err) < 0)
		return -1;
	int dir = safe_file_open_parent(root_fd, path, name, &dir_only);
	if (dir < 0)
		return safe_file_fail(err, errno, "remove", path, NULL);
	bool dot = !*name || safe_file_is_dot_or_dotdot(name);
	if (fstat(root_fd, &root_st) < 0 || (!dot && fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)) {
		safe_file_fail(err, errno, "remove", path, NULL);
	} else if (dot) {
		/* "/", ".", "a/..": the root is refused; other dot names as rmdir(2) does. */
		int fd = safe_file_open_in_root(root_fd, path, O_PATH | O_DIRECTORY, 0);
		bool is_root = fd >= 0 && fstat(fd, &st) == 0 && st.st_dev == root_st.st_dev &&
		               st.st_ino == root_st.st_ino;
		safe_file_close_quietly(fd);
		safe_file_fail(err, is_root ? EBUSY : EINVAL, "remove", path, NULL);
	} else if (st.st_dev == root_st.st_dev && st.st_ino == root_st.st_ino) {
		safe_file_fail(err, EBUSY, "remove", path, NULL);   /* the root, mounted inside itself */
	} else {
		/* Races are harmless: unlinkat fails on a swapped-in directory,
		 * rmdir on a swapped-in non-directory, remove_tree never follows. */
		if (!S_ISDIR(st.st_mode))
			rc = dir_only ? (errno = ENOTDIR, -1) : unlinkat(dir, name, 0);
		else
			rc = recursive ? remove_tree(dir, name) : unlinkat(dir, name, AT_REMOVEDIR);
		if (rc < 0)
			safe_file_fail(err, errno, "remove", path, NULL);
	}
	safe_file_close_quietly(dir);
	return rc;
}

int safe_tree_remove(int dirfd, const char *name, corral_error *err)
{
	if (!name || !*name || strchr(name, '/') || safe_file_is_dot_or_dotdot(name))
		return safe_file_fail(err, EINVAL, "remove", name ? name : "\"\"", "not a name in the directory");
	if (strlen(name) > NAME_MAX)
		return safe_file_fail(err, ENAMETOOLONG, "remove", name, NULL);
	if (remove_tree(dirfd, name) < 0 && errno != ENOENT)
		return safe_file_fail(err, errno, "remove", name, NULL);
	return 0;
}
