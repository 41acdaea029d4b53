#include "net/egress.h"

#include "net/net_rules.h"
#include "net/proxy.h"
#include "policy/policy.h"
#include "util/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define EGRESS_MAX_CONNECTIONS 256

static void add_port(struct net_capture_plan *plan, uint16_t port)
{
	for (size_t i = 0; i < plan->n_ports; i++)
		if (plan->ports[i] == port)
			return;
	if (plan->n_ports < NET_CAPTURE_PORTS_MAX)
		plan->ports[plan->n_ports++] = port;
}

int egress_prepare(struct egress *e, const corral_policy *policy, corral_error *err)
{
	memset(e, 0, sizeof *e);
	e->log_fd = -1;
	if (!policy_net_enabled(policy))
		return 0;
	e->rules = net_ruleset_new();
	if (!e->rules)
		return error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "network rules");
	for (size_t i = 0; i < policy->n_net_allow; i++)
		if (net_ruleset_add(e->rules, policy->net_allow[i], err) < 0)
			goto fail;
	/* The explicit proxy, then plain HTTP and HTTPS, then every port a
	 * rule names (capped: the rest is reachable through the proxy). */
	add_port(&e->plan, NET_CAPTURE_PROXY_PORT);
	add_port(&e->plan, 80);
	add_port(&e->plan, 443);
	uint16_t ports[NET_CAPTURE_PORTS_MAX];
	size_t n = net_ruleset_ports(e->rules, ports, NET_CAPTURE_PORTS_MAX);
	for (size_t i = 0; i < n; i++)
		add_port(&e->plan, ports[i]);
	if (policy->net_log) {
		e->log_fd = open(policy->net_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW,
		                 0600);
		if (e->log_fd < 0) {
			error_set(err, CORRAL_ERR_USAGE, errno, "--net-log %s", policy->net_log);
			goto fail;
		}
	}
	return 0;
fail:
	egress_free(e);
	return -1;
}

int egress_start(struct egress *e, const corral_policy *policy, int sock, corral_error *err)
{
	struct net_proxy_config config = {
		.rules = e->rules,
		.pins = policy->net_hosts,
		.n_pins = policy->n_net_hosts,
		.log_fd = e->log_fd,
		.max_connections = EGRESS_MAX_CONNECTIONS,
		.rule_cmd = policy->net_rule_cmd,
	};
	return net_proxy_start(&config, &e->plan, sock, &e->proxy, err);
}

void egress_finish(struct egress *e, corral_result *result)
{
	if (!e->proxy)
		return;
	struct net_proxy_stats stats;
	net_proxy_stats(e->proxy, &stats);
	net_proxy_stop(e->proxy);
	e->proxy = NULL;
	if (stats.denied == 0 || !result || result->n_denials >= CORRAL_DENIALS_MAX)
		return;
	corral_denial *d = &result->denials[result->n_denials++];
	snprintf(d->kind, sizeof d->kind, "network");
	snprintf(d->name, sizeof d->name, "%s", stats.last_denied);
	d->count = stats.denied;
}

void egress_free(struct egress *e)
{
	net_proxy_stop(e->proxy);
	net_ruleset_free(e->rules);
	if (e->log_fd >= 0)
		close(e->log_fd);
	memset(e, 0, sizeof *e);
	e->log_fd = -1;
}
