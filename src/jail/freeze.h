/*
 * Holding a running sandbox still while its upper layer is copied
 * (corral_sandbox_snapshot): the cgroup freezer where the sandbox has a
 * cgroup; else every process of its pid namespace is stopped with
 * SIGSTOP (through pidfds, so a reused pid is never signalled) and
 * continued after.
 */
#ifndef CORRAL_JAIL_FREEZE_H
#define CORRAL_JAIL_FREEZE_H

#include "corral.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct cgroup_sandbox;

struct freeze {
	struct cgroup_sandbox *cgroup; /* frozen through it, or NULL */
	int *pidfds;                   /* stopped with SIGSTOP, to continue */
	size_t n_pidfds, cap_pidfds;
	pid_t *pids;                   /* the same processes' pids */
	bool frozen;
};

/* Freeze every process of the sandbox whose init is `init_pid` (not init
 * itself, which writes nothing). On failure nothing stays frozen. */
int freeze_sandbox(struct freeze *f, struct cgroup_sandbox *cg, pid_t init_pid,
                   corral_error *err);
/* Thaw what freeze_sandbox froze; idempotent, best effort. */
void freeze_thaw(struct freeze *f);

#endif
