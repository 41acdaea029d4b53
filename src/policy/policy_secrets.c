/* Secrets (--secret) and TLS interception (--intercept, --net-ca): the
 * policy side. The proxy does the substitution (src/net/http_engine.c). */
#include "policy/policy.h"

#include "util/error.h"
#include "util/strings.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SECRETS_MAX 64
#define SECRET_HOSTS_MAX 32
#define SECRET_VALUE_MAX 16384

static void secret_clear(struct policy_secret *s)
{
	free(s->name);
	if (s->value) {
		explicit_bzero(s->value, strlen(s->value));
		free(s->value);
	}
	strv_free(s->hosts, s->n_hosts);
	memset(s, 0, sizeof *s);
}

void policy_secrets_free(corral_policy *p)
{
	for (size_t i = 0; i < p->n_secrets; i++)
		secret_clear(&p->secrets[i]);
	free(p->secrets);
	p->secrets = NULL;
	p->n_secrets = 0;
	free(p->net_ca);
	p->net_ca = NULL;
}

/* "host" or "*.domain", a valid name either way. */
static bool secret_host_is_valid(const char *host)
{
	if (strncmp(host, "*.", 2) == 0)
		host += 2;
	return hostname_is_valid(host) && strchr(host, '*') == NULL;
}

/* Hosts from "a,b,*.c" into s->hosts (lowercase). */
static int parse_hosts(struct policy_secret *s, const char *list, const char *what,
                       corral_error *err)
{
	const char *at = list;
	for (;;) {
		const char *comma = strchr(at, ',');
		size_t len = comma ? (size_t)(comma - at) : strlen(at);
		char host[256];
		if (len == 0 || len >= sizeof host)
			return error_set(err, CORRAL_ERR_USAGE, 0, "%s: expected host names after '@'", what);
		for (size_t i = 0; i < len; i++)
			host[i] = (char)(at[i] >= 'A' && at[i] <= 'Z' ? at[i] - 'A' + 'a' : at[i]);
		host[len] = '\0';
		if (!secret_host_is_valid(host))
			return error_set(err, CORRAL_ERR_USAGE, 0, "%s: invalid host \"%s\"", what, host);
		if (s->n_hosts >= SECRET_HOSTS_MAX)
			return error_set(err, CORRAL_ERR_USAGE, 0, "%s: at most %d hosts", what,
			                 SECRET_HOSTS_MAX);
		if (strv_append(&s->hosts, &s->n_hosts, host) < 0)
			return error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "%s", what);
		if (!comma)
			return 0;
		at = comma + 1;
	}
}

/* Take over *s as the secret named s->name, replacing one of that name. */
static int add_secret(corral_policy *p, struct policy_secret *s, const char *what,
                      corral_error *err)
{
	for (size_t i = 0; i < p->n_secrets; i++) {
		if (strcmp(p->secrets[i].name, s->name) == 0) {
			secret_clear(&p->secrets[i]);
			p->secrets[i] = *s;
			memset(s, 0, sizeof *s);
			return 0;
		}
	}
	if (p->n_secrets >= SECRETS_MAX)
		return error_set(err, CORRAL_ERR_USAGE, 0, "%s: at most %d secrets", what, SECRETS_MAX);
	struct policy_secret *grown = reallocarray(p->secrets, p->n_secrets + 1, sizeof *grown);
	if (!grown)
		return error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "%s", what);
	p->secrets = grown;
	p->secrets[p->n_secrets++] = *s;
	memset(s, 0, sizeof *s);
	return 0;
}

static int check_value(const char *value, const char *what, corral_error *err)
{
	size_t len = strlen(value);
	if (len == 0)
		return error_set(err, CORRAL_ERR_USAGE, 0, "%s: the value is empty", what);
	if (len > SECRET_VALUE_MAX)
		return error_set(err, CORRAL_ERR_USAGE, 0, "%s: the value is longer than %d bytes", what,
		                 SECRET_VALUE_MAX);
	/* It goes into header values: no line breaks, no NUL (C strings). */
	if (strpbrk(value, "\r\n"))
		return error_set(err, CORRAL_ERR_USAGE, 0, "%s: the value contains a line break", what);
	return 0;
}

int corral_policy_add_secret(corral_policy *p, const char *spec, corral_error *err)
{
	struct policy_secret s = {0};
	int rc = -1;
	const char *at = spec ? strrchr(spec, '@') : NULL;
	const char *eq = spec ? strchr(spec, '=') : NULL;
	if (eq && at && eq > at)
		eq = NULL; /* an '=' among the hosts: not a value */
	if (!at) {
		error_set(err, CORRAL_ERR_USAGE, 0,
		          "--secret %s: expected NAME@HOST[,HOST...] or NAME=VALUE@HOST[,HOST...]",
		          spec ? spec : "");
		goto cleanup;
	}
	const char *name_end = eq ? eq : at;
	size_t name_len = (size_t)(name_end - spec);
	if (!env_name_is_valid(spec, name_len)) {
		error_set(err, CORRAL_ERR_USAGE, 0, "--secret: \"%.*s\" is not a valid variable name",
		          (int)name_len, spec);
		goto cleanup;
	}
	s.name = strndup(spec, name_len);
	if (!s.name) {
		error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "--secret");
		goto cleanup;
	}
	char what[160];
	snprintf(what, sizeof what, "--secret %s", s.name);
	if (eq) {
		s.value = strndup(eq + 1, (size_t)(at - eq - 1));
	} else {
		const char *from_env = getenv(s.name);
		if (!from_env) {
			error_set(err, CORRAL_ERR_USAGE, 0, "%s: $%s is not set in corral's environment",
			          what, s.name);
			goto cleanup;
		}
		s.value = strdup(from_env);
	}
	if (!s.value) {
		error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "%s", what);
		goto cleanup;
	}
	if (check_value(s.value, what, err) < 0 || parse_hosts(&s, at + 1, what, err) < 0 ||
	    add_secret(p, &s, what, err) < 0)
		goto cleanup;
	rc = 0;
cleanup:
	secret_clear(&s);
	return rc;
}

int corral_policy_set_intercept(corral_policy *p, bool on)
{
	p->net_intercept = on;
	return 0;
}

int corral_policy_set_net_ca(corral_policy *p, const char *path, corral_error *err)
{
	char *copy = NULL;
	if (path) {
		if (path[0] != '/')
			return error_set(err, CORRAL_ERR_USAGE, 0, "--net-ca %s: must be an absolute path",
			                 path);
		if (access(path, R_OK) < 0)
			return error_set(err, CORRAL_ERR_USAGE, errno, "--net-ca %s", path);
		if (!(copy = strdup(path)))
			return error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "--net-ca");
	}
	free(p->net_ca);
	p->net_ca = copy;
	return 0;
}

/* One entry of "network.secrets": {"name": N, "value": V, "hosts": [...]}
 * or, with the value from corral's environment, without "value". */
static int merge_secret(corral_policy *p, size_t index, json_t *entry, corral_error *err)
{
	struct policy_secret s = {0};
	int rc = -1;
	json_t *name = json_object_get(entry, "name");
	json_t *value = json_object_get(entry, "value");
	json_t *hosts = json_object_get(entry, "hosts");
	if (!json_is_object(entry) || !json_is_string(name) || !json_is_array(hosts) ||
	    json_array_size(hosts) == 0 || (value && !json_is_string(value)) ||
	    json_object_size(entry) != 2u + (value ? 1u : 0u)) {
		error_set(err, CORRAL_ERR_USAGE, 0,
		          "policy: network.secrets[%zu] must be {\"name\", \"hosts\": [...], and "
		          "optionally \"value\"}",
		          index);
		goto cleanup;
	}
	const char *n = json_string_value(name);
	if (!env_name_is_valid(n, strlen(n))) {
		error_set(err, CORRAL_ERR_USAGE, 0,
		          "policy: network.secrets[%zu]: \"%s\" is not a valid variable name", index, n);
		goto cleanup;
	}
	char what[160];
	snprintf(what, sizeof what, "policy: secret %s", n);
	const char *v = value ? json_string_value(value) : getenv(n);
	if (!v) {
		error_set(err, CORRAL_ERR_USAGE, 0, "%s: no \"value\" and $%s is not set", what, n);
		goto cleanup;
	}
	if (!(s.name = strdup(n)) || !(s.value = strdup(v))) {
		error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "%s", what);
		goto cleanup;
	}
	if (check_value(s.value, what, err) < 0)
		goto cleanup;
	size_t i;
	json_t *host;
	json_array_foreach(hosts, i, host) {
		if (!json_is_string(host) || strchr(json_string_value(host), ',')) {
			error_set(err, CORRAL_ERR_USAGE, 0, "%s: hosts[%zu] must be a host name", what, i);
			goto cleanup;
		}
		if (parse_hosts(&s, json_string_value(host), what, err) < 0)
			goto cleanup;
	}
	rc = add_secret(p, &s, what, err);
cleanup:
	secret_clear(&s);
	return rc;
}

int policy_secrets_merge_json(corral_policy *p, const char *key, void *value, corral_error *err)
{
	json_t *v = value;
	if (strcmp(key, "intercept") == 0) {
		if (!json_is_boolean(v))
			return error_set(err, CORRAL_ERR_USAGE, 0,
			                 "policy: \"network.intercept\" must be true or false");
		return corral_policy_set_intercept(p, json_is_true(v));
	}
	if (strcmp(key, "ca") == 0) {
		if (!json_is_null(v) && !json_is_string(v))
			return error_set(err, CORRAL_ERR_USAGE, 0,
			                 "policy: \"network.ca\" must be a file name or null");
		if (corral_policy_set_net_ca(p, json_string_value(v), err) < 0)
			return error_prefix(err, "policy");
		return 0;
	}
	/* "secrets" */
	if (!json_is_array(v))
		return error_set(err, CORRAL_ERR_USAGE, 0, "policy: \"network.secrets\" must be an array");
	size_t i;
	json_t *entry;
	json_array_foreach(v, i, entry) {
		if (merge_secret(p, i, entry, err) < 0)
			return -1;
	}
	return 0;
}

/* Never the values: the JSON form is printed and logged. */
int policy_secrets_to_json(const corral_policy *p, void *network_object)
{
	json_t *network = network_object;
	json_t *secrets = json_array();
	if (!secrets || json_object_set_new(network, "secrets", secrets) < 0 ||
	    json_object_set_new(network, "intercept", json_boolean(p->net_intercept)) < 0 ||
	    (p->net_ca && json_object_set_new(network, "ca", json_string(p->net_ca)) < 0))
		return -1;
	for (size_t i = 0; i < p->n_secrets; i++) {
		json_t *hosts = json_array();
		json_t *entry = json_pack("{s:s, s:o}", "name", p->secrets[i].name, "hosts", hosts);
		if (!entry || json_array_append_new(secrets, entry) < 0)
			return -1;
		for (size_t h = 0; h < p->secrets[i].n_hosts; h++)
			if (json_array_append_new(hosts, json_string(p->secrets[i].hosts[h])) < 0)
				return -1;
	}
	return 0;
}

const struct policy_secret *policy_secret_named(const corral_policy *p, const char *name,
                                                size_t len)
{
	for (size_t i = 0; i < p->n_secrets; i++)
		if (strlen(p->secrets[i].name) == len && strncmp(p->secrets[i].name, name, len) == 0)
			return &p->secrets[i];
	return NULL;
}
