/*
 * A size-limited volume's file system (an ext4 image made by `volume
 * create --size` as root, docs/store.md) mounted for one sandbox: a fresh
 * loop device (LOOP_CONFIGURE, autoclear) and a detached ext4 mount.
 * Root mode only.
 */
#ifndef CORRAL_JAIL_VOLUME_MOUNT_H
#define CORRAL_JAIL_VOLUME_MOUNT_H

#include "corral.h"

#include <stdbool.h>

/* The detached mount's fd, or -1 with err. The image is flock'ed
 * exclusively through the open file the loop device keeps, so the lock
 * lasts exactly as long as the file system is mounted anywhere: one
 * sandbox at a time (two mounts of one ext4 would corrupt it); another
 * gets CORRAL_ERR_USAGE "LABEL: in use by another sandbox". */
int volume_mount_image(const char *image, bool readonly, const char *label, corral_error *err);

#endif
