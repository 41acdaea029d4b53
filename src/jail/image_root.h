/*
 * The store options of a policy (--image, --from, --state, --volume),
 * resolved in the supervisor before anything is mounted: the layer
 * directories of the image or snapshot, the persistent state directory
 * (prepared: DIR/upper, DIR/work, DIR/sandbox.json) and the volumes'
 * directories. Errors name the option: "--image nope: no such image in
 * /var/lib/corral".
 */
#ifndef CORRAL_JAIL_IMAGE_ROOT_H
#define CORRAL_JAIL_IMAGE_ROOT_H

#include "corral.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct image_root {
	bool on;              /* an image or snapshot is the root */
	char **layers;        /* lowerdir order, topmost first */
	size_t n_layers;
	char *base;           /* what it runs on: the snapshot, else the image */
	int *lease_fds;       /* per layer: flock(LOCK_SH) held while the sandbox runs */
	char *state;          /* the persistent state dir, or NULL: a tmpfs upper */
	int state_lock_fd;    /* the state dir, flock'ed while a sandbox runs on it; -1 */
	char **volumes;       /* per policy volume: its directory */
	uint64_t *volume_limits; /* per policy volume: its size limit, 0: none */
	char **volume_images; /* per policy volume: its ext4 image (the limit's
	                       * bound, root only), or NULL: a plain directory */
	size_t n_volumes;
	char *store_path;
};

/* A state dir is flock'ed (LOCK_EX on DIR itself) by the sandbox running
 * on it and by `snapshot create --state`: overlayfs (with index=off) would
 * let two mounts share an upper, with undefined results. */
int image_root_lock_state(const char *dir, const char *what, corral_error *err);

int image_root_resolve(struct image_root *ir, const corral_policy *policy, corral_error *err);
void image_root_free(struct image_root *ir);

#endif
