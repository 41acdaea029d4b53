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
	char *state;          /* the persistent state dir, or NULL: a tmpfs upper */
	char **volumes;       /* per policy volume: its directory */
	uint64_t *volume_limits; /* per policy volume: its size limit, 0: none */
	size_t n_volumes;
	char *store_path;
};

int image_root_resolve(struct image_root *ir, const corral_policy *policy, corral_error *err);
void image_root_free(struct image_root *ir);

#endif
