/*
 * Shared by the host probe's files (host_check.c, host_probe_ns.c,
 * host_probe_cgroup.c); not part of the module's interface.
 */
#ifndef CORRAL_CHECK_HOST_CHECK_INTERNAL_H
#define CORRAL_CHECK_HOST_CHECK_INTERNAL_H

#include "check/host_check.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define USERNS_MAX_SUGGESTED "15000"

/* ---- host_check.c ---- */

/* Read a small file into buf (NUL-terminated). Returns bytes read or -1. */
ssize_t host_read_small_file(const char *path, char *buf, size_t size);
/* An integer sysctl-style file; -1 when absent or unreadable. */
long host_read_long_file(const char *path);
/* The "Seccomp:" mode of this process: 0 none, 1 strict, 2 filter, -1 unknown. */
int host_current_seccomp_mode(void);
/* Whether this process seems to run in a container; names it in `what`. */
bool host_in_container(char *what, size_t size);

/* ---- host_probe_ns.c ---- */

enum userns_stage {
	STAGE_OK = 0,
	STAGE_UNSHARE_USER,
	STAGE_ID_MAPS,
	STAGE_UNSHARE_MNT,
	STAGE_MOUNT_PRIVATE,
};

struct userns_report {
	int stage;          /* first failing stage, STAGE_OK if all worked */
	int err;            /* its errno */
	int open_tree_err;  /* 0: open_tree(OPEN_TREE_CLONE) worked */
	int setattr_err;    /* 0: mount_setattr on the clone worked */
};

/* open_tree(OPEN_TREE_CLONE) and mount_setattr on a clone of "/"; the errno
 * of each (0 when it worked). */
void host_try_new_mount_api(int *tree_err, int *setattr_err);
/* Try a user namespace and a mount namespace in a forked child. */
void host_probe_userns(struct userns_report *report);
/* Name the cause of a failed user namespace probe, with its fix. */
void host_describe_userns_blocker(const struct userns_report *r, bool is_root, char *buf,
                                  size_t size);
bool host_probe_idmapped_mounts(void);

/* ---- host_probe_cgroup.c ---- */

void host_probe_cgroups(struct host_caps *caps);

#endif
