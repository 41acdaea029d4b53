/*
 * The policy model: one struct shared by CLI flags, profile files (JSON) and
 * the daemon API. The JSON form is documented in docs/policy.md.
 *
 * Invariants kept by the setters: every path is absolute and normalised,
 * bind sources exist (resolved with realpath at the time they are added),
 * mount targets never fall under /proc or /dev, env names are valid.
 */
#ifndef CORRAL_POLICY_H
#define CORRAL_POLICY_H

#include "corral.h"

#include <stdbool.h>
#include <stdint.h>

#define POLICY_VERSION 1
#define POLICY_DEFAULT_UID 1000
#define POLICY_DEFAULT_HOSTNAME "corral"
#define POLICY_USER_NAME "sandbox"
#define POLICY_WORKSPACE_PATH "/workspace"
#define POLICY_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* Resource limits; LIMIT_UNLIMITED (policy/parse.h) where none applies.
 * Defaults protect a host when the caller gives none (docs/limits.md). */
struct policy_limits {
	uint64_t memory_bytes;   /* RAM of the whole sandbox; swap is off */
	uint64_t pids;           /* processes and threads together */
	uint64_t cpu_milli;      /* CPU bandwidth, thousandths of a CPU */
	uint64_t timeout_ms;     /* wall clock */
	uint64_t cpu_time_ms;    /* CPU time of all processes together */
	uint64_t output_bytes;   /* stdout + stderr the caller receives */
	uint64_t disk_bytes;     /* size of each writable tmpfs (/tmp, HOME, /dev/shm, --tmpfs) */
	uint64_t open_files;     /* RLIMIT_NOFILE per process */
	uint64_t file_size;      /* RLIMIT_FSIZE per process */
};

#define POLICY_DEFAULT_MEMORY (UINT64_C(1) << 30)
#define POLICY_DEFAULT_PIDS 256
#define POLICY_DEFAULT_TIMEOUT_MS (5 * 60 * 1000)
#define POLICY_DEFAULT_OUTPUT (UINT64_C(64) << 20)
#define POLICY_DEFAULT_DISK (UINT64_C(1) << 30)
#define POLICY_DEFAULT_OPEN_FILES 1024

enum policy_limit_id {
	POLICY_LIMIT_MEMORY,
	POLICY_LIMIT_PIDS,
	POLICY_LIMIT_CPUS,
	POLICY_LIMIT_TIMEOUT,
	POLICY_LIMIT_CPU_TIME,
	POLICY_LIMIT_OUTPUT,
	POLICY_LIMIT_DISK,
	POLICY_LIMIT_OPEN_FILES,
	POLICY_LIMIT_FILE_SIZE,
	POLICY_LIMIT_COUNT,
};

/* Name of a limit in JSON ("memory", "cpu_time", …) and as a flag
 * ("--memory", "--cpu-time", …). */
const char *policy_limit_json_name(enum policy_limit_id id);
const char *policy_limit_flag_name(enum policy_limit_id id);
int policy_limit_from_json_name(const char *name, enum policy_limit_id *out);
/* Set a limit from its human form ("64M", "10s", "unlimited"). */
int policy_set_limit(corral_policy *policy, enum policy_limit_id id, const char *value,
                     corral_error *err);
/* The limit's current value rendered in its human form. */
void policy_format_limit(const corral_policy *policy, enum policy_limit_id id, char *buf,
                         unsigned size);
uint64_t *policy_limit_slot(corral_policy *policy, enum policy_limit_id id);

/* A secret the sandbox sees only as a placeholder (--secret). */
struct policy_secret {
	char *name;       /* the variable inside the sandbox */
	char *value;      /* never in the sandbox, the JSON form or a log */
	char **hosts;     /* where it may be sent: "host" or "*.domain", lowercase */
	size_t n_hosts;
};

struct policy_mount {
	enum corral_mount_type type;
	char *source;  /* NULL for tmpfs */
	char *target;
};

/* A named volume of the store bound into the sandbox (--volume). */
struct policy_volume {
	char *name;
	char *target;
	bool readonly;
};

struct corral_policy {
	uid_t uid;          /* inside the sandbox; gid follows uid */
	char *hostname;
	char *workspace;    /* host dir bound at /workspace, or NULL */
	char *cwd;          /* NULL: /workspace if any, else HOME */
	struct policy_mount *mounts;
	size_t n_mounts;
	char **env;         /* "KEY=VALUE", later entries win */
	size_t n_env;
	char **pass_env;    /* names copied from the caller's environment */
	size_t n_pass_env;
	struct policy_limits limits;
	/* Egress (policy_net.c): any allow rule turns corral's proxy on. */
	char **net_allow;   /* --allow-net rules, as given (validated) */
	size_t n_net_allow;
	char **net_hosts;   /* "NAME=ADDRESS" pins of the proxy's resolution */
	size_t n_net_hosts;
	char *net_log;      /* JSON-lines request log, or NULL */
	char *net_rule_cmd; /* program asked about what no rule allows, or NULL */
	bool net_intercept; /* --intercept (also implied: see egress.c) */
	char *net_ca;       /* --net-ca: a CA file trusted upstream besides the host's */
	struct policy_secret *secrets; /* --secret */
	size_t n_secrets;
	/* The store (policy_store.c): names and paths, looked up at start. */
	char *image;        /* --image: the root is this image, or NULL: the host's */
	char *from;         /* --from: the root is this snapshot (over its image) */
	char *state;        /* --state: persistent upper (DIR/upper, DIR/work) */
	char *store_dir;    /* --state-dir: the store, NULL: the default one */
	struct policy_volume *volumes;
	size_t n_volumes;
};

/* policy_store.c */
bool policy_uses_store(const corral_policy *p);
void policy_store_free(corral_policy *p);
/* "image", "from", "state", "state_dir" or "volumes" of the JSON form;
 * *handled is false for any other key. */
int policy_store_merge_json(corral_policy *p, const char *key, void *value /* json_t */,
                            bool *handled, corral_error *err);
int policy_store_to_json(const corral_policy *p, void *root /* json_t */);
/* /, /proc, /dev, /sys and below: corral's own. */
bool policy_target_is_reserved(const char *target);

/* policy_secrets.c */
void policy_secrets_free(corral_policy *p);
/* "intercept", "ca" or "secrets" of the "network" object. */
int policy_secrets_merge_json(corral_policy *p, const char *key, void *value /* json_t */,
                              corral_error *err);
int policy_secrets_to_json(const corral_policy *p, void *network /* json_t */);
const struct policy_secret *policy_secret_named(const corral_policy *p, const char *name,
                                                size_t len);

/* policy_net.c: the "network" object of the JSON form. */
int policy_net_merge_json(corral_policy *p, void *value /* json_t: the "network" object */,
                          corral_error *err);
int policy_net_to_json(const corral_policy *p, void *value /* json_t: the policy's root */);
bool policy_net_enabled(const corral_policy *policy);

const char *policy_mount_type_name(enum corral_mount_type type);
int policy_mount_type_from_name(const char *name, enum corral_mount_type *out);

/* Home directory and user name inside the sandbox for the policy's uid. */
const char *policy_home(const corral_policy *policy);
const char *policy_user_name(const corral_policy *policy);
/* The working directory the command starts in. */
const char *policy_effective_cwd(const corral_policy *policy);

/* Normalise an absolute sandbox path into `out` (collapsing //, /./, and
 * refusing ..). Returns -1 with err set if the path is not acceptable. */
int policy_normalize_sandbox_path(const char *what, const char *path, char *out, size_t out_size,
                                  corral_error *err);

#endif
