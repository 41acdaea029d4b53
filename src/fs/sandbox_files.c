/* corral_sandbox_*_file: the safe file primitives applied to a running
 * sandbox's root, which init hands over right after building it. */
#include "fs/safe_file.h"
#include "jail/jail.h"
#include "util/error.h"
#include "util/fdpass.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <sys/fsuid.h>

/* How long to wait for init to finish building the root. */
#define ROOT_WAIT_MS 30000

static int receive_root(corral_sandbox *sb, corral_error *err);

int sandbox_root(corral_sandbox *sb, corral_error *err)
{
	/* File operations and snapshots may ask from several threads at once:
	 * one of them receives, the others find it received. */
	pthread_mutex_lock(&sb->root_lock);
	int fd = receive_root(sb, err);
	pthread_mutex_unlock(&sb->root_lock);
	return fd;
}

static int receive_root(corral_sandbox *sb, corral_error *err)
{
	if (sb->root_fd >= 0)
		return sb->root_fd;
	if (sb->root_sock < 0)
		return error_set(err, CORRAL_ERR_USAGE, ESRCH, "sandbox files: the sandbox is gone");
	/* Init sends the root once it is built; if init dies first, the
	 * socket reads EOF. */
	struct pollfd p = {.fd = sb->root_sock, .events = POLLIN};
	int ready;
	while ((ready = poll(&p, 1, ROOT_WAIT_MS)) < 0 && errno == EINTR)
		;
	if (ready < 0)
		return error_errno(err, "sandbox files: wait for the root");
	if (ready == 0)
		return error_set(err, CORRAL_ERR_INTERNAL, ETIMEDOUT,
		                 "sandbox files: the sandbox's root never came");
	sb->root_fd = fdpass_recv(sb->root_sock, MSG_DONTWAIT);
	/* Rootless, init sends the overlay's upper right after the root
	 * (corral_sandbox_snapshot); EOF if init died in between. */
	if (sb->root_fd >= 0 && sb->upper_expected)
		sb->upper_fd = fdpass_recv(sb->root_sock, 0);
	close(sb->root_sock);
	sb->root_sock = -1;
	if (sb->root_fd < 0)
		return error_set(err, CORRAL_ERR_USAGE, ESRCH,
		                 "sandbox files: the sandbox stopped before its root was built");
	return sb->root_fd;
}

/* Act as the sandboxed user for file-system checks (per thread, so other
 * threads keep their identity); as real root this also drops the DAC
 * override capabilities until restored. */
struct fs_identity {
	uid_t uid;
	gid_t gid;
	bool changed;
};

static int become_user(const corral_sandbox *sb, struct fs_identity *saved, corral_error *err)
{
	saved->changed = false;
	saved->uid = (uid_t)setfsuid((uid_t)-1);
	saved->gid = (gid_t)setfsgid((gid_t)-1);
	if (saved->uid == sb->user_host_uid && saved->gid == sb->user_host_gid)
		return 0;
	setfsgid(sb->user_host_gid);
	setfsuid(sb->user_host_uid);
	saved->changed = true;
	/* setfsuid reports no errors: read the identity back. */
	if ((uid_t)setfsuid((uid_t)-1) != sb->user_host_uid ||
	    (gid_t)setfsgid((gid_t)-1) != sb->user_host_gid) {
		setfsuid(saved->uid);
		setfsgid(saved->gid);
		saved->changed = false;
		return error_set(err, CORRAL_ERR_INTERNAL, EPERM,
		                 "sandbox files: cannot take the sandbox user's identity");
	}
	return 0;
}

static void restore_identity(const struct fs_identity *saved)
{
	if (!saved->changed)
		return;
	setfsuid(saved->uid);
	setfsgid(saved->gid);
}

int corral_sandbox_read_file(corral_sandbox *sb, const char *path, size_t max_bytes, char **data,
                             size_t *len, corral_error *err)
{
	struct fs_identity id;
	int root = sandbox_root(sb, err);
	if (root < 0 || become_user(sb, &id, err) < 0)
		return -1;
	int rc = safe_read_file(root, path, max_bytes, data, len, err);
	restore_identity(&id);
	return rc;
}

int corral_sandbox_write_file(corral_sandbox *sb, const char *path, const void *data, size_t len,
                              unsigned mode, corral_error *err)
{
	struct fs_identity id;
	int root = sandbox_root(sb, err);
	if (root < 0 || become_user(sb, &id, err) < 0)
		return -1;
	int rc = safe_write_file(root, path, data, len, (mode_t)(mode & 0777), err);
	restore_identity(&id);
	return rc;
}

int corral_sandbox_make_dirs(corral_sandbox *sb, const char *path, corral_error *err)
{
	struct fs_identity id;
	int root = sandbox_root(sb, err);
	if (root < 0 || become_user(sb, &id, err) < 0)
		return -1;
	int rc = safe_mkdirs(root, path, 0755, err);
	restore_identity(&id);
	return rc;
}

static char type_letter(enum safe_file_type t)
{
	switch (t) {
	case SAFE_FILE_REGULAR:
		return 'f';
	case SAFE_FILE_DIRECTORY:
		return 'd';
	case SAFE_FILE_SYMLINK:
		return 'l';
	case SAFE_FILE_OTHER:
		break;
	}
	return 'o';
}

int corral_sandbox_list_dir(corral_sandbox *sb, const char *path, size_t max_entries,
                            corral_file_entry **entries, size_t *n_entries, bool *truncated,
                            corral_error *err)
{
	struct fs_identity id;
	struct safe_dirent *raw = NULL;
	size_t n = 0;
	int rc = -1;

	*entries = NULL;
	*n_entries = 0;
	int root = sandbox_root(sb, err);
	if (root < 0 || become_user(sb, &id, err) < 0)
		return -1;
	rc = safe_list_dir(root, path, max_entries, &raw, &n, truncated, err);
	restore_identity(&id);
	if (rc < 0)
		return -1;
	corral_file_entry *out = calloc(n ? n : 1, sizeof *out);
	if (!out) {
		safe_dirents_free(raw, n);
		return error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "list %s", path);
	}
	for (size_t i = 0; i < n; i++) {
		out[i] = (corral_file_entry){.name = raw[i].name,
		                             .type = type_letter(raw[i].type),
		                             .size = raw[i].size,
		                             .mode = (unsigned)raw[i].mode,
		                             .mtime = raw[i].mtime};
		raw[i].name = NULL; /* moved */
	}
	safe_dirents_free(raw, n);
	*entries = out;
	*n_entries = n;
	return 0;
}

void corral_file_entries_free(corral_file_entry *entries, size_t n_entries)
{
	if (!entries)
		return;
	for (size_t i = 0; i < n_entries; i++)
		free(entries[i].name);
	free(entries);
}

int corral_sandbox_remove(corral_sandbox *sb, const char *path, bool recursive,
                          corral_error *err)
{
	struct fs_identity id;
	int root = sandbox_root(sb, err);
	if (root < 0 || become_user(sb, &id, err) < 0)
		return -1;
	int rc = safe_remove(root, path, recursive, err);
	restore_identity(&id);
	return rc;
}
