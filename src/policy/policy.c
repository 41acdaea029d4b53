#include "policy/policy.h"

#include "policy/parse.h"

#include "util/cleanup.h"
#include "util/error.h"
#include "util/fileutil.h"
#include "util/strings.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const mount_type_names[] = {
	[CORRAL_MOUNT_BIND] = "bind",
	[CORRAL_MOUNT_RO_BIND] = "ro-bind",
	[CORRAL_MOUNT_TMPFS] = "tmpfs",
};

const char *policy_mount_type_name(enum corral_mount_type type)
{
	if ((size_t)type >= sizeof mount_type_names / sizeof mount_type_names[0])
		return "?";
	return mount_type_names[type];
}

int policy_mount_type_from_name(const char *name, enum corral_mount_type *out)
{
	for (size_t i = 0; i < sizeof mount_type_names / sizeof mount_type_names[0]; i++) {
		if (strcmp(name, mount_type_names[i]) == 0) {
			*out = (enum corral_mount_type)i;
			return 0;
		}
	}
	return -1;
}

corral_policy *corral_policy_new(void)
{
	corral_policy *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->uid = POLICY_DEFAULT_UID;
	p->limits = (struct policy_limits){
		.memory_bytes = POLICY_DEFAULT_MEMORY,
		.pids = POLICY_DEFAULT_PIDS,
		.cpu_milli = LIMIT_UNLIMITED,
		.timeout_ms = POLICY_DEFAULT_TIMEOUT_MS,
		.cpu_time_ms = LIMIT_UNLIMITED,
		.output_bytes = POLICY_DEFAULT_OUTPUT,
		.disk_bytes = POLICY_DEFAULT_DISK,
		.open_files = POLICY_DEFAULT_OPEN_FILES,
		.file_size = LIMIT_UNLIMITED,
	};
	p->hostname = strdup(POLICY_DEFAULT_HOSTNAME);
	if (!p->hostname) {
		free(p);
		return NULL;
	}
	return p;
}

void corral_policy_free(corral_policy *p)
{
	if (!p)
		return;
	free(p->hostname);
	free(p->workspace);
	free(p->cwd);
	for (size_t i = 0; i < p->n_mounts; i++) {
		free(p->mounts[i].source);
		free(p->mounts[i].target);
	}
	free(p->mounts);
	strv_free(p->env, p->n_env);
	strv_free(p->pass_env, p->n_pass_env);
	strv_free(p->net_allow, p->n_net_allow);
	strv_free(p->net_hosts, p->n_net_hosts);
	free(p->net_log);
	free(p->net_rule_cmd);
	policy_secrets_free(p);
	policy_store_free(p);
	free(p);
}

const char *policy_home(const corral_policy *p)
{
	return p->uid == 0 ? "/root" : "/home/" POLICY_USER_NAME;
}

const char *policy_user_name(const corral_policy *p)
{
	return p->uid == 0 ? "root" : POLICY_USER_NAME;
}

const char *policy_effective_cwd(const corral_policy *p)
{
	if (p->cwd)
		return p->cwd;
	if (p->workspace)
		return POLICY_WORKSPACE_PATH;
	return policy_home(p);
}

int policy_normalize_sandbox_path(const char *what, const char *path, char *out, size_t out_size,
                                  corral_error *err)
{
	if (!path || path[0] != '/')
		return error_set(err, CORRAL_ERR_USAGE, 0, "%s %s: must be an absolute path", what,
		                 path ? path : "(null)");
	size_t o = 0;
	const char *s = path;
	while (*s) {
		while (*s == '/')
			s++;
		if (!*s)
			break;
		const char *e = strchrnul(s, '/');
		size_t len = (size_t)(e - s);
		if (len == 1 && s[0] == '.') {
			s = e;
			continue;
		}
		if (len == 2 && s[0] == '.' && s[1] == '.')
			return error_set(err, CORRAL_ERR_USAGE, 0, "%s %s: '..' is not allowed", what, path);
		if (o + 1 + len + 1 > out_size)
			return error_set(err, CORRAL_ERR_USAGE, 0, "%s %s: path too long", what, path);
		out[o++] = '/';
		memcpy(out + o, s, len);
		o += len;
		s = e;
	}
	if (o == 0) {
		if (out_size < 2)
			return error_set(err, CORRAL_ERR_USAGE, 0, "%s %s: path too long", what, path);
		out[o++] = '/';
	}
	out[o] = '\0';
	return 0;
}

/* Targets that corral itself owns: granting them would undo the isolation. */
bool policy_target_is_reserved(const char *target)
{
	static const char *const reserved[] = {"/", "/proc", "/dev", "/sys"};
	for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
		if (strcmp(target, reserved[i]) == 0)
			return true;
		if (strcmp(reserved[i], "/") != 0 && path_has_prefix(target, reserved[i]))
			return true;
	}
	return false;
}

static int resolve_host_source(const char *what, const char *source, char **out, corral_error *err)
{
	if (!source || !*source)
		return error_set(err, CORRAL_ERR_USAGE, 0, "%s: missing source path", what);
	char resolved[PATH_MAX];
	if (!realpath(source, resolved))
		return error_set(err, CORRAL_ERR_USAGE, errno, "%s %s", what, source);
	*out = strdup(resolved);
	if (!*out)
		return error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "%s %s", what, source);
	return 0;
}

int corral_policy_add_mount(corral_policy *p, enum corral_mount_type type, const char *source,
                            const char *target, corral_error *err)
{
	char what[32];
	snprintf(what, sizeof what, "--%s", policy_mount_type_name(type));
	_cleanup_free_ char *src = NULL;
	char normalized[PATH_MAX];

	if (type != CORRAL_MOUNT_TMPFS) {
		if (resolve_host_source(what, source, &src, err) < 0)
			return -1;
		if (!target)
			target = source;
	}
	if (!target)
		return error_set(err, CORRAL_ERR_USAGE, 0, "%s: missing target path", what);
	if (policy_normalize_sandbox_path(what, target, normalized, sizeof normalized, err) < 0)
		return -1;
	if (policy_target_is_reserved(normalized))
		return error_set(err, CORRAL_ERR_USAGE, 0, "%s %s: target is reserved by corral", what,
		                 normalized);

	struct policy_mount *grown = reallocarray(p->mounts, p->n_mounts + 1, sizeof *grown);
	if (!grown)
		return error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "%s", what);
	p->mounts = grown;
	char *tgt = strdup(normalized);
	if (!tgt)
		return error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "%s", what);
	p->mounts[p->n_mounts++] = (struct policy_mount){
		.type = type,
		.source = steal_pointer(&src),
		.target = tgt,
	};
	return 0;
}

int corral_policy_set_workspace(corral_policy *p, const char *host_dir, corral_error *err)
{
	char *resolved = NULL;
	if (host_dir) {
		if (resolve_host_source("--workspace", host_dir, &resolved, err) < 0)
			return -1;
		if (!path_is_directory(resolved)) {
			free(resolved);
			return error_set(err, CORRAL_ERR_USAGE, ENOTDIR, "--workspace %s", host_dir);
		}
	}
	free(p->workspace);
	p->workspace = resolved;
	return 0;
}

int corral_policy_set_cwd(corral_policy *p, const char *dir, corral_error *err)
{
	char *copy = NULL;
	if (dir) {
		char normalized[PATH_MAX];
		if (policy_normalize_sandbox_path("--cwd", dir, normalized, sizeof normalized, err) < 0)
			return -1;
		copy = strdup(normalized);
		if (!copy)
			return error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "--cwd");
	}
	free(p->cwd);
	p->cwd = copy;
	return 0;
}

int corral_policy_set_env(corral_policy *p, const char *assignment, corral_error *err)
{
	const char *eq = assignment ? strchr(assignment, '=') : NULL;
	if (!eq)
		return error_set(err, CORRAL_ERR_USAGE, 0, "--env %s: expected KEY=VALUE",
		                 assignment ? assignment : "");
	if (!env_name_is_valid(assignment, (size_t)(eq - assignment)))
		return error_set(err, CORRAL_ERR_USAGE, 0, "--env %s: invalid variable name", assignment);
	if (strv_append(&p->env, &p->n_env, assignment) < 0)
		return error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "--env");
	return 0;
}

int corral_policy_pass_env(corral_policy *p, const char *name, corral_error *err)
{
	if (!name || !env_name_is_valid(name, strlen(name)))
		return error_set(err, CORRAL_ERR_USAGE, 0, "--pass-env %s: invalid variable name",
		                 name ? name : "");
	if (strv_append(&p->pass_env, &p->n_pass_env, name) < 0)
		return error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "--pass-env");
	return 0;
}

int corral_policy_set_uid(corral_policy *p, uid_t uid, corral_error *err)
{
	/* The root-mode id map covers 0..65535 inside; 65534 is nobody. */
	if (uid >= 65534)
		return error_set(err, CORRAL_ERR_USAGE, 0, "--uid %u: must be below 65534", (unsigned)uid);
	p->uid = uid;
	return 0;
}

int corral_policy_set_hostname(corral_policy *p, const char *hostname, corral_error *err)
{
	if (!hostname || !hostname_is_valid(hostname))
		return error_set(err, CORRAL_ERR_USAGE, 0, "--hostname %s: invalid host name",
		                 hostname ? hostname : "");
	char *copy = strdup(hostname);
	if (!copy)
		return error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "--hostname");
	free(p->hostname);
	p->hostname = copy;
	return 0;
}
