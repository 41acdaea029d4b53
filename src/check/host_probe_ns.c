/*
 * Probes of user namespaces, the new mount API and idmapped mounts, each
 * tried in a forked child, and the explanation of what blocks them. Kept out
 * of host_check.c because these are the long, fork-based probes; the rest
 * are one syscall or one file each.
 */
#include "check/host_check_internal.h"

#include "corral_config.h"
#include "util/fileutil.h"
#include "util/strings.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* /proc files: no O_CREAT or O_TRUNC, one write. */
static int write_proc_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t len = strlen(text);
	ssize_t n = write(fd, text, len);
	int e = errno;
	close(fd);
	if (n != (ssize_t)len) {
		errno = n < 0 ? e : EIO;
		return -1;
	}
	return 0;
}

static void reap(pid_t pid)
{
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

/* ---- user namespaces and the new mount API -------------------------------- */

static const char *stage_name(int stage)
{
	switch (stage) {
	case STAGE_UNSHARE_USER:
		return "unshare(CLONE_NEWUSER)";
	case STAGE_ID_MAPS:
		return "writing uid_map/gid_map";
	case STAGE_UNSHARE_MNT:
		return "unshare(CLONE_NEWNS) in the user namespace";
	case STAGE_MOUNT_PRIVATE:
		return "mount inside the user namespace";
	default:
		return "user namespace setup";
	}
}

/* Try to open_tree(OPEN_TREE_CLONE) "/" and mount_setattr the clone.
 * Returns the errno of the first failure in *tree_err / *setattr_err.
 * Recursive: inside a user namespace the mounts below "/" are locked to it,
 * and a non-recursive clone of it fails with EINVAL. */
void host_try_new_mount_api(int *tree_err, int *setattr_err)
{
	*setattr_err = -1;
	int fd = (int)syscall(SYS_open_tree, AT_FDCWD, "/",
	                      OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
	if (fd < 0) {
		*tree_err = errno;
		return;
	}
	*tree_err = 0;
	struct mount_attr attr = {.attr_set = MOUNT_ATTR_NOSUID};
	/* The clone is detached and private to us: changing it touches nothing. */
	if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0)
		*setattr_err = errno;
	else
		*setattr_err = 0;
	close(fd);
}

/* In a forked child: become root of a new user namespace as an unprivileged
 * sandbox would (own ids mapped, setgroups denied), then a mount namespace,
 * then try the new mount API there. The report goes back through a pipe. */
void host_probe_userns(struct userns_report *report)
{
	memset(report, 0, sizeof *report);
	report->stage = STAGE_UNSHARE_USER;
	report->err = EIO;
	report->open_tree_err = -1;
	report->setattr_err = -1;

	char uid_map[64], gid_map[64];
	snprintf(uid_map, sizeof uid_map, "0 %u 1\n", (unsigned)geteuid());
	snprintf(gid_map, sizeof gid_map, "0 %u 1\n", (unsigned)getegid());

	int fds[2];
	if (pipe2(fds, O_CLOEXEC) < 0) {
		report->err = errno;
		return;
	}
	pid_t pid = fork();
	if (pid < 0) {
		report->err = errno;
		close(fds[0]);
		close(fds[1]);
		return;
	}
	if (pid == 0) {
		close(fds[0]);
		struct userns_report r = {.open_tree_err = -1, .setattr_err = -1};
		if (unshare(CLONE_NEWUSER) < 0) {
			r.stage = STAGE_UNSHARE_USER;
			r.err = errno;
		} else if ((write_proc_file("/proc/self/setgroups", "deny") < 0 && errno != ENOENT) ||
		           write_proc_file("/proc/self/uid_map", uid_map) < 0 ||
		           write_proc_file("/proc/self/gid_map", gid_map) < 0) {
			r.stage = STAGE_ID_MAPS;
			r.err = errno;
		} else if (unshare(CLONE_NEWNS) < 0) {
			r.stage = STAGE_UNSHARE_MNT;
			r.err = errno;
		} else if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
			r.stage = STAGE_MOUNT_PRIVATE;
			r.err = errno;
		} else {
			r.stage = STAGE_OK;
			host_try_new_mount_api(&r.open_tree_err, &r.setattr_err);
		}
		_exit(write_all(fds[1], &r, sizeof r) == 0 ? 0 : 1);
	}
	close(fds[1]);
	struct userns_report r;
	if (read_full(fds[0], &r, sizeof r) == (ssize_t)sizeof r)
		*report = r;
	close(fds[0]);
	reap(pid);
}

/* Name the cause of a failed user namespace probe, with its fix. */
void host_describe_userns_blocker(const struct userns_report *r, bool is_root, char *buf,
                                  size_t size)
{
	int e = r->err;
	long max_userns = host_read_long_file("/proc/sys/user/max_user_namespaces");
	long apparmor = host_read_long_file("/proc/sys/kernel/apparmor_restrict_unprivileged_userns");
	long debian_clone = host_read_long_file("/proc/sys/kernel/unprivileged_userns_clone");
	char container[64] = "";
	bool contained = host_in_container(container, sizeof container);
	int seccomp_mode = host_current_seccomp_mode();

	if (max_userns == 0) {
		snprintf(buf, size,
		         "user namespaces are disabled (user.max_user_namespaces=0); enable with: "
		         "sysctl -w user.max_user_namespaces=" USERNS_MAX_SUGGESTED);
	} else if (r->stage == STAGE_UNSHARE_USER && (e == ENOSPC || e == EUSERS)) {
		snprintf(buf, size,
		         "the user namespace limit is reached (user.max_user_namespaces=%ld); raise "
		         "it with: sysctl -w user.max_user_namespaces=" USERNS_MAX_SUGGESTED,
		         max_userns);
	} else if (r->stage == STAGE_UNSHARE_USER && e == EINVAL) {
		snprintf(buf, size,
		         "the kernel has no user namespaces (built without CONFIG_USER_NS); use a "
		         "kernel built with it");
	} else if (!is_root && debian_clone == 0 && (e == EPERM || e == EACCES)) {
		snprintf(buf, size,
		         "unprivileged user namespaces are disabled "
		         "(kernel.unprivileged_userns_clone=0); enable with: "
		         "sysctl -w kernel.unprivileged_userns_clone=1");
	} else if (!is_root && apparmor == 1 && (e == EPERM || e == EACCES)) {
		snprintf(buf, size,
		         "AppArmor restricts unprivileged user namespaces "
		         "(kernel.apparmor_restrict_unprivileged_userns=1); fix: sysctl -w "
		         "kernel.apparmor_restrict_unprivileged_userns=0, or an AppArmor profile "
		         "granting corral \"userns,\"");
	} else if ((e == EPERM || e == ENOSYS || e == EACCES) && seccomp_mode == 2) {
		if (contained)
			string_set(buf, size,
			    "%s's seccomp profile blocks %s (%s); run the container with --security-opt "
			    "seccomp=unconfined or a profile allowing unshare/clone of namespaces",
			    container, stage_name(r->stage), strerror(e));
		else
			string_set(buf, size,
			    "a seccomp filter blocks %s (%s); in a container run it with "
			    "--security-opt seccomp=unconfined, under systemd drop RestrictNamespaces=",
			    stage_name(r->stage), strerror(e));
	} else if ((e == EPERM || e == EACCES) && contained) {
		string_set(buf, size,
		    "%s refuses %s (%s): its AppArmor/SELinux profile or dropped capabilities; run "
		    "the container with --security-opt apparmor=unconfined, or --privileged",
		    container, stage_name(r->stage), strerror(e));
	} else {
		string_set(buf, size,
		    "%s fails (%s), probably a security module (AppArmor, SELinux), a seccomp filter "
		    "or a chroot; look for the denial in the kernel log (dmesg)",
		    stage_name(r->stage), strerror(e));
	}
}

/* ---- idmapped mounts (root only) ------------------------------------------ */

/* A detached tmpfs, a user namespace held by a waiting child, then
 * mount_setattr(MOUNT_ATTR_IDMAP). Everything is torn down afterwards. */
bool host_probe_idmapped_mounts(void)
{
	bool ok = false;
	int fsfd = -1, mntfd = -1, nsfd = -1;
	int ready[2] = {-1, -1}, hold[2] = {-1, -1};
	pid_t pid = -1;

	fsfd = (int)syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC);
	if (fsfd < 0)
		goto out;
	if (syscall(SYS_fsconfig, fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		goto out;
	mntfd = (int)syscall(SYS_fsmount, fsfd, FSMOUNT_CLOEXEC, 0);
	if (mntfd < 0)
		goto out;

	if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(hold, O_CLOEXEC) < 0)
		goto out;
	pid = fork();
	if (pid < 0)
		goto out;
	if (pid == 0) {
		close(ready[0]);
		close(hold[1]);
		char status = unshare(CLONE_NEWUSER) == 0 ? 1 : 0;
		if (write(ready[1], &status, 1) != 1)
			_exit(1);
		char c;
		/* Wait until the parent is done (it closes or kills us). */
		while (read(hold[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(ready[1]);
	ready[1] = -1;
	close(hold[0]);
	hold[0] = -1;
	char status = 0;
	if (read_full(ready[0], &status, 1) != 1 || status != 1)
		goto out;

	char path[64];
	snprintf(path, sizeof path, "/proc/%d/uid_map", (int)pid);
	if (write_proc_file(path, "0 1879048192 65536\n") < 0)
		goto out;
	snprintf(path, sizeof path, "/proc/%d/gid_map", (int)pid);
	if (write_proc_file(path, "0 1879048192 65536\n") < 0)
		goto out;
	snprintf(path, sizeof path, "/proc/%d/ns/user", (int)pid);
	nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0)
		goto out;
	struct mount_attr attr = {
		.attr_set = MOUNT_ATTR_IDMAP,
		.userns_fd = (uint64_t)nsfd,
	};
	ok = syscall(SYS_mount_setattr, mntfd, "", AT_EMPTY_PATH, &attr, sizeof attr) == 0;

out:
	if (pid > 0) {
		kill(pid, SIGKILL);
		reap(pid);
	}
	int *fds[] = {&fsfd, &mntfd, &nsfd, &ready[0], &ready[1], &hold[0], &hold[1]};
	for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
		if (*fds[i] >= 0)
			close(*fds[i]);
	return ok;
}
