/* OCI image layout → store layers: the JSON documents and their digests.
 * Unpacking a layer tarball is oci_unpack.c's. */
#include "store/oci.h"

#include "store/catalog.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/lazylib.h"
#include "util/fileutil.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#define OCI_JSON_MAX (4u << 20)
#define OCI_LAYERS_MAX 128
#define OCI_INDEX_DEPTH 4

#define MT_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"

struct oci {
	corral_store *store;
	int dir_fd;
};

/* "sha256:" and 64 lowercase hex digits; anything else could also be a
 * path out of blobs/. */
static int parse_digest(const char *what, const json_t *value, char hex[65], corral_error *err)
{
	const char *d = json_string_value(value);
	if (!d)
		return error_set(err, CORRAL_ERR_USAGE, 0, "%s: no digest", what);
	bool ok = strncmp(d, "sha256:", 7) == 0 && strlen(d) == 7 + 64;
	for (size_t i = 7; ok && d[i]; i++)
		ok = (d[i] >= '0' && d[i] <= '9') || (d[i] >= 'a' && d[i] <= 'f');
	if (!ok)
		return error_set(err, CORRAL_ERR_USAGE, 0,
		                 "%s: unsupported digest '%.80s' (expected sha256:<64 hex digits>)", what, d);
	memcpy(hex, d + 7, 65);
	return 0;
}

static int open_blob(const struct oci *oci, const char *hex, corral_error *err)
{
	char path[96];
	snprintf(path, sizeof path, "blobs/sha256/%s", hex);
	int fd = openat(oci->dir_fd, path, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return error_set(err, CORRAL_ERR_USAGE, errno, "%s", path);
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return error_set(err, CORRAL_ERR_USAGE, 0, "%s: not a regular file", path);
	}
	return fd;
}

static void to_hex(const unsigned char *md, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[md[i] >> 4];
		out[2 * i + 1] = digits[md[i] & 15];
	}
	out[2 * len] = '\0';
}

/* A JSON file (oci-layout, index.json) or blob (hex != NULL: its sha256
 * must match), at most OCI_JSON_MAX bytes. */
static json_t *load_json(const struct oci *oci, const char *path, const char *hex,
                         corral_error *err)
{
	char blob_path[96];
	_cleanup_close_ int fd = -1;
	if (hex) {
		fd = open_blob(oci, hex, err);
		snprintf(blob_path, sizeof blob_path, "blobs/sha256/%s", hex);
		path = blob_path;
	} else {
		fd = openat(oci->dir_fd, path, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
		if (fd < 0)
			error_set(err, CORRAL_ERR_USAGE, errno, "%s", path);
	}
	if (fd < 0)
		return NULL;
	_cleanup_free_ char *buf = malloc(OCI_JSON_MAX + 1);
	if (!buf) {
		error_set(err, CORRAL_ERR_INTERNAL, 0, "out of memory");
		return NULL;
	}
	ssize_t len = read_full(fd, buf, OCI_JSON_MAX + 1);
	if (len < 0) {
		error_errno(err, "read %s", path);
		return NULL;
	}
	if ((size_t)len > OCI_JSON_MAX) {
		error_set(err, CORRAL_ERR_USAGE, 0, "%s: larger than %u bytes", path, OCI_JSON_MAX);
		return NULL;
	}
	if (hex) {
		unsigned char md[32];
		unsigned md_len = 0;
		char got[65];
		if (!EVP_Digest(buf, (size_t)len, md, &md_len, EVP_sha256(), NULL) || md_len != 32) {
			error_set(err, CORRAL_ERR_INTERNAL, 0, "%s: sha256 failed", path);
			return NULL;
		}
		to_hex(md, 32, got);
		if (strcmp(got, hex) != 0) {
			error_set(err, CORRAL_ERR_USAGE, 0, "%s: digest mismatch (content is sha256:%s)",
			          path, got);
			return NULL;
		}
	}
	json_error_t jerr;
	json_t *doc = json_loadb(buf, (size_t)len, 0, &jerr);
	if (!doc || !json_is_object(doc)) {
		error_set(err, CORRAL_ERR_USAGE, 0, "%s: not a JSON object%s%s", path, doc ? "" : ": ",
		          doc ? "" : jerr.text);
		json_decref(doc);
		return NULL;
	}
	return doc;
}

static const char *host_arch(struct utsname *u)
{
	if (uname(u) < 0)
		return "unknown";
	if (strcmp(u->machine, "x86_64") == 0)
		return "amd64";
	if (strcmp(u->machine, "aarch64") == 0)
		return "arm64";
	return u->machine;
}

/* The descriptor of the image manifest to use in `index`: the only one, or
 * the one for linux on this machine's architecture. */
static const json_t *pick_manifest(const json_t *index, const char *where, corral_error *err)
{
	const json_t *manifests = json_object_get(index, "manifests");
	size_t n = json_array_size(manifests);
	if (n == 0)
		return error_set(err, CORRAL_ERR_USAGE, 0, "%s: no manifests", where), NULL;
	if (n == 1)
		return json_array_get(manifests, 0);
	struct utsname u;
	const char *arch = host_arch(&u);
	char seen[256] = "";
	size_t used = 0;
	for (size_t i = 0; i < n; i++) {
		const json_t *m = json_array_get(manifests, i);
		const json_t *platform = json_object_get(m, "platform");
		const char *os = json_string_value(json_object_get(platform, "os"));
		const char *a = json_string_value(json_object_get(platform, "architecture"));
		if (os && a && strcmp(os, "linux") == 0 && strcmp(a, arch) == 0)
			return m;
		if (os && a && used < sizeof seen) {
			int w = snprintf(seen + used, sizeof seen - used, "%s%s/%s", used ? ", " : "", os, a);
			used += w > 0 ? (size_t)w : 0;
		}
	}
	error_set(err, CORRAL_ERR_USAGE, 0, "%s: no manifest for linux/%s (it has %s)", where, arch,
	          seen[0] ? seen : "none with a platform");
	return NULL;
}

/* index.json, following nested indexes, to the manifest document. */
static json_t *load_manifest(const struct oci *oci, corral_error *err)
{
	json_t *layout = load_json(oci, "oci-layout", NULL, err);
	if (!layout)
		return NULL;
	bool ok = json_string_value(json_object_get(layout, "imageLayoutVersion")) != NULL;
	json_decref(layout);
	if (!ok)
		return error_set(err, CORRAL_ERR_USAGE, 0, "oci-layout: no imageLayoutVersion"), NULL;
	json_t *index = load_json(oci, "index.json", NULL, err);
	for (int depth = 0; index && depth < OCI_INDEX_DEPTH; depth++) {
		const json_t *desc = pick_manifest(index, depth ? "nested index" : "index.json", err);
		char hex[65];
		if (!desc || parse_digest("manifest", json_object_get(desc, "digest"), hex, err) < 0) {
			json_decref(index);
			return NULL;
		}
		const char *mt = json_string_value(json_object_get(desc, "mediaType"));
		bool nested = mt && (strcmp(mt, MT_INDEX) == 0 || strcmp(mt, MT_DOCKER_LIST) == 0);
		json_t *next = load_json(oci, NULL, hex, err);
		json_decref(index);
		if (!nested || !next)
			return next;
		index = next;
	}
	json_decref(index);
	return error_set(err, CORRAL_ERR_USAGE, 0, "index.json: indexes nested too deep"), NULL;
}

static bool layer_type_supported(const char *mt)
{
	static const char *const types[] = {
		"application/vnd.oci.image.layer.v1.tar",
		"application/vnd.oci.image.layer.v1.tar+gzip",
		"application/vnd.oci.image.layer.v1.tar+zstd",
		"application/vnd.docker.image.rootfs.diff.tar.gzip",
	};
	for (size_t i = 0; mt && i < sizeof types / sizeof types[0]; i++)
		if (strcmp(mt, types[i]) == 0)
			return true;
	return false;
}

static int unpack_layers(const struct oci *oci, const json_t *layers, struct store_build *builds,
                         uint64_t *bytes, corral_error *err)
{
	uint64_t budget = oci->store->max_unpack_bytes;
	for (size_t i = 0; i < json_array_size(layers); i++) {
		const json_t *desc = json_array_get(layers, i);
		const char *mt = json_string_value(json_object_get(desc, "mediaType"));
		char what[32], hex[65];
		snprintf(what, sizeof what, "layer %zu", i + 1);
		if (!layer_type_supported(mt))
			return error_set(err, CORRAL_ERR_USAGE, 0, "%s: unsupported media type '%.80s'",
			                 what, mt ? mt : "(none)");
		if (parse_digest(what, json_object_get(desc, "digest"), hex, err) < 0)
			return -1;
		_cleanup_close_ int fd = open_blob(oci, hex, err);
		if (fd < 0 || store_build_start(oci->store, &builds[i], err) < 0)
			return -1;
		if (oci_unpack_layer(fd, hex, builds[i].fd, &budget, &bytes[i], err) < 0)
			return error_prefix(err, "%s (sha256:%.12s)", what, hex);
		if (store_build_commit(oci->store, &builds[i], err) < 0)
			return -1;
	}
	return 0;
}

static int import_manifest(const struct oci *oci, const json_t *manifest, const char *name,
                           corral_error *err)
{
	char hex[65];
	if (parse_digest("config", json_object_get(json_object_get(manifest, "config"), "digest"), hex,
	                 err) < 0)
		return -1;
	json_t *config = load_json(oci, NULL, hex, err);
	if (!config)
		return error_prefix(err, "config");
	json_decref(config);
	const json_t *layers = json_object_get(manifest, "layers");
	size_t n = json_array_size(layers);
	if (n == 0 || n > OCI_LAYERS_MAX)
		return error_set(err, CORRAL_ERR_USAGE, 0, "manifest: %zu layers (1 to %d supported)", n,
		                 OCI_LAYERS_MAX);
	_cleanup_free_ struct store_build *builds = calloc(n, sizeof *builds);
	_cleanup_free_ uint64_t *bytes = calloc(n, sizeof *bytes);
	_cleanup_free_ char **ids = calloc(n, sizeof *ids);
	if (!builds || !bytes || !ids)
		return error_set(err, CORRAL_ERR_INTERNAL, 0, "out of memory");
	for (size_t i = 0; i < n; i++) {
		builds[i].fd = -1;
		ids[i] = builds[i].id;
	}
	int rc = unpack_layers(oci, layers, builds, bytes, err);
	if (rc == 0)
		rc = catalog_begin(oci->store, err);
	if (rc == 0) {
		for (size_t i = 0; rc == 0 && i < n; i++)
			rc = catalog_add_layer(oci->store, ids[i], bytes[i], i ? ids[i - 1] : NULL, err);
		if (rc == 0)
			rc = catalog_add_image(oci->store, name, ids, n, err);
		if (rc == 0)
			rc = catalog_commit(oci->store, err);
		else
			catalog_rollback(oci->store);
	}
	if (rc < 0)
		for (size_t i = 0; i < n; i++)
			store_build_abandon(oci->store, &builds[i]);
	return rc;
}

int oci_import(corral_store *store, const char *dir, const char *name, corral_error *err)
{
	struct oci oci = {.store = store, .dir_fd = -1};
	if (lazy_openssl_load(err) < 0 || lazy_libarchive_load(err) < 0)
		return -1;
	oci.dir_fd = store_open_source_dir("image import oci:", dir, err);
	if (oci.dir_fd < 0)
		return -1;
	int rc = catalog_check_free(store, "image import", name, err);
	json_t *manifest = rc == 0 ? load_manifest(&oci, err) : NULL;
	if (rc == 0 && !manifest)
		rc = -1;
	if (rc == 0)
		rc = import_manifest(&oci, manifest, name, err);
	if (rc < 0 && err && strncmp(err->message, "image import", 12) != 0)
		error_prefix(err, "image import oci:%s", dir);
	json_decref(manifest);
	close(oci.dir_fd);
	return rc;
}
