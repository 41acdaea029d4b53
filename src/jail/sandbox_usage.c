/* Usage of a running sandbox (corral_sandbox_usage), and what a dead
 * supervisor's sandboxes left (corral_cleanup_leftovers). */
#include "cgroup/cgroup.h"
#include "jail/jail.h"
#include "util/error.h"

#include <errno.h>

int corral_sandbox_usage(const corral_sandbox *sb, corral_usage *usage, corral_error *err)
{
	/* The lock is the sandbox's own bookkeeping, not its state. */
	corral_sandbox *msb = (corral_sandbox *)sb;
	struct cgroup_live live = {0};
	pthread_mutex_lock(&msb->cgroup_lock);
	int rc = msb->cgroup ? cgroup_sandbox_usage_live(msb->cgroup, &live, err)
	                     : error_set(err, CORRAL_ERR_USAGE, ESRCH, "usage: the sandbox has ended");
	pthread_mutex_unlock(&msb->cgroup_lock);
	if (rc < 0)
		return -1;
	usage->cpu_ns = live.cpu_ns;
	usage->memory_peak_bytes = live.memory_peak_bytes;
	usage->memory_current_bytes = live.memory_current_bytes;
	usage->pids_current = live.pids_current;
	return 0;
}

int corral_cleanup_leftovers(pid_t supervisor, size_t *n_removed, corral_error *err)
{
	return cgroup_remove_leftovers(supervisor, n_removed, err);
}
