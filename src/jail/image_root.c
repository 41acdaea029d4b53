#include "jail/image_root.h"

#include "policy/policy.h"
#include "store/catalog.h"
#include "store/store.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/fileutil.h"
#include "util/strings.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define STATE_JSON_MAX 65536

/* What a state dir records it runs on (its sandbox.json), or *exists false. */
static int read_state(const char *dir, char **image, char **snapshot, bool *exists,
                      corral_error *err)
{
	*image = *snapshot = NULL;
	*exists = false;
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		if (errno == ENOENT)
			return 0;
		return error_set(err, CORRAL_ERR_USAGE, errno, "--state %s", dir);
	}
	_cleanup_close_ int fd = openat(dfd, "sandbox.json", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return error_set(err, CORRAL_ERR_USAGE, errno, "--state %s/sandbox.json", dir);
	}
	_cleanup_free_ char *text = malloc(STATE_JSON_MAX + 1);
	if (!text)
		return error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "--state");
	ssize_t len = read_full(fd, text, STATE_JSON_MAX + 1);
	if (len < 0)
		return error_errno(err, "--state: read %s/sandbox.json", dir);
	json_error_t jerr;
	json_t *doc = len <= STATE_JSON_MAX ? json_loadb(text, (size_t)len, 0, &jerr) : NULL;
	const char *img = json_string_value(json_object_get(doc, "image"));
	const char *snap = json_string_value(json_object_get(doc, "snapshot"));
	int rc = 0;
	if (!img)
		rc = error_set(err, CORRAL_ERR_USAGE, 0,
		               "--state %s/sandbox.json: expected {\"image\": NAME, \"snapshot\": NAME "
		               "or null}",
		               dir);
	else if (!(*image = strdup(img)) || (snap && !(*snapshot = strdup(snap))))
		rc = error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "--state");
	json_decref(doc);
	if (rc < 0) {
		free(*image);
		free(*snapshot);
		*image = *snapshot = NULL;
	}
	*exists = rc == 0;
	return rc;
}

/* DIR/upper, DIR/work and DIR/sandbox.json for a new persistent sandbox. */
static int create_state(const char *dir, const char *image, const char *snapshot,
                        corral_error *err)
{
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return error_set(err, CORRAL_ERR_USAGE, errno, "--state %s", dir);
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return error_set(err, CORRAL_ERR_USAGE, errno, "--state %s", dir);
	if ((mkdirat(dfd, "upper", 0755) < 0 && errno != EEXIST) ||
	    (mkdirat(dfd, "work", 0700) < 0 && errno != EEXIST))
		return error_errno(err, "--state %s: mkdir upper and work", dir);
	json_t *doc = json_pack("{s:s, s:s?}", "image", image, "snapshot", snapshot);
	_cleanup_free_ char *text = doc ? json_dumps(doc, JSON_PRESERVE_ORDER) : NULL;
	json_decref(doc);
	if (!text)
		return error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "--state");
	/* Written aside and renamed: a crash leaves the old file or none. */
	_cleanup_close_ int fd =
		openat(dfd, "sandbox.json.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
		       0644);
	if (fd < 0 || write_all(fd, text, strlen(text)) < 0 || write_all(fd, "\n", 1) < 0 ||
	    fsync(fd) < 0 || renameat(dfd, "sandbox.json.tmp", dfd, "sandbox.json") < 0)
		return error_errno(err, "--state %s: write sandbox.json", dir);
	return 0;
}

int image_root_lock_state(const char *dir, const char *what, corral_error *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return error_set(err, CORRAL_ERR_USAGE, errno, "%s %s", what, dir);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		close(fd);
		if (e == EWOULDBLOCK)
			return error_set(err, CORRAL_ERR_USAGE, 0,
			                 "%s %s: in use by a running sandbox", what, dir);
		return error_set(err, CORRAL_ERR_SETUP, e, "%s %s: lock", what, dir);
	}
	return fd;
}

static int check_kind(corral_store *store, const char *what, const char *name,
                      enum catalog_kind want, corral_error *err)
{
	enum catalog_kind kind;
	if (catalog_kind_of(store, name, &kind, err) < 0)
		return -1;
	if (kind == want)
		return 0;
	const char *hint = "";
	if (kind == CATALOG_SNAPSHOT)
		hint = " (it is a snapshot: use --from)";
	else if (kind == CATALOG_IMAGE)
		hint = " (it is an image: use --image)";
	return error_set(err, CORRAL_ERR_USAGE, 0, "%s %s: no such %s in %s%s", what, name,
	                 want == CATALOG_IMAGE ? "image" : "snapshot", store->path, hint);
}

/* The root's image and snapshot: from the options, or recorded in the
 * state dir; the two must agree. */
static int choose_base(corral_store *store, const corral_policy *p, char **image, char **snapshot,
                       bool *state_exists, corral_error *err)
{
	*image = *snapshot = NULL;
	*state_exists = false;
	if (p->image && p->from)
		return error_set(err, CORRAL_ERR_USAGE, 0,
		                 "--image and --from exclude each other (a snapshot knows its image)");
	if (p->image && check_kind(store, "--image", p->image, CATALOG_IMAGE, err) < 0)
		return -1;
	if (p->from && check_kind(store, "--from", p->from, CATALOG_SNAPSHOT, err) < 0)
		return -1;
	if (p->state) {
		if (read_state(p->state, image, snapshot, state_exists, err) < 0)
			return -1;
		if (*state_exists) {
			const char *base = *snapshot ? *snapshot : *image;
			const char *asked = p->from ? p->from : p->image;
			if (asked && strcmp(asked, base) != 0)
				return error_set(err, CORRAL_ERR_USAGE, 0,
				                 "--state %s runs on %s %s (its sandbox.json), not %s", p->state,
				                 *snapshot ? "snapshot" : "image", base, asked);
			return 0;
		}
		if (!p->image && !p->from)
			return error_set(err, CORRAL_ERR_USAGE, 0,
			                 "--state %s: a new persistent sandbox needs --image or --from "
			                 "(its writes are a layer over them)",
			                 p->state);
	}
	if (p->image) {
		char *copy = strdup(p->image);
		if (!copy)
			return error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "--image");
		*image = copy;
		return 0;
	}
	if (!p->from)
		return 0;
	corral_snapshot_info *snap = NULL;
	size_t n = 0;
	if (catalog_list_snapshots(store, p->from, &snap, &n, err) < 0)
		return -1;
	int rc = 0;
	if (n == 0)
		rc = error_set(err, CORRAL_ERR_USAGE, 0, "--from %s: no such snapshot in %s", p->from,
		               store->path);
	else if (!(*image = strdup(snap->image)) || !(*snapshot = strdup(p->from)))
		rc = error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "--from");
	corral_snapshot_info_free(snap, n);
	return rc;
}

static int resolve_volumes(struct image_root *ir, corral_store *store, const corral_policy *p,
                           corral_error *err)
{
	if (p->n_volumes == 0)
		return 0;
	ir->volumes = calloc(p->n_volumes, sizeof *ir->volumes);
	ir->volume_limits = calloc(p->n_volumes, sizeof *ir->volume_limits);
	ir->volume_images = calloc(p->n_volumes, sizeof *ir->volume_images);
	if (!ir->volumes || !ir->volume_limits || !ir->volume_images)
		return error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "--volume");
	ir->n_volumes = p->n_volumes;
	for (size_t i = 0; i < p->n_volumes; i++) {
		corral_volume_info *v = NULL;
		size_t n = 0;
		if (catalog_list_volumes(store, p->volumes[i].name, &v, &n, err) < 0)
			return error_prefix(err, "--volume %s", p->volumes[i].name);
		if (n == 0)
			return error_set(err, CORRAL_ERR_USAGE, 0, "--volume %s: no such volume in %s",
			                 p->volumes[i].name, store->path);
		ir->volumes[i] = v->path;
		v->path = NULL;
		ir->volume_limits[i] = v->size_limit;
		corral_volume_info_free(v, n);
		/* Made by root with its limit: a file system to mount (a volume
		 * from before, or a rootless run, has none: the limit is
		 * reported unenforced). */
		char *fs = NULL;
		if (ir->volume_limits[i] && geteuid() == 0 &&
		    asprintf(&fs, "%s/" VOLUME_FS_IMAGE, ir->volumes[i]) < 0)
			return error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "--volume");
		if (fs && access(fs, F_OK) == 0)
			ir->volume_images[i] = fs;
		else
			free(fs);
	}
	return 0;
}

/* Lease the layers (docs/store.md), then check that they are still what
 * the base resolves to: a removal that got in first has unlisted it, and
 * one that comes after finds the leases. */
static int lease(corral_store *store, struct image_root *ir, const char *what, corral_error *err)
{
	if (store_lease_layers(ir->layers, ir->n_layers, &ir->lease_fds, err) < 0)
		return error_prefix(err, "%s %s", what, ir->base);
	char **now = NULL;
	size_t n_now = 0;
	if (corral_store_layers(store, ir->base, &now, &n_now, err) < 0)
		return error_prefix(err, "%s", what);
	bool same = n_now == ir->n_layers;
	for (size_t i = 0; same && i < n_now; i++)
		same = strcmp(now[i], ir->layers[i]) == 0;
	corral_store_layers_free(now, n_now);
	if (!same)
		return error_set(err, CORRAL_ERR_USAGE, 0, "%s %s: removed while starting", what,
		                 ir->base);
	return 0;
}

int image_root_resolve(struct image_root *ir, const corral_policy *p, corral_error *err)
{
	memset(ir, 0, sizeof *ir);
	ir->state_lock_fd = -1;
	if (!policy_uses_store(p))
		return 0;
	corral_store *store = corral_store_open(p->store_dir, err);
	if (!store)
		return error_prefix(err, "%s", p->store_dir ? "--state-dir" : "the store");
	char *image = NULL, *snapshot = NULL;
	bool state_exists = false;
	int rc = -1;
	if (!(ir->store_path = strdup(store->path))) {
		error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "the store");
		goto out;
	}
	if (choose_base(store, p, &image, &snapshot, &state_exists, err) < 0 ||
	    resolve_volumes(ir, store, p, err) < 0)
		goto out;
	if (image) {
		const char *base = snapshot ? snapshot : image;
		if (corral_store_layers(store, base, &ir->layers, &ir->n_layers, err) < 0) {
			error_prefix(err, "%s", snapshot ? "--from" : "--image");
			goto out;
		}
		if (!(ir->base = strdup(base))) {
			error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "the store");
			goto out;
		}
		if (lease(store, ir, snapshot ? "--from" : "--image", err) < 0)
			goto out;
		ir->on = true;
	}
	/* Last, once everything else is known to be right: a failed start
	 * creates nothing. */
	if (p->state) {
		if (!state_exists && create_state(p->state, image, snapshot, err) < 0)
			goto out;
		if (!(ir->state = strdup(p->state))) {
			error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "--state");
			goto out;
		}
		ir->state_lock_fd = image_root_lock_state(p->state, "--state", err);
		if (ir->state_lock_fd < 0)
			goto out;
	}
	rc = 0;
out:
	free(image);
	free(snapshot);
	corral_store_close(store);
	if (rc < 0)
		image_root_free(ir);
	return rc;
}

void image_root_free(struct image_root *ir)
{
	if (ir->lease_fds)
		store_lease_release(ir->lease_fds, ir->n_layers);
	corral_store_layers_free(ir->layers, ir->n_layers);
	free(ir->base);
	for (size_t i = 0; i < ir->n_volumes; i++) {
		free(ir->volumes[i]);
		if (ir->volume_images)
			free(ir->volume_images[i]);
	}
	free(ir->volumes);
	free(ir->volume_images);
	free(ir->volume_limits);
	free(ir->store_path);
	/* Only a state dir has a lock (a zeroed image_root has fd 0, not its). */
	if (ir->state && ir->state_lock_fd >= 0)
		close(ir->state_lock_fd);
	free(ir->state);
	memset(ir, 0, sizeof *ir);
	ir->state_lock_fd = -1;
}
