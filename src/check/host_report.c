/*
 * `corral check`: turns the host probe (host_check.c) into findings, each
 * with what corral does about it and the fix, printed as text or JSON.
 */
#include "check/host_check.h"

#include "corral.h"
#include "corral_config.h"
#include "util/fileutil.h"
#include "util/strings.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *cgroup_mode_name(enum cgroup_mode mode)
{
	switch (mode) {
	case CGROUP_MODE_V1:
		return "v1";
	case CGROUP_MODE_HYBRID:
		return "hybrid";
	case CGROUP_MODE_V2:
		return "v2";
	default:
		return "none";
	}
}

static bool corral_can_run(const struct host_caps *caps)
{
	return caps->user_namespaces && caps->seccomp && caps->new_mount_api;
}

/* The findings, each with what corral does about it and the fix. */
struct finding {
	const char *feature;
	bool ok;
	char status[640];     /* what follows "feature: " */
	char fix[384];        /* empty when nothing to do */
};

enum {
	F_KERNEL,
	F_RUNNING_AS,
	F_USERNS,
	F_MOUNT_API,
	F_SECCOMP,
	F_LANDLOCK,
	F_CGROUPS,
	F_OVERLAYFS,
	F_IDMAP,
	F_COUNT,
};

#define SET(field, ...) string_set((field), sizeof(field), __VA_ARGS__)

static void build_findings(const struct host_caps *caps, struct finding *f)
{
	memset(f, 0, sizeof *f * F_COUNT);

	f[F_KERNEL] = (struct finding){.feature = "kernel", .ok = true};
	SET(f[F_KERNEL].status, "%s", caps->kernel_release[0] ? caps->kernel_release : "unknown");

	f[F_RUNNING_AS] = (struct finding){.feature = "running as", .ok = true};
	if (caps->is_root)
		SET(f[F_RUNNING_AS].status, "root (sandbox ids map to an unprivileged host range)");
	else
		SET(f[F_RUNNING_AS].status,
		    "unprivileged user (rootless: the sandbox user maps to you)");

	f[F_USERNS] = (struct finding){.feature = "user namespaces", .ok = caps->user_namespaces};
	if (caps->user_namespaces) {
		SET(f[F_USERNS].status, "yes");
	} else {
		/* The blocker reads "cause; fix". */
		const char *sep = strstr(caps->userns_blocker, "; ");
		int cause_len = sep ? (int)(sep - caps->userns_blocker)
		                    : (int)strlen(caps->userns_blocker);
		SET(f[F_USERNS].status, "no — corral cannot build a sandbox: %.*s", cause_len,
		    caps->userns_blocker);
		const char *fix = sep ? sep + 2 : "see docs/host-check.md";
		static const char *const prefixes[] = {"enable with: ", "raise it with: ", "fix: "};
		for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
			if (strncmp(fix, prefixes[i], strlen(prefixes[i])) == 0)
				fix += strlen(prefixes[i]);
		SET(f[F_USERNS].fix, "%s", fix);
	}

	f[F_MOUNT_API] = (struct finding){.feature = "new mount API", .ok = caps->new_mount_api};
	if (caps->new_mount_api) {
		SET(f[F_MOUNT_API].status, "yes");
	} else {
		SET(f[F_MOUNT_API].status,
		    "no — corral cannot build a sandbox (it needs open_tree, move_mount and "
		    "mount_setattr)");
		SET(f[F_MOUNT_API].fix, "use a kernel >= 5.12");
	}

	f[F_SECCOMP] = (struct finding){.feature = "seccomp", .ok = caps->seccomp};
	if (caps->seccomp) {
		SET(f[F_SECCOMP].status, "yes");
	} else {
		SET(f[F_SECCOMP].status,
		    "no — corral refuses to run without its system call filter");
		SET(f[F_SECCOMP].fix, "use a kernel built with CONFIG_SECCOMP_FILTER");
	}

	f[F_LANDLOCK] = (struct finding){.feature = "landlock", .ok = caps->landlock_abi > 0};
	if (caps->landlock_abi > 0) {
		SET(f[F_LANDLOCK].status, "ABI %d%s", caps->landlock_abi,
		    caps->landlock_abi < 6 ? " (signal and abstract socket scoping need ABI 6)"
		                           : "");
	} else {
		SET(f[F_LANDLOCK].status,
		    "not available — corral runs without its second filesystem wall; mounts and "
		    "seccomp still apply");
		SET(f[F_LANDLOCK].fix,
		    "use a kernel >= 5.13 with CONFIG_SECURITY_LANDLOCK and \"landlock\" in the "
		    "lsm= boot parameter");
	}

	f[F_CGROUPS] = (struct finding){.feature = "cgroups"};
	bool writable = host_cgroup_writable(caps);
	const char *how = writable ? "" : " (not writable by you)";
	switch (caps->cgroup_mode) {
	case CGROUP_MODE_V2:
		f[F_CGROUPS].ok = writable;
		SET(f[F_CGROUPS].status, "v2 (%s)%s — %s",
		    caps->cgroup_v2_controllers[0] ? caps->cgroup_v2_controllers : "no controllers",
		    how,
		    writable ? "corral uses a child of its own cgroup"
		             : "corral falls back to rlimits (per process, not per sandbox)");
		if (!writable)
			SET(f[F_CGROUPS].fix,
			    "run corral in a delegated cgroup: systemd-run --user --scope -p "
			    "Delegate=yes corral ...");
		break;
	case CGROUP_MODE_V1:
	case CGROUP_MODE_HYBRID:
		f[F_CGROUPS].ok = writable;
		if (caps->cgroup_mode == CGROUP_MODE_V1)
			SET(f[F_CGROUPS].status, "v1 (%s)%s — %s", caps->cgroup_v1_controllers, how,
			    writable ? "corral uses the v1 hierarchies"
			             : "corral falls back to rlimits (per process, not per sandbox)");
		else
			SET(f[F_CGROUPS].status,
			    "hybrid: v1 (%s), cgroup2 at /sys/fs/cgroup/unified (%s)%s — %s",
			    caps->cgroup_v1_controllers,
			    caps->cgroup_v2_controllers[0] ? caps->cgroup_v2_controllers
			                                   : "no controllers",
			    how,
			    writable ? "corral uses the v1 hierarchies"
			             : "corral falls back to rlimits (per process, not per sandbox)");
		if (!writable)
			SET(f[F_CGROUPS].fix,
			    "run corral as root, or have the administrator delegate a v1 subtree "
			    "(chown) to you; better: boot with the unified hierarchy "
			    "(systemd.unified_cgroup_hierarchy=1) and use systemd-run --user --scope "
			    "-p Delegate=yes corral ...");
		break;
	default:
		SET(f[F_CGROUPS].status,
		    "none — corral falls back to rlimits (per process, not per sandbox)");
		SET(f[F_CGROUPS].fix, "mount cgroup2 on /sys/fs/cgroup");
		break;
	}

	bool unpriv_overlay = host_kernel_at_least(caps->kernel_release, 5, 11);
	f[F_OVERLAYFS] = (struct finding){.feature = "overlayfs", .ok = caps->overlayfs};
	if (caps->overlayfs) {
		SET(f[F_OVERLAYFS].status, "yes%s",
		    unpriv_overlay || caps->is_root
		            ? ""
		            : " (root only: unprivileged overlay mounts need kernel >= 5.11)");
	} else {
		SET(f[F_OVERLAYFS].status,
		    "no — corral cannot offer an overlay root; plain bind mounts still work");
		SET(f[F_OVERLAYFS].fix, "modprobe overlay");
	}

	f[F_IDMAP] = (struct finding){.feature = "idmapped mounts", .ok = caps->idmapped_mounts};
	if (caps->idmapped_mounts) {
		SET(f[F_IDMAP].status, "yes");
	} else if (!caps->is_root) {
		f[F_IDMAP].ok = true;
		SET(f[F_IDMAP].status,
		    "not tested (needs root; rootless corral does not use them)");
	} else {
		SET(f[F_IDMAP].status,
		    "no — writable binds of host directories show host ids inside the sandbox "
		    "(files created there belong to the sandbox's host id range)");
		if (!caps->user_namespaces)
			SET(f[F_IDMAP].fix, "they need user namespaces (see above)");
		else if (!host_kernel_at_least(caps->kernel_release, 6, 3))
			SET(f[F_IDMAP].fix, "use a kernel >= 6.3 (idmapped tmpfs and most filesystems)");
		else if (!host_in_initial_userns())
			SET(f[F_IDMAP].fix,
			    "run corral as root of the host, not inside a user namespace");
		else
			SET(f[F_IDMAP].fix,
			    "check for a security module or seccomp filter refusing mount_setattr");
	}
}

static int print_text(int fd, const struct host_caps *caps, const struct finding *f)
{
	char line[1536];
	int n = snprintf(line, sizeof line, "corral %s host check\n", CORRAL_VERSION);
	if (write_all(fd, line, (size_t)n) < 0)
		return -1;
	for (int i = 0; i < F_COUNT; i++) {
		n = snprintf(line, sizeof line, "%s: %s\n", f[i].feature, f[i].status);
		if (n >= (int)sizeof line)
			n = (int)sizeof line - 1;
		if (write_all(fd, line, (size_t)n) < 0)
			return -1;
		if (f[i].fix[0]) {
			n = snprintf(line, sizeof line, "    fix: %s\n", f[i].fix);
			if (n >= (int)sizeof line)
				n = (int)sizeof line - 1;
			if (write_all(fd, line, (size_t)n) < 0)
				return -1;
		}
	}
	n = snprintf(line, sizeof line, "%s\n",
	             corral_can_run(caps)
	                     ? "result: corral can run here"
	                     : "result: corral cannot run here (it needs user namespaces, "
	                       "seccomp and the new mount API)");
	return write_all(fd, line, (size_t)n);
}

/* "a, b, c" → ["a", "b", "c"] */
static json_t *json_list(const char *list)
{
	json_t *arr = json_array();
	if (!arr)
		return NULL;
	char copy[256];
	snprintf(copy, sizeof copy, "%s", list);
	char *save = NULL;
	for (char *tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save))
		json_array_append_new(arr, json_string(tok));
	return arr;
}

static int print_json(int fd, const struct host_caps *caps, const struct finding *f)
{
	json_t *missing = json_array();
	if (!missing)
		return -1;
	for (int i = 0; i < F_COUNT; i++) {
		if (f[i].ok)
			continue;
		json_array_append_new(missing, json_pack("{s:s, s:s, s:s?}", "feature", f[i].feature,
		                                         "status", f[i].status, "fix",
		                                         f[i].fix[0] ? f[i].fix : NULL));
	}
	json_t *root = json_pack(
		"{s:s, s:s, s:s, s:b, s:b, s:s?, s:b, s:i, s:b, s:b, s:b, s:b, s:b, s:s, s:o, s:o, "
		"s:b, s:o}",
		"version", CORRAL_VERSION,
		"kernel", caps->kernel_release,
		"running_as", caps->is_root ? "root" : "user",
		"can_run", corral_can_run(caps),
		"user_namespaces", caps->user_namespaces,
		"user_namespaces_blocker", caps->user_namespaces ? NULL : caps->userns_blocker,
		"new_mount_api", caps->new_mount_api,
		"landlock_abi", caps->landlock_abi,
		"seccomp", caps->seccomp,
		"overlayfs", caps->overlayfs,
		"overlayfs_unprivileged",
		caps->overlayfs && host_kernel_at_least(caps->kernel_release, 5, 11),
		"idmapped_mounts", caps->idmapped_mounts,
		"idmapped_mounts_tested", caps->is_root,
		"cgroup_mode", cgroup_mode_name(caps->cgroup_mode),
		"cgroup_v1_controllers", json_list(caps->cgroup_v1_controllers),
		"cgroup_v2_controllers", json_list(caps->cgroup_v2_controllers),
		"cgroup_writable", host_cgroup_writable(caps),
		"missing", missing);
	if (!root)
		return -1;
	int rc = json_dumpfd(root, fd, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (rc < 0 || write_all(fd, "\n", 1) < 0)
		return -1;
	return 0;
}

int corral_host_check_print(int fd, bool json)
{
	struct host_caps caps;
	host_caps_probe(&caps);
	struct finding findings[F_COUNT];
	build_findings(&caps, findings);
	if (json)
		print_json(fd, &caps, findings);
	else
		print_text(fd, &caps, findings);
	return corral_can_run(&caps) ? 0 : 1;
}
