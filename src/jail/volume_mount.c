#include "jail/volume_mount.h"

#include "util/cleanup.h"
#include "util/error.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <linux/mount.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* The last sandbox's mount (hence its loop device and lock) goes away
 * shortly after that sandbox, not with it: wait that long for the lock. */
#define LOCK_WAIT_MS 3000
/* Another process may take the free loop device we were given first. */
#define LOOP_TRIES 16

static int lock_image(int fd, const char *label, corral_error *err)
{
	for (int waited = 0;; waited += 10) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK)
			return error_errno(err, "%s: lock", label);
		if (waited >= LOCK_WAIT_MS)
			return error_set(err, CORRAL_ERR_USAGE, 0,
			                 "%s: in use by another sandbox (a size-limited volume is mounted "
			                 "by one sandbox at a time)",
			                 label);
		struct timespec pause = {.tv_nsec = 10 * 1000 * 1000};
		nanosleep(&pause, NULL);
	}
}

/* A loop device backed by image_fd, open; its number in *n. */
static int attach_loop(int image_fd, bool readonly, int *n, const char *label, corral_error *err)
{
	_cleanup_close_ int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		return error_set(err, CORRAL_ERR_HOST, errno, "%s: open /dev/loop-control", label);
	for (int attempt = 0; attempt < LOOP_TRIES; attempt++) {
		*n = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (*n < 0)
			return error_errno(err, "%s: get a free loop device", label);
		char dev[32];
		snprintf(dev, sizeof dev, "/dev/loop%d", *n);
		int fd = open(dev, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
		if (fd < 0)
			return error_errno(err, "%s: open %s", label, dev);
		struct loop_config cfg = {.fd = (unsigned)image_fd};
		cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR | (readonly ? LO_FLAGS_READ_ONLY : 0);
		if (ioctl(fd, LOOP_CONFIGURE, &cfg) == 0)
			return fd;
		int e = errno;
		close(fd);
		if (e != EBUSY)
			return error_set(err, CORRAL_ERR_SETUP, e, "%s: configure %s", label, dev);
	}
	return error_set(err, CORRAL_ERR_SETUP, EBUSY, "%s: no free loop device", label);
}

int volume_mount_image(const char *image, bool readonly, const char *label, corral_error *err)
{
	_cleanup_close_ int image_fd =
		open(image, (readonly ? O_RDONLY : O_RDWR) | O_NOFOLLOW | O_CLOEXEC);
	if (image_fd < 0)
		return error_errno(err, "%s: open %s", label, image);
	if (lock_image(image_fd, label, err) < 0)
		return -1;
	int n = -1;
	/* Held until the mount exists: closing the last user of an
	 * autoclear loop device detaches it. */
	_cleanup_close_ int loop = attach_loop(image_fd, readonly, &n, label, err);
	if (loop < 0)
		return -1;
	char dev[32];
	snprintf(dev, sizeof dev, "/dev/loop%d", n);
	_cleanup_close_ int fs = (int)syscall(SYS_fsopen, "ext4", FSOPEN_CLOEXEC);
	if (fs < 0)
		return error_set(err, CORRAL_ERR_HOST, errno, "%s: fsopen ext4", label);
	if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "source", dev, 0) < 0 ||
	    (readonly && syscall(SYS_fsconfig, fs, FSCONFIG_SET_FLAG, "ro", NULL, 0) < 0) ||
	    syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return error_errno(err, "%s: mount %s", label, image);
	int mnt = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC,
	                       MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
	                               (readonly ? MOUNT_ATTR_RDONLY : 0));
	if (mnt < 0)
		return error_errno(err, "%s: fsmount %s", label, image);
	return mnt;
}
