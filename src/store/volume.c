/* Volumes: named directories that outlive sandboxes. */
#include "store/catalog.h"
#include "store/store.h"

#include "util/error.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static int create_locked(corral_store *store, const char *name, uint64_t size_limit,
                         corral_error *err)
{
	bool listed;
	if (catalog_volume_listed(store, name, &listed, err) < 0)
		return -1;
	if (listed)
		return error_set(err, CORRAL_ERR_USAGE, 0, "volume create %s: already exists", name);
	/* Directory first, then the row: a crash in between leaves an
	 * unlisted directory, which gc removes. */
	if (mkdirat(store->volumes_fd, name, 0755) < 0) {
		if (errno == EEXIST)
			return error_set(err, CORRAL_ERR_USAGE, 0,
			                 "volume create %s: %s/volumes/%s is in the way (not a listed "
			                 "volume; corral gc removes it)",
			                 name, store->path, name);
		return error_errno(err, "volume create %s: mkdir %s/volumes/%s", name, store->path, name);
	}
	/* Root can give the limit a real bound; otherwise it is recorded
	 * only, and sandboxes report it unenforced. */
	if (size_limit && geteuid() == 0 && store_volume_fs_create(store, name, size_limit, err) < 0)
		goto fail;
	if (fsync(store->volumes_fd) < 0) {
		error_errno(err, "volume create %s: sync %s/volumes", name, store->path);
		goto fail;
	}
	if (catalog_begin(store, err) < 0)
		goto fail;
	if (catalog_add_volume(store, name, size_limit, err) < 0) {
		catalog_rollback(store);
		goto fail;
	}
	if (catalog_commit(store, err) < 0)
		goto fail;
	return 0;
fail:
	store_remove_tree(store->volumes_fd, name, NULL, NULL);
	return -1;
}

int corral_volume_create(corral_store *store, const char *name, uint64_t size_limit,
                         corral_error *err)
{
	if (store_check_name("volume name", name, err) < 0 || store_lock(store, err) < 0)
		return -1;
	int rc = create_locked(store, name, size_limit, err);
	store_unlock(store);
	return rc;
}

int corral_volume_list(corral_store *store, corral_volume_info **volumes, size_t *n_volumes,
                       corral_error *err)
{
	return catalog_list_volumes(store, NULL, volumes, n_volumes, err);
}

static int remove_locked(corral_store *store, const char *name, corral_error *err)
{
	bool listed;
	if (catalog_volume_listed(store, name, &listed, err) < 0)
		return -1;
	if (!listed)
		return error_set(err, CORRAL_ERR_USAGE, 0, "volume rm %s: no such volume", name);
	/* Row first, then the data: a crash in between leaves an unlisted
	 * directory for gc, never a listed volume with half its files. */
	if (catalog_begin(store, err) < 0)
		return -1;
	if (catalog_remove_volume(store, name, err) < 0) {
		catalog_rollback(store);
		return -1;
	}
	if (catalog_commit(store, err) < 0)
		return -1;
	if (store_remove_tree(store->volumes_fd, name, NULL, err) < 0)
		return error_prefix(err, "volume rm %s (no longer listed; corral gc retries)", name);
	return 0;
}

int corral_volume_remove(corral_store *store, const char *name, corral_error *err)
{
	if (store_check_name("volume name", name, err) < 0 || store_lock(store, err) < 0)
		return -1;
	int rc = remove_locked(store, name, err);
	store_unlock(store);
	return rc;
}
