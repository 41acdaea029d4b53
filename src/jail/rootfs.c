#include "jail/rootfs.h"

#include "util/error.h"
#include "util/fileutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/mount.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Where the new root is staged inside the private mount namespace. The host
 * directory underneath is merely hidden, never written. */
#define STAGING_DIR "/tmp"

static int make_mount_point(const struct mount_op *op, corral_error *err)
{
	char parent[PATH_MAX];
	size_t len = strlen(op->target);
	if (len >= sizeof parent)
		return error_set(err, CORRAL_ERR_SETUP, ENAMETOOLONG, "%s", op->label);
	memcpy(parent, op->target, len + 1);
	char *slash = strrchr(parent, '/');
	if (slash) {
		*slash = '\0';
		if (mkdir_parents(parent, 0755) < 0)
			return error_errno(err, "%s: create mount point %s", op->label, parent);
	}
	int rc = (op->flags & MOUNT_OP_F_FILE) ? ensure_file(op->target, 0644)
	                                       : (mkdir(op->target, 0755) < 0 && errno != EEXIST ? -1 : 0);
	if (rc < 0)
		return error_errno(err, "%s: create mount point /%s", op->label, op->target);
	return 0;
}

static int do_bind(const struct mount_op *op, corral_error *err)
{
	if (op->tree_fd < 0) /* an optional source that does not exist */
		return 0;
	if (make_mount_point(op, err) < 0)
		return -1;
	if (syscall(SYS_move_mount, op->tree_fd, "", AT_FDCWD, op->target,
	            MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return error_errno(err, "%s: move_mount to /%s", op->label, op->target);
	return 0;
}

static int do_tmpfs(const struct mount_op *op, corral_error *err)
{
	unsigned long flags = MS_NOSUID;
	if (!(op->flags & MOUNT_OP_F_DEVICES))
		flags |= MS_NODEV;
	if (op->flags & MOUNT_OP_F_NOEXEC)
		flags |= MS_NOEXEC;
	if (mkdir_parents(op->target, 0755) < 0)
		return error_errno(err, "%s: create mount point /%s", op->label, op->target);
	if (mount("tmpfs", op->target, "tmpfs", flags, op->data) < 0)
		return error_errno(err, "mount tmpfs on /%s", op->target);
	return 0;
}

static int set_readonly(const char *target, bool optional, corral_error *err)
{
	/* Bind onto itself so the attribute applies to this subtree only. */
	if (mount(target, target, NULL, MS_BIND | MS_REC, NULL) < 0) {
		if (optional && errno == ENOENT)
			return 0;
		return error_errno(err, "bind /%s", target);
	}
	struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
	                                      MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC};
	if (syscall(SYS_mount_setattr, AT_FDCWD, target, AT_RECURSIVE, &attr, sizeof attr) < 0)
		return error_errno(err, "make /%s read-only", target);
	return 0;
}

static int do_mask(const struct mount_op *op, corral_error *err)
{
	struct stat st;
	if (lstat(op->target, &st) < 0) {
		if (errno == ENOENT && (op->flags & MOUNT_OP_F_OPTIONAL))
			return 0;
		return error_errno(err, "mask /%s", op->target);
	}
	if (S_ISDIR(st.st_mode)) {
		if (mount("tmpfs", op->target, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
		          "size=0,mode=0555") < 0)
			return error_errno(err, "mask /%s", op->target);
	} else if (mount("dev/null", op->target, NULL, MS_BIND, NULL) < 0) {
		return error_errno(err, "mask /%s", op->target);
	}
	return 0;
}

/* A directory the sandbox owns on an image (/tmp, HOME): made with exactly
 * this mode and owner when the image has none, else left as the image (or
 * an earlier run of a persistent sandbox) made it. */
static int do_owned_dir(const struct mount_op *op, corral_error *err)
{
	if (mkdir(op->target, 0700) < 0) {
		if (errno == EEXIST)
			return 0;
		return error_errno(err, "mkdir /%s", op->target);
	}
	if (lchown(op->target, op->uid, op->gid) < 0 && errno != EINVAL)
		return error_errno(err, "chown /%s", op->target);
	if (chmod(op->target, op->mode) < 0)
		return error_errno(err, "chmod /%s", op->target);
	return 0;
}

static int run_op(const struct mount_op *op, corral_error *err)
{
	switch (op->kind) {
	case MOUNT_OP_OWNED_DIR:
		return do_owned_dir(op, err);
	case MOUNT_OP_MKDIR:
		if (mkdir_parents(op->target, op->mode) < 0)
			return error_errno(err, "mkdir /%s", op->target);
		return 0;
	case MOUNT_OP_SYMLINK:
		if (symlink(op->source, op->target) < 0 && errno != EEXIST)
			return error_errno(err, "symlink /%s", op->target);
		return 0;
	case MOUNT_OP_FILE:
		if (write_file(op->target, op->data, op->mode) < 0)
			return error_errno(err, "write /%s", op->target);
		return 0;
	case MOUNT_OP_TMPFS:
		return do_tmpfs(op, err);
	case MOUNT_OP_BIND:
		return do_bind(op, err);
	case MOUNT_OP_PROC:
		if (mount("proc", op->target, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
			return error_errno(err, "mount /proc");
		return 0;
	case MOUNT_OP_SYSFS:
		if (mount("sysfs", op->target, "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
		          NULL) < 0 &&
		    !(op->flags & MOUNT_OP_F_OPTIONAL))
			return error_errno(err, "mount /sys");
		return 0;
	case MOUNT_OP_DEVPTS:
		if (mount("devpts", op->target, "devpts", MS_NOSUID | MS_NOEXEC,
		          "newinstance,ptmxmode=0666,mode=0620") < 0)
			return error_errno(err, "mount devpts on /%s", op->target);
		return 0;
	case MOUNT_OP_READONLY:
		return set_readonly(op->target, op->flags & MOUNT_OP_F_OPTIONAL, err);
	case MOUNT_OP_MASK:
		return do_mask(op, err);
	}
	return error_set(err, CORRAL_ERR_INTERNAL, 0, "unknown mount operation %d", op->kind);
}

/* The root is an overlay of an image: pivot into it first, then run the
 * plan inside, with paths relative to the new root (the working directory)
 * and absolute symlinks resolving against it, so the image's symlinks
 * never lead to the host; every mount point the plan makes is in the upper
 * layer. The old root stays stacked over the new one until the plan is
 * done, because the kernel lets a user namespace mount proc and sysfs only
 * while a full instance of each is visible. The root stays writable: it is
 * the sandbox's own layer. */
static int rootfs_build_overlay(struct mount_plan *plan, corral_error *err)
{
	if (syscall(SYS_move_mount, plan->overlay.fd, "", AT_FDCWD, STAGING_DIR,
	            MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return error_errno(err, "move the overlay root to " STAGING_DIR);
	if (chdir(STAGING_DIR) < 0)
		return error_errno(err, "chdir " STAGING_DIR);
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return error_errno(err, "pivot_root");
	for (size_t i = 0; i < plan->n_ops; i++)
		if (run_op(&plan->ops[i], err) < 0)
			return -1;
	mount_plan_close_trees(plan);
	if (umount2(".", MNT_DETACH) < 0)
		return error_errno(err, "detach the host root");
	if (chdir("/") < 0)
		return error_errno(err, "chdir /");
	return 0;
}

int rootfs_build(struct mount_plan *plan, corral_error *err)
{
	/* Nothing done here may propagate back to the host. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return error_errno(err, "make / private");
	if (plan->overlay.on)
		return rootfs_build_overlay(plan, err);
	if (mount("tmpfs", STAGING_DIR, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m") < 0)
		return error_errno(err, "mount the new root on " STAGING_DIR);
	if (chdir(STAGING_DIR) < 0)
		return error_errno(err, "chdir " STAGING_DIR);
	for (size_t i = 0; i < plan->n_ops; i++)
		if (run_op(&plan->ops[i], err) < 0)
			return -1;
	mount_plan_close_trees(plan);

	/* pivot_root(".", ".") stacks the old root on the new one; detaching
	 * it leaves no path back to the host's tree. */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return error_errno(err, "pivot_root");
	if (umount2(".", MNT_DETACH) < 0)
		return error_errno(err, "detach the host root");
	if (chdir("/") < 0)
		return error_errno(err, "chdir /");
	struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};
	if (syscall(SYS_mount_setattr, AT_FDCWD, "/", 0, &attr, sizeof attr) < 0)
		return error_errno(err, "make / read-only");
	return 0;
}
