/*
 * Per-sandbox control groups, v2 (unified) or v1 (legacy hierarchies),
 * detected at run time.
 *
 * One sandbox = one cgroup (v2) or one cgroup in each of the memory, pids,
 * cpu, cpuacct and freezer hierarchies (v1). The supervisor creates it
 * before cloning, places init in it (v2: clone3 CLONE_INTO_CGROUP with
 * cgroup_clone_fd(); v1: cgroup_attach() before init is released), learns
 * of OOM kills while the sandbox runs (an event descriptor, or sampling where
 * there is none), reads usage, kills everything in it on a limit, and
 * removes it when the sandbox is gone.
 */
#ifndef CORRAL_CGROUP_H
#define CORRAL_CGROUP_H

#include "corral.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CGROUP_UNLIMITED UINT64_MAX

struct cgroup_limits {
	uint64_t memory_bytes;   /* memory.max / memory.limit_in_bytes; swap off */
	uint64_t pids;           /* pids.max */
	uint64_t cpu_millis;     /* CPU bandwidth in thousandths of a CPU (1500 = 1.5 CPUs) */
};

enum cgroup_backend {
	CGROUP_BACKEND_NONE,  /* no usable cgroups: the caller falls back to rlimits */
	CGROUP_BACKEND_V2,
	CGROUP_BACKEND_V1,
};

struct cgroup_usage {
	uint64_t cpu_usec;         /* user + system, all processes together */
	uint64_t cpu_user_usec;
	uint64_t cpu_system_usec;
	uint64_t memory_peak_bytes;
	uint64_t pids_current;
	uint64_t pids_peak;        /* 0 if the kernel does not track it */
	uint64_t oom_kills;        /* OOM kills inside the cgroup so far */
	uint64_t pids_max_hits;    /* fork failures because of pids.max */
};

struct cgroup_sandbox;

/* Create the sandbox's cgroup(s) named `name` with `limits`. On a host
 * without usable cgroups (or a rootless caller without a delegated
 * subtree) this succeeds with backend NONE and *why_not set to a short
 * reason; errors are returned only for real failures (e.g. a limit that
 * cannot be written). */
int cgroup_sandbox_create(const char *name, const struct cgroup_limits *limits,
                          struct cgroup_sandbox **out, corral_error *err);
enum cgroup_backend cgroup_sandbox_backend(const struct cgroup_sandbox *cg);
const char *cgroup_backend_name(enum cgroup_backend backend); /* "cgroup2", "cgroup1", "none" */
const char *cgroup_sandbox_why_not(const struct cgroup_sandbox *cg);

/* v2: a directory fd for clone3's CLONE_INTO_CGROUP, else -1. */
int cgroup_sandbox_clone_fd(const struct cgroup_sandbox *cg);
/* Move `pid` into the sandbox's cgroup(s) (v1, or v2 when clone3 could
 * not place it). */
int cgroup_sandbox_attach(struct cgroup_sandbox *cg, pid_t pid, corral_error *err);

/* Everything in struct cgroup_usage. The files read are kept open (and read
 * again with pread) until destroy. */
int cgroup_sandbox_usage(const struct cgroup_sandbox *cg, struct cgroup_usage *usage,
                         corral_error *err);

/* What a running sandbox uses now, safe from any thread (files opened
 * afresh): CPU time, memory peak and current, processes; each
 * CORRAL_USAGE_UNKNOWN where this backend or kernel cannot tell. */
struct cgroup_live {
	uint64_t cpu_ns;
	uint64_t memory_peak_bytes;
	uint64_t memory_current_bytes;
	uint64_t pids_current;
};
int cgroup_sandbox_usage_live(const struct cgroup_sandbox *cg, struct cgroup_live *usage,
                              corral_error *err);

/* Kill and remove the cgroups of sandboxes whose supervisor `supervisor`
 * has died (named sandbox-<pid>-...); nothing while it lives. */
int cgroup_remove_leftovers(pid_t supervisor, size_t *n_removed, corral_error *err);

/* Watching a running sandbox without sampling it.
 *
 * A descriptor that becomes readable when the kernel reports a memory event
 * in the sandbox's cgroup: v2, an inotify watch (IN_MODIFY) on memory.events
 * (the kernel also reports each oom_kill increment there); v1, an eventfd
 * registered for memory.oom_control through cgroup.event_control (signalled
 * when an OOM starts, before the victim is killed). Set up on the first call
 * (not inherited by processes forked before it); later calls return the same
 * descriptor, which the handle owns. -1 when there is none — backend NONE,
 * the set-up failed (inotify limits, a kernel without cgroup.event_control),
 * or v2 without memory.peak (kernels before 5.19), whose peak is only known
 * by sampling memory.current: the caller must then sample
 * cgroup_sandbox_usage() periodically to learn of OOM kills. */
int cgroup_sandbox_event_fd(struct cgroup_sandbox *cg);
/* Consume what the event descriptor reported (if any) and read the OOM-kill
 * count into *oom_kills (v1 kernels before 4.13, which do not count: the
 * number of notifications once memory.failcnt shows the limit was hit).
 * *recheck: an OOM was signalled whose kill is not counted yet (v1) — look
 * again until it is (soon, usually). Also usable without the descriptor. */
int cgroup_sandbox_oom_check(struct cgroup_sandbox *cg, uint64_t *oom_kills, bool *recheck,
                             corral_error *err);
/* CPU time of all processes in the cgroup so far (user + system): one read. */
int cgroup_sandbox_cpu_usec(struct cgroup_sandbox *cg, uint64_t *usec, corral_error *err);

/* Kill every process in the cgroup (v2 cgroup.kill; v1 freeze, SIGKILL
 * each member, thaw) and wait until it is empty. */
int cgroup_sandbox_kill(struct cgroup_sandbox *cg, corral_error *err);

/* The directories the sandbox's cgroup made (v1: one per hierarchy it
 * uses; v2: one), into out[] (at most CGROUP_MAX_DIRS); they point into cg.
 * For a cleanup that must run without the handle's code (the sentinel). */
#define CGROUP_MAX_DIRS 5
size_t cgroup_sandbox_dirs(const struct cgroup_sandbox *cg, const char *out[CGROUP_MAX_DIRS]);
/* Freeze (every task parked, bounded wait) or thaw everything in the
 * cgroup: v2 cgroup.freeze, v1 the freezer hierarchy. ENOTSUP (errnum)
 * where neither exists, or for backend NONE. */
int cgroup_sandbox_freeze(struct cgroup_sandbox *cg, bool frozen, corral_error *err);

/* Remove the cgroup(s) (killing what is left first) and free. Never fails
 * silently: a cgroup that cannot be removed is reported in err and -1
 * returned, but the handle is freed regardless. */
int cgroup_sandbox_destroy(struct cgroup_sandbox *cg, corral_error *err);

#endif
