/*
 * Shared between cgroup.c (detection), cgroup_dispatch.c, their helpers
 * (cgroup_io.c, cgroup_procs.c) and the two backends, cgroup_v1.c and
 * cgroup_v2.c. Not part of the module's interface: only the unit test looks
 * inside.
 */
#ifndef CORRAL_CGROUP_INTERNAL_H
#define CORRAL_CGROUP_INTERNAL_H

#include "cgroup/cgroup.h"

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CG_NAME_MAX 128
#define CG_WHY_NOT_MAX 256

/* The v1 hierarchies a sandbox lives in. cpu and cpuacct are often one
 * hierarchy ("cpu,cpuacct"); then both entries hold the same path and only
 * the first is marked `primary` (it is the one created, attached, removed). */
enum cgv1_controller {
	CGV1_MEMORY,
	CGV1_PIDS,
	CGV1_CPU,
	CGV1_CPUACCT,
	CGV1_FREEZER,
	CGV1_N,
};

struct cgv1_dir {
	char path[PATH_MAX];  /* <hierarchy>/corral/<name>; "" if not mounted or not
	                       * used (cpu without a CPU limit) */
	bool primary;         /* first controller using this hierarchy */
	bool created;         /* we made path (so we remove it) */
};

/* Counter files read while a sandbox runs and at its end. Each is opened on
 * its first read and kept open: later reads are one pread(2) from offset 0,
 * which makes the kernel generate the file afresh. */
enum cg_counter {
	CGC_CPU,           /* v2 cpu.stat; v1 cpuacct.usage */
	CGC_CPU_STAT,      /* v1 cpuacct.stat */
	CGC_MEM_PEAK,      /* v2 memory.peak; v1 memory.max_usage_in_bytes */
	CGC_MEM_CURRENT,   /* v2 memory.current (kernels without memory.peak) */
	CGC_OOM,           /* v2 memory.events; v1 memory.oom_control */
	CGC_FAILCNT,       /* v1 memory.failcnt */
	CGC_PIDS_CURRENT,
	CGC_PIDS_PEAK,
	CGC_PIDS_EVENTS,
	CGC_N,
};

struct cg_counter_file {
	int fd;
	bool open;     /* fd is ours */
	bool absent;   /* an optional file this kernel does not have */
};

struct cgroup_sandbox {
	enum cgroup_backend backend;
	char name[CG_NAME_MAX + 1];
	char why_not[CG_WHY_NOT_MAX];

	/* v2 */
	char v2_path[PATH_MAX];
	int v2_fd;                 /* O_PATH|O_DIRECTORY of v2_path, or -1 */
	uint64_t v2_peak_seen;     /* highest memory.current read (no memory.peak) */

	/* v1 */
	struct cgv1_dir v1[CGV1_N];

	/* Counters kept open (cg_counter_read); closed by destroy. All-zero
	 * (calloc) means none is open. */
	struct cg_counter_file counters[CGC_N];

	/* OOM notification (cgroup_sandbox_event_fd), set up on first use. */
	bool watch_tried;
	bool watch_ok;             /* event_fd is ours and armed */
	int event_fd;              /* v2 inotify on memory.events; v1 eventfd */
	uint64_t oom_kills_seen;   /* the OOM-kill count at the last check */
	uint64_t v1_oom_events;    /* v1 notifications so far (kernels without oom_kill) */
};

/* ---- helpers (cgroup_io.c; read_pids to remove_tree: cgroup_procs.c) ---- */

/* dir + "/" + file into out; -1 with err on truncation. */
int cg_path(char *out, size_t size, const char *dir, const char *file, corral_error *err);
bool cg_exists(const char *dir, const char *file);
/* Write `value` to dir/file. */
int cg_write(const char *dir, const char *file, const char *value, corral_error *err);
/* Read dir/file into buf, NUL-terminated. 1 when read; 0 when the file does
 * not exist and `optional` (buf is then ""); -1 with err otherwise. */
int cg_read(const char *dir, const char *file, bool optional, char *buf, size_t size,
            corral_error *err);
/* A single number (or "max" = CGROUP_UNLIMITED) from dir/file. */
int cg_read_u64(const char *dir, const char *file, uint64_t *out, corral_error *err);
/* "key value" lines: the value of `key`; false if the key is absent. */
bool cg_keyed_u64(const char *text, const char *key, uint64_t *out);
/* The pids in dir/cgroup.procs, malloc'd into *pids (count in *n); none
 * when dir no longer exists. */
int cg_read_pids(const char *dir, pid_t **pids, size_t *n, corral_error *err);
/* SIGKILL every pid listed in dir/cgroup.procs; *n_seen = how many. */
int cg_kill_listed(const char *dir, size_t *n_seen, corral_error *err);
/* The same for dir and every cgroup below it (*n_seen totals them all). */
int cg_kill_tree(const char *dir, size_t *n_seen, corral_error *err);
/* Remove dir, its child cgroups first, retrying briefly on EBUSY. */
int cg_remove_tree(const char *dir, corral_error *err);
void cg_sleep_ms(unsigned ms);
/* Counter `id`, dir/file, into buf (NUL-terminated) through the handle's
 * kept-open descriptor. 1 when read; 0 when the file does not exist and
 * `optional` (buf ""; remembered, not looked for again); -1 with err. */
int cg_counter_read(struct cgroup_sandbox *cg, enum cg_counter id, const char *dir,
                    const char *file, bool optional, char *buf, size_t size, corral_error *err);
/* A single number (or "max") from counter `id`; 0 and *out untouched when
 * optional and absent, 1 when read. */
int cg_counter_u64(struct cgroup_sandbox *cg, enum cg_counter id, const char *dir,
                   const char *file, bool optional, uint64_t *out, corral_error *err);
/* The kept-open descriptor of counter `id` (opening it), or -1 with err. */
int cg_counter_fd(struct cgroup_sandbox *cg, enum cg_counter id, const char *dir,
                  const char *file, corral_error *err);
/* Close every kept-open counter and the OOM notification. */
void cg_close_files(struct cgroup_sandbox *cg);
/* An inotify descriptor (non-blocking) with an IN_MODIFY watch on dir/file;
 * -1 with err. */
int cg_inotify_watch(const char *dir, const char *file, corral_error *err);
/* Read everything pending on a non-blocking notification descriptor
 * (inotify or eventfd); true if anything was. */
bool cg_drain(int fd);
uint64_t cg_now_ms(void);

/* Bound on waiting for a cgroup to freeze or empty after a kill. */
#define CG_KILL_WAIT_MS 2000
/* Bound on retrying rmdir while the kernel still reports EBUSY. */
#define CG_RMDIR_WAIT_MS 1000

/* ---- v2 (cgroup_v2.c) ---- */

/* mkdir `path` (must not exist), write the limits, open the clone fd. On
 * failure nothing is left behind. */
int cgv2_create(struct cgroup_sandbox *cg, const char *path, const struct cgroup_limits *limits,
                corral_error *err);
/* Like cgv2_create without writing limits (tests, on a hierarchy without
 * controllers). */
int cgv2_create_bare(struct cgroup_sandbox *cg, const char *path, corral_error *err);
int cgv2_attach(struct cgroup_sandbox *cg, pid_t pid, corral_error *err);
int cgv2_usage(struct cgroup_sandbox *cg, struct cgroup_usage *usage, corral_error *err);
/* Arm the OOM notification: inotify on memory.events. 0 with cg->watch_ok
 * set, 0 without when v2 cannot do without sampling (no memory.peak), -1
 * with err when it could not be set up. */
int cgv2_watch(struct cgroup_sandbox *cg, corral_error *err);
int cgv2_oom_check(struct cgroup_sandbox *cg, uint64_t *oom_kills, bool *recheck,
                   corral_error *err);
int cgv2_cpu_usec(struct cgroup_sandbox *cg, uint64_t *usec, corral_error *err);
int cgv2_kill(struct cgroup_sandbox *cg, corral_error *err);
int cgv2_freeze(struct cgroup_sandbox *cg, bool frozen, corral_error *err);
/* The cgroup.kill-less path of cgv2_kill (freeze, SIGKILL each, thaw). */
int cgv2_kill_by_freezing(struct cgroup_sandbox *cg, corral_error *err);
int cgv2_destroy(struct cgroup_sandbox *cg, corral_error *err);

/* ---- v1 (cgroup_v1.c) ---- */

/* cg->v1[*].path/primary must be filled; makes each primary directory (and
 * the `corral` parent), writes the limits. On failure removes what it made. */
int cgv1_create(struct cgroup_sandbox *cg, const struct cgroup_limits *limits, corral_error *err);
int cgv1_attach(struct cgroup_sandbox *cg, pid_t pid, corral_error *err);
int cgv1_usage(struct cgroup_sandbox *cg, struct cgroup_usage *usage, corral_error *err);
/* Arm the OOM notification: an eventfd registered for memory.oom_control
 * through cgroup.event_control. */
int cgv1_watch(struct cgroup_sandbox *cg, corral_error *err);
int cgv1_oom_check(struct cgroup_sandbox *cg, uint64_t *oom_kills, bool *recheck,
                   corral_error *err);
int cgv1_cpu_usec(struct cgroup_sandbox *cg, uint64_t *usec, corral_error *err);
int cgv1_kill(struct cgroup_sandbox *cg, corral_error *err);
int cgv1_freeze(struct cgroup_sandbox *cg, bool frozen, corral_error *err);
int cgv1_destroy(struct cgroup_sandbox *cg, corral_error *err);

#endif
