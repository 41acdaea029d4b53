/*
 * libcorral — run untrusted code on Linux, isolated.
 *
 * The public API: a policy (built from setters or from its JSON form), a
 * sandbox started from a policy and an argv (or idle, running commands on
 * request), and a result. Everything else in the library is internal.
 *
 * Error convention: fallible functions return 0 on success and -1 on failure,
 * filling the caller's corral_error (which may be NULL) with a kind, the errno
 * involved (0 if none) and a one-line message that names the object concerned
 * ("mount /proc: Permission denied"). Callers decide how to print and which exit
 * code to use; corral_error_exit_code() gives the CLI convention.
 */
#ifndef CORRAL_H
#define CORRAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- errors ------------------------------------------------------------ */

enum corral_error_kind {
	CORRAL_OK = 0,
	CORRAL_ERR_USAGE,            /* bad input from the caller */
	CORRAL_ERR_SETUP,            /* the sandbox could not be built */
	CORRAL_ERR_HOST,             /* the host lacks or blocks a needed feature */
	CORRAL_ERR_EXEC_NOT_FOUND,   /* the command does not exist */
	CORRAL_ERR_EXEC_DENIED,      /* the command exists but cannot be executed */
	CORRAL_ERR_INTERNAL,         /* a bug or resource exhaustion in corral */
};

#define CORRAL_ERROR_MESSAGE_MAX 512

typedef struct corral_error {
	enum corral_error_kind kind;
	int errnum;
	char message[CORRAL_ERROR_MESSAGE_MAX];
} corral_error;

/* Exit codes of the corral CLI. */
#define CORRAL_EXIT_FAILURE 125         /* corral itself failed */
#define CORRAL_EXIT_NOT_EXECUTABLE 126  /* command found but not executable */
#define CORRAL_EXIT_NOT_FOUND 127       /* command not found */

int corral_error_exit_code(const corral_error *err);

/* ---- policy ------------------------------------------------------------ */

typedef struct corral_policy corral_policy;

enum corral_mount_type {
	CORRAL_MOUNT_BIND,     /* read-write bind of a host path */
	CORRAL_MOUNT_RO_BIND,  /* read-only bind of a host path */
	CORRAL_MOUNT_TMPFS,    /* a fresh, empty tmpfs */
};

/* The default policy: every isolation layer on, nothing of the host granted
 * beyond the read-only system. */
corral_policy *corral_policy_new(void);
void corral_policy_free(corral_policy *policy);

/* Apply a policy document (JSON, see docs/policy.md) on top of `policy`. */
int corral_policy_merge_json(corral_policy *policy, const char *json_text, corral_error *err);
int corral_policy_merge_file(corral_policy *policy, const char *path, corral_error *err);
/* The policy's JSON form, malloc'd; NULL on allocation failure. */
char *corral_policy_to_json(const corral_policy *policy);

int corral_policy_add_mount(corral_policy *policy, enum corral_mount_type type,
                            const char *source, const char *target, corral_error *err);
int corral_policy_set_workspace(corral_policy *policy, const char *host_dir, corral_error *err);
int corral_policy_set_cwd(corral_policy *policy, const char *dir, corral_error *err);
/* "KEY=VALUE" */
int corral_policy_set_env(corral_policy *policy, const char *assignment, corral_error *err);
int corral_policy_pass_env(corral_policy *policy, const char *name, corral_error *err);
int corral_policy_set_uid(corral_policy *policy, uid_t uid, corral_error *err);
int corral_policy_set_hostname(corral_policy *policy, const char *hostname, corral_error *err);

/* Network egress (docs/network.md). Without rules a sandbox has no network
 * at all. Each rule allows a destination through corral's proxy: "host",
 * "*.host" (subdomains), "host:port", an IP address or a CIDR. */
int corral_policy_allow_net(corral_policy *policy, const char *rule, corral_error *err);
/* "NAME=ADDRESS": the proxy resolves NAME to ADDRESS (as curl --resolve),
 * which may then be a private or loopback address. */
int corral_policy_net_host(corral_policy *policy, const char *pin, corral_error *err);
/* Append one JSON line per connection or refused lookup to FILE. */
int corral_policy_set_net_log(corral_policy *policy, const char *path, corral_error *err);
/* A program on the host asked about each destination no rule allows: the
 * request as JSON on stdin, exit 0 allows (docs/network.md). Only from a
 * trusted source: it runs with the caller's rights. */
int corral_policy_set_net_rule_cmd(corral_policy *policy, const char *program, corral_error *err);
/* Terminate TLS with corral's CA so every HTTPS request is seen, decided
 * by path rules and logged (implied by path rules and by secrets). */
int corral_policy_set_intercept(corral_policy *policy, bool on);
/* A PEM CA file trusted upstream besides the host's store (NULL: none). */
int corral_policy_set_net_ca(corral_policy *policy, const char *path, corral_error *err);
/* "NAME@HOST[,HOST...]" (the value from corral's environment) or
 * "NAME=VALUE@HOST[,...]": inside the sandbox $NAME is a random
 * placeholder, which the proxy replaces with the value only in requests to
 * those hosts ("*.domain": its subdomains); sent anywhere else, the request
 * is blocked. The value never enters the sandbox. */
int corral_policy_add_secret(corral_policy *policy, const char *spec, corral_error *err);

/* What the sandbox runs on (docs/store.md). Without an image or snapshot the
 * root shows the host's system read-only, as always. With one, the root is
 * an overlay of its layers and a writable upper layer: a tmpfs of --disk
 * bytes, or DIR/upper on disk when the sandbox is persistent (state dir).
 * Names are looked up in the store when the sandbox starts. */
int corral_policy_set_image(corral_policy *policy, const char *name, corral_error *err);
/* Start from a snapshot (over the image it was taken on), with an empty
 * upper layer of its own. */
int corral_policy_set_from(corral_policy *policy, const char *snapshot, corral_error *err);
/* Keep the sandbox's writes in DIR (DIR/upper, DIR/work, DIR/sandbox.json),
 * for later runs and `corral snapshot create --state DIR`. */
int corral_policy_set_state(corral_policy *policy, const char *dir, corral_error *err);
/* The store to use (NULL: the default, as corral_store_open). */
int corral_policy_set_store(corral_policy *policy, const char *dir, corral_error *err);
/* Bind the store's volume NAME at target, read-write unless readonly. */
int corral_policy_add_volume(corral_policy *policy, const char *name, const char *target,
                             bool readonly, corral_error *err);

/* ---- sandboxes ----------------------------------------------------------- */

typedef struct corral_sandbox corral_sandbox;

typedef struct corral_io {
	int stdin_fd;   /* -1: inherit the caller's */
	int stdout_fd;  /* where the command's output goes; -1: the caller's */
	int stderr_fd;
	/* Optional signalfd (-1: none) whose signals corral_sandbox_wait
	 * forwards to the command while it waits. */
	int signal_fd;
} corral_io;

#define CORRAL_IO_INHERIT ((corral_io){-1, -1, -1, -1})

enum corral_status {
	CORRAL_STATUS_EXITED,        /* the command exited on its own */
	CORRAL_STATUS_SIGNALED,      /* the command died of a signal not sent by a limit */
	CORRAL_STATUS_TIMEOUT,       /* wall-clock limit */
	CORRAL_STATUS_OOM,           /* memory limit: the kernel's OOM killer struck */
	CORRAL_STATUS_CPU_TIME,      /* CPU-time limit */
	CORRAL_STATUS_OUTPUT_LIMIT,  /* output limit */
	CORRAL_STATUS_SETUP_ERROR,   /* the sandbox could not be built or the command not started */
};

const char *corral_status_name(enum corral_status status);

/* How each limit was enforced: "cgroup2", "cgroup1", "rlimit", "tmpfs",
 * "supervisor", or "none". */
typedef struct corral_enforcement {
	const char *memory;
	const char *pids;
	const char *cpus;
	const char *timeout;
	const char *cpu_time;
	const char *output;
	const char *disk;
	const char *open_files;
	const char *file_size;
	char weaker[512];    /* why some limits are weaker than asked, or "" */
	/* Landlock's path denials: "audit" when read from the kernel's audit
	 * records, "none" when they cannot be (why says why; with "audit",
	 * why is non-empty only if some may be missing). */
	const char *path_denials;
	char path_denials_why[256];
} corral_enforcement;

#define CORRAL_USAGE_UNKNOWN UINT64_MAX

/* What the policy refused, e.g. {"syscall", "ptrace", "", 3} or
 * {"path", "/etc/shadow", "fs.read_file", 1}. */
#define CORRAL_DENIALS_MAX 32
typedef struct corral_denial {
	char kind[16];
	char name[256];
	char access[64];  /* path denials: the Landlock rights refused; else "" */
	uint64_t count;
} corral_denial;

typedef struct corral_result {
	enum corral_status status;
	int exit_code;       /* the command's exit code (EXITED) */
	int signal;          /* the signal that killed the command, or 0 */
	uint64_t wall_ns;
	uint64_t cpu_ns;     /* CPU time of all the sandbox's processes */
	uint64_t cpu_user_ns;
	uint64_t cpu_sys_ns;
	uint64_t memory_peak_bytes;  /* CORRAL_USAGE_UNKNOWN if not measurable */
	uint64_t pids_peak;          /* CORRAL_USAGE_UNKNOWN if not measurable */
	uint64_t stdout_bytes;       /* bytes delivered to the caller */
	uint64_t stderr_bytes;
	corral_enforcement enforcement;
	corral_denial denials[CORRAL_DENIALS_MAX];
	size_t n_denials;
} corral_result;

/* Start `argv` under `policy`; the sandbox ends when the command does.
 * The caller must not touch the sandbox's processes except through these
 * functions. For a sandbox that runs several commands, see
 * corral_sandbox_start_idle below. */
int corral_sandbox_start(const corral_policy *policy, char *const argv[], const corral_io *io,
                         corral_sandbox **out, corral_error *err);
/* A pidfd for the sandbox's supervisor side: becomes readable when the
 * sandbox has finished (then call corral_sandbox_wait). */
int corral_sandbox_pollfd(const corral_sandbox *sb);
/* Deliver `sig` to the sandboxed command (forwarded by corral's init); in
 * an idle sandbox, to its spawner: a signal that terminates ends the
 * sandbox, SIGKILL kills init itself. */
int corral_sandbox_signal(corral_sandbox *sb, int sig, corral_error *err);
/* Wait for the command to finish; every process of the sandbox is gone when
 * this returns. */
int corral_sandbox_wait(corral_sandbox *sb, corral_result *result, corral_error *err);
/* Kills the sandbox if it still runs, and releases everything. */
void corral_sandbox_free(corral_sandbox *sb);

/* What a running sandbox has used so far, read from its cgroup: CPU time
 * of all its processes, its memory peak and current use, how many
 * processes it has. Each is CORRAL_USAGE_UNKNOWN where not measurable (no
 * cgroup, as rootless without a delegated subtree; a kernel without
 * memory.peak). Safe from another thread than corral_sandbox_wait's. */
typedef struct corral_usage {
	uint64_t cpu_ns;
	uint64_t memory_peak_bytes;
	uint64_t memory_current_bytes;
	uint64_t pids_current;
} corral_usage;
int corral_sandbox_usage(const corral_sandbox *sb, corral_usage *usage, corral_error *err);

/* Remove what the sandboxes of a dead process (which called
 * corral_sandbox_start*) left behind: their cgroups, normally removed by
 * their sentinels even on SIGKILL. Nothing while that process lives.
 * *n_removed: how many sandboxes had left something. */
int corral_cleanup_leftovers(pid_t supervisor, size_t *n_removed, corral_error *err);

/* Replace the --allow-net rules of a running sandbox that started with
 * network egress. New connections and requests are decided by the new
 * rules; open connections they no longer allow are closed at once.
 * Transparent capture stays on the ports planned at start (80, 443 and
 * those the first rules named); other ports are reached through the
 * proxy variables. Path rules need a sandbox started with interception.
 * Errors are CORRAL_ERR_USAGE: a bad rule (errnum 0), a sandbox without
 * egress (ENONET), one that has ended (ESRCH). */
int corral_sandbox_set_net_rules(corral_sandbox *sb, const char *const *rules, size_t n_rules,
                                 corral_error *err);

/* ---- commands in a running sandbox -------------------------------------
 *
 * A sandbox started without a command stays up, its namespaces, mounts,
 * cgroup and limits in place, and runs commands on request. Each process
 * is restricted exactly as the command of corral_sandbox_start is (the
 * sandbox user's ids, no capabilities, no_new_privs, landlock, seccomp,
 * the sandbox's cgroup, so its memory, pids and CPU limits cover every
 * process together), and receives only the three stdio descriptors.
 *
 * An idle sandbox ends on its wall-clock limit (counted from its start,
 * idle time included), on any other limit (an OOM kill of one process
 * ends the whole sandbox, as it would a command's), on
 * corral_sandbox_signal with a signal whose default action terminates
 * (SIGTERM, SIGINT, SIGHUP, ...; corral_sandbox_wait then reports
 * CORRAL_STATUS_SIGNALED with that signal), or on corral_sandbox_free.
 * Processes still running then end with it (CORRAL_PROCESS_LOST).
 * corral_sandbox_wait enforces the limits and answers the seccomp
 * listener while it waits, so run it (typically in a thread of its own)
 * while processes run; the calls below are safe from other threads, and
 * against each other, except on one corral_process from two threads.
 * Output limits do not apply: the caller owns its processes' pipes. */

/* Start a sandbox with no command; returns once it is ready for
 * corral_sandbox_exec (setup errors are reported here). */
int corral_sandbox_start_idle(const corral_policy *policy, corral_sandbox **out,
                              corral_error *err);

typedef struct corral_exec_request {
	char *const *argv;     /* required, NULL-terminated; argv[0] is looked up in PATH */
	char *const *env;      /* NULL or NULL-terminated "NAME=VALUE", over the policy's */
	const char *cwd;       /* NULL: the policy's cwd; relative: to the policy's cwd */
	int stdin_fd;          /* the caller's descriptors (dup'd into the process, */
	int stdout_fd;         /* the caller keeps its own); -1: /dev/null. What */
	int stderr_fd;         /* the process starts may keep them open after it
	                        * ends: watch corral_process_pollfd, not only EOF. */
} corral_exec_request;

/* argv, env and cwd of one request: at most this many bytes (with their
 * NULs) and CORRAL_EXEC_STRINGS_MAX strings. */
#define CORRAL_EXEC_BYTES_MAX (128 * 1024)
#define CORRAL_EXEC_STRINGS_MAX 4096

typedef struct corral_process corral_process;

enum corral_process_state {
	CORRAL_PROCESS_RUNNING,
	CORRAL_PROCESS_EXITED,    /* exit_code is set */
	CORRAL_PROCESS_SIGNALED,  /* signal is set */
	CORRAL_PROCESS_LOST,      /* the sandbox ended (a limit, a kill) before the
	                           * process's end was reported; corral_sandbox_wait
	                           * tells why */
};

typedef struct corral_process_status {
	enum corral_process_state state;
	int exit_code;
	int signal;
} corral_process_status;

/* Run a command in an idle sandbox. Returns once the program runs
 * (execve succeeded); a program that does not exist fails with
 * CORRAL_ERR_EXEC_NOT_FOUND, one that cannot be executed with
 * CORRAL_ERR_EXEC_DENIED (corral_error_exit_code: 127, 126), a missing cwd
 * with CORRAL_ERR_USAGE; a sandbox that has ended with CORRAL_ERR_USAGE
 * and errnum ESRCH. */
int corral_sandbox_exec(corral_sandbox *sb, const corral_exec_request *req,
                        corral_process **out, corral_error *err);
/* The process's pid inside the sandbox's pid namespace (informational). */
pid_t corral_process_pid(const corral_process *proc);
/* Becomes readable when the process has ended or the sandbox is gone
 * (then corral_process_wait does not block). */
int corral_process_pollfd(const corral_process *proc);
/* Deliver `sig` to the process (not to its children). */
int corral_process_signal(corral_process *proc, int sig, corral_error *err);
/* Wait up to timeout_ms (-1: no limit, 0: just look) for the process's end.
 * status->state is CORRAL_PROCESS_RUNNING if it has not ended yet. */
int corral_process_wait(corral_process *proc, int timeout_ms, corral_process_status *status,
                        corral_error *err);
/* Kills the process if it still runs, and releases the handle. Free every
 * process before its sandbox. */
void corral_process_free(corral_process *proc);

/* ---- files of a running sandbox ----------------------------------------
 *
 * Read, write, list and remove files inside a sandbox's own filesystem from
 * outside it. Paths are resolved inside the sandbox's root (absolute, or
 * relative to it); no symlink, ".." or race leads outside. Each operation
 * runs with the file-system identity of the sandboxed user, so what the
 * sandbox cannot read or write, neither can these. Writes are atomic (a
 * temporary file renamed into place). Safe to call from another thread
 * than the one in corral_sandbox_wait. Failures about the path itself are
 * CORRAL_ERR_USAGE with errnum set (ENOENT, EISDIR, EFBIG, ...). */
typedef struct corral_file_entry {
	char *name;
	char type;        /* 'f' regular file, 'd' directory, 'l' symlink, 'o' other */
	uint64_t size;
	unsigned mode;    /* permission bits */
	int64_t mtime;    /* seconds since the epoch */
} corral_file_entry;

/* The whole regular file, at most max_bytes; *data is malloc'd and
 * NUL-terminated (the NUL is not counted in *len). */
int corral_sandbox_read_file(corral_sandbox *sb, const char *path, size_t max_bytes, char **data,
                             size_t *len, corral_error *err);
int corral_sandbox_write_file(corral_sandbox *sb, const char *path, const void *data, size_t len,
                              unsigned mode, corral_error *err);
/* mkdir -p */
int corral_sandbox_make_dirs(corral_sandbox *sb, const char *path, corral_error *err);
/* Entries sorted by name, at most max_entries (then *truncated is set). */
int corral_sandbox_list_dir(corral_sandbox *sb, const char *path, size_t max_entries,
                            corral_file_entry **entries, size_t *n_entries, bool *truncated,
                            corral_error *err);
void corral_file_entries_free(corral_file_entry *entries, size_t n_entries);
int corral_sandbox_remove(corral_sandbox *sb, const char *path, bool recursive,
                          corral_error *err);

/* start + wait */
int corral_run(const corral_policy *policy, char *const argv[], const corral_io *io,
               corral_result *result, corral_error *err);

/* The exit code the CLI reports for a finished sandbox: the command's own,
 * 128+N when killed by signal N, 124 on timeout, 137 on another limit. */
int corral_result_exit_code(const corral_result *result);

/* The run report (docs/report.md): one JSON object, malloc'd. `err` is the
 * failure when the run did not start (status setup_error), else NULL. */
char *corral_result_to_json(const corral_result *result, const corral_policy *policy,
                            const corral_error *err);

/* ---- the store: images, layers, snapshots, volumes ------------------------
 *
 * A store is a directory (docs/store.md) with a catalogue (SQLite) of
 * read-only layers, the images and snapshots stacked from them, and named
 * persistent volumes. Images and snapshots share one namespace; names match
 * [A-Za-z0-9][A-Za-z0-9._-]{0,127}. Every change is crash-safe: a layer is
 * built aside, synced, renamed into place and only then listed, so after a
 * crash it is either complete and listed or absent (corral_store_gc removes
 * the leftovers). Mutations of one store are serialised by a file lock. */
typedef struct corral_store corral_store;

/* Open (creating it if needed) the store at `dir`, or at the default place
 * when dir is NULL: /var/lib/corral for root, else $XDG_STATE_HOME/corral
 * (~/.local/state/corral). */
corral_store *corral_store_open(const char *dir, corral_error *err);
void corral_store_close(corral_store *store);
/* The store's absolute directory. */
const char *corral_store_path(const corral_store *store);

typedef struct corral_image_info {
	char *name;
	int64_t created;     /* seconds since the epoch */
	size_t n_layers;
	uint64_t bytes;      /* file data in its layers */
} corral_image_info;

/* Import `source` as image NAME: "DIR" (a root tree, copied) or "oci:DIR"
 * (an OCI image layout; one store layer per OCI layer). */
int corral_image_import(corral_store *store, const char *source, const char *name,
                        corral_error *err);
/* Images sorted by name. */
int corral_image_list(corral_store *store, corral_image_info **images, size_t *n_images,
                      corral_error *err);
void corral_image_info_free(corral_image_info *images, size_t n_images);
/* Refused while a snapshot stacks on the image. Its layers are freed by
 * corral_store_gc. */
int corral_image_remove(corral_store *store, const char *name, corral_error *err);

typedef struct corral_snapshot_info {
	char *name;
	char *layer;         /* id of the snapshot's own layer */
	char *image;         /* the image at the bottom of its stack */
	char *parent;        /* the snapshot it stacks on, or NULL */
	int64_t created;
	uint64_t bytes;      /* file data in its own layer */
	char **layers;       /* corral_snapshot_inspect only: as corral_store_layers */
	size_t n_layers;
} corral_snapshot_info;

/* Freeze an overlayfs upper directory (whiteouts as 0:0 character devices,
 * opaque directories marked with the overlay.opaque xattr) into a new layer
 * stacked on `base`, an image or a snapshot. Costs what the upper holds. */
int corral_snapshot_create_from_upper(corral_store *store, const char *upper_dir,
                                      const char *base, const char *name, corral_error *err);
/* The same from a persistent sandbox's state directory (docs/store.md):
 * DIR/upper and DIR/work are its overlayfs upper and work directories,
 * DIR/sandbox.json records what it runs on: {"image": NAME, "snapshot":
 * NAME or null}. The snapshot stacks on that snapshot, else the image. */
int corral_snapshot_create_from_state(corral_store *store, const char *state_dir,
                                      const char *name, corral_error *err);
/* Snapshot a running sandbox that runs on an image or a snapshot: its
 * upper layer (tmpfs or --state) becomes snapshot NAME in the sandbox's
 * store, stacked on what it runs on, so corral_policy "from" NAME starts
 * new sandboxes on it. Every process of the sandbox is frozen during the
 * copy (the cgroup freezer; SIGSTOP/SIGCONT where it has no cgroup) and
 * thawed on every path. Costs what the sandbox changed since it started.
 * *info (may be NULL): the new snapshot, free with
 * corral_snapshot_info_free(*info, 1). CORRAL_ERR_USAGE when the sandbox
 * is not on an image or snapshot (errnum EOPNOTSUPP), has ended (ESRCH),
 * or the name is invalid or taken. Safe from another thread than corral_sandbox_wait. */
int corral_sandbox_snapshot(corral_sandbox *sb, const char *name, corral_snapshot_info **info,
                            corral_error *err);
int corral_snapshot_list(corral_store *store, corral_snapshot_info **snapshots,
                         size_t *n_snapshots, corral_error *err);
/* One snapshot with its layers; free with corral_snapshot_info_free(info, 1). */
int corral_snapshot_inspect(corral_store *store, const char *name, corral_snapshot_info **info,
                            corral_error *err);
void corral_snapshot_info_free(corral_snapshot_info *snapshots, size_t n_snapshots);
/* Refused while another snapshot stacks on this one. */
int corral_snapshot_remove(corral_store *store, const char *name, corral_error *err);

/* The layer directories of an image or snapshot in overlayfs lowerdir order:
 * the topmost first, the image's lowest last. */
int corral_store_layers(corral_store *store, const char *name, char ***paths, size_t *n_paths,
                        corral_error *err);
void corral_store_layers_free(char **paths, size_t n_paths);

typedef struct corral_volume_info {
	char *name;
	char *path;          /* the volume's directory */
	uint64_t size_limit; /* bytes; 0: none (recorded, enforced when mounted) */
	int64_t created;
} corral_volume_info;

int corral_volume_create(corral_store *store, const char *name, uint64_t size_limit,
                         corral_error *err);
int corral_volume_list(corral_store *store, corral_volume_info **volumes, size_t *n_volumes,
                       corral_error *err);
void corral_volume_info_free(corral_volume_info *volumes, size_t n_volumes);
/* Deletes the volume and everything in it. */
int corral_volume_remove(corral_store *store, const char *name, corral_error *err);

typedef struct corral_gc_report {
	uint64_t layers_removed;  /* unreferenced or unlisted layers */
	uint64_t leftovers_removed; /* unfinished builds, unlisted volume dirs */
	uint64_t bytes_freed;     /* file data removed */
} corral_gc_report;

/* Remove layers no image or snapshot uses and whatever an interrupted
 * operation left behind. */
int corral_store_gc(corral_store *store, corral_gc_report *report, corral_error *err);

/* JSON forms (malloc'd; NULL on allocation failure): arrays of objects for
 * listings, one object for an inspected snapshot or a gc report. */
char *corral_images_to_json(const corral_image_info *images, size_t n_images);
char *corral_snapshots_to_json(const corral_snapshot_info *snapshots, size_t n_snapshots);
char *corral_snapshot_to_json(const corral_snapshot_info *snapshot);
char *corral_volumes_to_json(const corral_volume_info *volumes, size_t n_volumes);
char *corral_gc_report_to_json(const corral_gc_report *report);

/* ---- host -------------------------------------------------------------- */

/* Write a human-readable report of what this host supports and what corral
 * will do about what is missing. Returns 0 if corral can run here. */
int corral_host_check_print(int fd, bool json);

const char *corral_version(void);

#ifdef __cplusplus
}
#endif

#endif /* CORRAL_H */
