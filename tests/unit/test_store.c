/* The store: names, the catalogue, directory imports (modes, owners,
 * links, xattrs, times), snapshots of overlayfs upper dirs, dependencies
 * between images and snapshots, volumes, and crash safety (leftovers are
 * ignored by listings and removed by gc, referenced layers never). */
#include "store_test.h"

#include "store/catalog.h"
#include "store/layer_copy.h"

#include <jansson.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/time.h>
#include <sys/xattr.h>

static bool is_root;

static void test_names(void)
{
	corral_error err = {0};
	const char *good[] = {"a", "Z9", "alpine-3.20_x.y", "0abc"};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		CHECK(store_check_name("image name", good[i], &err) == 0);
	char longest[129], too_long[130];
	memset(longest, 'a', 128);
	longest[128] = '\0';
	memset(too_long, 'b', 129);
	too_long[129] = '\0';
	CHECK(store_check_name("image name", longest, &err) == 0);
	const char *bad[] = {"", ".hidden", "-x", "_x", "a/b", "a b", "..", "caf\xc3\xa9", "a\nb",
	                     too_long};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		error_clear(&err);
		CHECK(store_check_name("image name", bad[i], &err) < 0);
		CHECK(err.kind == CORRAL_ERR_USAGE);
		CHECK(strncmp(err.message, "image name", 10) == 0);
		CHECK(strchr(err.message, '\n') == NULL || strchr(bad[i], '\n'));
	}
}

static void test_xattr_filter(void)
{
	CHECK(layer_xattr_skipped("trusted.overlay.origin", true));
	CHECK(layer_xattr_skipped("trusted.overlay.redirect", true));
	CHECK(layer_xattr_skipped("user.overlay.impure", true));
	CHECK(!layer_xattr_skipped("trusted.overlay.opaque", true));
	CHECK(!layer_xattr_skipped("user.overlay.opaque", true));
	CHECK(!layer_xattr_skipped("trusted.overlay.whiteout", true));
	CHECK(!layer_xattr_skipped("user.overlay.whiteouts", true));
	/* An imported tree's overlay xattrs would mean something else here. */
	CHECK(layer_xattr_skipped("trusted.overlay.opaque", false));
	CHECK(!layer_xattr_skipped("user.mime_type", false));
	CHECK(!layer_xattr_skipped("security.capability", true));
	CHECK(!layer_xattr_skipped("trusted.overlayfoo", false));
}

static corral_store *open_store(void)
{
	corral_error err = {0};
	corral_store *store = corral_store_open(at("store"), &err);
	if (!store)
		fprintf(stderr, "store open: %s\n", err.message);
	MUST(store != NULL);
	return store;
}

static void test_open(void)
{
	corral_store *store = open_store();
	CHECK(strcmp(corral_store_path(store), at("store")) == 0);
	struct stat st;
	CHECK(stat(at("store/catalog.db"), &st) == 0);
	CHECK(stat(at("store/layers"), &st) == 0 && S_ISDIR(st.st_mode));
	CHECK(stat(at("store/tmp"), &st) == 0 && S_ISDIR(st.st_mode));
	CHECK(stat(at("store/volumes"), &st) == 0 && S_ISDIR(st.st_mode));
	corral_store_close(store);
	/* Reopening finds the schema in place. */
	store = open_store();
	corral_image_info *images = NULL;
	size_t n = 99;
	corral_error err = {0};
	CHECK(corral_image_list(store, &images, &n, &err) == 0 && n == 0);
	corral_image_info_free(images, n);
	corral_store_close(store);
	/* A file where the store should be is refused, in one line. */
	put_file(at("not-a-dir"), "x", 0644);
	CHECK(corral_store_open(at("not-a-dir"), &err) == NULL);
	CHECK(err.kind != CORRAL_OK && strstr(err.message, "not-a-dir") != NULL);
}

static struct timespec stamp(time_t sec)
{
	return (struct timespec){.tv_sec = sec, .tv_nsec = 123456789};
}

static void set_times(const char *path, time_t sec)
{
	struct timespec times[2] = {stamp(sec), stamp(sec)};
	MUST(utimensat(AT_FDCWD, path, times, AT_SYMLINK_NOFOLLOW) == 0);
}

/* src/: a root tree with one of everything. */
static void make_source(void)
{
	MUST(mkdir(at("src"), 0755) == 0);
	MUST(mkdir(at("src/etc"), 0750) == 0);
	put_file(at("src/etc/conf"), "conf\n", 0640);
	put_file(at("src/setuid"), "#!/bin/sh\n", 04755);
	MUST(link(at("src/etc/conf"), at("src/etc/conf-link")) == 0);
	MUST(symlink("etc/conf", at("src/rel-link")) == 0);
	MUST(symlink("/etc/passwd", at("src/abs-link")) == 0);
	MUST(mkfifo(at("src/fifo"), 0620) == 0 && chmod(at("src/fifo"), 0620) == 0);
	MUST(setxattr(at("src/etc/conf"), "user.origin", "test", 4, 0) == 0);
	/* A socket means nothing at rest: skipped. */
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	snprintf(addr.sun_path, sizeof addr.sun_path, "%s", at("src/sock"));
	int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	MUST(sock >= 0 && bind(sock, (struct sockaddr *)&addr, sizeof addr) == 0);
	close(sock);
	if (is_root) {
		MUST(chown(at("src/etc/conf"), 1234, 5678) == 0);
		MUST(lchown(at("src/rel-link"), 42, 43) == 0);
		MUST(chmod(at("src/setuid"), 04755) == 0);
		MUST(mknod(at("src/null"), S_IFCHR | 0666, makedev(1, 3)) == 0);
		MUST(setxattr(at("src/etc"), "trusted.note", "dir", 3, 0) == 0);
	}
	set_times(at("src/etc/conf"), 1000000000);
	set_times(at("src/rel-link"), 1100000000);
	set_times(at("src/etc"), 1200000000);
}

static void check_copy(const char *root)
{
	char p[512];
	struct stat st, st2;
	snprintf(p, sizeof p, "%s/etc/conf", root);
	CHECK(strcmp(slurp(p), "conf\n") == 0);
	CHECK(lstat(p, &st) == 0 && (st.st_mode & 07777) == 0640);
	CHECK(st.st_mtim.tv_sec == 1000000000 && st.st_mtim.tv_nsec == 123456789);
	char value[16] = {0};
	CHECK(getxattr(p, "user.origin", value, sizeof value) == 4 && strcmp(value, "test") == 0);
	snprintf(p, sizeof p, "%s/etc/conf-link", root);
	CHECK(lstat(p, &st2) == 0 && st2.st_ino == st.st_ino && st.st_nlink == 2);
	if (is_root)
		CHECK(st.st_uid == 1234 && st.st_gid == 5678);
	snprintf(p, sizeof p, "%s/etc", root);
	CHECK(lstat(p, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0750);
	CHECK(st.st_mtim.tv_sec == 1200000000);
	if (is_root)
		CHECK(getxattr(p, "trusted.note", value, sizeof value) == 3);
	snprintf(p, sizeof p, "%s/setuid", root);
	CHECK(lstat(p, &st) == 0 && (st.st_mode & 07777) == 04755);
	char target[64] = {0};
	snprintf(p, sizeof p, "%s/rel-link", root);
	CHECK(readlink(p, target, sizeof target - 1) == 8 && strcmp(target, "etc/conf") == 0);
	CHECK(lstat(p, &st) == 0 && st.st_mtim.tv_sec == 1100000000);
	if (is_root)
		CHECK(st.st_uid == 42 && st.st_gid == 43);
	memset(target, 0, sizeof target);
	snprintf(p, sizeof p, "%s/abs-link", root);
	CHECK(readlink(p, target, sizeof target - 1) > 0 && strcmp(target, "/etc/passwd") == 0);
	snprintf(p, sizeof p, "%s/sock", root);
	CHECK(lstat(p, &st) < 0 && errno == ENOENT);
	snprintf(p, sizeof p, "%s/fifo", root);
	CHECK(lstat(p, &st) == 0 && S_ISFIFO(st.st_mode) && (st.st_mode & 0777) == 0620);
	snprintf(p, sizeof p, "%s/null", root);
	if (is_root)
		CHECK(lstat(p, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3));
}

static char *only_layer(corral_store *store, const char *name)
{
	char **paths = NULL;
	size_t n = 0;
	corral_error err = {0};
	CHECK(corral_store_layers(store, name, &paths, &n, &err) == 0);
	CHECK(n == 1);
	char *path = n ? strdup(paths[0]) : NULL;
	corral_store_layers_free(paths, n);
	return path;
}

static void test_import_dir(corral_store *store)
{
	corral_error err = {0};
	make_source();
	CHECK(corral_image_import(store, at("src"), "base", &err) == 0);
	if (err.message[0])
		fprintf(stderr, "import: %s\n", err.message);
	char *layer = only_layer(store, "base");
	if (layer)
		check_copy(layer);
	free(layer);

	corral_image_info *images = NULL;
	size_t n = 0;
	CHECK(corral_image_list(store, &images, &n, &err) == 0 && n == 1);
	if (n == 1) {
		CHECK(strcmp(images[0].name, "base") == 0 && images[0].n_layers == 1);
		CHECK(images[0].bytes == 5 + 10);   /* conf once, setuid */
		CHECK(images[0].created > 0);
	}
	char *json = corral_images_to_json(images, n);
	json_t *doc = json ? json_loads(json, 0, NULL) : NULL;
	CHECK(json_is_array(doc) && json_array_size(doc) == 1);
	CHECK(json_integer_value(json_object_get(json_array_get(doc, 0), "layers")) == 1);
	json_decref(doc);
	free(json);
	corral_image_info_free(images, n);

	/* Taken names, missing sources, bad names: usage errors, nothing left. */
	error_clear(&err);
	CHECK(corral_image_import(store, at("src"), "base", &err) < 0);
	CHECK(err.kind == CORRAL_ERR_USAGE && strstr(err.message, "already exists"));
	error_clear(&err);
	CHECK(corral_image_import(store, at("missing"), "other", &err) < 0);
	CHECK(err.kind == CORRAL_ERR_USAGE && err.errnum == ENOENT);
	CHECK(strstr(err.message, "image import ") == err.message);
	error_clear(&err);
	CHECK(corral_image_import(store, at("src"), "bad/name", &err) < 0);
	CHECK(err.kind == CORRAL_ERR_USAGE);
	/* A tree holding the store cannot be copied into it. */
	error_clear(&err);
	CHECK(corral_image_import(store, scratch, "self", &err) < 0);
	CHECK(err.kind == CORRAL_ERR_USAGE && strstr(err.message, "holds the store") != NULL);
	CHECK(count_entries(at("store/tmp")) == 0);
	CHECK(count_entries(at("store/layers")) == 1);
}

/* upper/: what an overlayfs upper holds after a sandbox ran on "base". */
static void make_upper(const char *dir, const char *file)
{
	char p[256];
	MUST(mkdir(at(dir), 0755) == 0);
	snprintf(p, sizeof p, "%s/%s", dir, file);
	put_file(at(p), "new\n", 0644);
	snprintf(p, sizeof p, "%s/rel-link", dir);   /* deleted in the sandbox */
	MUST(mknod(at(p), S_IFCHR | 0, makedev(0, 0)) == 0);
	snprintf(p, sizeof p, "%s/etc", dir);        /* replaced wholesale */
	MUST(mkdir(at(p), 0755) == 0);
	MUST(setxattr(at(p), "trusted.overlay.opaque", "y", 1, 0) == 0);
	MUST(setxattr(at(p), "trusted.overlay.origin", "xyz", 3, 0) == 0);
	snprintf(p, sizeof p, "%s/etc/only", dir);
	put_file(at(p), "only\n", 0600);
}

static void test_snapshots(corral_store *store)
{
	corral_error err = {0};
	if (!is_root) {
		printf("# snapshots skipped: whiteouts and trusted xattrs need root\n");
		return;
	}
	make_upper("upper1", "added");
	CHECK(corral_snapshot_create_from_upper(store, at("upper1"), "base", "s1", &err) == 0);
	if (err.message[0])
		fprintf(stderr, "snapshot: %s\n", err.message);
	corral_snapshot_info *info = NULL;
	CHECK(corral_snapshot_inspect(store, "s1", &info, &err) == 0);
	if (info) {
		CHECK(strcmp(info->image, "base") == 0 && info->parent == NULL);
		CHECK(info->bytes == 4 + 5);
		CHECK(info->n_layers == 2);
		char p[512];
		struct stat st;
		char value[8] = {0};
		snprintf(p, sizeof p, "%s/rel-link", info->layers[0]);
		CHECK(lstat(p, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0));
		snprintf(p, sizeof p, "%s/etc", info->layers[0]);
		CHECK(getxattr(p, "trusted.overlay.opaque", value, sizeof value) == 1 && value[0] == 'y');
		CHECK(getxattr(p, "trusted.overlay.origin", value, sizeof value) < 0);
		snprintf(p, sizeof p, "%s/added", info->layers[0]);
		CHECK(strcmp(slurp(p), "new\n") == 0);
		snprintf(p, sizeof p, "%s/etc/conf", info->layers[1]);
		CHECK(strcmp(slurp(p), "conf\n") == 0);
	}
	corral_snapshot_info_free(info, info ? 1 : 0);

	/* A snapshot on a snapshot stacks on its whole chain. */
	make_upper("upper2", "more");
	CHECK(corral_snapshot_create_from_upper(store, at("upper2"), "s1", "s2", &err) == 0);
	CHECK(corral_snapshot_inspect(store, "s2", &info, &err) == 0);
	if (info) {
		CHECK(strcmp(info->image, "base") == 0 && info->parent && strcmp(info->parent, "s1") == 0);
		CHECK(info->n_layers == 3);
		char *json = corral_snapshot_to_json(info);
		json_t *doc = json ? json_loads(json, 0, NULL) : NULL;
		CHECK(json_array_size(json_object_get(doc, "layers")) == 3);
		CHECK(strcmp(json_string_value(json_object_get(doc, "parent")), "s1") == 0);
		json_decref(doc);
		free(json);
	}
	corral_snapshot_info_free(info, info ? 1 : 0);

	corral_snapshot_info *snaps = NULL;
	size_t n = 0;
	CHECK(corral_snapshot_list(store, &snaps, &n, &err) == 0 && n == 2);
	if (n == 2)
		CHECK(strcmp(snaps[0].name, "s1") == 0 && snaps[0].layers == NULL);
	corral_snapshot_info_free(snaps, n);

	/* One namespace; unknown bases; missing uppers. */
	error_clear(&err);
	CHECK(corral_snapshot_create_from_upper(store, at("upper2"), "base", "base", &err) < 0);
	CHECK(err.kind == CORRAL_ERR_USAGE && strstr(err.message, "an image named 'base'"));
	error_clear(&err);
	CHECK(corral_snapshot_create_from_upper(store, at("upper2"), "nope", "s3", &err) < 0);
	CHECK(err.kind == CORRAL_ERR_USAGE && strstr(err.message, "'nope'"));
	error_clear(&err);
	CHECK(corral_snapshot_create_from_upper(store, at("no-upper"), "base", "s3", &err) < 0);
	CHECK(err.kind == CORRAL_ERR_USAGE && err.errnum == ENOENT);
	error_clear(&err);
	CHECK(corral_image_import(store, at("src"), "s1", &err) < 0);
	CHECK(strstr(err.message, "a snapshot named 's1'") != NULL);
	CHECK(count_entries(at("store/tmp")) == 0);
	CHECK(count_entries(at("store/layers")) == 3);
}

static void test_dependencies(corral_store *store)
{
	corral_error err = {0};
	if (!is_root)
		return;
	CHECK(corral_image_remove(store, "base", &err) < 0);
	CHECK(err.kind == CORRAL_ERR_USAGE && strstr(err.message, "snapshot 's1'"));
	error_clear(&err);
	CHECK(corral_snapshot_remove(store, "s1", &err) < 0);
	CHECK(strstr(err.message, "snapshot 's2' depends on it") != NULL);
	error_clear(&err);
	CHECK(corral_snapshot_remove(store, "base", &err) < 0);
	CHECK(strstr(err.message, "it is an image") != NULL);
	CHECK(corral_snapshot_remove(store, "s2", &err) == 0);
	CHECK(corral_snapshot_remove(store, "s1", &err) == 0);
	error_clear(&err);
	CHECK(corral_snapshot_remove(store, "s1", &err) < 0);
	CHECK(strstr(err.message, "no such snapshot") != NULL);
}

static void test_gc(corral_store *store)
{
	corral_error err = {0};
	/* A second image whose layers gc must keep. */
	CHECK(corral_image_import(store, at("src"), "keep", &err) == 0);
	char *kept = only_layer(store, "keep");

	/* What a crash leaves: a half-built layer in tmp/, a layer renamed
	 * into place but never listed, a volume directory never listed. */
	MUST(mkdir(at("store/tmp/0123abcd"), 0755) == 0);
	put_file(at("store/tmp/0123abcd/half"), "12345678", 0644);
	MUST(mkdir(at("store/layers/ffffffffffffffffffffffffffffffff"), 0755) == 0);
	put_file(at("store/layers/ffffffffffffffffffffffffffffffff/x"), "1234", 0644);
	MUST(mkdir(at("store/volumes/ghost"), 0755) == 0);

	corral_image_info *images = NULL;
	size_t n = 0;
	CHECK(corral_image_list(store, &images, &n, &err) == 0);
	CHECK(n == 2);   /* base, keep: the unlisted layer is no image */
	corral_image_info_free(images, n);
	corral_volume_info *vols = NULL;
	CHECK(corral_volume_list(store, &vols, &n, &err) == 0 && n == 0);
	corral_volume_info_free(vols, n);

	/* Removing "base" leaves its layer unreferenced. */
	CHECK(corral_image_remove(store, "base", &err) == 0);
	size_t layers_before = count_entries(at("store/layers"));
	corral_gc_report report;
	CHECK(corral_store_gc(store, &report, &err) == 0);
	/* base's own layer (+ s1, s2 as root) and the unlisted one */
	CHECK(report.layers_removed == (is_root ? 4 : 2));
	CHECK(report.leftovers_removed == 2);
	CHECK(report.bytes_freed >= 8 + 4 + 15);
	CHECK(count_entries(at("store/tmp")) == 0);
	CHECK(count_entries(at("store/volumes")) == 0);
	CHECK(count_entries(at("store/layers")) == 1);
	CHECK(layers_before == count_entries(at("store/layers")) + report.layers_removed);
	struct stat st;
	CHECK(kept && stat(kept, &st) == 0);
	char p[512];
	snprintf(p, sizeof p, "%s/etc/conf", kept ? kept : "");
	CHECK(strcmp(slurp(p), "conf\n") == 0);
	char *json = corral_gc_report_to_json(&report);
	CHECK(json && strstr(json, "\"layers_removed\":") != NULL);
	free(json);
	/* Nothing left to do. */
	CHECK(corral_store_gc(store, &report, &err) == 0);
	CHECK(report.layers_removed == 0 && report.leftovers_removed == 0);
	free(kept);
}

static void test_volumes(corral_store *store)
{
	corral_error err = {0};
	CHECK(corral_volume_create(store, "cache", 1 << 30, &err) == 0);
	CHECK(corral_volume_create(store, "data", 0, &err) == 0);
	error_clear(&err);
	CHECK(corral_volume_create(store, "cache", 0, &err) < 0);
	CHECK(err.kind == CORRAL_ERR_USAGE && strstr(err.message, "already exists"));
	MUST(mkdir(at("store/volumes/stray"), 0755) == 0);
	error_clear(&err);
	CHECK(corral_volume_create(store, "stray", 0, &err) < 0);
	CHECK(strstr(err.message, "in the way") != NULL);
	MUST(rmdir(at("store/volumes/stray")) == 0);
	corral_volume_info *vols = NULL;
	size_t n = 0;
	CHECK(corral_volume_list(store, &vols, &n, &err) == 0 && n == 2);
	if (n == 2) {
		CHECK(strcmp(vols[0].name, "cache") == 0 && vols[0].size_limit == 1 << 30);
		CHECK(strcmp(vols[0].path, at("store/volumes/cache")) == 0);
		CHECK(vols[1].size_limit == 0);
	}
	char *json = corral_volumes_to_json(vols, n);
	CHECK(json && strstr(json, "\"size_limit\":null") != NULL);
	free(json);
	corral_volume_info_free(vols, n);
	put_file(at("store/volumes/data/file"), "persist", 0644);
	MUST(mkdir(at("store/volumes/data/ro"), 0555) == 0);
	CHECK(corral_volume_remove(store, "data", &err) == 0);
	struct stat st;
	CHECK(stat(at("store/volumes/data"), &st) < 0 && errno == ENOENT);
	error_clear(&err);
	CHECK(corral_volume_remove(store, "data", &err) < 0);
	CHECK(err.kind == CORRAL_ERR_USAGE && strstr(err.message, "no such volume"));
	CHECK(corral_volume_remove(store, "cache", &err) == 0);
}

int main(void)
{
	is_root = geteuid() == 0;
	scratch_make("store-test");
	test_names();
	test_xattr_filter();
	test_open();
	corral_store *store = open_store();
	test_import_dir(store);
	test_snapshots(store);
	test_dependencies(store);
	test_gc(store);
	test_volumes(store);
	corral_store_close(store);
	scratch_remove();
	return unit_done();
}
