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

#define POLICY_VERSION 1
#define POLICY_DEFAULT_UID 1000
#define POLICY_DEFAULT_HOSTNAME "corral"
#define POLICY_USER_NAME "sandbox"
#define POLICY_WORKSPACE_PATH "/workspace"
#define POLICY_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct policy_mount {
	enum corral_mount_type type;
	char *source;  /* NULL for tmpfs */
	char *target;
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
};

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
