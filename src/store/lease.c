/* Leases: a running sandbox holds flock(LOCK_SH) on every layer directory
 * it runs on; removals take LOCK_EX|LOCK_NB on a layer before unlisting or
 * deleting it, under the store's lock. A lock dies with its holder, so a
 * crashed sandbox leases nothing (docs/store.md, "Leases"). */
#include "store/store.h"

#include "util/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <unistd.h>

int store_lease_layers(char *const *paths, size_t n, int **fds, corral_error *err)
{
	*fds = n ? calloc(n, sizeof **fds) : NULL;
	if (n && !*fds)
		return error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "lease the layers");
	for (size_t i = 0; i < n; i++) {
		int fd = open(paths[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		int rc = -1;
		/* Blocks only while a removal holds it, which it does briefly,
		 * and after which the caller's check finds the layer gone. */
		if (fd >= 0) {
			do
				rc = flock(fd, LOCK_SH);
			while (rc < 0 && errno == EINTR);
		}
		if (fd < 0 || rc < 0) {
			error_errno(err, "lease layer %s", paths[i]);
			if (fd >= 0)
				close(fd);
			store_lease_release(*fds, i);
			*fds = NULL;
			return -1;
		}
		(*fds)[i] = fd;
	}
	return 0;
}

void store_lease_release(int *fds, size_t n)
{
	for (size_t i = 0; fds && i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(fds);
}

int store_layer_claim(corral_store *store, const char *id, bool *busy, corral_error *err)
{
	*busy = false;
	int fd = openat(store->layers_fd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		/* Nothing there to protect (a crash before the rename). */
		if (errno == ENOENT || errno == ENOTDIR)
			return -2;
		return error_errno(err, "open %s/layers/%s", store->path, id);
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		close(fd);
		if (e == EWOULDBLOCK) {
			*busy = true;
			return -1;
		}
		return error_set(err, CORRAL_ERR_SETUP, e, "lock %s/layers/%s", store->path, id);
	}
	return fd;
}

int store_layers_claim(corral_store *store, char *const *ids, size_t n, const char *what,
                       int **fds, corral_error *err)
{
	*fds = n ? calloc(n, sizeof **fds) : NULL;
	if (n && !*fds)
		return error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "%s", what);
	for (size_t i = 0; i < n; i++) {
		bool busy = false;
		int fd = store_layer_claim(store, ids[i], &busy, err);
		if (fd == -1) {
			store_lease_release(*fds, i);
			*fds = NULL;
			if (busy)
				return error_set(err, CORRAL_ERR_USAGE, 0,
				                 "%s: in use by a running sandbox (stop it first)", what);
			return error_prefix(err, "%s", what);
		}
		(*fds)[i] = fd;
	}
	return 0;
}
