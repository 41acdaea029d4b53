/*
 * The cgroup module's calls on an existing sandbox cgroup: each goes to the
 * backend the sandbox was placed on (cgroup_v1.c, cgroup_v2.c). Separate
 * from cgroup.c, which detects the host's cgroups and places the sandbox.
 */
#include "cgroup/cgroup_internal.h"
#include "util/error.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum cgroup_backend cgroup_sandbox_backend(const struct cgroup_sandbox *cg)
{
	return cg ? cg->backend : CGROUP_BACKEND_NONE;
}

const char *cgroup_backend_name(enum cgroup_backend backend)
{
	switch (backend) {
	case CGROUP_BACKEND_V2:
		return "cgroup2";
	case CGROUP_BACKEND_V1:
		return "cgroup1";
	case CGROUP_BACKEND_NONE:
		break;
	}
	return "none";
}

const char *cgroup_sandbox_why_not(const struct cgroup_sandbox *cg)
{
	if (!cg || cg->backend != CGROUP_BACKEND_NONE)
		return NULL;
	return cg->why_not;
}

int cgroup_sandbox_clone_fd(const struct cgroup_sandbox *cg)
{
	return cg && cg->backend == CGROUP_BACKEND_V2 ? cg->v2_fd : -1;
}

int cgroup_sandbox_attach(struct cgroup_sandbox *cg, pid_t pid, corral_error *err)
{
	switch (cg->backend) {
	case CGROUP_BACKEND_V2:
		return cgv2_attach(cg, pid, err);
	case CGROUP_BACKEND_V1:
		return cgv1_attach(cg, pid, err);
	case CGROUP_BACKEND_NONE:
		break;
	}
	return 0;
}

int cgroup_sandbox_usage(const struct cgroup_sandbox *cg, struct cgroup_usage *usage,
                         corral_error *err)
{
	memset(usage, 0, sizeof *usage);
	/* The handle is never defined const; reading keeps the counter files
	 * open in it, and the v2 backend the highest memory.current seen when
	 * the kernel has no memory.peak. */
	struct cgroup_sandbox *mcg = (struct cgroup_sandbox *)cg;
	switch (cg->backend) {
	case CGROUP_BACKEND_V2:
		return cgv2_usage(mcg, usage, err);
	case CGROUP_BACKEND_V1:
		return cgv1_usage(mcg, usage, err);
	case CGROUP_BACKEND_NONE:
		break;
	}
	return 0;
}

int cgroup_sandbox_event_fd(struct cgroup_sandbox *cg)
{
	if (!cg || cg->backend == CGROUP_BACKEND_NONE)
		return -1;
	if (!cg->watch_tried) {
		cg->watch_tried = true;
		/* A failure leaves the caller sampling, as before events: the
		 * reason is not worth failing the sandbox for. */
		if (cg->backend == CGROUP_BACKEND_V2)
			(void)cgv2_watch(cg, NULL);
		else
			(void)cgv1_watch(cg, NULL);
	}
	return cg->watch_ok ? cg->event_fd : -1;
}

int cgroup_sandbox_oom_check(struct cgroup_sandbox *cg, uint64_t *oom_kills, bool *recheck,
                             corral_error *err)
{
	*oom_kills = 0;
	*recheck = false;
	switch (cg->backend) {
	case CGROUP_BACKEND_V2:
		return cgv2_oom_check(cg, oom_kills, recheck, err);
	case CGROUP_BACKEND_V1:
		return cgv1_oom_check(cg, oom_kills, recheck, err);
	case CGROUP_BACKEND_NONE:
		break;
	}
	return 0;
}

int cgroup_sandbox_cpu_usec(struct cgroup_sandbox *cg, uint64_t *usec, corral_error *err)
{
	*usec = 0;
	switch (cg->backend) {
	case CGROUP_BACKEND_V2:
		return cgv2_cpu_usec(cg, usec, err);
	case CGROUP_BACKEND_V1:
		return cgv1_cpu_usec(cg, usec, err);
	case CGROUP_BACKEND_NONE:
		break;
	}
	return 0;
}

int cgroup_sandbox_kill(struct cgroup_sandbox *cg, corral_error *err)
{
	switch (cg->backend) {
	case CGROUP_BACKEND_V2:
		return cgv2_kill(cg, err);
	case CGROUP_BACKEND_V1:
		return cgv1_kill(cg, err);
	case CGROUP_BACKEND_NONE:
		break;
	}
	return 0;
}

size_t cgroup_sandbox_dirs(const struct cgroup_sandbox *cg, const char *out[CGROUP_MAX_DIRS])
{
	_Static_assert(CGROUP_MAX_DIRS >= CGV1_N, "CGROUP_MAX_DIRS holds every v1 hierarchy");
	size_t n = 0;
	if (cg && cg->backend == CGROUP_BACKEND_V2 && cg->v2_path[0])
		out[n++] = cg->v2_path;
	if (cg && cg->backend == CGROUP_BACKEND_V1)
		for (int c = 0; c < CGV1_N; c++)
			if (cg->v1[c].primary && cg->v1[c].created)
				out[n++] = cg->v1[c].path;
	return n;
}

int cgroup_sandbox_freeze(struct cgroup_sandbox *cg, bool frozen, corral_error *err)
{
	switch (cg ? cg->backend : CGROUP_BACKEND_NONE) {
	case CGROUP_BACKEND_V2:
		return cgv2_freeze(cg, frozen, err);
	case CGROUP_BACKEND_V1:
		return cgv1_freeze(cg, frozen, err);
	case CGROUP_BACKEND_NONE:
		break;
	}
	return error_set(err, CORRAL_ERR_HOST, ENOTSUP, "no cgroup");
}

int cgroup_sandbox_destroy(struct cgroup_sandbox *cg, corral_error *err)
{
	if (!cg)
		return 0;
	int rc = 0;
	/* Our own descriptors first: nothing of ours refers to the cgroup
	 * while it is removed (v1 drops the eventfd registration with it). */
	cg_close_files(cg);
	switch (cg->backend) {
	case CGROUP_BACKEND_V2:
		rc = cgv2_destroy(cg, err);
		break;
	case CGROUP_BACKEND_V1:
		rc = cgv1_destroy(cg, err);
		break;
	case CGROUP_BACKEND_NONE:
		break;
	}
	free(cg);
	return rc;
}
