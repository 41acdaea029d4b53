#include "jail/rlimits.h"

#include "policy/parse.h"
#include "util/error.h"

#include <errno.h>

static void add(struct rlimit_plan *plan, int resource, uint64_t value)
{
	rlim_t v = value == LIMIT_UNLIMITED ? RLIM_INFINITY : (rlim_t)value;
	if (plan->n < sizeof plan->items / sizeof plan->items[0]) {
		plan->items[plan->n].resource = resource;
		plan->items[plan->n].value = (struct rlimit){v, v};
		plan->n++;
	}
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
	/* Weaker stand-ins: address space per process, processes per uid in
	 * the sandbox's user namespace, CPU seconds per process. */
	add(plan, RLIMIT_AS, limits->memory_bytes);
	add(plan, RLIMIT_NPROC, limits->pids);
	if (limits->cpu_time_ms != LIMIT_UNLIMITED)
		add(plan, RLIMIT_CPU, (limits->cpu_time_ms + 999) / 1000);
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
