/*
 * Turning a built mount plan into detached mount trees (open_tree, the new
 * mount API, idmapped mounts, the overlay root), before the sandbox's mount
 * namespace is entered. Separate from mount_plan.c, which only decides what
 * goes where and makes no syscalls.
 */
#include "jail/mount_plan.h"

#include "jail/idmap.h"
#include "jail/volume_mount.h"
#include "util/error.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/fsuid.h>
#include <sys/syscall.h>
#include <linux/capability.h>
#include <unistd.h>

static int set_tree_attrs(struct mount_op *op, int fd, corral_error *err);

static int open_tree_for(struct mount_op *op, corral_error *err)
{
	if (op->flags & MOUNT_OP_F_FSIMAGE) {
		int fd = volume_mount_image(op->source, op->flags & MOUNT_OP_F_READONLY, op->label, err);
		if (fd < 0)
			return -1;
		return set_tree_attrs(op, fd, err);
	}
	int fd = (int)syscall(SYS_open_tree, AT_FDCWD, op->source,
	                      OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
	if (fd < 0) {
		if (errno == ENOENT && (op->flags & MOUNT_OP_F_OPTIONAL))
			return 0;
		return error_errno(err, "%s: open_tree", op->label);
	}
	return set_tree_attrs(op, fd, err);
}

/* nosuid, nodev unless asked, ro, noexec, the idmap; then the tree is
 * op's (fd is closed on failure). */
static int set_tree_attrs(struct mount_op *op, int fd, corral_error *err)
{
	struct mount_attr attr = {.attr_set = MOUNT_ATTR_NOSUID};
	if (!(op->flags & MOUNT_OP_F_DEVICES))
		attr.attr_set |= MOUNT_ATTR_NODEV;
	if (op->flags & MOUNT_OP_F_READONLY)
		attr.attr_set |= MOUNT_ATTR_RDONLY;
	if (op->flags & MOUNT_OP_F_NOEXEC)
		attr.attr_set |= MOUNT_ATTR_NOEXEC;
	if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0) {
		int saved = errno;
		close(fd);
		return error_set(err, CORRAL_ERR_SETUP, saved, "%s: mount_setattr", op->label);
	}
	if (op->idmap_userns_fd >= 0) {
		struct mount_attr idmap = {.attr_set = MOUNT_ATTR_IDMAP,
		                           .userns_fd = (uint64_t)op->idmap_userns_fd};
		/* A file system without idmap support keeps plain ownership. */
		if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH, &idmap, sizeof idmap) < 0 &&
		    errno != EINVAL && errno != EPERM) {
			int saved = errno;
			close(fd);
			return error_set(err, CORRAL_ERR_SETUP, saved, "%s: idmap", op->label);
		}
	}
	op->tree_fd = fd;
	return 0;
}

/* A detached clone of `path` (relative to dirfd), idmapped when the plan
 * says so. */
static int overlay_layer_tree(const struct overlay_root *o, int dirfd, const char *path,
                              corral_error *err)
{
	int fd = (int)syscall(SYS_open_tree, dirfd, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (fd < 0)
		return error_errno(err, "overlay layer %s: open_tree", path);
	if (o->idmap_userns_fd >= 0) {
		struct mount_attr idmap = {.attr_set = MOUNT_ATTR_IDMAP,
		                           .userns_fd = (uint64_t)o->idmap_userns_fd};
		if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH, &idmap, sizeof idmap) < 0) {
			int saved = errno;
			close(fd);
			return error_set(err, CORRAL_ERR_HOST, saved, "overlay layer %s: idmap", path);
		}
	}
	return fd;
}

static int fsconfig_string(int fs, const char *key, const char *value, corral_error *err)
{
	if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, key, value, 0) < 0)
		return error_errno(err, "overlay option %s=%s", key, value);
	return 0;
}

static int fsconfig_fd(int fs, const char *key, int fd, const char *what, corral_error *err)
{
	if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_FD, key, NULL, fd) < 0)
		return error_errno(err, "overlay %s %s", key, what);
	return 0;
}

/* The upper layer's mount: the state dir (idmapped like the layers), or a
 * fresh tmpfs holding upper/ and work/. */
static int overlay_upper_tree(const struct overlay_root *o, corral_error *err)
{
	if (o->state_dir)
		return overlay_layer_tree(o, AT_FDCWD, o->state_dir, err);
	int fs = (int)syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC);
	if (fs < 0)
		return error_errno(err, "the overlay's upper tmpfs: fsopen");
	int mnt = -1;
	if ((o->tmpfs_size && syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "size", o->tmpfs_size,
	                              0) < 0) ||
	    syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "mode", "0755", 0) < 0 ||
	    syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0 ||
	    (mnt = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, 0)) < 0) {
		error_errno(err, "mount the overlay's upper tmpfs");
		close(fs);
		return -1;
	}
	close(fs);
	if (mkdirat(mnt, "upper", 0755) < 0 || mkdirat(mnt, "work", 0755) < 0) {
		error_errno(err, "the overlay's upper tmpfs: mkdir");
		close(mnt);
		return -1;
	}
	if (o->idmap_userns_fd >= 0) {
		struct mount_attr idmap = {.attr_set = MOUNT_ATTR_IDMAP,
		                           .userns_fd = (uint64_t)o->idmap_userns_fd};
		if (syscall(SYS_mount_setattr, mnt, "", AT_EMPTY_PATH, &idmap, sizeof idmap) < 0) {
			error_set(err, CORRAL_ERR_HOST, errno, "the overlay's upper tmpfs: idmap");
			close(mnt);
			return -1;
		}
	}
	return mnt;
}

/* Root mode: overlayfs keeps the credentials of whoever creates it and does
 * its own work (copy-up, whiteouts, its work dir) with them. Take the
 * sandbox root's host ids for that, keeping every capability, so that
 * through the idmapped upper its files land as id 0 on disk. Per thread:
 * the raw syscalls change the calling thread's credentials only. */
static int overlay_creds(uid_t uid, gid_t gid, corral_error *err)
{
	syscall(SYS_setfsgid, gid);
	syscall(SYS_setfsuid, uid);
	if ((uid_t)syscall(SYS_setfsuid, (uid_t)-1) != uid)
		return error_set(err, CORRAL_ERR_SETUP, EPERM, "overlay: setfsuid %u", (unsigned)uid);
	struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2];
	if (syscall(SYS_capget, &header, data) < 0)
		return error_errno(err, "overlay: capget");
	/* A non-zero fsuid clears the file capabilities from the effective
	 * set; overlayfs needs them (chown on copy-up, trusted.* xattrs). */
	data[0].effective = data[0].permitted;
	data[1].effective = data[1].permitted;
	if (syscall(SYS_capset, &header, data) < 0)
		return error_errno(err, "overlay: capset");
	return 0;
}

static int overlay_mount(struct overlay_root *o, corral_error *err)
{
	int fs = -1, upper = -1, upper_dir = -1, work_dir = -1, rc = -1;
	bool creds = false;
	int layer_fds[OVERLAY_LAYERS_MAX];
	size_t n_fds = 0;
	for (size_t i = 0; i < o->n_layers; i++) {
		layer_fds[i] = overlay_layer_tree(o, AT_FDCWD, o->layers[i], err);
		if (layer_fds[i] < 0)
			goto out;
		n_fds++;
	}
	upper = overlay_upper_tree(o, err);
	if (upper < 0)
		goto out;
	upper_dir = openat(upper, "upper", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	work_dir = openat(upper, "work", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (upper_dir < 0 || work_dir < 0) {
		error_errno(err, "overlay: %s/upper and work", o->state_dir ? o->state_dir : "tmpfs");
		goto out;
	}
	o->upper_fd = openat(upper, "upper", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (o->upper_fd < 0) {
		error_errno(err, "overlay: open %s/upper", o->state_dir ? o->state_dir : "tmpfs");
		goto out;
	}
	o->upper_id_shift = o->idmap_userns_fd >= 0 ? o->as_uid : 0;
	fs = (int)syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC);
	if (fs < 0) {
		error_set(err, CORRAL_ERR_HOST, errno, "overlay: fsopen: %s (is overlayfs available?)",
		          strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < n_fds; i++)
		if (fsconfig_fd(fs, "lowerdir+", layer_fds[i], o->layers[i], err) < 0)
			goto out;
	/* Snapshots copy the upper as it is (docs/store.md): no metacopy
	 * (data-less upper files), no redirects (a renamed lower directory
	 * is copied up whole; nofollow, as userxattr requires, since no layer
	 * of the store holds one), no inode index or xino bits to carry. */
	if (fsconfig_fd(fs, "upperdir", upper_dir, "upper", err) < 0 ||
	    fsconfig_fd(fs, "workdir", work_dir, "work", err) < 0 ||
	    fsconfig_string(fs, "metacopy", "off", err) < 0 ||
	    fsconfig_string(fs, "redirect_dir", "nofollow", err) < 0 ||
	    fsconfig_string(fs, "index", "off", err) < 0 || fsconfig_string(fs, "xino", "off", err) < 0)
		goto out;
	if (o->userxattr && syscall(SYS_fsconfig, fs, FSCONFIG_SET_FLAG, "userxattr", NULL, 0) < 0) {
		error_errno(err, "overlay option userxattr");
		goto out;
	}
	if (o->idmap_userns_fd >= 0) {
		creds = true;
		if (overlay_creds(o->as_uid, o->as_gid, err) < 0)
			goto out;
	}
	if (syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
		error_errno(err, "mount the overlay root");
		goto out;
	}
	o->fd = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
	if (o->fd < 0) {
		error_errno(err, "mount the overlay root: fsmount");
		goto out;
	}
	rc = 0;
out:
	if (creds) {
		/* Back to root: a zero fsuid restores the file capabilities. */
		syscall(SYS_setfsuid, 0);
		syscall(SYS_setfsgid, 0);
	}
	for (size_t i = 0; i < n_fds; i++)
		close(layer_fds[i]);
	if (fs >= 0)
		close(fs);
	if (upper >= 0)
		close(upper);
	if (upper_dir >= 0)
		close(upper_dir);
	if (work_dir >= 0)
		close(work_dir);
	return rc;
}

int mount_plan_open_trees(struct mount_plan *plan, corral_error *err)
{
	if (plan->overlay.on && plan->overlay.fd < 0 && overlay_mount(&plan->overlay, err) < 0)
		return -1;
	for (size_t i = 0; i < plan->n_ops; i++) {
		struct mount_op *op = &plan->ops[i];
		if (op->kind != MOUNT_OP_BIND || op->tree_fd >= 0)
			continue;
		if (open_tree_for(op, err) < 0) {
			mount_plan_close_trees(plan);
			return -1;
		}
	}
	return 0;
}

void mount_plan_close_trees(struct mount_plan *plan)
{
	/* A zeroed plan has no overlay (and fd 0 is not its). */
	if (plan->overlay.on && plan->overlay.fd >= 0) {
		close(plan->overlay.fd);
		plan->overlay.fd = -1;
	}
	if (plan->overlay.on && plan->overlay.idmap_userns_fd >= 0) {
		close(plan->overlay.idmap_userns_fd);
		plan->overlay.idmap_userns_fd = -1;
	}
	for (size_t i = 0; i < plan->n_ops; i++) {
		if (plan->ops[i].tree_fd >= 0) {
			close(plan->ops[i].tree_fd);
			plan->ops[i].tree_fd = -1;
		}
		if (plan->ops[i].idmap_userns_fd >= 0) {
			close(plan->ops[i].idmap_userns_fd);
			plan->ops[i].idmap_userns_fd = -1;
		}
	}
}
