/* Regaining namespaces and mounts.
 *
 *   esc_ns unshare_user
 *   esc_ns unshare_mount
 *   esc_ns clone_newuser          raw clone(CLONE_NEWUSER)
 *   esc_ns clone_newuser_high     the same with garbage in the upper 32 bits
 *   esc_ns clone3_newuser         clone3 with CLONE_NEWUSER
 *   esc_ns setns PID|all          join every /proc/PID/ns entry (and via a pidfd)
 *   esc_ns mount_tmpfs DIR        mount a tmpfs (also with fsopen/fsmount)
 *   esc_ns pivot_root DIR
 *   esc_ns chroot DIR
 *
 * Every attempt runs in a forked child, so whatever succeeds stays there.
 * Host safety: mount and pivot_root are only attempted after the child
 * entered a private mount namespace; if that failed and the child is uid 0
 * of the initial user namespace (real host root), it stops instead of
 * touching the host's mount table. Inside the sandbox the direct attempts
 * still run (uid 0 there is never host root). */
#include "esc_common.h"

#include <linux/sched.h>
#include <sched.h>
#include <sys/mount.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

static int child_unshare_user(void *a)
{
	(void)a;
	if (unshare(CLONE_NEWUSER) == 0) {
		printf("NOTE: ESCAPE-STEP unshare(CLONE_NEWUSER) succeeded\n");
		return 0;
	}
	note("unshare(CLONE_NEWUSER): %s", errname(errno));
	return 1;
}

/* Enter a private mount namespace: directly, or through a new user
 * namespace. Returns 1 if we are in a fresh mount namespace. */
static int private_mount_ns(void)
{
	if (unshare(CLONE_NEWNS) == 0) {
		note("unshare(CLONE_NEWNS) succeeded");
		return 1;
	}
	note("unshare(CLONE_NEWNS): %s", errname(errno));
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS) == 0) {
		note("unshare(CLONE_NEWUSER|CLONE_NEWNS) succeeded");
		return 1;
	}
	note("unshare(CLONE_NEWUSER|CLONE_NEWNS): %s", errname(errno));
	return 0;
}

static int child_unshare_mount(void *a)
{
	(void)a;
	if (private_mount_ns()) {
		printf("NOTE: ESCAPE-STEP a new mount namespace was created\n");
		return 0;
	}
	return 1;
}

static int grandchild(void *a)
{
	(void)a;
	_exit(0);
}

static int try_clone_flags(const char *what, unsigned long flags)
{
	long pid = syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
	if (pid == 0)
		_exit(0);
	if (pid < 0) {
		note("%s: %s", what, errname(errno));
		return 1;
	}
	int st;
	waitpid((pid_t)pid, &st, 0);
	printf("NOTE: ESCAPE-STEP %s created a child in a new user namespace (%s)\n", what,
	       describe_status(st));
	return 0;
}

static int child_clone_newuser(void *a)
{
	(void)a;
	return try_clone_flags("clone(CLONE_NEWUSER)", CLONE_NEWUSER);
}

static int child_clone_newuser_high(void *a)
{
	(void)a;
	/* The kernel reads only the low 32 bits of the flags. */
	return try_clone_flags("clone(0xffffffff00000000|CLONE_NEWUSER)",
	                       0xffffffff00000000UL | CLONE_NEWUSER);
}

static int child_clone3(void *a)
{
	(void)a;
	struct clone_args ca;
	memset(&ca, 0, sizeof ca);
	ca.flags = CLONE_NEWUSER;
	ca.exit_signal = SIGCHLD;
	long pid = syscall(SYS_clone3, &ca, sizeof ca);
	if (pid == 0)
		_exit(0);
	if (pid < 0) {
		note("clone3(CLONE_NEWUSER): %s", errname(errno));
		return 1;
	}
	int st;
	waitpid((pid_t)pid, &st, 0);
	printf("NOTE: ESCAPE-STEP clone3(CLONE_NEWUSER) created a child (%s)\n", describe_status(st));
	return 0;
}

static const char *const ns_names[] = {"mnt", "uts", "ipc", "net", "pid", "cgroup", "user", "time"};

static int setns_pid(pid_t pid)
{
	int hits = 0;
	for (size_t i = 0; i < sizeof ns_names / sizeof ns_names[0]; i++) {
		char path[64];
		snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)pid, ns_names[i]);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			note("open %s: %s", path, errname(errno));
			continue;
		}
		if (setns(fd, 0) == 0) {
			printf("NOTE: ESCAPE-STEP setns(%s) succeeded\n", path);
			hits++;
		} else {
			note("setns(%s): %s", path, errname(errno));
		}
		close(fd);
	}
	long pidfd = syscall(SYS_pidfd_open, pid, 0);
	if (pidfd >= 0) {
		/* Without the user namespace: joining one's own user namespace
		 * is EINVAL and would fail the whole call. */
		int flags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET;
		if (setns((int)pidfd, flags) == 0) {
			printf("NOTE: ESCAPE-STEP setns(pidfd of %d, mnt|uts|ipc|net) succeeded\n", (int)pid);
			hits++;
		} else {
			note("setns(pidfd of %d): %s", (int)pid, errname(errno));
		}
		close((int)pidfd);
	} else {
		note("pidfd_open(%d): %s", (int)pid, errname(errno));
	}
	return hits;
}

static const char *setns_target;

static int child_setns(void *a)
{
	(void)a;
	int hits = 0;
	if (!strcmp(setns_target, "all")) {
		pid_t pids[256];
		int n = visible_pids(pids, 256);
		for (int i = 0; i < n; i++)
			hits += setns_pid(pids[i]);
	} else {
		hits += setns_pid((pid_t)atoi(setns_target));
	}
	return hits ? 0 : 1;
}

static const char *dir_arg;

static int child_mount_tmpfs(void *a)
{
	(void)a;
	int priv = private_mount_ns();
	if (!priv && is_host_root()) {
		note("no private mount namespace as host root: not touching the host's mounts");
		return 1;
	}
	int rc = 1;
	if (mount("esc-tmpfs", dir_arg, "tmpfs", 0, "size=64k") == 0) {
		printf("NOTE: ESCAPE-STEP mount(tmpfs) on %s succeeded%s\n", dir_arg,
		       priv ? " (in a new mount namespace)" : "");
		umount2(dir_arg, MNT_DETACH);
		rc = 0;
	} else {
		note("mount(tmpfs, %s): %s", dir_arg, errname(errno));
	}
	long fs = syscall(SYS_fsopen, "tmpfs", 0);
	if (fs >= 0) {
		if (syscall(SYS_fsconfig, fs, 6 /* FSCONFIG_CMD_CREATE */, NULL, NULL, 0) == 0) {
			long m = syscall(SYS_fsmount, fs, 0, 0);
			if (m >= 0) {
				printf("NOTE: ESCAPE-STEP fsopen/fsmount created a tmpfs mount\n");
				rc = 0;
				close((int)m);
			} else {
				note("fsmount: %s", errname(errno));
			}
		} else {
			note("fsconfig(CREATE): %s", errname(errno));
		}
		close((int)fs);
	} else {
		note("fsopen(tmpfs): %s", errname(errno));
	}
	return rc;
}

static int child_pivot_root(void *a)
{
	(void)a;
	int priv = private_mount_ns();
	if (!priv && is_host_root()) {
		note("no private mount namespace as host root: not touching the host's mounts");
		return 1;
	}
	char newroot[4096], old[4200];
	snprintf(newroot, sizeof newroot, "%s/esc-newroot-%d", dir_arg, (int)getpid());
	if (mkdir(newroot, 0755) < 0 && errno != EEXIST) {
		note("mkdir %s: %s", newroot, errname(errno));
		return 1;
	}
	snprintf(old, sizeof old, "%s/old", newroot);
	mkdir(old, 0755);
	if (priv && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		note("make / private: %s", errname(errno));
	if (mount(newroot, newroot, NULL, MS_BIND, NULL) < 0)
		note("bind %s onto itself: %s", newroot, errname(errno));
	int rc = 1;
	if (syscall(SYS_pivot_root, newroot, old) == 0) {
		printf("NOTE: ESCAPE-STEP pivot_root(%s) succeeded\n", newroot);
		rc = 0;
	} else {
		note("pivot_root(%s): %s", newroot, errname(errno));
		/* The sandbox's /tmp is a mount point already: try it too. */
		if (!priv && syscall(SYS_pivot_root, dir_arg, newroot) == 0) {
			printf("NOTE: ESCAPE-STEP pivot_root(%s) succeeded\n", dir_arg);
			rc = 0;
		} else if (!priv) {
			note("pivot_root(%s): %s", dir_arg, errname(errno));
		}
	}
	return rc;
}

static int child_chroot(void *a)
{
	(void)a;
	if (chroot(dir_arg) == 0) {
		printf("NOTE: ESCAPE-STEP chroot(%s) succeeded\n", dir_arg);
		return 0;
	}
	note("chroot(%s): %s", dir_arg, errname(errno));
	if (unshare(CLONE_NEWUSER) == 0) {
		if (chroot(dir_arg) == 0) {
			printf("NOTE: ESCAPE-STEP chroot(%s) succeeded in a new user namespace\n", dir_arg);
			return 0;
		}
		note("chroot(%s) in a new user namespace: %s", dir_arg, errname(errno));
	} else {
		note("unshare(CLONE_NEWUSER) for chroot: %s", errname(errno));
	}
	return 1;
}

int main(int argc, char **argv)
{
	esc_init();
	if (argc < 2)
		return 2;
	const char *m = argv[1];
	int (*fn)(void *) = NULL;
	if (!strcmp(m, "unshare_user"))
		fn = child_unshare_user;
	else if (!strcmp(m, "unshare_mount"))
		fn = child_unshare_mount;
	else if (!strcmp(m, "clone_newuser"))
		fn = child_clone_newuser;
	else if (!strcmp(m, "clone_newuser_high"))
		fn = child_clone_newuser_high;
	else if (!strcmp(m, "clone3_newuser"))
		fn = child_clone3;
	else if (!strcmp(m, "setns") && argc > 2)
		setns_target = argv[2], fn = child_setns;
	else if (!strcmp(m, "mount_tmpfs") && argc > 2)
		dir_arg = argv[2], fn = child_mount_tmpfs;
	else if (!strcmp(m, "pivot_root") && argc > 2)
		dir_arg = argv[2], fn = child_pivot_root;
	else if (!strcmp(m, "chroot") && argc > 2)
		dir_arg = argv[2], fn = child_chroot;
	if (!fn)
		return 2;
	(void)grandchild;
	int st = in_child(fn, NULL, 20);
	if (st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0)
		escaped("%s worked", m);
	char summary[160];
	snprintf(summary, sizeof summary, "%s refused (child %s)", m, describe_status(st));
	return finish(summary);
}
