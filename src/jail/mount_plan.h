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
	MOUNT_OP_OWNED_DIR, /* directory at target (mode, uid, gid) unless one exists */
};

enum mount_op_flags {
	MOUNT_OP_F_READONLY = 1 << 0,
	MOUNT_OP_F_OPTIONAL = 1 << 1,  /* a missing source or target is skipped */
	MOUNT_OP_F_DEVICES = 1 << 2,   /* keep device nodes usable (no nodev) */
	MOUNT_OP_F_IDMAP = 1 << 3,     /* root mode: map the source's owner to the sandbox user */
	MOUNT_OP_F_FILE = 1 << 4,      /* the source is not a directory */
	MOUNT_OP_F_NOEXEC = 1 << 5,
	MOUNT_OP_F_FSIMAGE = 1 << 6,   /* the source is an ext4 image to mount (volume_mount.h) */
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
	uid_t uid;          /* MOUNT_OP_OWNED_DIR */
	gid_t gid;
};

/* The root as an overlay of store layers (an image or a snapshot) with a
 * writable upper layer, mounted detached by mount_plan_open_trees and
 * pivoted into by rootfs_build. */
#define OVERLAY_LAYERS_MAX 128
struct overlay_root {
	bool on;
	const char *layers[OVERLAY_LAYERS_MAX]; /* lowerdir order: topmost first */
	size_t n_layers;
	const char *state_dir;  /* persistent: DIR/upper and DIR/work; NULL: a tmpfs */
	const char *tmpfs_size; /* "size=N" of the tmpfs upper, or NULL: no cap */
	/* Root mode: the layers and the upper are idmapped from their on-disk
	 * ids 0..65535 to the sandbox's host range (idmap_userns_fd), and
	 * overlayfs does its own work (copy-up, whiteouts, its work dir) with
	 * the sandbox root's host ids as_uid/as_gid, so that on disk it all
	 * reads as ids 0..65535 again. Rootless: -1, plain ids, userxattr. */
	int idmap_userns_fd;
	uid_t as_uid;
	gid_t as_gid;
	bool userxattr;
	int fd;                 /* the overlay, detached, once mounted; else -1 */
	/* The upper directory, open for reading, for snapshots of the running
	 * sandbox (corral_sandbox_snapshot): seen through the idmapped mount
	 * in root mode, so its ids are on-disk ids + upper_id_shift. Kept by
	 * mount_plan_close_trees (closed by mount_plan_free); -1 if none. */
	int upper_fd;
	uint32_t upper_id_shift;
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
	struct overlay_root overlay;
};

struct jail_ids;
struct image_root;

/* Build the plan for `policy`. `ids` gives the inside uid/gid; every
 * writable tmpfs is capped at `tmpfs_bytes` (LIMIT_UNLIMITED: no cap).
 * `image` (NULL: none) is what the policy's store options resolved to. */
int mount_plan_build(struct mount_plan *plan, const corral_policy *policy,
                     const struct jail_ids *ids, uint64_t tmpfs_bytes,
                     const struct image_root *image, corral_error *err);

/* Open every bind source as a detached, attribute-set mount tree, and mount
 * the overlay root if there is one. In root mode the supervisor calls this
 * before cloning (so host permissions do not matter, and overlayfs reads
 * the store's trusted.overlay.* markers); rootless, the setup child calls it
 * before hiding the host. Allocation-free. */
int mount_plan_open_trees(struct mount_plan *plan, corral_error *err);

/* TLS interception: bind `bundle` (a host file: the system bundle plus
 * corral's CA) over the system bundle, where the host has one, and write
 * corral's CA alone (`ca_pem`, PEM text) to `ca_path`. */
int mount_plan_add_ca(struct mount_plan *plan, const char *bundle, const char *ca_pem,
                      const char *ca_path, corral_error *err);

void mount_plan_close_trees(struct mount_plan *plan);
void mount_plan_free(struct mount_plan *plan);

#endif
