/* A size-limited volume made by root is an ext4 file system in a file,
 * volumes/NAME/fs.img, which sandboxes mount through a loop device
 * (jail/volume_mount.c): its size is then a bound the kernel enforces
 * (ENOSPC), whatever the store's own file system supports. */
#include "store/store.h"

#include "util/cleanup.h"
#include "util/error.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* mke2fs refuses smaller file systems. */
#define VOLUME_FS_MIN (256ULL << 10)

static int run_mkfs(const char *path, corral_error *err)
{
	posix_spawn_file_actions_t fa;
	if (posix_spawn_file_actions_init(&fa) != 0)
		return error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "mkfs.ext4");
	pid_t pid;
	int rc = posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	if (rc == 0)
		rc = posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
	if (rc == 0)
		rc = posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
	if (rc == 0) {
		char *argv[] = {"mkfs.ext4", "-q", "-F", "-m", "0", "-E", "root_owner=0:0,nodiscard",
		                (char *)path, NULL};
		rc = posix_spawnp(&pid, "mkfs.ext4", &fa, NULL, argv, environ);
	}
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0)
		return error_set(err, rc == ENOENT ? CORRAL_ERR_HOST : CORRAL_ERR_SETUP, rc,
		                 "mkfs.ext4%s", rc == ENOENT ? " (install e2fsprogs)" : "");
	int status;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return error_errno(err, "mkfs.ext4");
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return error_set(err, CORRAL_ERR_SETUP, 0, "mkfs.ext4 %s failed (status %d)", path,
		                 WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	return 0;
}

int store_volume_fs_create(corral_store *store, const char *name, uint64_t size,
                           corral_error *err)
{
	if (size < VOLUME_FS_MIN)
		return error_set(err, CORRAL_ERR_USAGE, 0, "volume create %s: --size: at least 256K",
		                 name);
	char rel[STORE_NAME_MAX + 16], path[4096];
	snprintf(rel, sizeof rel, "%s/" VOLUME_FS_IMAGE, name);
	snprintf(path, sizeof path, "%s/volumes/%s", store->path, rel);
	/* Sparse: the file takes the space its data takes. */
	_cleanup_close_ int fd =
		openat(store->volumes_fd, rel, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0)
		return error_errno(err, "volume create %s: %s", name, path);
	if (run_mkfs(path, err) < 0 || fsync(fd) < 0)
		return error_prefix(err, "volume create %s", name);
	return 0;
}
