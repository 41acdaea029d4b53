/*
 * What a sandbox runs on from the store (docs/store.md): an image or a
 * snapshot as its root, a persistent state directory for its writes, named
 * volumes. The policy keeps names and paths only; they are looked up in the
 * store when the sandbox starts (jail/image_root.c), so a policy can be
 * printed or merged without a store at hand.
 */
#include "policy/policy.h"

#include "util/cleanup.h"
#include "util/error.h"
#include "util/strings.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The store's own rule (store_check_name), repeated here so a bad name is
 * refused when it is given, not when the sandbox starts. */
static bool store_name_ok(const char *name)
{
	size_t len = name ? strlen(name) : 0;
	if (len == 0 || len > 128)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
			return false;
	}
	return true;
}

static int set_name(char **slot, const char *what, const char *name, corral_error *err)
{
	char *copy = NULL;
	if (name) {
		if (!store_name_ok(name))
			return error_set(err, CORRAL_ERR_USAGE, 0,
			                 "%s %s: not a valid name ([A-Za-z0-9][A-Za-z0-9._-]{0,127})", what,
			                 name);
		if (!(copy = strdup(name)))
			return error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "%s", what);
	}
	free(*slot);
	*slot = copy;
	return 0;
}

int corral_policy_set_image(corral_policy *p, const char *name, corral_error *err)
{
	return set_name(&p->image, "--image", name, err);
}

int corral_policy_set_from(corral_policy *p, const char *snapshot, corral_error *err)
{
	return set_name(&p->from, "--from", snapshot, err);
}

/* An absolute, normalised host path; it need not exist yet. */
static int set_host_path(char **slot, const char *what, const char *path, corral_error *err)
{
	char *copy = NULL;
	if (path) {
		if (!path[0])
			return error_set(err, CORRAL_ERR_USAGE, 0, "%s: expected a directory", what);
		char abs[PATH_MAX], normalized[PATH_MAX];
		if (path[0] == '/') {
			string_set(abs, sizeof abs, "%s", path);
		} else {
			char cwd[PATH_MAX];
			if (!getcwd(cwd, sizeof cwd))
				return error_set(err, CORRAL_ERR_USAGE, errno, "%s %s", what, path);
			if (snprintf(abs, sizeof abs, "%s/%s", cwd, path) >= (int)sizeof abs)
				return error_set(err, CORRAL_ERR_USAGE, ENAMETOOLONG, "%s %s", what, path);
		}
		if (policy_normalize_sandbox_path(what, abs, normalized, sizeof normalized, err) < 0)
			return -1;
		if (strcmp(normalized, "/") == 0)
			return error_set(err, CORRAL_ERR_USAGE, 0, "%s /: refused", what);
		if (!(copy = strdup(normalized)))
			return error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "%s", what);
	}
	free(*slot);
	*slot = copy;
	return 0;
}

int corral_policy_set_state(corral_policy *p, const char *dir, corral_error *err)
{
	return set_host_path(&p->state, "--state", dir, err);
}

int corral_policy_set_store(corral_policy *p, const char *dir, corral_error *err)
{
	return set_host_path(&p->store_dir, "--state-dir", dir, err);
}

int corral_policy_add_volume(corral_policy *p, const char *name, const char *target,
                             bool readonly, corral_error *err)
{
	char normalized[PATH_MAX];
	if (!store_name_ok(name))
		return error_set(err, CORRAL_ERR_USAGE, 0,
		                 "--volume %s: not a valid volume name ([A-Za-z0-9][A-Za-z0-9._-]{0,127})",
		                 name ? name : "");
	if (!target)
		return error_set(err, CORRAL_ERR_USAGE, 0, "--volume %s: missing target path", name);
	if (policy_normalize_sandbox_path("--volume", target, normalized, sizeof normalized, err) < 0)
		return -1;
	if (policy_target_is_reserved(normalized))
		return error_set(err, CORRAL_ERR_USAGE, 0, "--volume %s: target is reserved by corral",
		                 normalized);
	struct policy_volume *grown = reallocarray(p->volumes, p->n_volumes + 1, sizeof *grown);
	if (!grown)
		return error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "--volume");
	p->volumes = grown;
	char *n = strdup(name), *t = strdup(normalized);
	if (!n || !t) {
		free(n);
		free(t);
		return error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "--volume");
	}
	p->volumes[p->n_volumes++] = (struct policy_volume){.name = n, .target = t,
	                                                    .readonly = readonly};
	return 0;
}

bool policy_uses_store(const corral_policy *p)
{
	return p->image || p->from || p->state || p->n_volumes > 0;
}

void policy_store_free(corral_policy *p)
{
	free(p->image);
	free(p->from);
	free(p->state);
	free(p->store_dir);
	for (size_t i = 0; i < p->n_volumes; i++) {
		free(p->volumes[i].name);
		free(p->volumes[i].target);
	}
	free(p->volumes);
}

static int merge_string(json_t *v, const char *key, char **out, corral_error *err)
{
	if (!json_is_null(v) && !json_is_string(v))
		return error_set(err, CORRAL_ERR_USAGE, 0, "policy: \"%s\" must be a string or null", key);
	*out = (char *)json_string_value(v);
	return 0;
}

static int merge_volumes(corral_policy *p, json_t *v, corral_error *err)
{
	if (!json_is_array(v))
		return error_set(err, CORRAL_ERR_USAGE, 0, "policy: \"volumes\" must be an array");
	size_t i;
	json_t *m;
	json_array_foreach(v, i, m) {
		const char *name = NULL, *target = NULL;
		int readonly = 0;
		json_error_t jerr;
		if (json_unpack_ex(m, &jerr, JSON_STRICT, "{s:s, s:s, s?b}", "name", &name, "target",
		                   &target, "readonly", &readonly) < 0)
			return error_set(err, CORRAL_ERR_USAGE, 0, "policy: volumes[%zu]: %s", i, jerr.text);
		if (corral_policy_add_volume(p, name, target, readonly, err) < 0)
			return error_prefix(err, "policy: volumes[%zu]", i);
	}
	return 0;
}

int policy_store_merge_json(corral_policy *p, const char *key, void *value, bool *handled,
                            corral_error *err)
{
	json_t *v = value;
	char *s = NULL;
	int rc = 0;
	*handled = true;
	if (strcmp(key, "volumes") == 0)
		return merge_volumes(p, v, err);
	if (strcmp(key, "image") == 0)
		rc = merge_string(v, key, &s, err) < 0 ? -1 : corral_policy_set_image(p, s, err);
	else if (strcmp(key, "from") == 0)
		rc = merge_string(v, key, &s, err) < 0 ? -1 : corral_policy_set_from(p, s, err);
	else if (strcmp(key, "state") == 0)
		rc = merge_string(v, key, &s, err) < 0 ? -1 : corral_policy_set_state(p, s, err);
	else if (strcmp(key, "state_dir") == 0)
		rc = merge_string(v, key, &s, err) < 0 ? -1 : corral_policy_set_store(p, s, err);
	else
		*handled = false;
	if (rc < 0 && err && strncmp(err->message, "policy", 6) != 0)
		return error_prefix(err, "policy");
	return rc;
}

int policy_store_to_json(const corral_policy *p, void *root_value)
{
	json_t *root = root_value;
	json_t *volumes = json_array();
	if (!volumes)
		return -1;
	for (size_t i = 0; i < p->n_volumes; i++) {
		const struct policy_volume *v = &p->volumes[i];
		json_t *o = json_pack("{s:s, s:s, s:b}", "name", v->name, "target", v->target, "readonly",
		                      v->readonly);
		if (!o || json_array_append_new(volumes, o) < 0) {
			json_decref(volumes);
			return -1;
		}
	}
	json_t *fields = json_pack("{s:s?, s:s?, s:s?, s:s?, s:o}", "image", p->image, "from", p->from,
	                           "state", p->state, "state_dir", p->store_dir, "volumes", volumes);
	if (!fields || json_object_update(root, fields) < 0) {
		json_decref(fields);
		return -1;
	}
	json_decref(fields);
	return 0;
}
