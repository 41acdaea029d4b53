/* The tree copier shared by directory imports and snapshots. */
#include "store/layer_copy.h"

#include "util/cleanup.h"
#include "util/error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

/* Each level holds three descriptors; stay well inside RLIMIT_NOFILE. */
#define MAX_DEPTH 200
#define XATTR_LIST_MAX_BYTES 65536
#define XATTR_VALUE_MAX_BYTES 65536

struct link_seen {
	dev_t dev;
	ino_t ino;
	char *rel;          /* where its first copy went, relative to dst root */
};

struct copier {
	struct layer_copy *lc;
	int dst_root;
	bool root;          /* euid 0: ownership and device nodes are copied */
	void *links;        /* tsearch tree of struct link_seen */
	char rel[PATH_MAX]; /* the entry being copied, for messages */
	size_t rel_len;
	char *xattr_list;   /* XATTR_LIST_MAX_BYTES, reused for every entry */
	char *xattr_value;  /* XATTR_VALUE_MAX_BYTES */
};

static int link_cmp(const void *a, const void *b)
{
	const struct link_seen *x = a, *y = b;
	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return 0;
}

static void link_free(void *p)
{
	struct link_seen *l = p;
	free(l->rel);
	free(l);
}

const char *layer_opaque_xattr(void)
{
	return geteuid() == 0 ? "trusted.overlay.opaque" : "user.overlay.opaque";
}

bool layer_xattr_skipped(const char *name, bool overlay_upper)
{
	const char *rest = NULL;
	if (strncmp(name, "trusted.overlay.", 16) == 0)
		rest = name + 16;
	else if (strncmp(name, "user.overlay.", 13) == 0)
		rest = name + 13;
	if (!rest)
		return false;
	/* What marks deletions (opaque dirs; the xattr form of whiteouts of
	 * Linux 6.7+) keeps its meaning in a lower layer; the rest does not. */
	bool deletion = strcmp(rest, "opaque") == 0 || strcmp(rest, "whiteout") == 0 ||
	                strcmp(rest, "whiteouts") == 0;
	return !(overlay_upper && deletion);
}

static int fail(struct copier *c, corral_error *err)
{
	return error_errno(err, "copy %s", c->rel_len ? c->rel : ".");
}

/* Copy the xattrs of src_fd to dst_fd (both regular files or dirs). */
static int copy_xattrs(struct copier *c, int src_fd, int dst_fd, corral_error *err)
{
	char *list = c->xattr_list, *value = c->xattr_value;
	ssize_t len = flistxattr(src_fd, list, XATTR_LIST_MAX_BYTES);
	if (len < 0) {
		if (errno == ENOTSUP)
			return 0;
		return fail(c, err);
	}
	for (const char *name = list; name < list + len; name += strlen(name) + 1) {
		if (layer_xattr_skipped(name, c->lc->overlay_upper))
			continue;
		ssize_t vlen = fgetxattr(src_fd, name, value, XATTR_VALUE_MAX_BYTES);
		if (vlen < 0) {
			if (errno == ENODATA)
				continue;
			return error_errno(err, "copy %s: xattr %s", c->rel, name);
		}
		if (fsetxattr(dst_fd, name, value, (size_t)vlen, 0) < 0)
			return error_errno(err, "copy %s: xattr %s", c->rel, name);
	}
	return 0;
}

static uid_t unshift(const struct copier *c, uint32_t id)
{
	uint32_t shift = c->lc->id_shift;
	return shift && id >= shift ? id - shift : id;
}

/* Owner, mode, xattrs, times, in that order: chown clears set-id bits and
 * file capabilities, and everything else updates ctime only. */
static int finish_fd(struct copier *c, int src_fd, int dst_fd, const struct stat *st,
                     corral_error *err)
{
	if (c->root && fchown(dst_fd, unshift(c, st->st_uid), (gid_t)unshift(c, st->st_gid)) < 0)
		return fail(c, err);
	if (fchmod(dst_fd, st->st_mode & 07777) < 0)
		return fail(c, err);
	if (copy_xattrs(c, src_fd, dst_fd, err) < 0)
		return -1;
	struct timespec times[2] = {st->st_atim, st->st_mtim};
	if (futimens(dst_fd, times) < 0)
		return fail(c, err);
	return 0;
}

/* The same for an entry that cannot be opened (symlink, fifo, device). */
static int finish_at(struct copier *c, int dst_dir, const char *name, const struct stat *st,
                     corral_error *err)
{
	if (c->root && fchownat(dst_dir, name, unshift(c, st->st_uid),
	                            (gid_t)unshift(c, st->st_gid), AT_SYMLINK_NOFOLLOW) < 0)
		return fail(c, err);
	if (!S_ISLNK(st->st_mode) && fchmodat(dst_dir, name, st->st_mode & 07777, 0) < 0)
		return fail(c, err);
	struct timespec times[2] = {st->st_atim, st->st_mtim};
	if (utimensat(dst_dir, name, times, AT_SYMLINK_NOFOLLOW) < 0)
		return fail(c, err);
	return 0;
}

static int copy_data(int src, int dst, off_t size)
{
	if (ioctl(dst, FICLONE, src) == 0)
		return 0;
	bool first = true;
	while (size > 0) {
		ssize_t n = copy_file_range(src, NULL, dst, NULL, (size_t)size, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && first && (errno == EXDEV || errno == ENOSYS || errno == EINVAL ||
		                       errno == EOPNOTSUPP))
			break;
		if (n < 0)
			return -1;
		if (n == 0)   /* the file shrank under us: keep what was there */
			return 0;
		first = false;
		size -= n;
	}
	if (size <= 0)
		return 0;
	char buf[65536];
	for (;;) {
		ssize_t n = read(src, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return (int)n;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(dst, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return -1;
			off += w;
		}
	}
}

/* A regular file: a hardlink to an earlier copy, or a new copy. */
static int copy_file(struct copier *c, int src_dir, int dst_dir, const char *name,
                     const struct stat *st, corral_error *err)
{
	struct link_seen key = {.dev = st->st_dev, .ino = st->st_ino};
	if (st->st_nlink > 1) {
		struct link_seen **found = tfind(&key, &c->links, link_cmp);
		if (found) {
			if (linkat(c->dst_root, (*found)->rel, dst_dir, name, 0) < 0)
				return fail(c, err);
			return 0;
		}
	}
	_cleanup_close_ int src = openat(src_dir, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	if (src < 0)
		return fail(c, err);
	_cleanup_close_ int dst = openat(dst_dir, name,
	                                 O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (dst < 0 || copy_data(src, dst, st->st_size) < 0)
		return fail(c, err);
	if (finish_fd(c, src, dst, st, err) < 0)
		return -1;
	c->lc->bytes += (uint64_t)st->st_size;
	if (st->st_nlink > 1) {
		struct link_seen *l = calloc(1, sizeof *l);
		if (!l || !(l->rel = strdup(c->rel))) {
			free(l);
			return error_set(err, CORRAL_ERR_INTERNAL, 0, "out of memory");
		}
		l->dev = st->st_dev;
		l->ino = st->st_ino;
		if (!tsearch(l, &c->links, link_cmp)) {
			link_free(l);
			return error_set(err, CORRAL_ERR_INTERNAL, 0, "out of memory");
		}
	}
	return 0;
}

static int copy_dir(struct copier *c, int src_fd, int dst_fd, unsigned depth, corral_error *err);

static int copy_entry(struct copier *c, int src_dir, int dst_dir, const char *name,
                      unsigned depth, corral_error *err)
{
	struct stat st;
	if (fstatat(src_dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return fail(c, err);
	c->lc->entries++;
	switch (st.st_mode & S_IFMT) {
	case S_IFREG:
		return copy_file(c, src_dir, dst_dir, name, &st, err);
	case S_IFDIR: {
		if (depth >= MAX_DEPTH)
			return error_set(err, CORRAL_ERR_USAGE, 0, "copy %s: nested deeper than %d",
			                 c->rel, MAX_DEPTH);
		if (mkdirat(dst_dir, name, 0700) < 0)
			return fail(c, err);
		_cleanup_close_ int s = openat(src_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		_cleanup_close_ int d = openat(dst_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (s < 0 || d < 0)
			return fail(c, err);
		if (copy_dir(c, s, d, depth + 1, err) < 0)
			return -1;
		return finish_fd(c, s, d, &st, err);
	}
	case S_IFLNK: {
		char target[PATH_MAX];
		ssize_t n = readlinkat(src_dir, name, target, sizeof target - 1);
		if (n < 0)
			return fail(c, err);
		target[n] = '\0';
		if (symlinkat(target, dst_dir, name) < 0)
			return fail(c, err);
		return finish_at(c, dst_dir, name, &st, err);
	}
	case S_IFCHR:
	case S_IFBLK: {
		bool whiteout = S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0);
		if (!c->root && !(whiteout && c->lc->overlay_upper))
			return error_set(err, CORRAL_ERR_USAGE, 0,
			                 "copy %s: a device node (only root may copy device nodes)", c->rel);
		if (mknodat(dst_dir, name, st.st_mode & (S_IFMT | 07777), st.st_rdev) < 0)
			return fail(c, err);
		return finish_at(c, dst_dir, name, &st, err);
	}
	case S_IFIFO:
		if (mkfifoat(dst_dir, name, 0600) < 0)
			return fail(c, err);
		return finish_at(c, dst_dir, name, &st, err);
	default:   /* sockets: nothing to keep */
		c->lc->entries--;
		return 0;
	}
}

static int copy_dir(struct copier *c, int src_fd, int dst_fd, unsigned depth, corral_error *err)
{
	int fd = dup(src_fd);
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
	if (!dir) {
		if (fd >= 0)
			close(fd);
		return fail(c, err);
	}
	int rc = 0;
	size_t saved_len = c->rel_len;
	for (;;) {
		errno = 0;
		const struct dirent *de = readdir(dir);
		if (!de) {
			if (errno)
				rc = fail(c, err);
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		int n = snprintf(c->rel + saved_len, sizeof c->rel - saved_len, "%s%s",
		                 saved_len ? "/" : "", de->d_name);
		if (n < 0 || (size_t)n >= sizeof c->rel - saved_len) {
			rc = error_set(err, CORRAL_ERR_USAGE, ENAMETOOLONG, "copy %s", c->rel);
			break;
		}
		c->rel_len = saved_len + (size_t)n;
		rc = copy_entry(c, src_fd, dst_fd, de->d_name, depth, err);
		c->rel_len = saved_len;
		c->rel[saved_len] = '\0';
		if (rc < 0)
			break;
	}
	closedir(dir);
	return rc;
}

int layer_copy_tree(int src_fd, int dst_fd, struct layer_copy *lc, corral_error *err)
{
	struct copier c = {.lc = lc, .dst_root = dst_fd, .root = geteuid() == 0};
	lc->bytes = lc->entries = 0;
	c.xattr_list = malloc(XATTR_LIST_MAX_BYTES);
	c.xattr_value = malloc(XATTR_VALUE_MAX_BYTES);
	struct stat st;
	int rc;
	if (!c.xattr_list || !c.xattr_value)
		rc = error_set(err, CORRAL_ERR_INTERNAL, 0, "out of memory");
	else if (fstat(src_fd, &st) < 0)
		rc = fail(&c, err);
	else if (copy_dir(&c, src_fd, dst_fd, 0, err) < 0)
		rc = -1;
	else
		rc = finish_fd(&c, src_fd, dst_fd, &st, err);
	if (c.links)
		tdestroy(c.links, link_free);
	free(c.xattr_list);
	free(c.xattr_value);
	return rc;
}
