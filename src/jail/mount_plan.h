/*
 * The sandbox's file system as data: the policy becomes a list of mount
 * operations (as bubblewrap's setup ops), built and validated in the
 * supervisor, then executed by the setup child without allocating.
 *
 * Targets are relative to the new root ("usr", "etc/passwd"); the child
 * executes the plan with its working directory at the staging root.
 */
#ifndef CORRAL_JAIL_MOUNT_PLAN_H
#define CORRAL_JAIL_MOUNT_PLAN_H

#include "corral.h"
#include "landlock/landlock_fs.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum mount_op_kind {
	MOUNT_OP_MKDIR,     /* directory at target (mode) */
	MOUNT_OP_SYMLINK,   /* target -> source */
	MOUNT_OP_FILE,      /* regular file at target holding data */
	MOUNT_OP_TMPFS,     /* tmpfs at target with options data */
	MOUNT_OP_BIND,      /* host source (opened as a detached tree) at target */
	MOUNT_OP_PROC,      /* fresh proc at target */
	MOUNT_OP_SYSFS,     /* fresh read-only sysfs at target (optional) */
	MOUNT_OP_DEVPTS,    /* private devpts instance at target */
	MOUNT_OP_READONLY,  /* make the mount at target read-only, recursively */
	MOUNT_OP_MASK,      /* hide target: /dev/null over a file, empty ro tmpfs over a dir */
};

enum mount_op_flags {
	MOUNT_OP_F_READONLY = 1 << 0,
	MOUNT_OP_F_OPTIONAL = 1 << 1,  /* a missing source or target is skipped */
	MOUNT_OP_F_DEVICES = 1 << 2,   /* keep device nodes usable (no nodev) */
	MOUNT_OP_F_IDMAP = 1 << 3,     /* root mode: map the source's owner to the sandbox user */
	MOUNT_OP_F_FILE = 1 << 4,      /* the source is not a directory */
	MOUNT_OP_F_NOEXEC = 1 << 5,
};

struct mount_op {
	enum mount_op_kind kind;
	unsigned flags;
	const char *source;
	const char *target;
	const char *data;
	mode_t mode;
	const char *label;  /* how errors name this op, e.g. "--bind /srv" */
	int tree_fd;        /* MOUNT_OP_BIND: the detached tree once opened, else -1 */
	int idmap_userns_fd; /* MOUNT_OP_F_IDMAP: user namespace carrying the map, else -1 */
};

struct mount_plan {
	struct mount_op *ops;
	size_t n_ops;
	size_t cap_ops;
	char **strings;      /* storage owned by the plan */
	size_t n_strings;
	struct landlock_grant grants[64];
	size_t n_grants;
	bool failed_alloc;
	uint64_t tmpfs_bytes;
};

struct jail_ids;

/* Build the plan for `policy`. `ids` gives the inside uid/gid; every
 * writable tmpfs is capped at `tmpfs_bytes` (LIMIT_UNLIMITED: no cap). */
int mount_plan_build(struct mount_plan *plan, const corral_policy *policy,
                     const struct jail_ids *ids, uint64_t tmpfs_bytes, corral_error *err);

/* Open every bind source as a detached, attribute-set mount tree. In root
 * mode the supervisor calls this before cloning (so host permissions do not
 * matter); rootless, the setup child calls it before hiding the host. */
int mount_plan_open_trees(struct mount_plan *plan, corral_error *err);

/* TLS interception: bind `bundle` (a host file: the system bundle plus
 * corral's CA) over the system bundle, where the host has one, and write
 * corral's CA alone (`ca_pem`, PEM text) to `ca_path`. */
int mount_plan_add_ca(struct mount_plan *plan, const char *bundle, const char *ca_pem,
                      const char *ca_path, corral_error *err);

void mount_plan_close_trees(struct mount_plan *plan);
void mount_plan_free(struct mount_plan *plan);

#endif
