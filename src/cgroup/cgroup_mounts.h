/*
 * Host cgroup discovery (cgroup_mounts.c), used by cgroup.c to decide where
 * a sandbox's cgroup goes. Not part of the module's interface.
 */
#ifndef CORRAL_CGROUP_MOUNTS_H
#define CORRAL_CGROUP_MOUNTS_H

#include "cgroup/cgroup_internal.h"

#include <stdbool.h>
#include <stddef.h>

/* Strings point into `text`, one allocation per mount: mountinfo lists a
 * dozen cgroup mounts, and fixed PATH_MAX fields made that a 130 KiB array
 * to fill and copy -- a page fault per page touched, which a hypervisor
 * can make cost as much as the cgroup's mkdir. */
struct cg_mount {
	char *text;
	const char *point;
	const char *root;
	const char *super_opts;
	bool v2;
	bool ro;
};

struct cg_mounts {
	struct cg_mount *v;
	size_t n;
};

/* The cgroup and cgroup2 mounts of /proc/self/mountinfo into *out. */
int cg_read_mounts(struct cg_mounts *out, corral_error *err);
void cg_mounts_free(struct cg_mounts *ms);
/* dir/file (v2 cgroup.controllers or cgroup.subtree_control) lists memory,
 * pids and cpu. */
bool cg_lists_our_controllers(const char *dir, const char *file);
/* The same for dir/cgroup.controllers: dir offers the controllers. */
bool cg_v2_has_controllers(const char *dir);
/* The v2 mount to use, or NULL if none qualifies. */
const struct cg_mount *cg_find_v2(const struct cg_mount *mounts, size_t n);
/* The v1 hierarchy carrying `controller`, or NULL. */
const struct cg_mount *cg_find_v1(const struct cg_mount *mounts, size_t n,
                                  const char *controller);
/* Mounted read-write and writable by the caller. */
bool cg_mount_writable(const struct cg_mount *m);
/* The caller's own v2 cgroup as a path under mount m; false if unknown. */
bool cg_own_v2_dir(const struct cg_mount *m, char *out, size_t size);

#endif
