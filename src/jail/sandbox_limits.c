/*
 * A sandbox's cgroup and the story of how each limit is enforced (cgroup,
 * rlimit, supervisor, or not at all), as corral_enforcement reports it.
 * Separate from sandbox.c because it is the one part that depends on what
 * the host offers rather than on the policy.
 */
#include "jail/jail.h"
#include "jail/spawner.h"

#include "corral_config.h"
#include "cgroup/cgroup.h"
#include "check/host_check.h"
#include "policy/parse.h"
#include "policy/policy.h"
#include "seccomp/seccomp_filter.h"
#include "store/store.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/fileutil.h"
#include "util/strings.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void describe_enforcement(corral_sandbox *sb, const char *why_not)
{
	const struct policy_limits *l = &sb->limits;
	const char *cg = cgroup_backend_name(cgroup_sandbox_backend(sb->cgroup));
	bool have_cg = cgroup_sandbox_backend(sb->cgroup) != CGROUP_BACKEND_NONE;
	corral_enforcement *e = &sb->enforcement;
#define LIMIT_BY(field, value, how) e->field = (value) == LIMIT_UNLIMITED ? "none" : (how)
	LIMIT_BY(memory, l->memory_bytes, have_cg ? cg : "rlimit");
	LIMIT_BY(pids, l->pids, have_cg ? cg : "rlimit");
	LIMIT_BY(cpus, l->cpu_milli, have_cg ? cg : "none");
	LIMIT_BY(timeout, l->timeout_ms, "supervisor");
	LIMIT_BY(cpu_time, l->cpu_time_ms, have_cg ? cg : "rlimit");
	LIMIT_BY(output, l->output_bytes, "supervisor");
	LIMIT_BY(disk, l->disk_bytes, "tmpfs");
	LIMIT_BY(open_files, l->open_files, "rlimit");
	LIMIT_BY(file_size, l->file_size, "rlimit");
#undef LIMIT_BY
	e->weaker[0] = '\0';
	if (!have_cg) {
		string_set(e->weaker, sizeof e->weaker,
		         "%s: memory is limited per process (RLIMIT_DATA) and writable tmpfs mounts "
		         "to --memory, but shared memory (memfd, MAP_SHARED, SysV segments) is not "
		         "limited; pids per uid (RLIMIT_NPROC); CPU time per process (RLIMIT_CPU); "
		         "--cpus is not enforced",
		         why_not ? why_not : "no usable cgroups");
	}
}

int sandbox_create_cgroup(corral_sandbox *sb, corral_error *err)
{
	static atomic_uint sequence;
	/* The random part keeps a reused pid from ever naming a live sandbox. */
	uint32_t nonce = 0;
	if (getrandom(&nonce, sizeof nonce, GRND_NONBLOCK) != (ssize_t)sizeof nonce)
		nonce = (uint32_t)time(NULL);
	char name[64];
	snprintf(name, sizeof name, "sandbox-%d-%u-%08x", (int)getpid(),
	         atomic_fetch_add(&sequence, 1), nonce);
	struct cgroup_limits cl = {
		.memory_bytes = sb->limits.memory_bytes == LIMIT_UNLIMITED ? CGROUP_UNLIMITED
		                                                            : sb->limits.memory_bytes,
		.pids = sb->limits.pids == LIMIT_UNLIMITED ? CGROUP_UNLIMITED : sb->limits.pids,
		.cpu_millis = sb->limits.cpu_milli == LIMIT_UNLIMITED ? CGROUP_UNLIMITED
		                                                       : sb->limits.cpu_milli,
	};
	/* Nothing for a cgroup to hold: skip its cost (accounting then comes
	 * from rusage). */
	bool needed = cl.memory_bytes != CGROUP_UNLIMITED || cl.pids != CGROUP_UNLIMITED ||
	              cl.cpu_millis != CGROUP_UNLIMITED || sb->limits.cpu_time_ms != LIMIT_UNLIMITED;
	if (!needed) {
		describe_enforcement(sb, NULL);
		sb->enforcement.weaker[0] = '\0';
		return 0;
	}
	if (cgroup_sandbox_create(name, &cl, &sb->cgroup, err) < 0)
		return -1;
	describe_enforcement(sb, cgroup_sandbox_why_not(sb->cgroup));
	if (cgroup_sandbox_backend(sb->cgroup) != CGROUP_BACKEND_NONE &&
	    sentinel_start(&sb->sentinel, sb->cgroup, err) < 0)
		return -1;
	return 0;
}

/* What the store options leave unenforced, after the cgroup's story. */
void sandbox_describe_store_enforcement(corral_sandbox *sb, const corral_policy *policy,
                                        const struct image_root *image)
{
	corral_enforcement *e = &sb->enforcement;
	char *w = e->weaker;
	size_t size = sizeof e->weaker;
	size_t len = strlen(w);
	if (image->state && sb->limits.disk_bytes != LIMIT_UNLIMITED && len + 2 < size) {
		/* A persistent upper is a directory of the host's file system,
		 * which has no per-directory limit corral could set everywhere. */
		snprintf(w + len, size - len, "%s--disk does not limit the persistent upper layer in %s",
		         len ? "; " : "", image->state);
		len = strlen(w);
	}
	for (size_t i = 0; i < image->n_volumes && len + 2 < size; i++) {
		if (image->volume_limits[i] == 0 || image->volume_images[i])
			continue;
		snprintf(w + len, size - len, "%svolume %s: its size limit (%llu bytes) is not enforced",
		         len ? "; " : "", policy->volumes[i].name,
		         (unsigned long long)image->volume_limits[i]);
		len = strlen(w);
	}
}
