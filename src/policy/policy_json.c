/*
 * The policy's JSON form (docs/policy.md). Parsing goes through the same
 * setters as the CLI, so a profile file cannot express anything the setters
 * would refuse. Unknown keys are errors: a typo must not silently weaken a
 * policy.
 */
#include "policy/policy.h"

#include "util/cleanup.h"
#include "util/error.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int expect_type(json_t *value, json_type type, const char *key, const char *type_name,
                       corral_error *err)
{
	if (json_typeof(value) != type)
		return error_set(err, CORRAL_ERR_USAGE, 0, "policy: \"%s\" must be %s", key, type_name);
	return 0;
}

static int merge_mounts(corral_policy *p, json_t *mounts, corral_error *err)
{
	if (expect_type(mounts, JSON_ARRAY, "mounts", "an array", err) < 0)
		return -1;
	size_t i;
	json_t *m;
	json_array_foreach(mounts, i, m) {
		const char *type = NULL, *source = NULL, *target = NULL;
		json_error_t jerr;
		if (json_unpack_ex(m, &jerr, JSON_STRICT, "{s:s, s?s, s?s}", "type", &type, "source",
		                   &source, "target", &target) < 0)
			return error_set(err, CORRAL_ERR_USAGE, 0, "policy: mounts[%zu]: %s", i, jerr.text);
		enum corral_mount_type t;
		if (policy_mount_type_from_name(type, &t) < 0)
			return error_set(err, CORRAL_ERR_USAGE, 0,
			                 "policy: mounts[%zu]: unknown type \"%s\" (bind, ro-bind, tmpfs)", i,
			                 type);
		if (t == CORRAL_MOUNT_TMPFS && source)
			return error_set(err, CORRAL_ERR_USAGE, 0,
			                 "policy: mounts[%zu]: a tmpfs mount takes no source", i);
		if (corral_policy_add_mount(p, t, source, target, err) < 0)
			return error_prefix(err, "policy: mounts[%zu]", i);
	}
	return 0;
}

static int merge_env(corral_policy *p, json_t *env, corral_error *err)
{
	if (expect_type(env, JSON_OBJECT, "env", "an object", err) < 0)
		return -1;
	const char *key;
	json_t *value;
	json_object_foreach(env, key, value) {
		if (!json_is_string(value))
			return error_set(err, CORRAL_ERR_USAGE, 0, "policy: env.%s must be a string", key);
		size_t len = strlen(key) + 1 + json_string_length(value) + 1;
		_cleanup_free_ char *assignment = malloc(len);
		if (!assignment)
			return error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "policy: env");
		snprintf(assignment, len, "%s=%s", key, json_string_value(value));
		if (corral_policy_set_env(p, assignment, err) < 0)
			return error_prefix(err, "policy");
	}
	return 0;
}

static int merge_pass_env(corral_policy *p, json_t *names, corral_error *err)
{
	if (expect_type(names, JSON_ARRAY, "pass_env", "an array", err) < 0)
		return -1;
	size_t i;
	json_t *name;
	json_array_foreach(names, i, name) {
		if (!json_is_string(name))
			return error_set(err, CORRAL_ERR_USAGE, 0, "policy: pass_env[%zu] must be a string", i);
		if (corral_policy_pass_env(p, json_string_value(name), err) < 0)
			return error_prefix(err, "policy");
	}
	return 0;
}

/* Limits take their human form ("512M", "10s", "unlimited") or a plain
 * non-negative integer in the base unit (bytes, milliseconds, count; CPUs
 * as a number). */
static int merge_limits(corral_policy *p, json_t *limits, corral_error *err)
{
	if (expect_type(limits, JSON_OBJECT, "limits", "an object", err) < 0)
		return -1;
	const char *key;
	json_t *v;
	json_object_foreach(limits, key, v) {
		enum policy_limit_id id;
		if (policy_limit_from_json_name(key, &id) < 0)
			return error_set(err, CORRAL_ERR_USAGE, 0, "policy: unknown limit \"%s\"", key);
		char buf[64];
		if (json_is_string(v)) {
			snprintf(buf, sizeof buf, "%s", json_string_value(v));
		} else if (json_is_integer(v) && json_integer_value(v) >= 0) {
			json_int_t n = json_integer_value(v);
			if (id == POLICY_LIMIT_TIMEOUT || id == POLICY_LIMIT_CPU_TIME)
				snprintf(buf, sizeof buf, "%lldms", (long long)n);
			else
				snprintf(buf, sizeof buf, "%lld", (long long)n);
		} else if (json_is_real(v) && id == POLICY_LIMIT_CPUS && json_real_value(v) > 0 &&
		           json_real_value(v) < 1e6) {
			snprintf(buf, sizeof buf, "%.3f", json_real_value(v));
		} else {
			return error_set(err, CORRAL_ERR_USAGE, 0,
			                 "policy: limits.%s must be a string or a non-negative integer", key);
		}
		if (policy_set_limit(p, id, buf, err) < 0)
			return error_prefix(err, "policy: limits.%s", key);
	}
	return 0;
}

static int merge_object(corral_policy *p, json_t *root, corral_error *err)
{
	if (!json_is_object(root))
		return error_set(err, CORRAL_ERR_USAGE, 0, "policy: the document must be a JSON object");
	const char *key;
	json_t *v;
	json_object_foreach(root, key, v) {
		if (strcmp(key, "version") == 0) {
			if (!json_is_integer(v) || json_integer_value(v) != POLICY_VERSION)
				return error_set(err, CORRAL_ERR_USAGE, 0,
				                 "policy: unsupported \"version\" (this corral reads version %d)",
				                 POLICY_VERSION);
		} else if (strcmp(key, "uid") == 0) {
			if (!json_is_integer(v) || json_integer_value(v) < 0)
				return error_set(err, CORRAL_ERR_USAGE, 0,
				                 "policy: \"uid\" must be a non-negative integer");
			json_int_t uid = json_integer_value(v);
			if (uid > 65533 || corral_policy_set_uid(p, (uid_t)uid, err) < 0)
				return error_set(err, CORRAL_ERR_USAGE, 0, "policy: \"uid\" must be below 65534");
		} else if (strcmp(key, "hostname") == 0) {
			if (expect_type(v, JSON_STRING, key, "a string", err) < 0 ||
			    corral_policy_set_hostname(p, json_string_value(v), err) < 0)
				return error_prefix(err, "policy");
		} else if (strcmp(key, "workspace") == 0) {
			if (!json_is_null(v) && expect_type(v, JSON_STRING, key, "a string or null", err) < 0)
				return -1;
			if (corral_policy_set_workspace(p, json_string_value(v), err) < 0)
				return error_prefix(err, "policy");
		} else if (strcmp(key, "cwd") == 0) {
			if (!json_is_null(v) && expect_type(v, JSON_STRING, key, "a string or null", err) < 0)
				return -1;
			if (corral_policy_set_cwd(p, json_string_value(v), err) < 0)
				return error_prefix(err, "policy");
		} else if (strcmp(key, "mounts") == 0) {
			if (merge_mounts(p, v, err) < 0)
				return -1;
		} else if (strcmp(key, "env") == 0) {
			if (merge_env(p, v, err) < 0)
				return -1;
		} else if (strcmp(key, "limits") == 0) {
			if (merge_limits(p, v, err) < 0)
				return -1;
		} else if (strcmp(key, "pass_env") == 0) {
			if (merge_pass_env(p, v, err) < 0)
				return -1;
		} else if (strcmp(key, "network") == 0) {
			if (policy_net_merge_json(p, v, err) < 0)
				return -1;
		} else {
			bool handled;
			if (policy_store_merge_json(p, key, v, &handled, err) < 0)
				return -1;
			if (handled)
				continue;
			return error_set(err, CORRAL_ERR_USAGE, 0, "policy: unknown key \"%s\"", key);
		}
	}
	return 0;
}

int corral_policy_merge_json(corral_policy *p, const char *json_text, corral_error *err)
{
	json_error_t jerr;
	json_t *root = json_loads(json_text, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return error_set(err, CORRAL_ERR_USAGE, 0, "policy: line %d column %d: %s", jerr.line,
		                 jerr.column, jerr.text);
	int rc = merge_object(p, root, err);
	json_decref(root);
	return rc;
}

int corral_policy_merge_file(corral_policy *p, const char *path, corral_error *err)
{
	json_error_t jerr;
	struct stat st;
	if (stat(path, &st) < 0)
		return error_set(err, CORRAL_ERR_USAGE, errno, "--profile %s", path);
	if (S_ISDIR(st.st_mode))
		return error_set(err, CORRAL_ERR_USAGE, EISDIR, "--profile %s", path);
	json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		if (access(path, R_OK) < 0)
			return error_set(err, CORRAL_ERR_USAGE, errno, "--profile %s", path);
		return error_set(err, CORRAL_ERR_USAGE, 0, "--profile %s: line %d column %d: %s", path,
		                 jerr.line, jerr.column, jerr.text);
	}
	int rc = merge_object(p, root, err);
	json_decref(root);
	if (rc < 0)
		return error_prefix(err, "--profile %s", path);
	return 0;
}

char *corral_policy_to_json(const corral_policy *p)
{
	json_t *root = json_pack("{s:i, s:i, s:s, s:s?, s:s?}", "version", POLICY_VERSION, "uid",
	                         (json_int_t)p->uid, "hostname", p->hostname, "workspace", p->workspace,
	                         "cwd", p->cwd);
	json_t *mounts = json_array();
	json_t *env = json_object();
	json_t *pass = json_array();
	json_t *limits = json_object();
	char *out = NULL;
	if (!root || !mounts || !env || !pass || !limits)
		goto cleanup;
	for (int i = 0; i < POLICY_LIMIT_COUNT; i++) {
		char buf[64];
		policy_format_limit(p, (enum policy_limit_id)i, buf, sizeof buf);
		if (json_object_set_new(limits, policy_limit_json_name((enum policy_limit_id)i),
		                        json_string(buf)) < 0)
			goto cleanup;
	}
	for (size_t i = 0; i < p->n_mounts; i++) {
		const struct policy_mount *m = &p->mounts[i];
		json_t *o = json_pack("{s:s, s:s*, s:s}", "type", policy_mount_type_name(m->type), "source",
		                      m->source, "target", m->target);
		if (!o || json_array_append_new(mounts, o) < 0)
			goto cleanup;
	}
	for (size_t i = 0; i < p->n_env; i++) {
		const char *eq = strchr(p->env[i], '=');
		_cleanup_free_ char *key = strndup(p->env[i], (size_t)(eq - p->env[i]));
		if (!key || json_object_set_new(env, key, json_string(eq + 1)) < 0)
			goto cleanup;
	}
	for (size_t i = 0; i < p->n_pass_env; i++)
		if (json_array_append_new(pass, json_string(p->pass_env[i])) < 0)
			goto cleanup;
	if (json_object_set(root, "mounts", mounts) < 0 || json_object_set(root, "env", env) < 0 ||
	    json_object_set(root, "pass_env", pass) < 0 || json_object_set(root, "limits", limits) < 0)
		goto cleanup;
	if (policy_net_to_json(p, root) < 0 || policy_store_to_json(p, root) < 0)
		goto cleanup;
	out = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
cleanup:
	json_decref(root);
	json_decref(mounts);
	json_decref(env);
	json_decref(pass);
	json_decref(limits);
	return out;
}
