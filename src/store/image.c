/* Images: importing a directory tree (OCI layouts are oci.c's), listing,
 * removing. */
#include "store/catalog.h"
#include "store/layer_copy.h"
#include "store/oci.h"
#include "store/store.h"

#include "util/cleanup.h"
#include "util/error.h"
#include "util/strings.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Open a source directory given by the caller; a missing or wrong one is the
 * caller's mistake (CORRAL_ERR_USAGE). */
int store_open_source_dir(const char *what, const char *path, corral_error *err)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return error_set(err,
		                 errno == ENOENT || errno == ENOTDIR || errno == EACCES ? CORRAL_ERR_USAGE
		                                                                         : CORRAL_ERR_SETUP,
		                 errno, "%s%s", what, path);
	return fd;
}

int store_check_outside(const corral_store *store, const char *what, const char *path,
                        corral_error *err)
{
	/* Copying a tree that holds the store into the store would copy its
	 * own copy, until the path grew too long. */
	_cleanup_free_ char *real = realpath(path, NULL);
	if (real && path_has_prefix(store->path, real))
		return error_set(err, CORRAL_ERR_USAGE, 0, "%s%s: holds the store %s", what, path,
		                 store->path);
	return 0;
}

static int import_dir(corral_store *store, const char *source, const char *name,
                      corral_error *err)
{
	_cleanup_close_ int src = store_open_source_dir("image import ", source, err);
	if (src < 0 || store_check_outside(store, "image import ", source, err) < 0)
		return -1;
	struct store_build b = {.fd = -1};
	struct layer_copy lc = {0};
	char *ids[1] = {b.id};
	if (catalog_check_free(store, "image import", name, err) < 0 ||
	    store_build_start(store, &b, err) < 0)
		goto fail;
	if (layer_copy_tree(src, b.fd, &lc, err) < 0) {
		error_prefix(err, "image import %s", source);
		goto fail;
	}
	if (store_build_commit(store, &b, err) < 0 || catalog_begin(store, err) < 0)
		goto fail;
	if (catalog_add_layer(store, b.id, lc.bytes, NULL, err) < 0 ||
	    catalog_add_image(store, name, ids, 1, err) < 0) {
		catalog_rollback(store);
		goto fail;
	}
	if (catalog_commit(store, err) < 0)
		goto fail;
	return 0;
fail:
	store_build_abandon(store, &b);
	return -1;
}

int corral_image_import(corral_store *store, const char *source, const char *name,
                        corral_error *err)
{
	if (store_check_name("image name", name, err) < 0)
		return -1;
	if (!source || !source[0])
		return error_set(err, CORRAL_ERR_USAGE, 0, "image import: no source given");
	if (store_lock(store, err) < 0)
		return -1;
	int rc = strncmp(source, "oci:", 4) == 0 ? oci_import(store, source + 4, name, err)
	                                          : import_dir(store, source, name, err);
	store_unlock(store);
	return rc;
}

int corral_image_list(corral_store *store, corral_image_info **images, size_t *n_images,
                      corral_error *err)
{
	return catalog_list_images(store, images, n_images, err);
}

int corral_image_remove(corral_store *store, const char *name, corral_error *err)
{
	if (store_check_name("image name", name, err) < 0 || store_lock(store, err) < 0)
		return -1;
	enum catalog_kind kind;
	int rc = catalog_kind_of(store, name, &kind, err);
	if (rc == 0 && kind != CATALOG_IMAGE)
		rc = error_set(err, CORRAL_ERR_USAGE, 0, "image rm %s: no such image%s", name,
		               kind == CATALOG_SNAPSHOT ? " (it is a snapshot)" : "");
	/* Held until the row is gone: a sandbox starting on the image meanwhile
	 * waits for its lease, then finds the image unlisted. */
	char **ids = NULL;
	size_t n_ids = 0;
	int *claims = NULL;
	char what[STORE_NAME_MAX + 16];
	snprintf(what, sizeof what, "image rm %s", name);
	if (rc == 0)
		rc = catalog_image_layers(store, name, &ids, &n_ids, err);
	if (rc == 0)
		rc = store_layers_claim(store, ids, n_ids, what, &claims, err);
	if (rc == 0 && catalog_begin(store, err) == 0) {
		rc = catalog_remove_image(store, name, err);
		if (rc == 0)
			rc = catalog_commit(store, err);
		else
			catalog_rollback(store);
	} else if (rc == 0) {
		rc = -1;
	}
	store_lease_release(claims, claims ? n_ids : 0);
	strv_free(ids, n_ids);
	store_unlock(store);
	return rc;
}
