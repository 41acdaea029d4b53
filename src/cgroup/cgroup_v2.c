/*
 * cgroup v2 backend: one directory in the unified hierarchy, with the
 * memory, pids and cpu controllers enabled by its parent.
 */
#include "cgroup/cgroup_internal.h"
#include "util/cleanup.h"
#include "util/error.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CPU_PERIOD_US 100000u
#define CPU_QUOTA_MIN_US 1000u

static void format_limit(char *buf, size_t size, uint64_t v)
{
	if (v == CGROUP_UNLIMITED)
		snprintf(buf, size, "max");
	else
		snprintf(buf, size, "%" PRIu64, v);
}

static int write_limits(const char *path, const struct cgroup_limits *l, corral_error *err)
{
	char buf[64];
	format_limit(buf, sizeof buf, l->memory_bytes);
	if (cg_write(path, "memory.max", buf, err) < 0)
		return -1;
	/* swap off; memory.swap.max is absent without swap accounting */
	if (cg_exists(path, "memory.swap.max") && cg_write(path, "memory.swap.max", "0", err) < 0)
		return -1;
	format_limit(buf, sizeof buf, l->pids);
	if (cg_write(path, "pids.max", buf, err) < 0)
		return -1;
	if (l->cpu_millis == CGROUP_UNLIMITED) {
		snprintf(buf, sizeof buf, "max %u", CPU_PERIOD_US);
	} else {
		/* 1000 millis = one CPU = a full period of quota */
		uint64_t quota = l->cpu_millis * (CPU_PERIOD_US / 1000u);
		if (quota < CPU_QUOTA_MIN_US)
			quota = CPU_QUOTA_MIN_US;
		snprintf(buf, sizeof buf, "%" PRIu64 " %u", quota, CPU_PERIOD_US);
	}
	return cg_write(path, "cpu.max", buf, err);
}

int cgv2_create_bare(struct cgroup_sandbox *cg, const char *path, corral_error *err)
{
	if (!path)
		return error_set(err, CORRAL_ERR_INTERNAL, EINVAL, "cgroup path missing");
	if (strlen(path) >= sizeof cg->v2_path)
		return error_set(err, CORRAL_ERR_SETUP, ENAMETOOLONG, "mkdir %s", path);
	if (mkdir(path, 0755) < 0)
		return error_errno(err, "mkdir %s", path);
	int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		error_errno(err, "open %s", path);
		rmdir(path);
		return -1;
	}
	strcpy(cg->v2_path, path);
	cg->v2_fd = fd;
	cg->v2_peak_seen = 0;
	return 0;
}

static void undo_create(struct cgroup_sandbox *cg)
{
	if (cg->v2_fd >= 0)
		close(cg->v2_fd);
	cg->v2_fd = -1;
	/* nothing can have entered it yet */
	rmdir(cg->v2_path);
	cg->v2_path[0] = '\0';
}

int cgv2_create(struct cgroup_sandbox *cg, const char *path, const struct cgroup_limits *limits,
                corral_error *err)
{
	if (cgv2_create_bare(cg, path, err) < 0)
		return -1;
	if (write_limits(path, limits, err) < 0) {
		undo_create(cg);
		return -1;
	}
	return 0;
}

int cgv2_attach(struct cgroup_sandbox *cg, pid_t pid, corral_error *err)
{
	char buf[32];
	snprintf(buf, sizeof buf, "%d", (int)pid);
	return cg_write(cg->v2_path, "cgroup.procs", buf, err);
}

int cgv2_usage(struct cgroup_sandbox *cg, struct cgroup_usage *u, corral_error *err)
{
	const char *p = cg->v2_path;
	char buf[4096];
	uint64_t v;

	if (cg_counter_read(cg, CGC_CPU, p, "cpu.stat", false, buf, sizeof buf, err) < 0)
		return -1;
	if (cg_keyed_u64(buf, "usage_usec", &v))
		u->cpu_usec = v;
	if (cg_keyed_u64(buf, "user_usec", &v))
		u->cpu_user_usec = v;
	if (cg_keyed_u64(buf, "system_usec", &v))
		u->cpu_system_usec = v;

	int r = cg_counter_u64(cg, CGC_MEM_PEAK, p, "memory.peak", true, &u->memory_peak_bytes,
	                       err);
	if (r < 0)
		return -1;
	if (r == 0) {
		/* before 5.19: the highest memory.current sampled */
		if (cg_counter_u64(cg, CGC_MEM_CURRENT, p, "memory.current", false, &v, err) < 0)
			return -1;
		if (v > cg->v2_peak_seen)
			cg->v2_peak_seen = v;
		u->memory_peak_bytes = cg->v2_peak_seen;
	}

	if (cg_counter_u64(cg, CGC_PIDS_CURRENT, p, "pids.current", false, &u->pids_current,
	                   err) < 0 ||
	    cg_counter_u64(cg, CGC_PIDS_PEAK, p, "pids.peak", true, &u->pids_peak, err) < 0)
		return -1;

	if (cg_counter_read(cg, CGC_OOM, p, "memory.events", false, buf, sizeof buf, err) < 0)
		return -1;
	if (cg_keyed_u64(buf, "oom_kill", &v))
		u->oom_kills = v;
	if (cg_counter_read(cg, CGC_PIDS_EVENTS, p, "pids.events", false, buf, sizeof buf, err) <
	    0)
		return -1;
	if (cg_keyed_u64(buf, "max", &v))
		u->pids_max_hits = v;
	return 0;
}

int cgv2_watch(struct cgroup_sandbox *cg, corral_error *err)
{
	const char *p = cg->v2_path;
	uint64_t peak;
	/* Without memory.peak the peak is the highest memory.current seen:
	 * only sampling finds it, so the caller must keep sampling anyway. */
	int r = cg_counter_u64(cg, CGC_MEM_PEAK, p, "memory.peak", true, &peak, err);
	if (r <= 0)
		return r;
	/* memory.events changes (and notifies) on every oom and oom_kill; the
	 * kernel rate-limits notifications per file but always delivers the
	 * last change. */
	int fd = cg_inotify_watch(p, "memory.events", err);
	if (fd < 0)
		return -1;
	cg->event_fd = fd;
	cg->watch_ok = true;
	return 0;
}

int cgv2_oom_check(struct cgroup_sandbox *cg, uint64_t *oom_kills, bool *recheck,
                   corral_error *err)
{
	char buf[1024];
	uint64_t v = 0;
	/* Drain first, read after: a change after the read notifies again. */
	if (cg->watch_ok)
		(void)cg_drain(cg->event_fd);
	if (cg_counter_read(cg, CGC_OOM, cg->v2_path, "memory.events", false, buf, sizeof buf,
	                    err) < 0)
		return -1;
	if (cg_keyed_u64(buf, "oom_kill", &v))
		*oom_kills = v;
	cg->oom_kills_seen = *oom_kills;
	/* v2 notifies for the kill itself: nothing to look at again */
	*recheck = false;
	return 0;
}

int cgv2_cpu_usec(struct cgroup_sandbox *cg, uint64_t *usec, corral_error *err)
{
	char buf[4096];
	if (cg_counter_read(cg, CGC_CPU, cg->v2_path, "cpu.stat", false, buf, sizeof buf, err) <
	    0)
		return -1;
	if (!cg_keyed_u64(buf, "usage_usec", usec))
		return error_set(err, CORRAL_ERR_SETUP, 0, "read %s/cpu.stat: no usage_usec",
		                 cg->v2_path);
	return 0;
}

/* cgroup.events "<key> N" as a bool; -1 with err when unreadable. */
static int events_flag(const char *path, const char *key, corral_error *err)
{
	char buf[256];
	uint64_t v = 0;
	if (cg_read(path, "cgroup.events", false, buf, sizeof buf, err) < 0)
		return -1;
	if (!cg_keyed_u64(buf, key, &v))
		return error_set(err, CORRAL_ERR_SETUP, 0, "read %s/cgroup.events: no \"%s\"", path,
		                 key);
	return v != 0;
}

/* Wait until nothing is left in the cgroup (or below), SIGKILLing what is
 * listed again on each round when `rekill`. */
static int wait_unpopulated(const char *path, bool rekill, corral_error *err)
{
	uint64_t deadline = cg_now_ms() + CG_KILL_WAIT_MS;
	unsigned pause = 1;
	for (;;) {
		int populated = events_flag(path, "populated", err);
		if (populated <= 0)
			return populated;
		if (cg_now_ms() >= deadline)
			return error_set(err, CORRAL_ERR_SETUP, 0,
			                 "kill %s: processes still present after %d ms", path,
			                 CG_KILL_WAIT_MS);
		if (rekill && cg_kill_tree(path, NULL, err) < 0)
			return -1;
		cg_sleep_ms(pause);
		if (pause < 16)
			pause *= 2;
	}
}

int cgv2_freeze(struct cgroup_sandbox *cg, bool frozen, corral_error *err)
{
	const char *p = cg->v2_path;
	if (!cg_exists(p, "cgroup.freeze"))
		return error_set(err, CORRAL_ERR_HOST, ENOTSUP, "%s: no cgroup.freeze (Linux 5.2+)", p);
	if (cg_write(p, "cgroup.freeze", frozen ? "1" : "0", err) < 0)
		return -1;
	if (!frozen)
		return 0;
	/* Writing 1 only asks: the cgroup is frozen once cgroup.events says
	 * so (every task parked outside the kernel's critical sections). */
	uint64_t deadline = cg_now_ms() + CG_KILL_WAIT_MS;
	for (;;) {
		int done = events_flag(p, "frozen", err);
		if (done < 0)
			return -1;
		if (done)
			return 0;
		if (cg_now_ms() >= deadline)
			return error_set(err, CORRAL_ERR_SETUP, 0,
			                 "freeze %s: not frozen after %d ms", p, CG_KILL_WAIT_MS);
		cg_sleep_ms(1);
	}
}

int cgv2_kill_by_freezing(struct cgroup_sandbox *cg, corral_error *err)
{
	const char *p = cg->v2_path;
	bool can_freeze = cg_exists(p, "cgroup.freeze");
	if (can_freeze) {
		if (cg_write(p, "cgroup.freeze", "1", err) < 0)
			return -1;
		/* frozen, nobody can fork while we read the lists; a bounded
		 * wait, then go on regardless (the re-kill loop below copes) */
		uint64_t deadline = cg_now_ms() + CG_KILL_WAIT_MS;
		for (;;) {
			int frozen = events_flag(p, "frozen", err);
			if (frozen < 0)
				return -1;
			if (frozen || cg_now_ms() >= deadline)
				break;
			cg_sleep_ms(2);
		}
	}
	int rc = cg_kill_tree(p, NULL, err);
	/* v2 lets fatal signals through the freezer; thaw anyway so that
	 * nothing stays parked */
	if (can_freeze && cg_write(p, "cgroup.freeze", "0", rc < 0 ? NULL : err) < 0)
		rc = -1;
	if (rc < 0)
		return -1;
	return wait_unpopulated(p, true, err);
}

int cgv2_kill(struct cgroup_sandbox *cg, corral_error *err)
{
	const char *p = cg->v2_path;
	if (!cg_exists(p, "cgroup.kill"))
		return cgv2_kill_by_freezing(cg, err);
	if (cg_write(p, "cgroup.kill", "1", err) < 0)
		return -1;
	return wait_unpopulated(p, false, err);
}

int cgv2_destroy(struct cgroup_sandbox *cg, corral_error *err)
{
	if (!cg->v2_path[0])
		return 0;
	/* A failed kill shows up as the rmdir failing (EBUSY): a cgroup can
	 * only be removed once empty, so a successful rmdir settles it. */
	corral_error kill_err = {0};
	if (events_flag(cg->v2_path, "populated", &kill_err) != 0)
		(void)cgv2_kill(cg, &kill_err);
	if (cg->v2_fd >= 0)
		close(cg->v2_fd);
	cg->v2_fd = -1;
	if (cg_remove_tree(cg->v2_path, err) < 0) {
		if (kill_err.message[0])
			error_prefix(err, "%s", kill_err.message);
		return -1;
	}
	cg->v2_path[0] = '\0';
	return 0;
}
