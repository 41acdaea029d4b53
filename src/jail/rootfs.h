/*
 * Executes a mount plan in the setup child: a fresh tmpfs root is staged,
 * filled by the plan, made read-only, and pivoted into; the host's tree is
 * then detached entirely. Allocation-free.
 */
#ifndef CORRAL_JAIL_ROOTFS_H
#define CORRAL_JAIL_ROOTFS_H

#include "jail/mount_plan.h"

int rootfs_build(struct mount_plan *plan, corral_error *err);

#endif
