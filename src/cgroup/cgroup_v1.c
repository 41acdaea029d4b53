/*
 * cgroup v1 backend: <hierarchy>/corral/<name> in each of the memory, pids,
 * cpu (only under a CPU limit), cpuacct and (when mounted) freezer
 * hierarchies. A hierarchy shared by
 * several controllers ("cpu,cpuacct") holds one directory, made, joined and
 * removed through its `primary` entry.
 *
 * v1 has no clone-into-cgroup: processes are attached by pid.
 */
#include "cgroup/cgroup_internal.h"
#include "util/cleanup.h"
#include "util/error.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#define CPU_PERIOD_US 100000u
#define CPU_QUOTA_MIN_US 1000u

/* The `corral` parent of a sandbox directory. */
static int parent_of(const char *path, char *out, size_t size, corral_error *err)
{
	const char *slash = strrchr(path, '/');
	size_t len = slash ? (size_t)(slash - path) : 0;
	if (len == 0 || len >= size)
		return error_set(err, CORRAL_ERR_SETUP, EINVAL, "cgroup path %s", path);
	memcpy(out, path, len);
	out[len] = '\0';
	return 0;
}

static void format_limit(char *buf, size_t size, uint64_t v)
{
	if (v == CGROUP_UNLIMITED)
		snprintf(buf, size, "-1");
	else
		snprintf(buf, size, "%" PRIu64, v);
}

static int write_limits(struct cgroup_sandbox *cg, const struct cgroup_limits *l,
                        corral_error *err)
{
	const char *mem = cg->v1[CGV1_MEMORY].path;
	char buf[64];

	format_limit(buf, sizeof buf, l->memory_bytes);
	if (cg_write(mem, "memory.limit_in_bytes", buf, err) < 0)
		return -1;
	if (cg_exists(mem, "memory.memsw.limit_in_bytes")) {
		/* memory+swap = memory: no swap */
		if (cg_write(mem, "memory.memsw.limit_in_bytes", buf, err) < 0)
			return -1;
	} else {
		/* no swap accounting (swapaccount=0): the best we can do */
		if (cg_write(mem, "memory.swappiness", "0", err) < 0)
			return -1;
	}
	/* the OOM killer on (it is inherited from the parent otherwise) */
	if (cg_write(mem, "memory.oom_control", "0", err) < 0)
		return -1;

	if (l->pids == CGROUP_UNLIMITED)
		snprintf(buf, sizeof buf, "max");
	else
		snprintf(buf, sizeof buf, "%" PRIu64, l->pids);
	if (cg_write(cg->v1[CGV1_PIDS].path, "pids.max", buf, err) < 0)
		return -1;

	/* A new cgroup's CFS quota is unlimited: only a limit is written. */
	if (l->cpu_millis == CGROUP_UNLIMITED)
		return 0;
	const char *cpu = cg->v1[CGV1_CPU].path;
	snprintf(buf, sizeof buf, "%u", CPU_PERIOD_US);
	if (cg_write(cpu, "cpu.cfs_period_us", buf, err) < 0)
		return -1;
	uint64_t quota = l->cpu_millis * (CPU_PERIOD_US / 1000u);
	if (quota < CPU_QUOTA_MIN_US)
		quota = CPU_QUOTA_MIN_US;
	snprintf(buf, sizeof buf, "%" PRIu64, quota);
	return cg_write(cpu, "cpu.cfs_quota_us", buf, err);
}

/* Remove the sandbox directories made so far (and `corral` parents made by
 * this call), in reverse. Used on create's error paths: nothing is in them. */
static void undo_create(struct cgroup_sandbox *cg, const bool parent_made[CGV1_N])
{
	for (int c = CGV1_N - 1; c >= 0; c--) {
		struct cgv1_dir *d = &cg->v1[c];
		if (d->created && rmdir(d->path) == 0)
			d->created = false;
		char parent[PATH_MAX];
		if (parent_made[c] && parent_of(d->path, parent, sizeof parent, NULL) == 0)
			rmdir(parent); /* EBUSY if another sandbox is there now: fine */
	}
}

int cgv1_create(struct cgroup_sandbox *cg, const struct cgroup_limits *limits, corral_error *err)
{
	bool parent_made[CGV1_N] = {false};
	for (int c = 0; c < CGV1_N; c++) {
		struct cgv1_dir *d = &cg->v1[c];
		if (!d->primary)
			continue;
		char parent[PATH_MAX];
		if (parent_of(d->path, parent, sizeof parent, err) < 0)
			goto fail;
		if (mkdir(parent, 0755) == 0) {
			parent_made[c] = true;
		} else if (errno != EEXIST) {
			error_errno(err, "mkdir %s", parent);
			goto fail;
		}
		if (mkdir(d->path, 0755) < 0) {
			error_errno(err, "mkdir %s", d->path);
			goto fail;
		}
		d->created = true;
	}
	if (write_limits(cg, limits, err) < 0)
		goto fail;
	return 0;
fail:
	undo_create(cg, parent_made);
	return -1;
}

int cgv1_attach(struct cgroup_sandbox *cg, pid_t pid, corral_error *err)
{
	char buf[32];
	snprintf(buf, sizeof buf, "%d", (int)pid);
	for (int c = 0; c < CGV1_N; c++)
		if (cg->v1[c].primary && cg_write(cg->v1[c].path, "cgroup.procs", buf, err) < 0)
			return -1;
	return 0;
}

/* The OOM-kill count from memory.oom_control's text (4.13+). Older kernels
 * do not count: there, each notification while memory.failcnt shows the
 * limit was hit stands for one. */
static int oom_kills_of(struct cgroup_sandbox *cg, const char *oom_control, uint64_t *out,
                        corral_error *err)
{
	if (cg_keyed_u64(oom_control, "oom_kill", out))
		return 0;
	*out = 0;
	if (cg->v1_oom_events == 0)
		return 0;
	uint64_t failcnt = 0;
	if (cg_counter_u64(cg, CGC_FAILCNT, cg->v1[CGV1_MEMORY].path, "memory.failcnt", false,
	                   &failcnt, err) < 0)
		return -1;
	if (failcnt > 0)
		*out = cg->v1_oom_events;
	return 0;
}

int cgv1_usage(struct cgroup_sandbox *cg, struct cgroup_usage *u, corral_error *err)
{
	const char *acct = cg->v1[CGV1_CPUACCT].path;
	const char *mem = cg->v1[CGV1_MEMORY].path;
	const char *pids = cg->v1[CGV1_PIDS].path;
	char buf[4096];
	uint64_t v;

	if (cg_counter_u64(cg, CGC_CPU, acct, "cpuacct.usage", false, &v, err) < 0)
		return -1;
	u->cpu_usec = v / 1000u;
	if (cg_counter_read(cg, CGC_CPU_STAT, acct, "cpuacct.stat", false, buf, sizeof buf, err) <
	    0)
		return -1;
	long hz = sysconf(_SC_CLK_TCK);
	if (hz <= 0)
		hz = 100;
	if (cg_keyed_u64(buf, "user", &v))
		u->cpu_user_usec = v * (1000000u / (uint64_t)hz);
	if (cg_keyed_u64(buf, "system", &v))
		u->cpu_system_usec = v * (1000000u / (uint64_t)hz);

	if (cg_counter_u64(cg, CGC_MEM_PEAK, mem, "memory.max_usage_in_bytes", false,
	                   &u->memory_peak_bytes, err) < 0)
		return -1;
	if (cg_counter_read(cg, CGC_OOM, mem, "memory.oom_control", false, buf, sizeof buf, err) <
	        0 ||
	    oom_kills_of(cg, buf, &u->oom_kills, err) < 0)
		return -1;

	if (cg_counter_u64(cg, CGC_PIDS_CURRENT, pids, "pids.current", false, &u->pids_current,
	                   err) < 0)
		return -1;
	/* newer kernels have pids.peak in v1 too */
	if (cg_counter_u64(cg, CGC_PIDS_PEAK, pids, "pids.peak", true, &u->pids_peak, err) < 0)
		return -1;
	int r = cg_counter_read(cg, CGC_PIDS_EVENTS, pids, "pids.events", true, buf, sizeof buf,
	                        err);
	if (r < 0)
		return -1;
	if (r > 0 && cg_keyed_u64(buf, "max", &v))
		u->pids_max_hits = v;
	return 0;
}

int cgv1_watch(struct cgroup_sandbox *cg, corral_error *err)
{
	const char *mem = cg->v1[CGV1_MEMORY].path;
	/* The registration names memory.oom_control by a descriptor of ours:
	 * the same one the OOM count is read through afterwards. */
	int ofd = cg_counter_fd(cg, CGC_OOM, mem, "memory.oom_control", err);
	if (ofd < 0)
		return -1;
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (efd < 0)
		return error_errno(err, "eventfd");
	char line[64];
	snprintf(line, sizeof line, "%d %d", efd, ofd);
	if (cg_write(mem, "cgroup.event_control", line, err) < 0) {
		close(efd);
		return -1;
	}
	cg->event_fd = efd;
	cg->watch_ok = true;
	return 0;
}

int cgv1_oom_check(struct cgroup_sandbox *cg, uint64_t *oom_kills, bool *recheck,
                   corral_error *err)
{
	char buf[1024];
	/* Drain first, read after: an OOM after the read signals again. */
	bool signalled = cg->watch_ok && cg_drain(cg->event_fd);
	if (signalled)
		cg->v1_oom_events++;
	if (cg_counter_read(cg, CGC_OOM, cg->v1[CGV1_MEMORY].path, "memory.oom_control", false,
	                    buf, sizeof buf, err) < 0 ||
	    oom_kills_of(cg, buf, oom_kills, err) < 0)
		return -1;
	/* The notification comes as the OOM starts; the victim is counted
	 * once killed, usually before we get here, but not always. */
	*recheck = signalled && *oom_kills <= cg->oom_kills_seen;
	cg->oom_kills_seen = *oom_kills;
	return 0;
}

int cgv1_cpu_usec(struct cgroup_sandbox *cg, uint64_t *usec, corral_error *err)
{
	uint64_t ns;
	if (cg_counter_u64(cg, CGC_CPU, cg->v1[CGV1_CPUACCT].path, "cpuacct.usage", false, &ns,
	                   err) < 0)
		return -1;
	*usec = ns / 1000u;
	return 0;
}

static int freezer_set(const char *dir, const char *state, corral_error *err)
{
	return cg_write(dir, "freezer.state", state, err);
}

/* Wait (bounded) for freezer.state to read `state`; true if it did. */
static bool freezer_wait(const char *dir, const char *state)
{
	uint64_t deadline = cg_now_ms() + CG_KILL_WAIT_MS;
	char buf[64];
	size_t len = strlen(state);
	for (;;) {
		if (cg_read(dir, "freezer.state", false, buf, sizeof buf, NULL) > 0 &&
		    strncmp(buf, state, len) == 0 && (buf[len] == '\n' || buf[len] == '\0'))
			return true;
		if (cg_now_ms() >= deadline)
			return false;
		cg_sleep_ms(2);
	}
}

int cgv1_freeze(struct cgroup_sandbox *cg, bool frozen, corral_error *err)
{
	if (!cg->v1[CGV1_FREEZER].primary)
		return error_set(err, CORRAL_ERR_HOST, ENOTSUP, "no cgroup v1 freezer hierarchy");
	const char *dir = cg->v1[CGV1_FREEZER].path;
	const char *state = frozen ? "FROZEN" : "THAWED";
	if (freezer_set(dir, state, err) < 0)
		return -1;
	/* FREEZING until every task is parked. */
	if (frozen && !freezer_wait(dir, state))
		return error_set(err, CORRAL_ERR_SETUP, 0, "freeze %s: not frozen after %d ms",
		                 dir, CG_KILL_WAIT_MS);
	return 0;
}

/* SIGKILL everything listed in every hierarchy; *n = how many were listed. */
static int kill_all_listed(struct cgroup_sandbox *cg, size_t *n, corral_error *err)
{
	*n = 0;
	for (int c = 0; c < CGV1_N; c++) {
		size_t k = 0;
		if (!cg->v1[c].primary)
			continue;
		if (cg_kill_tree(cg->v1[c].path, &k, err) < 0)
			return -1;
		*n += k;
	}
	return 0;
}

int cgv1_kill(struct cgroup_sandbox *cg, corral_error *err)
{
	const struct cgv1_dir *fz = &cg->v1[CGV1_FREEZER];
	const char *freezer = fz->primary && fz->created ? fz->path : NULL;
	size_t n = 0;
	/* The usual case: the sandbox is already gone. Reading the lists
	 * (and killing whatever they name) costs far less than a freeze. */
	if (kill_all_listed(cg, &n, err) < 0)
		return -1;
	if (n == 0)
		return 0;
	if (freezer) {
		/* Frozen, nobody forks while the lists are read. If freezing
		 * does not complete in time (a task stuck in the kernel), go on:
		 * the re-kill loop below catches what is left. */
		if (freezer_set(freezer, "FROZEN", err) < 0)
			return -1;
		(void)freezer_wait(freezer, "FROZEN");
		int rc = kill_all_listed(cg, &n, err);
		/* v1 keeps killed tasks frozen until thawed */
		if (freezer_set(freezer, "THAWED", rc < 0 ? NULL : err) < 0)
			rc = -1;
		if (rc < 0)
			return -1;
	}
	uint64_t deadline = cg_now_ms() + CG_KILL_WAIT_MS;
	unsigned pause = 1;
	for (;;) {
		if (kill_all_listed(cg, &n, err) < 0)
			return -1;
		if (n == 0)
			return 0;
		if (cg_now_ms() >= deadline)
			return error_set(err, CORRAL_ERR_SETUP, 0,
			                 "kill %s: %zu processes still present after %d ms",
			                 cg->v1[CGV1_MEMORY].path, n, CG_KILL_WAIT_MS);
		cg_sleep_ms(pause);
		if (pause < 16)
			pause *= 2;
	}
}

/* The usual end: the sandbox's processes are all gone (its init has been
 * reaped, and with it its pid namespace), so each directory goes with one
 * rmdir. A directory that still holds a task or a child cgroup refuses
 * (EBUSY): true if every one went. */
static bool remove_if_empty(struct cgroup_sandbox *cg)
{
	bool all = true;
	for (int c = CGV1_N - 1; c >= 0; c--) {
		struct cgv1_dir *d = &cg->v1[c];
		if (!d->created)
			continue;
		if (rmdir(d->path) == 0 || errno == ENOENT)
			d->created = false;
		else
			all = false;
	}
	return all;
}

int cgv1_destroy(struct cgroup_sandbox *cg, corral_error *err)
{
	if (remove_if_empty(cg))
		return 0;
	corral_error kill_err = {0};
	(void)cgv1_kill(cg, &kill_err); /* a failure shows as EBUSY below */
	int rc = 0;
	for (int c = CGV1_N - 1; c >= 0; c--) {
		struct cgv1_dir *d = &cg->v1[c];
		if (!d->created)
			continue;
		corral_error sub = {0};
		if (cg_remove_tree(d->path, &sub) < 0) {
			if (rc == 0 && err) {
				*err = sub;
				if (kill_err.message[0])
					error_prefix(err, "%s", kill_err.message);
			}
			rc = -1;
			continue;
		}
		d->created = false;
	}
	return rc;
}
