#include "jail/environment.h"

#include "net/net_capture.h"
#include "policy/policy.h"
#include "util/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Set KEY=VALUE, replacing an earlier KEY. */
static int env_put(struct environment *env, const char *key, size_t key_len, const char *value)
{
	char *entry = NULL;
	if (asprintf(&entry, "%.*s=%s", (int)key_len, key, value) < 0)
		return -1;
	for (size_t i = 0; i < env->n; i++) {
		if (strncmp(env->vars[i], key, key_len) == 0 && env->vars[i][key_len] == '=') {
			free(env->vars[i]);
			env->vars[i] = entry;
			return 0;
		}
	}
	char **grown = reallocarray(env->vars, env->n + 2, sizeof *grown);
	if (!grown) {
		free(entry);
		return -1;
	}
	env->vars = grown;
	env->vars[env->n++] = entry;
	env->vars[env->n] = NULL;
	return 0;
}

static int env_put_str(struct environment *env, const char *key, const char *value)
{
	return env_put(env, key, strlen(key), value);
}

int environment_build(struct environment *env, const corral_policy *policy, char *const *extra,
                      size_t n_extra, corral_error *err)
{
	memset(env, 0, sizeof *env);
	const char *term = getenv("TERM");
	if (env_put_str(env, "PATH", POLICY_DEFAULT_PATH) < 0 ||
	    env_put_str(env, "HOME", policy_home(policy)) < 0 ||
	    env_put_str(env, "LANG", "C.UTF-8") < 0 || env_put_str(env, "LC_ALL", "C.UTF-8") < 0 ||
	    (term && env_put_str(env, "TERM", term) < 0))
		goto oom;
	for (size_t i = 0; i < policy->n_pass_env; i++) {
		const char *value = getenv(policy->pass_env[i]);
		if (value && env_put_str(env, policy->pass_env[i], value) < 0)
			goto oom;
	}
	/* Egress: clients that honour proxy variables use corral's proxy
	 * explicitly; the rest is caught transparently (net_capture.h). */
	if (policy_net_enabled(policy)) {
		static const char *const names[] = {"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
		                                    "http_proxy", "https_proxy", "all_proxy"};
		char url[64];
		snprintf(url, sizeof url, "http://127.0.0.1:%d", NET_CAPTURE_PROXY_PORT);
		for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
			if (env_put_str(env, names[i], url) < 0)
				goto oom;
		if (env_put_str(env, "NO_PROXY", "localhost,127.0.0.1,::1") < 0 ||
		    env_put_str(env, "no_proxy", "localhost,127.0.0.1,::1") < 0)
			goto oom;
	}
	for (size_t i = 0; i < policy->n_env; i++) {
		const char *eq = strchr(policy->env[i], '=');
		if (env_put(env, policy->env[i], (size_t)(eq - policy->env[i]), eq + 1) < 0)
			goto oom;
	}
	for (size_t i = 0; i < n_extra; i++) {
		const char *eq = strchr(extra[i], '=');
		if (env_put(env, extra[i], (size_t)(eq - extra[i]), eq + 1) < 0)
			goto oom;
	}
	return 0;
oom:
	environment_free(env);
	return error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "building the environment");
}

void environment_free(struct environment *env)
{
	for (size_t i = 0; i < env->n; i++)
		free(env->vars[i]);
	free(env->vars);
	memset(env, 0, sizeof *env);
}
