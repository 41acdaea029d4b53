/* Store leases (docs/store.md, "Leases"): layers a running sandbox leases
 * (flock LOCK_SH, as image_root takes them) are refused to image rm and
 * snapshot rm and skipped by gc, listed or not; released, they go. flock
 * locks belong to open files, so one process can play both sides. */
#include "store_test.h"

#include "store/catalog.h"
#include "util/strings.h"

static corral_store *setup(void)
{
	MUST(mkdir(at("src"), 0755) == 0);
	MUST(mkdir(at("src/etc"), 0755) == 0);
	put_file(at("src/etc/conf"), "conf\n", 0644);
	MUST(mkdir(at("upper"), 0755) == 0);
	put_file(at("upper/new"), "new\n", 0644);
	corral_error err = {0};
	corral_store *store = corral_store_open(at("store"), &err);
	MUST(store != NULL);
	MUST(corral_image_import(store, at("src"), "base", &err) == 0);
	MUST(corral_image_import(store, at("src"), "other", &err) == 0);
	MUST(corral_snapshot_create_from_upper(store, at("upper"), "base", "s1", &err) == 0);
	return store;
}

static int *lease(corral_store *store, const char *name, size_t *n)
{
	corral_error err = {0};
	char **paths = NULL;
	MUST(corral_store_layers(store, name, &paths, n, &err) == 0);
	int *fds = NULL;
	CHECK(store_lease_layers(paths, *n, &fds, &err) == 0);
	corral_store_layers_free(paths, *n);
	return fds;
}

static void test_rm_refused_while_leased(corral_store *store)
{
	corral_error err = {0};
	size_t n = 0;
	int *fds = lease(store, "s1", &n);
	CHECK(n == 2);
	CHECK(corral_snapshot_remove(store, "s1", &err) < 0);
	CHECK(err.kind == CORRAL_ERR_USAGE);
	CHECK(strcmp(err.message, "snapshot rm s1: in use by a running sandbox (stop it first)") ==
	      0);
	store_lease_release(fds, n);
	error_clear(&err);
	CHECK(corral_snapshot_remove(store, "s1", &err) == 0);

	fds = lease(store, "base", &n);
	error_clear(&err);
	CHECK(corral_image_remove(store, "base", &err) < 0);
	CHECK(strstr(err.message, "image rm base: in use by a running sandbox") != NULL);
	/* Another image is not in use. */
	CHECK(corral_image_remove(store, "other", &err) == 0);
	store_lease_release(fds, n);
}

static void test_gc_skips_leased(corral_store *store)
{
	corral_error err = {0};
	/* A sandbox that leased base's layer right after an image rm checked
	 * (the race image_root closes by checking again): gc must leave it. */
	size_t n = 0;
	int *fds = lease(store, "base", &n);
	char **ids = NULL;
	size_t n_ids = 0;
	MUST(catalog_image_layers(store, "base", &ids, &n_ids, &err) == 0 && n_ids == 1);
	MUST(catalog_begin(store, &err) == 0 && catalog_remove_image(store, "base", &err) == 0 &&
	     catalog_commit(store, &err) == 0);
	corral_gc_report report;
	CHECK(corral_store_gc(store, &report, &err) == 0);
	/* s1's layer and other's go; base's stays, unlisted. */
	CHECK(report.layers_removed == 2);
	char path[512];
	snprintf(path, sizeof path, "%s/layers/%s/etc/conf", at("store"), ids[0]);
	CHECK(strcmp(slurp(path), "conf\n") == 0);
	store_lease_release(fds, n);
	CHECK(corral_store_gc(store, &report, &err) == 0);
	CHECK(report.layers_removed == 1);
	CHECK(count_entries(at("store/layers")) == 0);
	strv_free(ids, n_ids);
}

int main(void)
{
	scratch_make("store-lease-test");
	corral_store *store = setup();
	test_rm_refused_while_leased(store);
	test_gc_skips_leased(store);
	corral_store_close(store);
	scratch_remove();
	return unit_done();
}
