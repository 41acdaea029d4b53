/* Garbage collection: layers nothing uses, and whatever an interrupted
 * operation left behind (docs/store.md, "Crash safety"). */
#include "store/catalog.h"
#include "store/store.h"

#include "util/error.h"
#include "util/strings.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

/* The names in directory fd (read fully before anything is removed). */
static int list_names(int fd, const char *what, char ***names, size_t *n, corral_error *err)
{
	*names = NULL;
	*n = 0;
	int dup_fd = dup(fd);
	DIR *dir = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
	if (!dir) {
		if (dup_fd >= 0)
			close(dup_fd);
		return error_errno(err, "read %s", what);
	}
	rewinddir(dir);
	int rc = 0;
	for (;;) {
		errno = 0;
		const struct dirent *de = readdir(dir);
		if (!de) {
			if (errno)
				rc = error_errno(err, "read %s", what);
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (strv_append(names, n, de->d_name) < 0) {
			rc = error_set(err, CORRAL_ERR_INTERNAL, 0, "out of memory");
			break;
		}
	}
	closedir(dir);
	if (rc < 0) {
		strv_free(*names, *n);
		*names = NULL;
		*n = 0;
	}
	return rc;
}

/* Unlist the layers nothing uses, then delete their directories; again
 * until none is left (a layer is free only once no layer stacks on it). */
static int drop_unused_layers(corral_store *store, corral_gc_report *report, corral_error *err)
{
	for (;;) {
		char **ids = NULL;
		size_t n = 0;
		if (catalog_unused_layers(store, &ids, &n, err) < 0)
			return -1;
		if (n == 0)
			return 0;
		int rc = catalog_begin(store, err);
		for (size_t i = 0; rc == 0 && i < n; i++)
			rc = catalog_delete_layer(store, ids[i], err);
		if (rc == 0)
			rc = catalog_commit(store, err);
		else if (store->db)
			catalog_rollback(store);
		for (size_t i = 0; rc == 0 && i < n; i++) {
			rc = store_remove_tree(store->layers_fd, ids[i], &report->bytes_freed, err);
			report->layers_removed++;
		}
		strv_free(ids, n);
		if (rc < 0)
			return -1;
	}
}

/* Directories of layers/ or volumes/ the catalogue does not list. */
static int drop_unlisted(corral_store *store, int fd, const char *what, bool layers,
                         uint64_t *count, corral_gc_report *report, corral_error *err)
{
	char **names = NULL;
	size_t n = 0;
	if (list_names(fd, what, &names, &n, err) < 0)
		return -1;
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		bool listed = false;
		rc = layers ? catalog_layer_listed(store, names[i], &listed, err)
		            : catalog_volume_listed(store, names[i], &listed, err);
		if (rc == 0 && !listed) {
			rc = store_remove_tree(fd, names[i], &report->bytes_freed, err);
			(*count)++;
		}
	}
	strv_free(names, n);
	return rc;
}

static int gc_locked(corral_store *store, corral_gc_report *report, corral_error *err)
{
	if (drop_unused_layers(store, report, err) < 0 ||
	    drop_unlisted(store, store->layers_fd, "layers", true, &report->layers_removed, report,
	                  err) < 0 ||
	    drop_unlisted(store, store->volumes_fd, "volumes", false, &report->leftovers_removed,
	                  report, err) < 0)
		return -1;
	/* Everything in tmp/ is an unfinished build: builds hold the lock. */
	char **names = NULL;
	size_t n = 0;
	if (list_names(store->tmp_fd, "tmp", &names, &n, err) < 0)
		return -1;
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		rc = store_remove_tree(store->tmp_fd, names[i], &report->bytes_freed, err);
		report->leftovers_removed++;
	}
	strv_free(names, n);
	return rc;
}

int corral_store_gc(corral_store *store, corral_gc_report *report, corral_error *err)
{
	corral_gc_report local = {0};
	if (!report)
		report = &local;
	memset(report, 0, sizeof *report);
	if (store_lock(store, err) < 0)
		return -1;
	int rc = gc_locked(store, report, err);
	store_unlock(store);
	return rc < 0 ? error_prefix(err, "gc") : 0;
}
