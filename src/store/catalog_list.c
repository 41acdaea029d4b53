/* The catalogue's listings, into the public info structs. */
#include "store/catalog.h"

#include "util/error.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *column_dup(sqlite3_stmt *st, int col, bool *oom)
{
	const char *s = (const char *)sqlite3_column_text(st, col);
	if (!s)
		return NULL;
	char *copy = strdup(s);
	if (!copy)
		*oom = true;
	return copy;
}

/* Grow *items (of item_size bytes each) to hold one more; the new item is
 * zeroed. */
static void *grow(void **items, size_t *n, size_t item_size)
{
	char *bigger = realloc(*items, (*n + 1) * item_size);
	if (!bigger)
		return NULL;
	*items = bigger;
	memset(bigger + *n * item_size, 0, item_size);
	return bigger + (*n)++ * item_size;
}

int catalog_list_images(corral_store *store, corral_image_info **out, size_t *n,
                        corral_error *err)
{
	*out = NULL;
	*n = 0;
	sqlite3_stmt *st = catalog_prepare(store,
	                           "SELECT i.name, i.created, COUNT(l.id), COALESCE(SUM(l.bytes), 0) "
	                           "FROM images i LEFT JOIN image_layers il ON il.image = i.name "
	                           "LEFT JOIN layers l ON l.id = il.layer "
	                           "GROUP BY i.name ORDER BY i.name",
	                           err, 0, NULL);
	if (!st)
		return -1;
	int rc;
	bool oom = false;
	while (!oom && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		corral_image_info *img = grow((void **)out, n, sizeof **out);
		if (!img) {
			oom = true;
			break;
		}
		img->name = column_dup(st, 0, &oom);
		img->created = sqlite3_column_int64(st, 1);
		img->n_layers = (size_t)sqlite3_column_int64(st, 2);
		img->bytes = (uint64_t)sqlite3_column_int64(st, 3);
	}
	sqlite3_finalize(st);
	if (oom || rc != SQLITE_DONE) {
		corral_image_info_free(*out, *n);
		*out = NULL;
		*n = 0;
		return oom ? error_set(err, CORRAL_ERR_INTERNAL, 0, "out of memory") : catalog_error(store, err);
	}
	return 0;
}

int catalog_list_snapshots(corral_store *store, const char *name, corral_snapshot_info **out,
                           size_t *n, corral_error *err)
{
	*out = NULL;
	*n = 0;
	sqlite3_stmt *st = catalog_prepare(store,
	                           "SELECT name, layer, image, parent, created, bytes FROM snapshots "
	                           "WHERE ?1 IS NULL OR name = ?1 ORDER BY name",
	                           err, 1, &name);
	if (!st)
		return -1;
	int rc;
	bool oom = false;
	while (!oom && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		corral_snapshot_info *snap = grow((void **)out, n, sizeof **out);
		if (!snap) {
			oom = true;
			break;
		}
		snap->name = column_dup(st, 0, &oom);
		snap->layer = column_dup(st, 1, &oom);
		snap->image = column_dup(st, 2, &oom);
		snap->parent = column_dup(st, 3, &oom);
		snap->created = sqlite3_column_int64(st, 4);
		snap->bytes = (uint64_t)sqlite3_column_int64(st, 5);
	}
	sqlite3_finalize(st);
	if (oom || rc != SQLITE_DONE) {
		corral_snapshot_info_free(*out, *n);
		*out = NULL;
		*n = 0;
		return oom ? error_set(err, CORRAL_ERR_INTERNAL, 0, "out of memory") : catalog_error(store, err);
	}
	return 0;
}

int catalog_list_volumes(corral_store *store, const char *name, corral_volume_info **out,
                         size_t *n, corral_error *err)
{
	*out = NULL;
	*n = 0;
	sqlite3_stmt *st = catalog_prepare(store,
	                           "SELECT name, size_limit, created FROM volumes "
	                           "WHERE ?1 IS NULL OR name = ?1 ORDER BY name",
	                           err, 1, &name);
	if (!st)
		return -1;
	int rc;
	bool oom = false;
	while (!oom && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		corral_volume_info *vol = grow((void **)out, n, sizeof **out);
		if (!vol) {
			oom = true;
			break;
		}
		vol->name = column_dup(st, 0, &oom);
		vol->size_limit = (uint64_t)sqlite3_column_int64(st, 1);
		vol->created = sqlite3_column_int64(st, 2);
		if (vol->name && asprintf(&vol->path, "%s/volumes/%s", store->path, vol->name) < 0) {
			vol->path = NULL;
			oom = true;
		}
	}
	sqlite3_finalize(st);
	if (oom || rc != SQLITE_DONE) {
		corral_volume_info_free(*out, *n);
		*out = NULL;
		*n = 0;
		return oom ? error_set(err, CORRAL_ERR_INTERNAL, 0, "out of memory") : catalog_error(store, err);
	}
	return 0;
}
