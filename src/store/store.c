/* The store's directory: where it is, its lock, its names, and moving a
 * finished layer into place. */
#include "store/store.h"

#include "store/catalog.h"
#include "util/cleanup.h"
#include "util/error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

/* One OCI import unpacks at most this much (a hostile archive could expand
 * without end). */
#define STORE_DEFAULT_MAX_UNPACK (64ULL << 30)

int store_check_name(const char *what, const char *name, corral_error *err)
{
	if (!name || !name[0])
		return error_set(err, CORRAL_ERR_USAGE, 0, "%s: empty", what);
	size_t len = strlen(name);
	bool ok = len <= STORE_NAME_MAX;
	for (size_t i = 0; ok && i < len; i++) {
		char c = name[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		ok = alnum || (i > 0 && (c == '.' || c == '_' || c == '-'));
	}
	if (!ok)
		return error_set(err, CORRAL_ERR_USAGE, 0,
		                 "%s '%.*s%s': expected a letter or digit, then up to 127 letters, "
		                 "digits, '.', '_' or '-'",
		                 what, 64, name, len > 64 ? "..." : "");
	return 0;
}

/* The default location: root's is system-wide, everyone else's is theirs. */
static int default_dir(char *out, size_t size, corral_error *err)
{
	int n;
	if (geteuid() == 0) {
		n = snprintf(out, size, "/var/lib/corral");
	} else {
		const char *state = getenv("XDG_STATE_HOME");
		const char *home = getenv("HOME");
		if (state && state[0] == '/')
			n = snprintf(out, size, "%s/corral", state);
		else if (home && home[0] == '/')
			n = snprintf(out, size, "%s/.local/state/corral", home);
		else
			return error_set(err, CORRAL_ERR_USAGE, 0,
			                 "store: neither XDG_STATE_HOME nor HOME is set (use --state-dir)");
	}
	if (n < 0 || (size_t)n >= size)
		return error_set(err, CORRAL_ERR_USAGE, ENAMETOOLONG, "store");
	return 0;
}

static int mkdir_p(char *path, corral_error *err)
{
	for (char *p = path + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;
		*p = '\0';
		int rc = mkdir(path, 0700);
		if (rc < 0 && errno != EEXIST) {
			error_errno(err, "mkdir %s", path);
			*p = saved;
			return -1;
		}
		*p = saved;
		if (saved == '\0')
			return 0;
	}
}

static int open_subdir(corral_store *store, const char *name, corral_error *err)
{
	if (mkdirat(store->dir_fd, name, 0700) < 0 && errno != EEXIST)
		return error_errno(err, "mkdir %s/%s", store->path, name);
	int fd = openat(store->dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return error_errno(err, "open %s/%s", store->path, name);
	return fd;
}

static int store_setup(corral_store *store, const char *dir, corral_error *err)
{
	char buf[PATH_MAX] = "";
	if (dir) {
		if (!dir[0])
			return error_set(err, CORRAL_ERR_USAGE, 0, "--state-dir: empty path");
		if (strlen(dir) >= sizeof buf)
			return error_set(err, CORRAL_ERR_USAGE, ENAMETOOLONG, "--state-dir %.64s...", dir);
		memcpy(buf, dir, strlen(dir) + 1);
	} else if (default_dir(buf, sizeof buf, err) < 0) {
		return -1;
	}
	if (mkdir_p(buf, err) < 0)
		return error_prefix(err, "store");
	store->path = realpath(buf, NULL);
	if (!store->path)
		return error_errno(err, "store %s", buf);
	store->dir_fd = open(store->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (store->dir_fd < 0)
		return error_set(err, errno == ENOTDIR ? CORRAL_ERR_USAGE : CORRAL_ERR_SETUP, errno,
		                 "store %s", store->path);
	store->lock_fd = openat(store->dir_fd, "lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (store->lock_fd < 0)
		return error_errno(err, "open %s/lock", store->path);
	if ((store->layers_fd = open_subdir(store, "layers", err)) < 0 ||
	    (store->tmp_fd = open_subdir(store, "tmp", err)) < 0 ||
	    (store->volumes_fd = open_subdir(store, "volumes", err)) < 0)
		return -1;
	/* The schema is created or upgraded by one process at a time. */
	if (store_lock(store, err) < 0)
		return -1;
	int rc = catalog_open(store, err);
	store_unlock(store);
	return rc;
}

corral_store *corral_store_open(const char *dir, corral_error *err)
{
	corral_store *store = calloc(1, sizeof *store);
	if (!store) {
		error_set(err, CORRAL_ERR_INTERNAL, 0, "out of memory");
		return NULL;
	}
	store->dir_fd = store->layers_fd = store->tmp_fd = store->volumes_fd = store->lock_fd = -1;
	store->max_unpack_bytes = STORE_DEFAULT_MAX_UNPACK;
	if (store_setup(store, dir, err) < 0) {
		corral_store_close(store);
		return NULL;
	}
	return store;
}

void corral_store_close(corral_store *store)
{
	if (!store)
		return;
	catalog_close(store);
	int fds[] = {store->dir_fd, store->layers_fd, store->tmp_fd, store->volumes_fd,
	             store->lock_fd};
	for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(store->path);
	free(store);
}

const char *corral_store_path(const corral_store *store)
{
	return store->path;
}

int store_lock(corral_store *store, corral_error *err)
{
	if (store->lock_depth == 0) {
		int rc;
		do
			rc = flock(store->lock_fd, LOCK_EX);
		while (rc < 0 && errno == EINTR);
		if (rc < 0)
			return error_errno(err, "lock %s/lock", store->path);
	}
	store->lock_depth++;
	return 0;
}

void store_unlock(corral_store *store)
{
	if (store->lock_depth > 0 && --store->lock_depth == 0)
		flock(store->lock_fd, LOCK_UN);
}

int store_new_id(char id[STORE_ID_LEN + 1], corral_error *err)
{
	unsigned char raw[STORE_ID_LEN / 2];
	size_t got = 0;
	while (got < sizeof raw) {
		ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return error_errno(err, "getrandom");
		got += (size_t)n;
	}
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < sizeof raw; i++) {
		id[2 * i] = hex[raw[i] >> 4];
		id[2 * i + 1] = hex[raw[i] & 15];
	}
	id[STORE_ID_LEN] = '\0';
	return 0;
}

int store_tmp_dir(corral_store *store, char name[STORE_ID_LEN + 1], corral_error *err)
{
	if (store_new_id(name, err) < 0)
		return -1;
	if (mkdirat(store->tmp_fd, name, 0755) < 0)
		return error_errno(err, "mkdir %s/tmp/%s", store->path, name);
	return 0;
}

int store_commit_layer(corral_store *store, const char *tmp_name, const char *id,
                       corral_error *err)
{
	/* One syncfs makes every file of the layer durable at once, far
	 * cheaper than an fsync per file; the rename is then made durable by
	 * syncing the directory it happened in. */
	if (syncfs(store->tmp_fd) < 0)
		return error_errno(err, "sync %s", store->path);
	if (renameat(store->tmp_fd, tmp_name, store->layers_fd, id) < 0)
		return error_errno(err, "rename %s/tmp/%s to layers/%s", store->path, tmp_name, id);
	if (fsync(store->layers_fd) < 0)
		return error_errno(err, "sync %s/layers", store->path);
	return 0;
}

int store_build_start(corral_store *store, struct store_build *b, corral_error *err)
{
	memset(b, 0, sizeof *b);
	b->fd = -1;
	if (store_new_id(b->id, err) < 0 || store_tmp_dir(store, b->tmp, err) < 0)
		return -1;
	b->started = true;
	b->fd = openat(store->tmp_fd, b->tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (b->fd < 0)
		return error_errno(err, "open %s/tmp/%s", store->path, b->tmp);
	return 0;
}

int store_build_commit(corral_store *store, struct store_build *b, corral_error *err)
{
	if (b->fd >= 0)
		close(b->fd);
	b->fd = -1;
	if (store_commit_layer(store, b->tmp, b->id, err) < 0)
		return -1;
	b->committed = true;
	return 0;
}

void store_build_abandon(corral_store *store, struct store_build *b)
{
	if (b->fd >= 0)
		close(b->fd);
	b->fd = -1;
	/* Best effort: whatever stays behind is unlisted, and gc's. */
	if (b->committed)
		store_remove_tree(store->layers_fd, b->id, NULL, NULL);
	else if (b->started)
		store_remove_tree(store->tmp_fd, b->tmp, NULL, NULL);
	b->started = b->committed = false;
}

char *store_layer_path(const corral_store *store, const char *id)
{
	char *path = NULL;
	if (asprintf(&path, "%s/layers/%s", store->path, id) < 0)
		return NULL;
	return path;
}

static bool is_dot(const char *name)
{
	return strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
}

static int remove_contents(int fd, dev_t dev, uint64_t *bytes, unsigned depth);

static int remove_entry(int dirfd, const char *name, dev_t dev, uint64_t *bytes, unsigned depth)
{
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -1;
	if (S_ISREG(st.st_mode) && bytes && st.st_nlink == 1)
		*bytes += (uint64_t)st.st_size;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dirfd, name, 0);
	if (st.st_dev != dev) {
		errno = EXDEV;
		return -1;
	}
	if (depth > 4096) {
		errno = ELOOP;
		return -1;
	}
	/* A read-only directory (0555 in an image) can be emptied by its
	 * owner only once it is writable again. */
	if ((st.st_mode & 0700) != 0700 && fchmodat(dirfd, name, 0700, 0) < 0)
		return -1;
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || remove_contents(fd, dev, bytes, depth + 1) < 0)
		return -1;
	return unlinkat(dirfd, name, AT_REMOVEDIR);
}

static int remove_contents(int fd, dev_t dev, uint64_t *bytes, unsigned depth)
{
	int dup_fd = dup(fd);
	if (dup_fd < 0)
		return -1;
	DIR *dir = fdopendir(dup_fd);
	if (!dir) {
		close(dup_fd);
		return -1;
	}
	int rc = 0;
	for (;;) {
		errno = 0;
		const struct dirent *de = readdir(dir);
		if (!de) {
			rc = errno ? -1 : 0;
			break;
		}
		if (!is_dot(de->d_name) && remove_entry(fd, de->d_name, dev, bytes, depth) < 0) {
			rc = -1;
			break;
		}
	}
	int saved = errno;
	closedir(dir);
	errno = saved;
	return rc;
}

int store_remove_tree(int dirfd, const char *name, uint64_t *bytes, corral_error *err)
{
	struct stat st;
	if (fstat(dirfd, &st) < 0)
		return error_errno(err, "remove %s", name);
	if (remove_entry(dirfd, name, st.st_dev, bytes, 0) < 0 && errno != ENOENT)
		return error_errno(err, "remove %s", name);
	return 0;
}
