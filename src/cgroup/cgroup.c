/*
 * Control groups: find which kind this host has, create the sandbox's
 * cgroup(s) through the matching backend, and dispatch.
 *
 * Detection, in order:
 *   1. cgroup v2 — /sys/fs/cgroup is a cgroup2 file system (statfs), or some
 *      other cgroup2 mount listed in /proc/self/mountinfo offers the memory,
 *      pids and cpu controllers. A cgroup2 without those controllers (the
 *      hybrid layout's /sys/fs/cgroup/unified) does not count.
 *      root: the sandbox is <mount>/corral/<name>, with +memory +pids +cpu
 *      enabled in the root's and corral's cgroup.subtree_control.
 *      rootless: only inside a cgroup delegated to the caller:
 *      <own cgroup>/corral-<name>.
 *   2. cgroup v1 — memory, pids, cpu and cpuacct hierarchies mounted (found in
 *      /proc/self/mountinfo) and writable; freezer used when mounted. The
 *      sandbox is <hierarchy>/corral/<name> in each. Root only.
 *   3. Otherwise backend NONE, with a reason, and the caller uses rlimits.
 *
 * The mount table is read in cgroup_mounts.c; file and counter helpers are
 * in cgroup_io.c, listing/killing/removing in cgroup_procs.c; the calls on a
 * placed sandbox are dispatched to its backend in cgroup_dispatch.c.
 */
#include "cgroup/cgroup_mounts.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/fileutil.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CG_PARENT "corral"
#define CG_CONTROLLERS "+memory +pids +cpu"

static const char why_not_rootless_v2[] =
	"no delegated cgroup v2 subtree (run under `systemd-run --user --scope -p Delegate=yes`)";
static const char why_not_rootless_v1[] =
	"cgroup v1 hierarchies are not writable by unprivileged users";

static void set_why_not(struct cgroup_sandbox *cg, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void set_why_not(struct cgroup_sandbox *cg, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cg->why_not, sizeof cg->why_not, fmt, ap);
	va_end(ap);
	cg->backend = CGROUP_BACKEND_NONE;
}

static bool errno_means_not_allowed(int e)
{
	return e == EACCES || e == EPERM || e == EROFS;
}

/* ---- v2 placement -------------------------------------------------------- */

/* Enable the controllers in dir's subtree_control unless they already are. */
static int v2_enable(const char *dir, corral_error *err)
{
	if (cg_lists_our_controllers(dir, "cgroup.subtree_control"))
		return 0;
	return cg_write(dir, "cgroup.subtree_control", CG_CONTROLLERS, err);
}

static int v2_create_root(struct cgroup_sandbox *cg, const struct cg_mount *m,
                          const struct cgroup_limits *limits, corral_error *err)
{
	const char *top = m->point;
	if (!cg_mount_writable(m)) {
		set_why_not(cg, "cgroup2 at %s is not writable", top);
		return 0;
	}
	corral_error sub = {0};
	if (v2_enable(top, &sub) < 0) {
		if (sub.errnum == EBUSY) {
			/* only the real root is exempt from "no internal processes":
			 * this is a cgroup namespace's root with processes in it */
			set_why_not(cg, "cannot enable controllers in %s: it holds processes "
			                "(cgroup namespace root)", top);
			return 0;
		}
		if (errno_means_not_allowed(sub.errnum)) {
			set_why_not(cg, "%s", sub.message);
			return 0;
		}
		*err = sub;
		return -1;
	}

	char parent[PATH_MAX], path[PATH_MAX];
	if (cg_path(parent, sizeof parent, top, CG_PARENT, err) < 0 ||
	    cg_path(path, sizeof path, parent, cg->name, err) < 0)
		return -1;
	bool made_parent = false;
	if (mkdir(parent, 0755) == 0) {
		made_parent = true;
	} else if (errno != EEXIST) {
		if (errno_means_not_allowed(errno)) {
			set_why_not(cg, "mkdir %s: %s", parent, strerror(errno));
			return 0;
		}
		return error_errno(err, "mkdir %s", parent);
	}
	if (v2_enable(parent, err) < 0 || cgv2_create(cg, path, limits, err) < 0) {
		if (made_parent)
			rmdir(parent); /* EBUSY if another sandbox got in meanwhile: fine */
		return -1;
	}
	cg->backend = CGROUP_BACKEND_V2;
	return 0;
}


static int v2_move_self_to_leaf(const char *own)
{
	char leaf[PATH_MAX], procs[PATH_MAX];
	if (cg_path(leaf, sizeof leaf, own, "corral-supervisor", NULL) < 0 ||
	    cg_path(procs, sizeof procs, leaf, "cgroup.procs", NULL) < 0)
		return -1;
	if (mkdir(leaf, 0755) < 0 && errno != EEXIST)
		return -1;
	int fd = open(procs, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = write_all(fd, "0", 1);
	close(fd);
	return rc;
}

static int v2_create_rootless(struct cgroup_sandbox *cg, const struct cg_mount *m,
                              const struct cgroup_limits *limits, corral_error *err)
{
	char own[PATH_MAX];
	struct stat st;
	char ctl[PATH_MAX];
	if (!cg_own_v2_dir(m, own, sizeof own) || stat(own, &st) < 0 || st.st_uid != geteuid() ||
	    cg_path(ctl, sizeof ctl, own, "cgroup.subtree_control", NULL) < 0 ||
	    faccessat(AT_FDCWD, ctl, W_OK, AT_EACCESS) < 0 ||
	    faccessat(AT_FDCWD, own, W_OK, AT_EACCESS) < 0 ||
	    cg_path(ctl, sizeof ctl, own, "cgroup.procs", NULL) < 0 ||
	    faccessat(AT_FDCWD, ctl, W_OK, AT_EACCESS) < 0) {
		set_why_not(cg, "%s", why_not_rootless_v2);
		return 0;
	}
	if (!cg_v2_has_controllers(own)) {
		set_why_not(cg, "delegated cgroup %s lacks the memory, pids and cpu controllers",
		            own);
		return 0;
	}
	corral_error sub = {0};
	/* cgroup v2's "no internal processes" rule: controllers cannot be
	 * enabled for children while the caller itself sits in the delegated
	 * cgroup (as it does in a `systemd-run --scope -p Delegate=yes`).
	 * Step aside into a leaf, as crun and podman do, then retry. */
	if (v2_enable(own, &sub) < 0 && sub.errnum == EBUSY && v2_move_self_to_leaf(own) == 0)
		sub = (corral_error){0};
	if (sub.kind != CORRAL_OK || v2_enable(own, &sub) < 0) {
		if (sub.errnum == EBUSY || errno_means_not_allowed(sub.errnum)) {
			set_why_not(cg, "%s", why_not_rootless_v2);
			return 0;
		}
		*err = sub;
		return -1;
	}
	char dirname[CG_NAME_MAX + 16], path[PATH_MAX];
	snprintf(dirname, sizeof dirname, "corral-%s", cg->name);
	if (cg_path(path, sizeof path, own, dirname, err) < 0 ||
	    cgv2_create(cg, path, limits, err) < 0)
		return -1;
	cg->backend = CGROUP_BACKEND_V2;
	return 0;
}

/* ---- v1 placement -------------------------------------------------------- */

static const char *const v1_names[CGV1_N] = {
	[CGV1_MEMORY] = "memory",
	[CGV1_PIDS] = "pids",
	[CGV1_CPU] = "cpu",
	[CGV1_CPUACCT] = "cpuacct",
	[CGV1_FREEZER] = "freezer",
};

/* 1: v1 chosen (or NONE set); 0: no v1 here; -1: error. */
static int v1_try(struct cgroup_sandbox *cg, const struct cg_mount *mounts, size_t n,
                  const struct cgroup_limits *limits, corral_error *err)
{
	const struct cg_mount *found[CGV1_N];
	for (int c = 0; c < CGV1_N; c++)
		found[c] = cg_find_v1(mounts, n, v1_names[c]);
	if (!found[CGV1_MEMORY] || !found[CGV1_PIDS] || !found[CGV1_CPU] || !found[CGV1_CPUACCT])
		return 0;
	if (geteuid() != 0) {
		set_why_not(cg, "%s", why_not_rootless_v1);
		return 1;
	}
	for (int c = 0; c < CGV1_N; c++) {
		if (!found[c])
			continue; /* freezer is optional */
		if (!cg_mount_writable(found[c])) {
			set_why_not(cg, "cgroup v1 hierarchy %s is not writable", found[c]->point);
			return 1;
		}
	}
	/* Without a CPU limit the cpu hierarchy has nothing to hold (a new
	 * cgroup's quota is unlimited already; usage comes from cpuacct):
	 * skip its directory, a mkdir, two writes, an attach and an rmdir.
	 * Co-mounted with cpuacct ("cpu,cpuacct") it is cpuacct's anyway. */
	bool skip_cpu =
	        limits->cpu_millis == CGROUP_UNLIMITED && found[CGV1_CPU] != found[CGV1_CPUACCT];
	for (int c = 0; c < CGV1_N; c++) {
		struct cgv1_dir *d = &cg->v1[c];
		if (!found[c] || (c == CGV1_CPU && skip_cpu))
			continue;
		int w = snprintf(d->path, sizeof d->path, "%s/%s/%s", found[c]->point, CG_PARENT,
		                 cg->name);
		if (w < 0 || (size_t)w >= sizeof d->path)
			return error_set(err, CORRAL_ERR_SETUP, ENAMETOOLONG, "cgroup path %s/%s/%s",
			                 found[c]->point, CG_PARENT, cg->name);
		d->primary = true;
		for (int p = 0; p < c; p++)
			if (cg->v1[p].primary && strcmp(cg->v1[p].path, d->path) == 0)
				d->primary = false;
	}
	if (cgv1_create(cg, limits, err) < 0)
		return -1;
	cg->backend = CGROUP_BACKEND_V1;
	return 1;
}

/* ---- interface ----------------------------------------------------------- */

static int check_name(const char *name, corral_error *err)
{
	size_t len = name ? strlen(name) : 0;
	if (len == 0 || len > CG_NAME_MAX || name[0] == '.')
		return error_set(err, CORRAL_ERR_USAGE, 0, "cgroup name \"%s\": must be 1-%d "
		                 "characters, not starting with '.'", name ? name : "", CG_NAME_MAX);
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return error_set(err, CORRAL_ERR_USAGE, 0,
			                 "cgroup name \"%s\": only letters, digits, '-', '_', '.'", name);
	}
	return 0;
}

static int check_limits(const struct cgroup_limits *l, corral_error *err)
{
	if (l->memory_bytes == 0)
		return error_set(err, CORRAL_ERR_USAGE, 0, "cgroup memory limit: must be > 0");
	if (l->pids == 0)
		return error_set(err, CORRAL_ERR_USAGE, 0, "cgroup pids limit: must be > 0");
	if (l->cpu_millis == 0)
		return error_set(err, CORRAL_ERR_USAGE, 0, "cgroup cpu limit: must be > 0");
	if (l->cpu_millis != CGROUP_UNLIMITED && l->cpu_millis > UINT64_MAX / 1000)
		return error_set(err, CORRAL_ERR_USAGE, 0, "cgroup cpu limit %" PRIu64 ": too large",
		                 l->cpu_millis);
	return 0;
}

int cgroup_sandbox_create(const char *name, const struct cgroup_limits *limits,
                          struct cgroup_sandbox **out, corral_error *err)
{
	static const struct cgroup_limits unlimited = {
		.memory_bytes = CGROUP_UNLIMITED,
		.pids = CGROUP_UNLIMITED,
		.cpu_millis = CGROUP_UNLIMITED,
	};
	*out = NULL;
	if (!limits)
		limits = &unlimited;
	if (check_name(name, err) < 0 || check_limits(limits, err) < 0)
		return -1;

	_cleanup_free_ struct cgroup_sandbox *cg = calloc(1, sizeof *cg);
	if (!cg)
		return error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "cgroup %s", name);
	cg->backend = CGROUP_BACKEND_NONE;
	cg->v2_fd = -1;
	cg->event_fd = -1;
	strcpy(cg->name, name);

	__attribute__((cleanup(cg_mounts_free))) struct cg_mounts mounts = {0};
	if (cg_read_mounts(&mounts, err) < 0)
		return -1;

	const struct cg_mount *v2 = cg_find_v2(mounts.v, mounts.n);
	if (v2) {
		int rc = geteuid() == 0 ? v2_create_root(cg, v2, limits, err)
		                        : v2_create_rootless(cg, v2, limits, err);
		if (rc < 0)
			return -1;
	} else {
		int rc = v1_try(cg, mounts.v, mounts.n, limits, err);
		if (rc < 0)
			return -1;
		if (rc == 0)
			set_why_not(cg, "no cgroup v2 with the memory, pids and cpu controllers, and "
			                "no cgroup v1 memory, pids and cpu hierarchies mounted");
	}
	*out = steal_pointer(&cg);
	return 0;
}
