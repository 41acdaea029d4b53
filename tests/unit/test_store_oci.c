/* OCI image layouts, built here with libarchive's writer: two gzip layers
 * with a whiteout and an opaque directory, a multi-platform index, and
 * hostile inputs (a wrong digest, paths escaping by "..", "/" or a
 * symlink, an archive over the size bound). A refused import leaves
 * nothing behind: no image, no layer, nothing in tmp/. */
#include "store_test.h"
#include "util/lazylib.h"

#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/xattr.h>

static corral_store *store;

/* How put_manifest compresses layers. */
enum compression { PLAIN, GZIP, ZSTD };
static enum compression compression = GZIP;

struct entry {
	const char *path;
	char type;           /* 'f' file, 'd' dir, 'l' symlink, 'h' hardlink */
	const char *data;    /* file content, or link target */
};

/* A tar of the entries, compressed with c, in *out (malloc'd). */
static size_t make_tar(const struct entry *entries, size_t n, enum compression c,
                       unsigned char **out)
{
	size_t cap = 1 << 20, used = 0;
	unsigned char *buf = malloc(cap);
	MUST(buf != NULL);
	struct archive *a = archive_write_new();
	MUST(archive_write_set_format_pax_restricted(a) == ARCHIVE_OK);
	if (c == GZIP)
		MUST(archive_write_add_filter_gzip(a) == ARCHIVE_OK);
	if (c == ZSTD)
		MUST(archive_write_add_filter_zstd(a) == ARCHIVE_OK);
	MUST(archive_write_open_memory(a, buf, cap, &used) == ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();
		archive_entry_set_pathname(e, entries[i].path);
		archive_entry_set_mtime(e, 1500000000, 0);
		archive_entry_set_uid(e, 0);
		archive_entry_set_gid(e, 0);
		switch (entries[i].type) {
		case 'd':
			archive_entry_set_filetype(e, AE_IFDIR);
			archive_entry_set_perm(e, 0755);
			break;
		case 'l':
			archive_entry_set_filetype(e, AE_IFLNK);
			archive_entry_set_perm(e, 0777);
			archive_entry_set_symlink(e, entries[i].data);
			break;
		case 'h':
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_perm(e, 0644);
			archive_entry_set_hardlink(e, entries[i].data);
			break;
		default:
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_perm(e, 0644);
			archive_entry_set_size(e, (la_int64_t)strlen(entries[i].data));
		}
		MUST(archive_write_header(a, e) == ARCHIVE_OK);
		if (entries[i].type == 'f')
			MUST(archive_write_data(a, entries[i].data, strlen(entries[i].data)) ==
			     (la_ssize_t)strlen(entries[i].data));
		archive_entry_free(e);
	}
	MUST(archive_write_close(a) == ARCHIVE_OK);
	archive_write_free(a);
	*out = buf;
	return used;
}

static void sha256_hex(const void *data, size_t len, char hex[65])
{
	unsigned char md[32];
	unsigned md_len = 0;
	MUST(EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL) == 1);
	for (size_t i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static void write_bytes(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	MUST(fd >= 0);
	MUST(write(fd, data, len) == (ssize_t)len);
	MUST(close(fd) == 0);
}

/* Store a blob in layout `dir`; its digest in hex. */
static void put_blob(const char *dir, const void *data, size_t len, char hex[65])
{
	char path[512];
	sha256_hex(data, len, hex);
	snprintf(path, sizeof path, "%s/%s/blobs", scratch, dir);
	mkdir(path, 0755);
	snprintf(path, sizeof path, "%s/%s/blobs/sha256", scratch, dir);
	mkdir(path, 0755);
	snprintf(path, sizeof path, "%s/%s/blobs/sha256/%s", scratch, dir, hex);
	write_bytes(path, data, len);
}

static void put_json(const char *dir, json_t *doc, char hex[65])
{
	char *text = json_dumps(doc, JSON_COMPACT);
	MUST(text != NULL);
	put_blob(dir, text, strlen(text), hex);
	free(text);
	json_decref(doc);
}

static const char *host_arch(void)
{
	static struct utsname u;
	MUST(uname(&u) == 0);
	if (strcmp(u.machine, "x86_64") == 0)
		return "amd64";
	if (strcmp(u.machine, "aarch64") == 0)
		return "arm64";
	return u.machine;
}

/* A manifest of the layers (each a list of entries); its digest in hex. */
static void put_manifest(const char *dir, const struct entry *const *layers, const size_t *counts,
                         size_t n_layers, char hex[65])
{
	char cfg[65], layer_hex[65], digest[80];
	put_json(dir, json_pack("{s:s, s:s, s:{s:s, s:[]}}", "architecture", host_arch(), "os",
	                        "linux", "rootfs", "type", "layers", "diff_ids"),
	         cfg);
	json_t *descs = json_array();
	for (size_t i = 0; i < n_layers; i++) {
		unsigned char *tar = NULL;
		size_t len = make_tar(layers[i], counts[i], compression, &tar);
		put_blob(dir, tar, len, layer_hex);
		free(tar);
		snprintf(digest, sizeof digest, "sha256:%s", layer_hex);
		static const char *const types[] = {
			[PLAIN] = "application/vnd.oci.image.layer.v1.tar",
			[GZIP] = "application/vnd.oci.image.layer.v1.tar+gzip",
			[ZSTD] = "application/vnd.oci.image.layer.v1.tar+zstd",
		};
		json_array_append_new(descs, json_pack("{s:s, s:s, s:I}", "mediaType",
		                                       types[compression], "digest", digest, "size",
		                                       (json_int_t)len));
	}
	snprintf(digest, sizeof digest, "sha256:%s", cfg);
	put_json(dir, json_pack("{s:i, s:s, s:{s:s, s:s}, s:o}", "schemaVersion", 2, "mediaType",
	                        "application/vnd.oci.image.manifest.v1+json", "config", "mediaType",
	                        "application/vnd.oci.image.config.v1+json", "digest", digest, "layers",
	                        descs),
	         hex);
}

/* index.json listing the manifests, each for os/arch. */
static void put_index(const char *dir, const char *const *hexes, const char *const *arches,
                      size_t n)
{
	json_t *manifests = json_array();
	char digest[80], path[512];
	for (size_t i = 0; i < n; i++) {
		snprintf(digest, sizeof digest, "sha256:%s", hexes[i]);
		json_array_append_new(manifests,
		                      json_pack("{s:s, s:s, s:{s:s, s:s}}", "mediaType",
		                                "application/vnd.oci.image.manifest.v1+json", "digest",
		                                digest, "platform", "os", "linux", "architecture",
		                                arches[i]));
	}
	json_t *index = json_pack("{s:i, s:o}", "schemaVersion", 2, "manifests", manifests);
	snprintf(path, sizeof path, "%s/%s/index.json", scratch, dir);
	MUST(json_dump_file(index, path, 0) == 0);
	json_decref(index);
	snprintf(path, sizeof path, "%s/%s/oci-layout", scratch, dir);
	write_bytes(path, "{\"imageLayoutVersion\":\"1.0.0\"}", 30);
}

/* A one-manifest layout of the given layers. */
static void make_layout(const char *dir, const struct entry *const *layers, const size_t *counts,
                        size_t n_layers)
{
	char hex[65];
	MUST(mkdir(at(dir), 0755) == 0);
	put_manifest(dir, layers, counts, n_layers, hex);
	const char *hexes[] = {hex};
	const char *arches[] = {host_arch()};
	put_index(dir, hexes, arches, 1);
}

static const struct entry lower[] = {
	{"etc/", 'd', NULL},
	{"etc/passwd", 'f', "root:x:0:0::/root:/bin/sh\n"},
	{"etc/keep", 'f', "lower\n"},
	{"etc/hosts-link", 'h', "etc/passwd"},
	{"opt/dir/old", 'f', "old\n"},
	{"bin", 'l', "usr/bin"},
	{"./usr/bin/tool", 'f', "#!/bin/sh\n"},
};
static const struct entry upper[] = {
	{"etc/.wh.keep", 'f', ""},
	{"opt/dir/", 'd', NULL},
	{"opt/dir/.wh..wh..opq", 'f', ""},
	{"opt/dir/new", 'f', "new\n"},
};

/* Nothing of a refused import remains. */
static void check_nothing_left(size_t layers_before)
{
	CHECK(count_entries(at("store/tmp")) == 0);
	CHECK(count_entries(at("store/layers")) == layers_before);
	corral_image_info *images = NULL;
	size_t n = 0;
	corral_error err = {0};
	CHECK(corral_image_list(store, &images, &n, &err) == 0);
	for (size_t i = 0; i < n; i++)
		CHECK(strcmp(images[i].name, "bad") != 0);
	corral_image_info_free(images, n);
}

static void test_two_layers(void)
{
	const struct entry *layers[] = {lower, upper};
	size_t counts[] = {sizeof lower / sizeof lower[0], sizeof upper / sizeof upper[0]};
	make_layout("oci", layers, counts, 2);
	corral_error err = {0};
	char source[600];
	snprintf(source, sizeof source, "oci:%s", at("oci"));
	CHECK(corral_image_import(store, source, "img", &err) == 0);
	if (err.message[0])
		fprintf(stderr, "oci import: %s\n", err.message);
	char **paths = NULL;
	size_t n = 0;
	CHECK(corral_store_layers(store, "img", &paths, &n, &err) == 0 && n == 2);
	if (n != 2) {
		corral_store_layers_free(paths, n);
		return;
	}
	/* paths[0] is the top (upper) layer, paths[1] the lower one. */
	char p[600];
	struct stat st, st2;
	snprintf(p, sizeof p, "%s/etc/passwd", paths[1]);
	CHECK(strcmp(slurp(p), "root:x:0:0::/root:/bin/sh\n") == 0);
	CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == 0644 && st.st_mtim.tv_sec == 1500000000);
	snprintf(p, sizeof p, "%s/etc", paths[1]);   /* its entry came before its files */
	CHECK(stat(p, &st2) == 0 && st2.st_mtim.tv_sec == 1500000000);
	snprintf(p, sizeof p, "%s/opt/dir", paths[0]);   /* an opaque marker came after it */
	CHECK(stat(p, &st2) == 0 && st2.st_mtim.tv_sec == 1500000000);
	snprintf(p, sizeof p, "%s/etc/hosts-link", paths[1]);
	CHECK(stat(p, &st2) == 0 && st2.st_ino == st.st_ino);
	snprintf(p, sizeof p, "%s/usr/bin/tool", paths[1]);
	CHECK(strcmp(slurp(p), "#!/bin/sh\n") == 0);
	char target[32] = {0};
	snprintf(p, sizeof p, "%s/bin", paths[1]);
	CHECK(readlink(p, target, sizeof target - 1) == 7 && strcmp(target, "usr/bin") == 0);

	snprintf(p, sizeof p, "%s/etc/keep", paths[0]);
	if (geteuid() == 0)
		CHECK(lstat(p, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0));
	snprintf(p, sizeof p, "%s/etc/.wh.keep", paths[0]);
	CHECK(lstat(p, &st) < 0);
	snprintf(p, sizeof p, "%s/opt/dir", paths[0]);
	char value[4] = {0};
	CHECK(getxattr(p, geteuid() == 0 ? "trusted.overlay.opaque" : "user.overlay.opaque", value,
	               sizeof value) == 1 && value[0] == 'y');
	snprintf(p, sizeof p, "%s/opt/dir/new", paths[0]);
	CHECK(strcmp(slurp(p), "new\n") == 0);
	snprintf(p, sizeof p, "%s/opt/dir/.wh..wh..opq", paths[0]);
	CHECK(lstat(p, &st) < 0);
	corral_store_layers_free(paths, n);

	corral_image_info *images = NULL;
	CHECK(corral_image_list(store, &images, &n, &err) == 0 && n == 1);
	if (n == 1)
		CHECK(images[0].n_layers == 2 && images[0].bytes > 0);
	corral_image_info_free(images, n);
}

static void test_platforms(void)
{
	static const struct entry other[] = {{"which", 'f', "other\n"}};
	static const struct entry mine[] = {{"which", 'f', "mine\n"}};
	const struct entry *l1[] = {other}, *l2[] = {mine};
	size_t one[] = {1};
	char h1[65], h2[65];
	MUST(mkdir(at("multi"), 0755) == 0);
	put_manifest("multi", l1, one, 1, h1);
	put_manifest("multi", l2, one, 1, h2);
	const char *hexes[] = {h1, h2};
	const char *arches[] = {strcmp(host_arch(), "s390x") == 0 ? "ppc64le" : "s390x", host_arch()};
	put_index("multi", hexes, arches, 2);
	corral_error err = {0};
	char source[600];
	snprintf(source, sizeof source, "oci:%s", at("multi"));
	CHECK(corral_image_import(store, source, "multi", &err) == 0);
	char **paths = NULL;
	size_t n = 0;
	CHECK(corral_store_layers(store, "multi", &paths, &n, &err) == 0 && n == 1);
	if (n == 1) {
		char p[600];
		snprintf(p, sizeof p, "%s/which", paths[0]);
		CHECK(strcmp(slurp(p), "mine\n") == 0);
	}
	corral_store_layers_free(paths, n);
}

/* Import `dir` as "bad": refused with a usage error mentioning `want`. */
static void check_refused(const char *dir, const char *want)
{
	size_t layers_before = count_entries(at("store/layers"));
	corral_error err = {0};
	char source[600];
	snprintf(source, sizeof source, "oci:%s", at(dir));
	CHECK(corral_image_import(store, source, "bad", &err) < 0);
	CHECK(err.kind == CORRAL_ERR_USAGE);
	CHECK(strstr(err.message, want) != NULL);
	CHECK(strncmp(err.message, "image import oci:", 17) == 0);
	if (!strstr(err.message, want))
		fprintf(stderr, "  %s: got \"%s\"\n", dir, err.message);
	check_nothing_left(layers_before);
}

static void test_digest_mismatch(void)
{
	static const struct entry files[] = {{"f", 'f', "content\n"}};
	const struct entry *layers[] = {files};
	size_t counts[] = {1};
	make_layout("tampered", layers, counts, 1);
	/* Swap the layer blob's content for another valid tar.gz. */
	char path[600];
	snprintf(path, sizeof path, "%s/blobs/sha256", at("tampered"));
	static const struct entry evil[] = {{"f", 'f', "evil!!!\n"}};
	unsigned char *tar = NULL;
	size_t len = make_tar(evil, 1, GZIP, &tar);
	/* The layer is the blob that is neither config nor manifest: find it
	 * by trying each (only a gzip blob starts 1f 8b). */
	DIR *dir = opendir(path);
	MUST(dir != NULL);
	const struct dirent *de;
	while ((de = readdir(dir)) != NULL) {
		char blob[1024];
		snprintf(blob, sizeof blob, "%s/%s", path, de->d_name);
		unsigned char magic[2] = {0};
		int fd = open(blob, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		bool gz = read(fd, magic, 2) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
		close(fd);
		if (gz)
			write_bytes(blob, tar, len);
	}
	closedir(dir);
	free(tar);
	check_refused("tampered", "digest mismatch");
}

static void test_escapes(void)
{
	static const struct entry dotdot[] = {{"a/../../outside", 'f', "x"}};
	static const struct entry absolute[] = {{"/etc/evil", 'f', "x"}};
	static const struct entry via_link[] = {{"link", 'l', "/tmp"}, {"link/evil", 'f', "x"}};
	static const struct entry via_rel_link[] = {{"up", 'l', "../.."}, {"up/evil", 'f', "x"}};
	const struct entry *l1[] = {dotdot}, *l2[] = {absolute}, *l3[] = {via_link},
	                   *l4[] = {via_rel_link};
	size_t one[] = {1}, two[] = {2};
	make_layout("dotdot", l1, one, 1);
	make_layout("absolute", l2, one, 1);
	make_layout("via-link", l3, two, 1);
	make_layout("via-rel-link", l4, two, 1);
	check_refused("dotdot", "'..' refused");
	check_refused("absolute", "absolute path refused");
	check_refused("via-link", "symlink");
	check_refused("via-rel-link", "symlink");
	struct stat st;
	CHECK(stat("/tmp/evil", &st) < 0);
	CHECK(stat(at("evil"), &st) < 0);
	CHECK(stat(at("outside"), &st) < 0);
}

static void test_size_bound(void)
{
	static const struct entry big[] = {{"big", 'f', "0123456789012345678901234567890123456789"}};
	const struct entry *layers[] = {big};
	size_t one[] = {1};
	make_layout("big", layers, one, 1);
	uint64_t saved = store->max_unpack_bytes;
	corral_error err = {0};
	char source[600];
	snprintf(source, sizeof source, "oci:%s", at("big"));
	store->max_unpack_bytes = 552;   /* the entry costs 512 + its 40 bytes */
	CHECK(corral_image_import(store, source, "big-fits", &err) == 0);
	store->max_unpack_bytes = 551;
	check_refused("big", "size bound");
	store->max_unpack_bytes = saved;
}

/* Uncompressed and zstd layers, when libarchive can write zstd here. */
static void test_compressions(void)
{
	static const struct entry files[] = {{"etc/os-release", 'f', "ID=test\n"}};
	const struct entry *layers[] = {files};
	size_t one[] = {1};
	const char *dirs[] = {"plain", "zstd"};
	const enum compression kinds[] = {PLAIN, ZSTD};
	for (size_t i = 0; i < 2; i++) {
		struct archive *probe = archive_write_new();
		bool can = kinds[i] != ZSTD || archive_write_add_filter_zstd(probe) == ARCHIVE_OK;
		archive_write_free(probe);
		if (!can) {
			printf("# zstd skipped: libarchive cannot write it here\n");
			continue;
		}
		compression = kinds[i];
		make_layout(dirs[i], layers, one, 1);
		compression = GZIP;
		corral_error err = {0};
		char source[600];
		snprintf(source, sizeof source, "oci:%s", at(dirs[i]));
		CHECK(corral_image_import(store, source, dirs[i], &err) == 0);
		char **paths = NULL;
		size_t n = 0;
		CHECK(corral_store_layers(store, dirs[i], &paths, &n, &err) == 0 && n == 1);
		if (n == 1) {
			char p[600];
			snprintf(p, sizeof p, "%s/etc/os-release", paths[0]);
			CHECK(strcmp(slurp(p), "ID=test\n") == 0);
		}
		corral_store_layers_free(paths, n);
	}
}

static void test_bad_layouts(void)
{
	MUST(mkdir(at("empty"), 0755) == 0);
	check_refused("empty", "oci-layout");
	corral_error err = {0};
	CHECK(corral_image_import(store, "oci:/nonexistent-corral", "bad", &err) < 0);
	CHECK(err.kind == CORRAL_ERR_USAGE && err.errnum == ENOENT);
	CHECK(strcmp(err.message, "image import oci:/nonexistent-corral: No such file or directory") ==
	      0);
}

int main(void)
{
	scratch_make("store-oci-test");
	corral_error err = {0};
	/* The test writes archives itself, partly through libcorral's stubs. */
	if (lazy_libarchive_load(&err) < 0 || lazy_openssl_load(&err) < 0) {
		fprintf(stderr, "%s\n", err.message);
		return 1;
	}
	store = corral_store_open(at("store"), &err);
	MUST(store != NULL);
	test_two_layers();
	test_platforms();
	test_digest_mismatch();
	test_escapes();
	test_size_bound();
	test_compressions();
	test_bad_layouts();
	corral_store_close(store);
	scratch_remove();
	return unit_done();
}
