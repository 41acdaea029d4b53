/*
 * What the supervisor hands to the sandbox's init, and the messages init
 * sends back.
 *
 * Process tree:
 *   supervisor (caller's process, host namespaces)
 *     └─ init: PID 1 of the sandbox's pid namespace; builds the root, then
 *        spawns the command, forwards signals, reaps, and on the command's
 *        exit kills everything left and reports the status.
 *          └─ command: applies landlock, drops every privilege, applies seccomp,
 *             execs.
 *          or, in an idle sandbox (corral_sandbox_start_idle):
 *          └─ spawner: restricted exactly as the command, once; then forks
 *             and execs each corral_sandbox_exec request (spawner.h).
 *
 * All of the context is prepared in the supervisor so that init and the
 * command never allocate between clone and execve.
 */
#ifndef CORRAL_JAIL_JAIL_H
#define CORRAL_JAIL_JAIL_H

#include "corral.h"
#include "jail/denials.h"
#include "jail/environment.h"
#include "jail/idmap.h"
#include "jail/image_root.h"
#include "jail/mount_plan.h"
#include "jail/rlimits.h"
#include "jail/sentinel.h"
#include "landlock/landlock_audit.h"
#include "net/egress.h"

#include <pthread.h>
#include <stdint.h>
#include <sys/resource.h>
#include <time.h>

struct seccomp_program;

struct jail_context {
	const corral_policy *policy;
	struct jail_ids ids;
	struct image_root image;   /* the policy's store options, resolved */
	struct mount_plan plan;
	struct environment env;
	struct seccomp_program *seccomp;
	char *const *argv;
	const char *cwd;
	struct rlimit_plan rlimits;
	int io_fds[3];     /* -1: inherit */
	int sync_read_fd;  /* init waits here for its id maps */
	int listener_sock; /* the command hands its seccomp listener over here */
	int root_sock;     /* init hands the sandbox's root directory over here */
	int status_write_fd;
	int net_sock;      /* egress on: init hands its network listeners over here */
	struct net_capture_plan net_plan;
	bool idle;         /* no command: init runs the spawner */
	bool landlock_audit; /* the supervisor reads Landlock's audit records: log, probe */
	int spawn_sock;    /* idle: the spawner's end of the request socket */
	struct spawner_buffers *spawn_buf; /* idle: the spawner's memory, allocated here */
};

enum jail_message_type {
	JAIL_MSG_SETUP_ERROR = 1,  /* init or the command failed before execve */
	JAIL_MSG_EXEC_ERROR = 2,   /* execve failed: not found / not executable */
	JAIL_MSG_EXITED = 3,       /* the command finished: wait_status is set */
};

struct jail_message {
	uint32_t type;
	int32_t wait_status;
	corral_error error;
};

/* The supervisor's private state for a running sandbox (sandbox.c and
 * monitor.c). */
struct cgroup_sandbox;

enum { SANDBOX_STDOUT = 0, SANDBOX_STDERR = 1 };

#define PUMP_BUF_SIZE 65536

struct corral_sandbox {
	pid_t init_pid;
	int pidfd;
	int status_read_fd;
	int sync_write_fd;            /* held open so init can tell the supervisor is alive */
	int signal_fd;                /* the caller's signalfd to forward, or -1 */
	int listener_sock;            /* receives the seccomp listener, or -1 */
	int listener_fd;              /* the seccomp listener once received, or -1 */
	int root_sock;                /* receives the sandbox's root directory, or -1 */
	int root_fd;                  /* O_PATH fd of the sandbox's root once received, or -1 */
	pthread_mutex_t root_lock;    /* receiving root_fd (and upper_fd) */
	uid_t user_host_uid;          /* the host ids the sandboxed command runs as */
	gid_t user_host_gid;
	struct denial_log denials;
	struct landlock_audit audit;  /* Landlock's path denials, from audit records */
	struct timespec started;
	bool reaped;
	int init_wait_status;
	struct rusage init_rusage;
	struct cgroup_sandbox *cgroup;
	pthread_mutex_t cgroup_lock;  /* its destruction vs corral_sandbox_usage */
	struct sentinel sentinel;
	struct policy_limits limits;
	int pump_fds[2];              /* read ends of the command's stdout/stderr, or -1 */
	/* What pump reads into (PUMP_BUF_SIZE), malloc'd with the pipes: a
	 * buffer this size on the stack is probed page by page
	 * (-fstack-clash-protection), a page fault each, even for no output. */
	char *pump_buf;
	int dest_fds[2];              /* where pumped output goes */
	uint64_t delivered[2];
	bool limit_hit;
	enum corral_status limit_status;
	corral_enforcement enforcement;
	struct egress egress;         /* rules, listeners' plan, proxy (egress on) */
	int state_lock_fd;            /* --state: the state dir, flock'ed while we run; -1 */
	/* On an image or snapshot (sandbox_snapshot.c). */
	char *snap_base;              /* what it runs on: snapshot, else image; NULL: not */
	char *store_path;
	int upper_fd;                 /* the overlay's upper directory, or -1 */
	uint32_t upper_id_shift;      /* as struct overlay_root's */
	bool upper_expected;          /* rootless: init sends upper_fd after the root */
	int *lease_fds;               /* the layers it runs on, flock(LOCK_SH)'ed */
	size_t n_leases;
	pthread_mutex_t snapshot_lock; /* one snapshot (freeze, copy, thaw) at a time */
	/* Idle sandboxes only (exec.c). */
	bool idle;
	int spawn_sock;               /* requests to the spawner, its replies; -1 */
	pthread_mutex_t spawn_lock;   /* one request and its reply at a time */
	uint64_t next_request_id;
	struct environment env;       /* the policy's environment, for merging */
};

/* Wait for the sandbox, pumping output, enforcing the wall clock, CPU time,
 * memory and output limits, forwarding signals. Fills `result`. */
int monitor_run(corral_sandbox *sb, corral_result *result, corral_error *err);
/* Stop the whole sandbox now. */
void monitor_kill(corral_sandbox *sb);

/* Runs in the cloned child; never returns. */
__attribute__((noreturn)) void jail_init_main(struct jail_context *ctx);

/* In init's child, for the command and the spawner alike: new session,
 * landlock (and the audit probe), ids, no capabilities, locked
 * securebits, no_new_privs, cwd, rlimits, seccomp (its listener handed to
 * the supervisor). Allocation-free. */
int jail_restrict(struct jail_context *ctx, corral_error *err);
/* Report a setup error to the supervisor and exit. */
__attribute__((noreturn)) void jail_fail_setup(struct jail_context *ctx, corral_error *err);
void jail_close_fds_except(int a, int b);

/* The sandbox's root directory, received from init on first use (with the
 * overlay's upper when init sends it); -1 with err when the sandbox ended
 * before building it. */
int sandbox_root(corral_sandbox *sb, corral_error *err);

/* The supervisor's preparation (sandbox_context.c): fill ctx for policy and
 * argv (memory_in_cgroup: a cgroup charges tmpfs pages to --memory); on
 * failure ctx holds nothing. */
int sandbox_context_prepare(struct jail_context *ctx, const corral_policy *policy,
                            char *const argv[], bool idle, bool memory_in_cgroup,
                            const struct egress *egress, corral_error *err);
void sandbox_context_free(struct jail_context *ctx);
/* The sandbox's cgroup and its sentinel (sandbox_limits.c); none when no
 * limit needs one. sb->enforcement is filled to match. */
int sandbox_create_cgroup(corral_sandbox *sb, corral_error *err);
/* Add what the store options leave unenforced to sb->enforcement. */
void sandbox_describe_store_enforcement(corral_sandbox *sb, const corral_policy *policy,
                                        const struct image_root *image);

/* The spawner (spawner.c): runs in init's child of an idle sandbox. */
__attribute__((noreturn)) void spawner_main(struct jail_context *ctx);
/* The supervisor's side of an idle sandbox (exec.c): wait until the
 * spawner is ready (or init has failed). */
int exec_await_ready(corral_sandbox *sb, corral_error *err);

#endif
