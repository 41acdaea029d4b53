#include "jail/rlimits.h"

#include "policy/parse.h"
#include "util/error.h"

#include <errno.h>

static void add_soft_hard(struct rlimit_plan *plan, int resource, uint64_t soft, uint64_t hard)
{
	rlim_t s = soft == LIMIT_UNLIMITED ? RLIM_INFINITY : (rlim_t)soft;
	rlim_t h = hard == LIMIT_UNLIMITED ? RLIM_INFINITY : (rlim_t)hard;
	if (plan->n < sizeof plan->items / sizeof plan->items[0]) {
		plan->items[plan->n].resource = resource;
		plan->items[plan->n].value = (struct rlimit){s, h};
		plan->n++;
	}
}

static void add(struct rlimit_plan *plan, int resource, uint64_t value)
{
	add_soft_hard(plan, resource, value, value);
}

void rlimit_plan_build(struct rlimit_plan *plan, const struct policy_limits *limits,
                       bool cgroup_enforced)
{
	plan->n = 0;
	add(plan, RLIMIT_CORE, 0);
	add(plan, RLIMIT_NOFILE, limits->open_files);
	add(plan, RLIMIT_FSIZE, limits->file_size);
	if (cgroup_enforced)
		return;
	/* Weaker stand-ins: private writable memory per process (RLIMIT_DATA,
	 * not RLIMIT_AS, which counts mere reservations and breaks V8 and
	 * thread-heavy programs), processes per uid in the sandbox's user
	 * namespace, CPU seconds per process. */
	add(plan, RLIMIT_DATA, limits->memory_bytes);
	add(plan, RLIMIT_NPROC, limits->pids);
	/* SIGXCPU at the soft limit names the cause; SIGKILL one second later
	 * for a process that ignores it. */
	if (limits->cpu_time_ms != LIMIT_UNLIMITED) {
		uint64_t seconds = (limits->cpu_time_ms + 999) / 1000;
		add_soft_hard(plan, RLIMIT_CPU, seconds, seconds + 1);
	}
}

int rlimit_plan_apply(const struct rlimit_plan *plan, corral_error *err)
{
	for (size_t i = 0; i < plan->n; i++) {
		struct rlimit want = plan->items[i].value;
		if (setrlimit(plan->items[i].resource, &want) == 0)
			continue;
		/* Cannot raise past the caller's hard limit: keep theirs,
		 * which is already stricter. */
		struct rlimit have;
		if (errno == EPERM && getrlimit(plan->items[i].resource, &have) == 0 &&
		    (want.rlim_max == RLIM_INFINITY || have.rlim_max < want.rlim_max)) {
			have.rlim_cur = have.rlim_max;
			if (setrlimit(plan->items[i].resource, &have) == 0)
				continue;
		}
		return error_errno(err, "setrlimit %d", plan->items[i].resource);
	}
	return 0;
}
