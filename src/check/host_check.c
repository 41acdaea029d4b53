/*
 * Host probe for `corral check` and for explaining namespace failures.
 *
 * Every answer comes from trying the feature, not from reading configuration
 * alone: user namespaces are created in a forked child, the new mount API is
 * exercised on a clone of "/", idmapped mounts on a detached tmpfs, Landlock
 * and seccomp are asked through their own syscalls. The sysctls and container
 * markers are read only to name the cause of a failure and its fix.
 */
#include "check/host_check.h"

#include "corral.h"
#include "corral_config.h"
#include "landlock/landlock_fs.h"
#include "util/fileutil.h"
#include "util/strings.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/mount.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif
#ifndef CGROUP_SUPER_MAGIC
#define CGROUP_SUPER_MAGIC 0x27e0eb
#endif
#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif
#ifndef SECCOMP_GET_ACTION_AVAIL
#define SECCOMP_GET_ACTION_AVAIL 2
#endif
#ifndef SECCOMP_RET_KILL_PROCESS
#define SECCOMP_RET_KILL_PROCESS 0x80000000U
#endif

#define SEE_CHECK " (see `corral check`)"
#define USERNS_MAX_SUGGESTED "15000"

/* ---- small file helpers ------------------------------------------------- */

/* Read a small file into buf (NUL-terminated). Returns bytes read or -1. */
static ssize_t read_small_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t total = 0;
	while (total + 1 < size) {
		ssize_t n = read(fd, buf + total, size - 1 - total);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		total += (size_t)n;
	}
	buf[total] = '\0';
	close(fd);
	return (ssize_t)total;
}

/* An integer sysctl-style file; -1 when absent or unreadable. */
static long read_long_file(const char *path)
{
	char buf[64];
	if (read_small_file(path, buf, sizeof buf) <= 0)
		return -1;
	char *end;
	errno = 0;
	long v = strtol(buf, &end, 10);
	if (errno != 0 || end == buf)
		return -1;
	return v;
}

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

/* snprintf for messages that may be cut at the buffer's end (a report line,
 * a blocker): truncation is accepted there, not a bug. */
/* Append ", item" (or "item" when empty) to a comma-separated list. */
static void list_append(char *list, size_t size, const char *item)
{
	size_t len = strlen(list);
	if (len >= size - 1)
		return;
	snprintf(list + len, size - len, "%s%s", len ? ", " : "", item);
}

/* ---- environment facts used to name causes -------------------------------- */

/* The "Seccomp:" mode of this process from /proc/self/status: 0 none,
 * 1 strict, 2 filter, -1 unknown. */
static int current_seccomp_mode(void)
{
	char buf[4096];
	if (read_small_file("/proc/self/status", buf, sizeof buf) <= 0)
		return -1;
	const char *p = strstr(buf, "\nSeccomp:");
	if (!p)
		return -1;
	return atoi(p + strlen("\nSeccomp:"));
}

/* Whether this process seems to run in a container; names it in `what`. */
static bool in_container(char *what, size_t size)
{
	if (access("/.dockerenv", F_OK) == 0) {
		snprintf(what, size, "Docker");
		return true;
	}
	if (access("/run/.containerenv", F_OK) == 0) {
		snprintf(what, size, "Podman");
		return true;
	}
	char buf[4096];
	ssize_t n = read_small_file("/proc/1/environ", buf, sizeof buf);
	if (n > 0) {
		/* NUL-separated; only the first kilobytes matter. */
		for (const char *p = buf; p < buf + n; p += strlen(p) + 1) {
			if (strncmp(p, "container=", 10) == 0) {
				snprintf(what, size, "%s", p + 10);
				return true;
			}
		}
	}
	if (read_small_file("/proc/1/cgroup", buf, sizeof buf) > 0 &&
	    (strstr(buf, "docker") || strstr(buf, "kubepods") || strstr(buf, "containerd") ||
	     strstr(buf, "/lxc") || strstr(buf, "libpod"))) {
		snprintf(what, size, "a container");
		return true;
	}
	return false;
}

/* The initial user namespace maps all of 0..2^32-2 onto itself. */
bool host_in_initial_userns(void)
{
	char buf[256];
	unsigned long inside, outside, count;
	if (read_small_file("/proc/self/uid_map", buf, sizeof buf) <= 0)
		return true;
	return sscanf(buf, "%lu %lu %lu", &inside, &outside, &count) == 3 && inside == 0 &&
	       outside == 0 && count == 4294967295UL;
}

bool host_kernel_at_least(const char *release, int major, int minor)
{
	int ma = 0, mi = 0;
	if (sscanf(release, "%d.%d", &ma, &mi) < 2)
		return false;
	return ma > major || (ma == major && mi >= minor);
}

/* ---- user namespaces and the new mount API -------------------------------- */

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
static void try_new_mount_api(int *tree_err, int *setattr_err)
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
static void probe_userns(struct userns_report *report)
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
			try_new_mount_api(&r.open_tree_err, &r.setattr_err);
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
static void describe_userns_blocker(const struct userns_report *r, bool is_root, char *buf,
                                    size_t size)
{
	int e = r->err;
	long max_userns = read_long_file("/proc/sys/user/max_user_namespaces");
	long apparmor = read_long_file("/proc/sys/kernel/apparmor_restrict_unprivileged_userns");
	long debian_clone = read_long_file("/proc/sys/kernel/unprivileged_userns_clone");
	char container[64] = "";
	bool contained = in_container(container, sizeof container);
	int seccomp_mode = current_seccomp_mode();

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
static bool probe_idmapped_mounts(void)
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

/* ---- seccomp, overlayfs -------------------------------------------------- */

static bool probe_seccomp(void)
{
	if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) < 0)
		return false; /* no CONFIG_SECCOMP */
	uint32_t action = SECCOMP_RET_KILL_PROCESS;
	if (syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) == 0)
		return true;
	/* Older kernels: a NULL filter program faults (EFAULT) when filters
	 * are supported, before any other check; EINVAL otherwise. */
	errno = 0;
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, NULL, 0, 0) < 0 && errno == EFAULT)
		return true;
	return false;
}

static bool probe_overlayfs(void)
{
	char buf[8192];
	if (read_small_file("/proc/filesystems", buf, sizeof buf) <= 0)
		return false;
	for (char *save = NULL, *line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *name = strrchr(line, '\t');
		name = name ? name + 1 : line;
		if (strcmp(name, "overlay") == 0)
			return true;
	}
	return false;
}

/* ---- cgroups ------------------------------------------------------------ */

static bool is_fs_type(const char *path, long magic)
{
	struct statfs sfs;
	return statfs(path, &sfs) == 0 && (long)sfs.f_type == magic;
}

/* The controllers file of this process's cgroup2 cgroup under `mount`, or
 * the root's when that cannot be read. Space-separated list → ", ". */
static void read_v2_controllers(const char *mount, char *out, size_t size)
{
	out[0] = '\0';
	char cg[4096], path[4600], buf[1024];
	bool have = false;
	if (read_small_file("/proc/self/cgroup", cg, sizeof cg) > 0) {
		for (char *save = NULL, *line = strtok_r(cg, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			if (strncmp(line, "0::", 3) == 0) {
				snprintf(path, sizeof path, "%s%s/cgroup.controllers", mount,
				         strcmp(line + 3, "/") == 0 ? "" : line + 3);
				have = read_small_file(path, buf, sizeof buf) >= 0;
				break;
			}
		}
	}
	if (!have) {
		snprintf(path, sizeof path, "%s/cgroup.controllers", mount);
		if (read_small_file(path, buf, sizeof buf) < 0)
			return;
	}
	for (char *save = NULL, *tok = strtok_r(buf, " \n", &save); tok;
	     tok = strtok_r(NULL, " \n", &save))
		list_append(out, size, tok);
}

/* v1 controllers attached to a hierarchy: /proc/cgroups (hierarchy != 0,
 * enabled), else the super options of the cgroup mounts in mountinfo. */
static void read_v1_controllers(char *out, size_t size)
{
	out[0] = '\0';
	char buf[8192];
	if (read_small_file("/proc/cgroups", buf, sizeof buf) > 0) {
		for (char *save = NULL, *line = strtok_r(buf, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			char name[64];
			int hierarchy, num, enabled;
			if (line[0] == '#')
				continue;
			if (sscanf(line, "%63s %d %d %d", name, &hierarchy, &num, &enabled) == 4 &&
			    hierarchy != 0 && enabled)
				list_append(out, size, name);
		}
		return;
	}
	char mi[65536];
	if (read_small_file("/proc/self/mountinfo", mi, sizeof mi) <= 0)
		return;
	char *save = NULL;
	for (char *line = strtok_r(mi, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *sep = strstr(line, " - ");
		if (!sep || strncmp(sep + 3, "cgroup ", 7) != 0)
			continue;
		/* " - cgroup <source> <super options>" */
		char *opts = strchr(sep + 10, ' ');
		if (!opts)
			continue;
		char *save2 = NULL;
		for (char *o = strtok_r(opts + 1, ",", &save2); o; o = strtok_r(NULL, ",", &save2)) {
			if (strcmp(o, "rw") == 0 || strcmp(o, "ro") == 0 || strchr(o, '=') ||
			    strncmp(o, "no", 2) == 0 || strcmp(o, "clone_children") == 0 ||
			    strcmp(o, "xattr") == 0 || strcmp(o, "cpuset_v2_mode") == 0)
				continue;
			if (!strstr(out, o))
				list_append(out, size, o);
		}
	}
}

static void probe_cgroups(struct host_caps *caps)
{
	const char *root = "/sys/fs/cgroup";
	if (is_fs_type(root, CGROUP2_SUPER_MAGIC)) {
		caps->cgroup_mode = CGROUP_MODE_V2;
		read_v2_controllers(root, caps->cgroup_v2_controllers,
		                    sizeof caps->cgroup_v2_controllers);
		return;
	}
	read_v1_controllers(caps->cgroup_v1_controllers, sizeof caps->cgroup_v1_controllers);
	bool unified = is_fs_type("/sys/fs/cgroup/unified", CGROUP2_SUPER_MAGIC);
	if (unified) {
		caps->cgroup_mode = CGROUP_MODE_HYBRID;
		read_v2_controllers("/sys/fs/cgroup/unified", caps->cgroup_v2_controllers,
		                    sizeof caps->cgroup_v2_controllers);
	} else if (caps->cgroup_v1_controllers[0]) {
		caps->cgroup_mode = CGROUP_MODE_V1;
	} else {
		caps->cgroup_mode = CGROUP_MODE_NONE;
	}
}

/* Whether this process may create cgroups: its own cgroup2 cgroup (v2) or
 * the memory/pids v1 hierarchies are writable. */
bool host_cgroup_writable(const struct host_caps *caps)
{
	if (caps->cgroup_mode == CGROUP_MODE_V2) {
		char cg[4096], path[4600];
		if (read_small_file("/proc/self/cgroup", cg, sizeof cg) <= 0)
			return false;
		for (char *save = NULL, *line = strtok_r(cg, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			if (strncmp(line, "0::", 3) == 0) {
				snprintf(path, sizeof path, "/sys/fs/cgroup%s", line + 3);
				return access(path, W_OK) == 0;
			}
		}
		return false;
	}
	if (caps->cgroup_mode == CGROUP_MODE_NONE)
		return false;
	return access("/sys/fs/cgroup/memory", W_OK) == 0 ||
	       access("/sys/fs/cgroup/pids", W_OK) == 0;
}

/* ---- the probe -------------------------------------------------------- */

void host_caps_probe(struct host_caps *caps)
{
	memset(caps, 0, sizeof *caps);
	caps->is_root = geteuid() == 0;

	struct utsname u;
	if (uname(&u) == 0)
		snprintf(caps->kernel_release, sizeof caps->kernel_release, "%s", u.release);

	struct userns_report r;
	probe_userns(&r);
	caps->user_namespaces = r.stage == STAGE_OK;
	if (!caps->user_namespaces)
		describe_userns_blocker(&r, caps->is_root, caps->userns_blocker,
		                        sizeof caps->userns_blocker);

	if (r.stage == STAGE_OK) {
		caps->new_mount_api = r.open_tree_err == 0 && r.setattr_err == 0;
	} else {
		/* No mount namespace of our own to try it in: ask whether the
		 * kernel has the syscalls at all (a refusal for lack of
		 * privilege still says it does; only ENOSYS says it does not). */
		int tree_err, setattr_err;
		try_new_mount_api(&tree_err, &setattr_err);
		if (tree_err == 0 && setattr_err == 0) {
			caps->new_mount_api = true;
		} else {
			struct mount_attr attr = {.attr_set = MOUNT_ATTR_NOSUID};
			long rc = syscall(SYS_mount_setattr, -1, "", AT_EMPTY_PATH, &attr, sizeof attr);
			caps->new_mount_api = tree_err != ENOSYS && !(rc < 0 && errno == ENOSYS);
		}
	}

	caps->landlock_abi = landlock_abi_version();
	caps->seccomp = probe_seccomp();
	caps->overlayfs = probe_overlayfs();
	caps->idmapped_mounts = caps->is_root && probe_idmapped_mounts();
	probe_cgroups(caps);
}

/* Copy `cause` into buf truncated so that the suffix always fits. */
static void finish_explanation(char *buf, size_t size, const char *cause)
{
	if (size == 0)
		return;
	size_t suffix = strlen(SEE_CHECK);
	if (size <= suffix + 1) {
		snprintf(buf, size, "%s", &SEE_CHECK[1]);
		return;
	}
	size_t room = size - suffix - 1;
	size_t len = strlen(cause);
	if (len > room)
		len = room;
	memcpy(buf, cause, len);
	memcpy(buf + len, SEE_CHECK, suffix + 1);
}

void host_explain_namespace_failure(int errnum, char *buf, size_t size)
{
	struct host_caps caps;
	host_caps_probe(&caps);
	char cause[512];

	if (!caps.user_namespaces) {
		snprintf(cause, sizeof cause, "%s", caps.userns_blocker);
		finish_explanation(buf, size, cause);
		return;
	}

	static const char *const kinds[] = {"mnt", "pid", "net", "ipc", "uts", "cgroup"};
	char container[64] = "";
	bool contained = in_container(container, sizeof container);
	switch (errnum) {
	case ENOSPC:
	case EUSERS: {
		const char *zero = NULL;
		for (size_t i = 0; i < sizeof kinds / sizeof kinds[0] && !zero; i++) {
			char path[64];
			snprintf(path, sizeof path, "/proc/sys/user/max_%s_namespaces", kinds[i]);
			if (read_long_file(path) == 0)
				zero = kinds[i];
		}
		if (zero)
			snprintf(cause, sizeof cause,
			         "%s namespaces are disabled (user.max_%s_namespaces=0); enable with: "
			         "sysctl -w user.max_%s_namespaces=" USERNS_MAX_SUGGESTED,
			         zero, zero, zero);
		else
			snprintf(cause, sizeof cause,
			         "a namespace limit is reached (user.max_*_namespaces); raise it with "
			         "sysctl or end other sandboxes");
		break;
	}
	case EPERM:
	case EACCES:
	case ENOSYS:
		if (current_seccomp_mode() == 2)
			snprintf(cause, sizeof cause,
			         "%s%s blocks creating namespaces; run the container with "
			         "--security-opt seccomp=unconfined or a profile allowing unshare/clone "
			         "of namespaces",
			         contained ? container : "a seccomp filter",
			         contained ? "'s seccomp profile"
			                   : " (container, or systemd RestrictNamespaces=)");
		else if (contained)
			snprintf(cause, sizeof cause,
			         "%s refuses some of the namespaces (its AppArmor/SELinux profile or "
			         "dropped capabilities) although a plain user namespace works; run the "
			         "container with --security-opt apparmor=unconfined, or --privileged",
			         container);
		else
			snprintf(cause, sizeof cause,
			         "a security module (AppArmor, SELinux) or seccomp filter refused the "
			         "namespaces although a plain user namespace works");
		break;
	case EINVAL:
		snprintf(cause, sizeof cause,
		         "the kernel lacks a namespace type corral needs (CONFIG_PID_NS, "
		         "CONFIG_NET_NS, CONFIG_IPC_NS, CONFIG_UTS_NS, CONFIG_CGROUPS)");
		break;
	case ENOMEM:
		snprintf(cause, sizeof cause,
		         "out of memory, or the pid namespace nesting limit (32) is reached");
		break;
	default:
		snprintf(cause, sizeof cause, "unexpected failure creating namespaces (%s)",
		         strerror(errnum));
		break;
	}
	finish_explanation(buf, size, cause);
}

/* ---- the report ----------------------------------------------------------- */

