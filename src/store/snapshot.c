/* Snapshots: an overlayfs upper directory frozen into a layer on top of an
 * image or another snapshot; and the layer stacks both resolve to. */
#include "store/catalog.h"
#include "store/layer_copy.h"
#include "store/oci.h"
#include "store/store.h"

#include "util/cleanup.h"
#include "util/error.h"
#include "util/strings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Snapshots stack on snapshots; no chain is ever longer than this (the
 * kernel's overlayfs stacks are far shorter anyway). */
#define CHAIN_MAX 500

/* The snapshot called NAME, which must exist. */
static int get_snapshot(corral_store *store, const char *what, const char *name,
                        corral_snapshot_info **snap, corral_error *err)
{
	size_t n = 0;
	if (catalog_list_snapshots(store, name, snap, &n, err) < 0)
		return -1;
	if (n == 0)
		return error_set(err, CORRAL_ERR_USAGE, 0, "%s %s: no such snapshot", what, name);
	return 0;
}

/* Where a new snapshot on `base` goes: its image, its parent snapshot (or
 * NULL) and the layer right below it. */
static int resolve_base(corral_store *store, const char *base, corral_snapshot_info *out,
                        char **below, corral_error *err)
{
	enum catalog_kind kind;
	if (catalog_kind_of(store, base, &kind, err) < 0)
		return -1;
	if (kind == CATALOG_NONE)
		return error_set(err, CORRAL_ERR_USAGE, 0,
		                 "snapshot create: no image or snapshot named '%s'", base);
	if (kind == CATALOG_SNAPSHOT) {
		corral_snapshot_info *parent = NULL;
		if (get_snapshot(store, "snapshot create: base", base, &parent, err) < 0)
			return -1;
		out->image = steal_pointer(&parent->image);
		out->parent = strdup(base);
		*below = steal_pointer(&parent->layer);
		corral_snapshot_info_free(parent, 1);
	} else {
		char **ids = NULL;
		size_t n = 0;
		if (catalog_image_layers(store, base, &ids, &n, err) < 0)
			return -1;
		out->image = strdup(base);
		*below = n ? strdup(ids[n - 1]) : NULL;
		strv_free(ids, n);
	}
	if (!out->image || (kind == CATALOG_SNAPSHOT && !out->parent) || !*below)
		return error_set(err, CORRAL_ERR_INTERNAL, 0, "out of memory");
	return 0;
}

int store_snapshot_from_fd(corral_store *store, const struct snapshot_source *src,
                           const char *base, const char *name, corral_error *err)
{
	corral_snapshot_info snap = {.name = (char *)name, .created = time(NULL)};
	_cleanup_free_ char *below = NULL;
	struct store_build b = {.fd = -1};
	struct layer_copy lc = {.overlay_upper = true, .id_shift = src->id_shift};
	int rc = -1;
	if (store_lock(store, err) < 0)
		return -1;
	if (catalog_check_free(store, "snapshot create", name, err) < 0 ||
	    resolve_base(store, base, &snap, &below, err) < 0 || store_build_start(store, &b, err) < 0)
		goto out;
	if (src->before_copy && src->before_copy(src->arg, err) < 0)
		goto out;
	int copied = layer_copy_tree(src->upper_fd, b.fd, &lc, err);
	if (src->after_copy)
		src->after_copy(src->arg);
	if (copied < 0) {
		error_prefix(err, "snapshot create %s", name);
		goto out;
	}
	snap.layer = b.id;
	snap.bytes = lc.bytes;
	if (store_build_commit(store, &b, err) < 0 || catalog_begin(store, err) < 0)
		goto out;
	if (catalog_add_layer(store, b.id, lc.bytes, below, err) < 0 ||
	    catalog_add_snapshot(store, &snap, err) < 0) {
		catalog_rollback(store);
		goto out;
	}
	rc = catalog_commit(store, err);
out:
	if (rc < 0)
		store_build_abandon(store, &b);
	free(snap.image);
	free(snap.parent);
	store_unlock(store);
	return rc;
}

int corral_snapshot_create_from_upper(corral_store *store, const char *upper_dir,
                                      const char *base, const char *name, corral_error *err)
{
	if (store_check_name("snapshot name", name, err) < 0 ||
	    store_check_name("base image or snapshot", base, err) < 0)
		return -1;
	_cleanup_close_ int upper = store_open_source_dir("snapshot create: upper dir ",
	                                                  upper_dir ? upper_dir : "", err);
	if (upper < 0 || store_check_outside(store, "snapshot create: upper dir ", upper_dir, err) < 0)
		return -1;
	struct snapshot_source src = {.upper_fd = upper};
	return store_snapshot_from_fd(store, &src, base, name, err);
}

int corral_snapshot_list(corral_store *store, corral_snapshot_info **snapshots,
                         size_t *n_snapshots, corral_error *err)
{
	return catalog_list_snapshots(store, NULL, snapshots, n_snapshots, err);
}

int corral_snapshot_inspect(corral_store *store, const char *name, corral_snapshot_info **info,
                            corral_error *err)
{
	*info = NULL;
	corral_snapshot_info *found = NULL;
	if (store_check_name("snapshot name", name, err) < 0 ||
	    get_snapshot(store, "snapshot inspect", name, &found, err) < 0)
		return -1;
	if (corral_store_layers(store, name, &found->layers, &found->n_layers, err) < 0) {
		corral_snapshot_info_free(found, 1);
		return -1;
	}
	*info = found;
	return 0;
}

int corral_snapshot_remove(corral_store *store, const char *name, corral_error *err)
{
	if (store_check_name("snapshot name", name, err) < 0 || store_lock(store, err) < 0)
		return -1;
	enum catalog_kind kind;
	int rc = catalog_kind_of(store, name, &kind, err);
	if (rc == 0 && kind != CATALOG_SNAPSHOT)
		rc = error_set(err, CORRAL_ERR_USAGE, 0, "snapshot rm %s: no such snapshot%s", name,
		               kind == CATALOG_IMAGE ? " (it is an image)" : "");
	/* Its own layer, held until the row is gone (the layers below are
	 * someone else's: its parent's, its image's). */
	corral_snapshot_info *snap = NULL;
	int *claim = NULL;
	char what[STORE_NAME_MAX + 16];
	snprintf(what, sizeof what, "snapshot rm %s", name);
	if (rc == 0)
		rc = get_snapshot(store, "snapshot rm", name, &snap, err);
	if (rc == 0)
		rc = store_layers_claim(store, &snap->layer, 1, what, &claim, err);
	if (rc == 0)
		rc = catalog_begin(store, err);
	if (rc == 0) {
		rc = catalog_remove_snapshot(store, name, err);
		if (rc == 0)
			rc = catalog_commit(store, err);
		else
			catalog_rollback(store);
	}
	store_lease_release(claim, claim ? 1 : 0);
	corral_snapshot_info_free(snap, snap ? 1 : 0);
	store_unlock(store);
	return rc;
}

static int push_layer(const corral_store *store, char ***paths, size_t *n, const char *id,
                      corral_error *err)
{
	_cleanup_free_ char *path = store_layer_path(store, id);
	if (!path || strv_append(paths, n, path) < 0)
		return error_set(err, CORRAL_ERR_INTERNAL, 0, "out of memory");
	return 0;
}

/* Snapshot layers from NAME down its parents; *image gets the image. */
static int snapshot_chain(corral_store *store, const char *name, char ***paths, size_t *n,
                          char **image, corral_error *err)
{
	_cleanup_free_ char *current = strdup(name);
	for (int depth = 0; current; depth++) {
		if (depth >= CHAIN_MAX)
			return error_set(err, CORRAL_ERR_SETUP, 0, "snapshot %s: chain longer than %d",
			                 name, CHAIN_MAX);
		corral_snapshot_info *snap = NULL;
		if (get_snapshot(store, "layers of", current, &snap, err) < 0)
			return -1;
		int rc = push_layer(store, paths, n, snap->layer, err);
		free(current);
		current = steal_pointer(&snap->parent);
		free(*image);
		*image = steal_pointer(&snap->image);
		corral_snapshot_info_free(snap, 1);
		if (rc < 0)
			return -1;
	}
	return 0;
}

int corral_store_layers(corral_store *store, const char *name, char ***paths, size_t *n_paths,
                        corral_error *err)
{
	*paths = NULL;
	*n_paths = 0;
	enum catalog_kind kind;
	if (store_check_name("image or snapshot name", name, err) < 0 ||
	    catalog_kind_of(store, name, &kind, err) < 0)
		return -1;
	if (kind == CATALOG_NONE)
		return error_set(err, CORRAL_ERR_USAGE, 0, "%s: no image or snapshot of that name", name);
	_cleanup_free_ char *image = NULL;
	char **ids = NULL;
	size_t n_ids = 0;
	int rc = 0;
	if (kind == CATALOG_SNAPSHOT)
		rc = snapshot_chain(store, name, paths, n_paths, &image, err);
	else if (!(image = strdup(name)))
		rc = error_set(err, CORRAL_ERR_INTERNAL, 0, "out of memory");
	if (rc == 0)
		rc = catalog_image_layers(store, image, &ids, &n_ids, err);
	for (size_t i = n_ids; rc == 0 && i > 0; i--)
		rc = push_layer(store, paths, n_paths, ids[i - 1], err);
	strv_free(ids, n_ids);
	if (rc < 0) {
		corral_store_layers_free(*paths, *n_paths);
		*paths = NULL;
		*n_paths = 0;
	}
	return rc;
}

void corral_store_layers_free(char **paths, size_t n_paths)
{
	strv_free(paths, n_paths);
}
