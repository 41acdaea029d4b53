/*
 * Per-process resource limits (setrlimit) applied to the command just
 * before execve. Always: open files, file size, no core dumps. When no
 * cgroup can enforce the sandbox-wide limits, rlimits stand in for them,
 * more weakly (per process, or per uid), and the report says so.
 */
#ifndef CORRAL_JAIL_RLIMITS_H
#define CORRAL_JAIL_RLIMITS_H

#include "corral.h"
#include "policy/policy.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/resource.h>

struct rlimit_plan {
	struct {
		int resource;
		struct rlimit value;
	} items[8];
	size_t n;
};

/* `cgroup_enforced`: memory, pids and CPU time are held by a cgroup. */
void rlimit_plan_build(struct rlimit_plan *plan, const struct policy_limits *limits,
                       bool cgroup_enforced);
/* Allocation-free. */
int rlimit_plan_apply(const struct rlimit_plan *plan, corral_error *err);

#endif
