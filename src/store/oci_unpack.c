/* Unpacking one OCI layer tarball into a store layer.
 *
 * libarchive only reads here: entries are created by our own code relative
 * to the layer's directory fd, never through a path from the archive, so a
 * hostile archive cannot write outside the layer (no chdir either, which
 * would be process-wide). Each parent directory is opened component by
 * component with O_NOFOLLOW, which refuses exactly what libarchive's
 * ARCHIVE_EXTRACT_SECURE_SYMLINKS refuses; absolute paths and ".." are
 * rejected up front (SECURE_NOABSOLUTEPATHS, SECURE_NODOTDOT). */
#include "store/oci.h"

#include "store/layer_copy.h"
#include "util/cleanup.h"
#include "util/error.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#define ENTRY_COST 512   /* charged per entry, so empty files cannot be unbounded */

struct blob_reader {
	int fd;
	EVP_MD_CTX *md;
	char buf[65536];
};

/* A directory's time, set once nothing more is created in it. */
struct dir_time {
	char *path;
	struct timespec mtime;
};

struct unpacker {
	int root_fd;
	bool root;
	uint64_t *budget;
	uint64_t bytes;
	struct dir_time *dirs;
	size_t n_dirs;
};

static la_ssize_t blob_read(struct archive *a, void *data, const void **out)
{
	struct blob_reader *r = data;
	ssize_t n;
	do
		n = read(r->fd, r->buf, sizeof r->buf);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		archive_set_error(a, errno, "read");
		return -1;
	}
	if (n > 0 && !EVP_DigestUpdate(r->md, r->buf, (size_t)n)) {
		archive_set_error(a, EIO, "sha256 failed");
		return -1;
	}
	*out = r->buf;
	return n;
}

/* "a/./b/" → "a/b"; refuses absolute paths and "..". */
static int clean_path(const char *in, char *out, size_t size, corral_error *err)
{
	/* Every failure returns -1 explicitly: the analyzer cannot see that
	 * error_set() does, and would think `out` may be used unset. */
	if (in[0] == '/') {
		error_set(err, CORRAL_ERR_USAGE, 0, "entry %.200s: absolute path refused", in);
		return -1;
	}
	size_t used = 0;
	for (const char *p = in; *p;) {
		size_t len = strcspn(p, "/");
		if (len == 2 && p[0] == '.' && p[1] == '.') {
			error_set(err, CORRAL_ERR_USAGE, 0, "entry %.200s: '..' refused", in);
			return -1;
		}
		if (len > 0 && !(len == 1 && p[0] == '.')) {
			if (used + len + 2 > size) {
				error_set(err, CORRAL_ERR_USAGE, ENAMETOOLONG, "entry %.200s", in);
				return -1;
			}
			if (used)
				out[used++] = '/';
			memcpy(out + used, p, len);
			used += len;
		}
		p += len;
		while (*p == '/')
			p++;
	}
	out[used] = '\0';
	return 0;
}

/* Open the parent directory of the clean relative `path` (creating missing
 * directories) and point *base at its last component. Never follows a
 * symlink. */
static int open_parent(struct unpacker *u, char *path, const char **base, corral_error *err)
{
	int fd = dup(u->root_fd);
	if (fd < 0) {
		error_errno(err, "dup");
		return -1;
	}
	char *p = path;
	for (char *slash; (slash = strchr(p, '/')) != NULL; p = slash + 1) {
		*slash = '\0';
		if (mkdirat(fd, p, 0755) < 0 && errno != EEXIST) {
			error_errno(err, "entry %s", path);
			*slash = '/';
			close(fd);
			return -1;
		}
		int next = openat(fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		int saved = errno;
		*slash = '/';
		close(fd);
		if (next < 0) {
			if (saved == ELOOP || saved == ENOTDIR)
				error_set(err, CORRAL_ERR_USAGE, 0,
				          "entry %.200s: a parent is a symlink or not a directory (refused)",
				          path);
			else
				error_set(err, CORRAL_ERR_SETUP, saved, "entry %s", path);
			return -1;
		}
		fd = next;
	}
	*base = p;
	return fd;
}

/* Make room for a new entry: anything there goes, except a directory
 * where a directory comes. */
static int clear_slot(int dir, const char *name, bool keep_dir, corral_error *err)
{
	struct stat st;
	if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : error_errno(err, "entry %s", name);
	if (keep_dir && S_ISDIR(st.st_mode))
		return 1;
	return store_remove_tree(dir, name, NULL, err);
}

static int write_data(struct archive *a, int fd, uint64_t size, struct unpacker *u,
                      const char *path, corral_error *err)
{
	const void *buf;
	size_t len;
	la_int64_t offset;
	int rc;
	while ((rc = archive_read_data_block(a, &buf, &len, &offset)) == ARCHIVE_OK) {
		if (len > *u->budget)
			return error_set(err, CORRAL_ERR_USAGE, EFBIG, "entry %s: over the import size bound",
			                 path);
		*u->budget -= len;
		for (size_t done = 0; done < len;) {
			ssize_t w = pwrite(fd, (const char *)buf + done, len - done, offset + (off_t)done);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return error_errno(err, "entry %s", path);
			done += (size_t)w;
		}
		u->bytes += len;
	}
	if (rc != ARCHIVE_EOF)
		return error_set(err, CORRAL_ERR_USAGE, 0, "entry %s: %s", path, archive_error_string(a));
	/* A sparse file may end in a hole. */
	if (ftruncate(fd, (off_t)size) < 0)
		return error_errno(err, "entry %s", path);
	return 0;
}

/* The OCI whiteouts: ".wh..wh..opq" marks its directory opaque, ".wh.NAME"
 * hides NAME of the layers below — overlayfs spells them as an xattr and a
 * 0:0 character device. */
static int whiteout(int dir, const char *base, const char *path, corral_error *err)
{
	if (strcmp(base, ".wh..wh..opq") == 0) {
		if (fsetxattr(dir, layer_opaque_xattr(), "y", 1, 0) < 0)
			return error_errno(err, "entry %s: opaque directory", path);
		return 0;
	}
	const char *name = base + 4;
	if (!name[0] || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return error_set(err, CORRAL_ERR_USAGE, 0, "entry %s: bad whiteout", path);
	if (clear_slot(dir, name, false, err) < 0)
		return -1;
	if (mknodat(dir, name, S_IFCHR, makedev(0, 0)) < 0)
		return error_errno(err, "entry %s: whiteout", path);
	return 0;
}

static int apply_xattrs(struct archive_entry *e, int fd, const char *path, corral_error *err)
{
	const char *name;
	const void *value;
	size_t len;
	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &name, &value, &len) == ARCHIVE_OK) {
		if (layer_xattr_skipped(name, false))
			continue;
		if (fsetxattr(fd, name, value, len, 0) < 0)
			return error_errno(err, "entry %s: xattr %s", path, name);
	}
	return 0;
}

/* Owner, mode, xattrs, mtime; fd is the entry's own (file or directory) or
 * -1 for what cannot be opened. */
static int apply_meta(struct unpacker *u, struct archive_entry *e, int dir, const char *base,
                      int fd, const char *path, corral_error *err)
{
	bool link = archive_entry_filetype(e) == AE_IFLNK;
	uid_t uid = (uid_t)archive_entry_uid(e);
	gid_t gid = (gid_t)archive_entry_gid(e);
	mode_t mode = archive_entry_perm(e) & 07777;
	int rc = 0;
	if (u->root)
		rc = fd >= 0 ? fchown(fd, uid, gid) : fchownat(dir, base, uid, gid, AT_SYMLINK_NOFOLLOW);
	if (rc == 0 && !link)
		rc = fd >= 0 ? fchmod(fd, mode) : fchmodat(dir, base, mode, 0);
	if (rc < 0)
		return error_errno(err, "entry %s", path);
	if (fd >= 0 && apply_xattrs(e, fd, path, err) < 0)
		return -1;
	struct timespec mtime = {archive_entry_mtime(e), archive_entry_mtime_nsec(e)};
	if (archive_entry_filetype(e) == AE_IFDIR) {
		/* Entries created in it later would change it again. */
		struct dir_time *bigger = realloc(u->dirs, (u->n_dirs + 1) * sizeof *bigger);
		if (!bigger)
			return error_set(err, CORRAL_ERR_INTERNAL, 0, "out of memory");
		u->dirs = bigger;
		if (!(u->dirs[u->n_dirs].path = strdup(path)))
			return error_set(err, CORRAL_ERR_INTERNAL, 0, "out of memory");
		u->dirs[u->n_dirs++].mtime = mtime;
		return 0;
	}
	struct timespec times[2] = {mtime, mtime};
	if (utimensat(dir, base, times, AT_SYMLINK_NOFOLLOW) < 0)
		return error_errno(err, "entry %s", path);
	return 0;
}

static int set_dir_times(struct unpacker *u, corral_error *err)
{
	for (size_t i = 0; i < u->n_dirs; i++) {
		const char *base;
		_cleanup_close_ int dir = open_parent(u, u->dirs[i].path, &base, err);
		if (dir < 0)
			return -1;
		struct timespec times[2] = {u->dirs[i].mtime, u->dirs[i].mtime};
		/* Gone (a later whiteout or entry replaced it): nothing to do. */
		if (utimensat(dir, base, times, AT_SYMLINK_NOFOLLOW) < 0 && errno != ENOENT)
			return error_errno(err, "entry %s", u->dirs[i].path);
	}
	return 0;
}

static int make_entry(struct unpacker *u, struct archive *a, struct archive_entry *e, int dir,
                      const char *base, const char *path, corral_error *err)
{
	mode_t type = archive_entry_filetype(e);
	const char *hardlink = archive_entry_hardlink(e);
	if (hardlink) {
		char target[PATH_MAX];
		const char *tbase;
		if (clean_path(hardlink, target, sizeof target, err) < 0)
			return -1;
		_cleanup_close_ int tdir = open_parent(u, target, &tbase, err);
		if (tdir < 0 || clear_slot(dir, base, false, err) < 0)
			return -1;
		if (linkat(tdir, tbase, dir, base, 0) < 0)
			return error_errno(err, "entry %s: hardlink to %s", path, target);
		return 0;
	}
	int there = clear_slot(dir, base, type == AE_IFDIR, err);
	if (there < 0)
		return -1;
	_cleanup_close_ int fd = -1;
	switch (type) {
	case AE_IFDIR:
		if (!there && mkdirat(dir, base, 0700) < 0)
			return error_errno(err, "entry %s", path);
		fd = openat(dir, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		break;
	case AE_IFREG:
		fd = openat(dir, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0 && write_data(a, fd, (uint64_t)archive_entry_size(e), u, path, err) < 0)
			return -1;
		break;
	case AE_IFLNK:
		if (symlinkat(archive_entry_symlink(e) ? archive_entry_symlink(e) : "", dir, base) < 0)
			return error_errno(err, "entry %s", path);
		break;
	case AE_IFCHR:
	case AE_IFBLK:
		if (!u->root)
			return error_set(err, CORRAL_ERR_USAGE, 0,
			                 "entry %s: a device node (only root may create device nodes)", path);
		if (mknodat(dir, base, type, archive_entry_rdev(e)) < 0)
			return error_errno(err, "entry %s", path);
		break;
	case AE_IFIFO:
		if (mkfifoat(dir, base, 0600) < 0)
			return error_errno(err, "entry %s", path);
		break;
	default:   /* sockets and the unknown: nothing to keep */
		return 0;
	}
	if ((type == AE_IFDIR || type == AE_IFREG) && fd < 0)
		return error_errno(err, "entry %s", path);
	return apply_meta(u, e, dir, base, fd, path, err);
}

static int unpack_entry(struct unpacker *u, struct archive *a, struct archive_entry *e,
                        corral_error *err)
{
	char path[PATH_MAX];
	const char *raw = archive_entry_pathname(e);
	if (!raw)
		return error_set(err, CORRAL_ERR_USAGE, 0, "an entry without a name");
	if (clean_path(raw, path, sizeof path, err) < 0)
		return -1;
	if (!path[0])   /* "./": the layer's root itself */
		return 0;
	if (*u->budget < ENTRY_COST)
		return error_set(err, CORRAL_ERR_USAGE, EFBIG, "entry %s: over the import size bound", path);
	*u->budget -= ENTRY_COST;
	char copy[PATH_MAX];
	memcpy(copy, path, strlen(path) + 1);
	const char *base;
	_cleanup_close_ int dir = open_parent(u, copy, &base, err);
	if (dir < 0)
		return -1;
	if (strncmp(base, ".wh.", 4) == 0)
		return whiteout(dir, base, path, err);
	return make_entry(u, a, e, dir, base, path, err);
}

static int check_digest(struct blob_reader *r, const char *want, corral_error *err)
{
	ssize_t n;
	/* The decompressor may stop before the end (tar's zero blocks): the
	 * digest covers the whole blob. */
	while ((n = read(r->fd, r->buf, sizeof r->buf)) > 0 || (n < 0 && errno == EINTR))
		if (n > 0 && !EVP_DigestUpdate(r->md, r->buf, (size_t)n))
			return error_set(err, CORRAL_ERR_INTERNAL, 0, "sha256 failed");
	if (n < 0)
		return error_errno(err, "read");
	unsigned char md[32];
	unsigned len = 0;
	if (!EVP_DigestFinal_ex(r->md, md, &len) || len != 32)
		return error_set(err, CORRAL_ERR_INTERNAL, 0, "sha256 failed");
	char got[65];
	for (size_t i = 0; i < 32; i++)
		snprintf(got + 2 * i, 3, "%02x", md[i]);
	if (strcmp(got, want) != 0)
		return error_set(err, CORRAL_ERR_USAGE, 0, "digest mismatch (content is sha256:%s)", got);
	return 0;
}

int oci_unpack_layer(int blob_fd, const char *digest_hex, int dst_fd, uint64_t *budget,
                     uint64_t *bytes, corral_error *err)
{
	uint64_t left = *budget;
	struct unpacker u = {.root_fd = dst_fd, .root = geteuid() == 0, .budget = &left};
	_cleanup_free_ struct blob_reader *r = calloc(1, sizeof *r);
	struct archive *a = archive_read_new();
	int rc = -1;
	if (!r || !a || !(r->md = EVP_MD_CTX_new())) {
		error_set(err, CORRAL_ERR_INTERNAL, 0, "out of memory");
		goto out;
	}
	r->fd = blob_fd;
	if (!EVP_DigestInit_ex(r->md, EVP_sha256(), NULL)) {
		error_set(err, CORRAL_ERR_INTERNAL, 0, "sha256 failed");
		goto out;
	}
	archive_read_support_format_tar(a);
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_zstd(a);   /* ARCHIVE_WARN if only a program could */
	if (archive_read_open(a, r, NULL, blob_read, NULL) != ARCHIVE_OK) {
		/* Not an archive at all: a wrong digest explains why best. */
		if (check_digest(r, digest_hex, err) == 0)
			error_set(err, CORRAL_ERR_USAGE, 0, "%s", archive_error_string(a));
		goto out;
	}
	struct archive_entry *e;
	int ar;
	rc = 0;
	while (rc == 0 && (ar = archive_read_next_header(a, &e)) == ARCHIVE_OK)
		rc = unpack_entry(&u, a, e, err);
	if (rc == 0 && ar != ARCHIVE_EOF)
		rc = error_set(err, CORRAL_ERR_USAGE, 0, "%s", archive_error_string(a));
	if (rc == 0)
		rc = set_dir_times(&u, err);
	/* A wrong digest explains any other failure best: it is checked
	 * whatever happened, and its error wins. */
	corral_error digest_err = {0};
	if (check_digest(r, digest_hex, &digest_err) < 0) {
		if (err)
			*err = digest_err;
		rc = -1;
	}
	*bytes = u.bytes;
	*budget = left;
out:
	for (size_t i = 0; i < u.n_dirs; i++)
		free(u.dirs[i].path);
	free(u.dirs);
	if (r && r->md)
		EVP_MD_CTX_free(r->md);
	if (a)
		archive_read_free(a);
	return rc;
}
