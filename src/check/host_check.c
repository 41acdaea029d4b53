/*
 * Host probe for `corral check` and for explaining namespace failures.
 *
 * Every answer comes from trying the feature, not from reading configuration
 * alone: user namespaces are created in a forked child, the new mount API is
 * exercised on a clone of "/", idmapped mounts on a detached tmpfs, Landlock
 * and seccomp are asked through their own syscalls. The sysctls and container
 * markers are read only to name the cause of a failure and its fix.
 *
 * The namespace probes are in host_probe_ns.c, the cgroup probe in
 * host_probe_cgroup.c.
 */
#include "check/host_check_internal.h"

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

/* ---- small file helpers ------------------------------------------------- */

/* Read a small file into buf (NUL-terminated). Returns bytes read or -1. */
ssize_t host_read_small_file(const char *path, char *buf, size_t size)
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
long host_read_long_file(const char *path)
{
	char buf[64];
	if (host_read_small_file(path, buf, sizeof buf) <= 0)
		return -1;
	char *end;
	errno = 0;
	long v = strtol(buf, &end, 10);
	if (errno != 0 || end == buf)
		return -1;
	return v;
}

/* ---- environment facts used to name causes -------------------------------- */

/* The "Seccomp:" mode of this process from /proc/self/status: 0 none,
 * 1 strict, 2 filter, -1 unknown. */
int host_current_seccomp_mode(void)
{
	char buf[4096];
	if (host_read_small_file("/proc/self/status", buf, sizeof buf) <= 0)
		return -1;
	const char *p = strstr(buf, "\nSeccomp:");
	if (!p)
		return -1;
	return atoi(p + strlen("\nSeccomp:"));
}

/* Whether this process seems to run in a container; names it in `what`. */
bool host_in_container(char *what, size_t size)
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
	ssize_t n = host_read_small_file("/proc/1/environ", buf, sizeof buf);
	if (n > 0) {
		/* NUL-separated; only the first kilobytes matter. */
		for (const char *p = buf; p < buf + n; p += strlen(p) + 1) {
			if (strncmp(p, "container=", 10) == 0) {
				snprintf(what, size, "%s", p + 10);
				return true;
			}
		}
	}
	if (host_read_small_file("/proc/1/cgroup", buf, sizeof buf) > 0 &&
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
	if (host_read_small_file("/proc/self/uid_map", buf, sizeof buf) <= 0)
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
	if (host_read_small_file("/proc/filesystems", buf, sizeof buf) <= 0)
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

/* ---- the probe -------------------------------------------------------- */

void host_caps_probe(struct host_caps *caps)
{
	memset(caps, 0, sizeof *caps);
	caps->is_root = geteuid() == 0;

	struct utsname u;
	if (uname(&u) == 0)
		snprintf(caps->kernel_release, sizeof caps->kernel_release, "%s", u.release);

	struct userns_report r;
	host_probe_userns(&r);
	caps->user_namespaces = r.stage == STAGE_OK;
	if (!caps->user_namespaces)
		host_describe_userns_blocker(&r, caps->is_root, caps->userns_blocker,
		                             sizeof caps->userns_blocker);

	if (r.stage == STAGE_OK) {
		caps->new_mount_api = r.open_tree_err == 0 && r.setattr_err == 0;
	} else {
		/* No mount namespace of our own to try it in: ask whether the
		 * kernel has the syscalls at all (a refusal for lack of
		 * privilege still says it does; only ENOSYS says it does not). */
		int tree_err, setattr_err;
		host_try_new_mount_api(&tree_err, &setattr_err);
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
	caps->idmapped_mounts = caps->is_root && host_probe_idmapped_mounts();
	host_probe_cgroups(caps);
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
	bool contained = host_in_container(container, sizeof container);
	switch (errnum) {
	case ENOSPC:
	case EUSERS: {
		const char *zero = NULL;
		for (size_t i = 0; i < sizeof kinds / sizeof kinds[0] && !zero; i++) {
			char path[64];
			snprintf(path, sizeof path, "/proc/sys/user/max_%s_namespaces", kinds[i]);
			if (host_read_long_file(path) == 0)
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
		if (host_current_seccomp_mode() == 2)
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

