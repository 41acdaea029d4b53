/*
 * Probing the host for the kernel features corral relies on, and explaining
 * what is missing and how to fix it (`corral check`). The jail also uses the
 * probe to turn an opaque EPERM into a pointer at the cause.
 */
#ifndef CORRAL_HOST_CHECK_H
#define CORRAL_HOST_CHECK_H

#include <stdbool.h>
#include <stddef.h>

enum cgroup_mode {
	CGROUP_MODE_NONE,
	CGROUP_MODE_V1,      /* legacy hierarchies only */
	CGROUP_MODE_HYBRID,  /* v1 controllers plus an (often empty) cgroup2 */
	CGROUP_MODE_V2,      /* unified */
};

struct host_caps {
	bool is_root;
	bool user_namespaces;          /* an unprivileged-style clone(CLONE_NEWUSER) works */
	char userns_blocker[256];      /* why not, with the fix, if known */
	int landlock_abi;              /* 0: none */
	bool seccomp;                  /* seccomp filters available */
	bool overlayfs;
	bool idmapped_mounts;          /* mount_setattr(MOUNT_ATTR_IDMAP) on a tmpfs works */
	bool new_mount_api;            /* open_tree/move_mount/mount_setattr */
	enum cgroup_mode cgroup_mode;
	char cgroup_v2_controllers[256];
	char cgroup_v1_controllers[256];
	char kernel_release[128];
};

/* Fill `caps`; never fails (unknown features are reported as missing). */
void host_caps_probe(struct host_caps *caps);

/* Shared by the probe and the report (host_report.c). */
bool host_cgroup_writable(const struct host_caps *caps);
bool host_in_initial_userns(void);
bool host_kernel_at_least(const char *release, int major, int minor);

/* One line naming the likely cause when creating a sandbox's namespaces
 * failed with `errnum`, ending with "(see `corral check`)". */
void host_explain_namespace_failure(int errnum, char *buf, size_t size);

#endif
