/* The network part of the policy: egress rules, resolution pins, the
 * request log, and their JSON form ("network": {"allow": [...],
 * "hosts": {...}, "log": "..."}). */
#include "policy/policy.h"

#include "net/net_rules.h"
#include "util/error.h"
#include "util/strings.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NET_RULES_MAX 256

bool policy_net_enabled(const corral_policy *p)
{
	return p->n_net_allow > 0 || p->net_rule_cmd || p->n_secrets > 0 || p->net_intercept;
}

int corral_policy_allow_net(corral_policy *p, const char *rule, corral_error *err)
{
	if (!rule)
		return error_set(err, CORRAL_ERR_USAGE, 0, "--allow-net: expected a rule");
	if (p->n_net_allow >= NET_RULES_MAX)
		return error_set(err, CORRAL_ERR_USAGE, 0, "--allow-net %s: at most %d rules", rule,
		                 NET_RULES_MAX);
	struct net_rule parsed;
	if (net_rule_parse(rule, &parsed, err) < 0)
		return -1;
	net_rule_clear(&parsed);
	for (size_t i = 0; i < p->n_net_allow; i++)
		if (strcmp(p->net_allow[i], rule) == 0)
			return 0;
	if (strv_append(&p->net_allow, &p->n_net_allow, rule) < 0)
		return error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "--allow-net");
	return 0;
}

int corral_policy_net_host(corral_policy *p, const char *pin, corral_error *err)
{
	const char *eq = pin ? strchr(pin, '=') : NULL;
	if (!eq || eq == pin)
		return error_set(err, CORRAL_ERR_USAGE, 0, "--net-host %s: expected NAME=ADDRESS",
		                 pin ? pin : "");
	char name[256];
	size_t name_len = (size_t)(eq - pin);
	if (name_len >= sizeof name)
		return error_set(err, CORRAL_ERR_USAGE, 0, "--net-host %s: name too long", pin);
	memcpy(name, pin, name_len);
	name[name_len] = '\0';
	if (!hostname_is_valid(name))
		return error_set(err, CORRAL_ERR_USAGE, 0, "--net-host %s: invalid host name", pin);
	unsigned char addr[16];
	if (inet_pton(AF_INET, eq + 1, addr) != 1 && inet_pton(AF_INET6, eq + 1, addr) != 1)
		return error_set(err, CORRAL_ERR_USAGE, 0,
		                 "--net-host %s: expected an IPv4 or IPv6 address after '='", pin);
	/* A later pin for the same name replaces the earlier one. */
	for (size_t i = 0; i < p->n_net_hosts; i++) {
		if (strncasecmp(p->net_hosts[i], pin, name_len + 1) == 0) {
			char *copy = strdup(pin);
			if (!copy)
				return error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "--net-host");
			free(p->net_hosts[i]);
			p->net_hosts[i] = copy;
			return 0;
		}
	}
	if (strv_append(&p->net_hosts, &p->n_net_hosts, pin) < 0)
		return error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "--net-host");
	return 0;
}

int corral_policy_set_net_log(corral_policy *p, const char *path, corral_error *err)
{
	char *copy = NULL;
	if (path) {
		if (!path[0])
			return error_set(err, CORRAL_ERR_USAGE, 0, "--net-log: expected a file name");
		if (!(copy = strdup(path)))
			return error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "--net-log");
	}
	free(p->net_log);
	p->net_log = copy;
	return 0;
}

int corral_policy_set_net_rule_cmd(corral_policy *p, const char *program, corral_error *err)
{
	char *copy = NULL;
	if (program) {
		if (program[0] != '/')
			return error_set(err, CORRAL_ERR_USAGE, 0,
			                 "--net-rule-cmd %s: must be an absolute path", program);
		if (access(program, X_OK) < 0)
			return error_set(err, CORRAL_ERR_USAGE, errno, "--net-rule-cmd %s", program);
		if (!(copy = strdup(program)))
			return error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "--net-rule-cmd");
	}
	free(p->net_rule_cmd);
	p->net_rule_cmd = copy;
	return 0;
}

int policy_net_merge_json(corral_policy *p, void *value, corral_error *err)
{
	json_t *network = value;
	if (!json_is_object(network))
		return error_set(err, CORRAL_ERR_USAGE, 0, "policy: \"network\" must be an object");
	const char *key;
	json_t *v;
	json_object_foreach(network, key, v) {
		if (strcmp(key, "allow") == 0) {
			if (!json_is_array(v))
				return error_set(err, CORRAL_ERR_USAGE, 0,
				                 "policy: \"network.allow\" must be an array of rules");
			size_t i;
			json_t *rule;
			json_array_foreach(v, i, rule) {
				if (!json_is_string(rule))
					return error_set(err, CORRAL_ERR_USAGE, 0,
					                 "policy: network.allow[%zu] must be a string", i);
				if (corral_policy_allow_net(p, json_string_value(rule), err) < 0)
					return error_prefix(err, "policy");
			}
		} else if (strcmp(key, "hosts") == 0) {
			if (!json_is_object(v))
				return error_set(err, CORRAL_ERR_USAGE, 0,
				                 "policy: \"network.hosts\" must be an object of NAME: ADDRESS");
			const char *name;
			json_t *addr;
			json_object_foreach(v, name, addr) {
				char pin[320];
				if (!json_is_string(addr) ||
				    snprintf(pin, sizeof pin, "%s=%s", name, json_string_value(addr)) >=
				            (int)sizeof pin)
					return error_set(err, CORRAL_ERR_USAGE, 0,
					                 "policy: network.hosts.%s must be an address string", name);
				if (corral_policy_net_host(p, pin, err) < 0)
					return error_prefix(err, "policy");
			}
		} else if (strcmp(key, "rule_cmd") == 0) {
			if (!json_is_null(v) && !json_is_string(v))
				return error_set(err, CORRAL_ERR_USAGE, 0,
				                 "policy: \"network.rule_cmd\" must be a program path or null");
			if (corral_policy_set_net_rule_cmd(p, json_string_value(v), err) < 0)
				return error_prefix(err, "policy");
		} else if (strcmp(key, "log") == 0) {
			if (!json_is_null(v) && !json_is_string(v))
				return error_set(err, CORRAL_ERR_USAGE, 0,
				                 "policy: \"network.log\" must be a file name or null");
			if (corral_policy_set_net_log(p, json_string_value(v), err) < 0)
				return error_prefix(err, "policy");
		} else if (strcmp(key, "intercept") == 0 || strcmp(key, "ca") == 0 ||
		           strcmp(key, "secrets") == 0) {
			if (policy_secrets_merge_json(p, key, v, err) < 0)
				return -1;
		} else {
			return error_set(err, CORRAL_ERR_USAGE, 0, "policy: unknown key \"network.%s\"", key);
		}
	}
	return 0;
}

int policy_net_to_json(const corral_policy *p, void *value)
{
	json_t *root = value;
	json_t *allow = json_array();
	json_t *hosts = json_object();
	json_t *network = json_pack("{s:o, s:o, s:s?, s:s?}", "allow", allow, "hosts", hosts, "log",
	                            p->net_log, "rule_cmd", p->net_rule_cmd);
	if (!network)
		return -1;
	for (size_t i = 0; i < p->n_net_allow; i++)
		if (json_array_append_new(allow, json_string(p->net_allow[i])) < 0)
			goto fail;
	for (size_t i = 0; i < p->n_net_hosts; i++) {
		const char *eq = strchr(p->net_hosts[i], '=');
		char name[256];
		snprintf(name, sizeof name, "%.*s", (int)(eq - p->net_hosts[i]), p->net_hosts[i]);
		if (json_object_set_new(hosts, name, json_string(eq + 1)) < 0)
			goto fail;
	}
	if (policy_secrets_to_json(p, network) < 0)
		goto fail;
	return json_object_set_new(root, "network", network);
fail:
	json_decref(network);
	return -1;
}
