/* Garbage collection: layers nothing uses, and whatever an interrupted
 * operation left behind (docs/store.md, "Crash safety"). */
#include "store/catalog.h"
#include "store/store.h"

#include "util/error.h"
#include "util/strings.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
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

/* Claim the layers of ids a running sandbox does not lease: their fds go
 * to claims (-1 for a busy one, skipped; -2 for a missing directory). */
static int claim_free(corral_store *store, char **ids, size_t n, int *claims, size_t *n_free,
                      corral_error *err)
{
	*n_free = 0;
	for (size_t i = 0; i < n; i++) {
		bool busy = false;
		claims[i] = store_layer_claim(store, ids[i], &busy, err);
		if (claims[i] == -1 && !busy)
			return -1;
		if (claims[i] != -1)
			(*n_free)++;
	}
	return 0;
}

static void release_claims(int *claims, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (claims[i] >= 0)
			close(claims[i]);
}

/* Unlist the layers nothing uses, then delete their directories; again
 * until none is left (a layer is free only once no layer stacks on it).
 * A layer a running sandbox leases stays (unlisted, if it was already
 * unused: the next gc takes it). */
static int drop_unused_layers(corral_store *store, corral_gc_report *report, corral_error *err)
{
	for (;;) {
		char **ids = NULL;
		size_t n = 0, n_free = 0;
		if (catalog_unused_layers(store, &ids, &n, err) < 0)
			return -1;
		int *claims = n ? calloc(n, sizeof *claims) : NULL;
		if (n && !claims) {
			strv_free(ids, n);
			return error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "gc");
		}
		int rc = claim_free(store, ids, n, claims, &n_free, err);
		if (rc == 0 && n_free > 0) {
			rc = catalog_begin(store, err);
			for (size_t i = 0; rc == 0 && i < n; i++)
				if (claims[i] != -1)
					rc = catalog_delete_layer(store, ids[i], err);
			if (rc == 0)
				rc = catalog_commit(store, err);
			else if (store->db)
				catalog_rollback(store);
		}
		for (size_t i = 0; rc == 0 && n_free > 0 && i < n; i++) {
			if (claims[i] == -1)
				continue;
			rc = store_remove_tree(store->layers_fd, ids[i], &report->bytes_freed, err);
			report->layers_removed++;
		}
		release_claims(claims, n);
		free(claims);
		strv_free(ids, n);
		if (rc < 0)
			return -1;
		if (n_free == 0)
			return 0;
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
		if (rc < 0 || listed)
			continue;
		bool busy = false;
		int claim = layers ? store_layer_claim(store, names[i], &busy, err) : -2;
		if (claim == -1) {
			rc = busy ? 0 : -1;
			continue;
		}
		rc = store_remove_tree(fd, names[i], &report->bytes_freed, err);
		(*count)++;
		if (claim >= 0)
			close(claim);
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
