#include "net/egress.h"

#include "net/net_rules.h"
#include "net/proxy.h"
#include "net/tls_ca.h"
#include "policy/policy.h"
#include "util/error.h"
#include "util/fileutil.h"
#include "util/strings.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
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

/* Interception is on when asked, and whenever a decision needs the
 * requests inside TLS: a path rule, or a secret to substitute. */
static bool needs_interception(const struct egress *e, const corral_policy *policy)
{
	if (policy->net_intercept || policy->n_secrets > 0)
		return true;
	for (size_t i = 0; i < net_ruleset_count(e->rules); i++)
		if (net_ruleset_get(e->rules, i)->kind == NET_RULE_REQUEST)
			return true;
	return false;
}

static int env_add(struct egress *e, const char *name, const char *value)
{
	char entry[512];
	int n = snprintf(entry, sizeof entry, "%s=%s", name, value);
	if (n < 0 || (size_t)n >= sizeof entry)
		return -1;
	return strv_append(&e->env, &e->n_env, entry);
}

static char *read_text(const char *path, corral_error *err)
{
	char *text = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size > 1 << 20) {
		error_set(err, CORRAL_ERR_SETUP, fd < 0 ? errno : EFBIG, "read %s", path);
		goto cleanup;
	}
	text = calloc(1, (size_t)st.st_size + 1);
	if (!text || read_full(fd, text, (size_t)st.st_size) != st.st_size) {
		error_set(err, CORRAL_ERR_SETUP, text ? errno : ENOMEM, "read %s", path);
		free(text);
		text = NULL;
	}
cleanup:
	if (fd >= 0)
		close(fd);
	return text;
}

/* The bundle is rewritten only when the system's or corral's CA changed. */
static bool bundle_is_current(const char *bundle, const char *ca_pem)
{
	struct stat b, s, c;
	if (stat(bundle, &b) < 0 || stat(ca_pem, &c) < 0)
		return false;
	if (stat(TLS_CA_SYSTEM_BUNDLE, &s) == 0 && s.st_mtime >= b.st_mtime)
		return false;
	return c.st_mtime < b.st_mtime;
}

static int prepare_interception(struct egress *e, const corral_policy *policy, corral_error *err)
{
	char state_dir[4096];
	if (tls_ca_default_state_dir(state_dir, sizeof state_dir, err) < 0)
		return error_prefix(err, "--intercept");
	e->ca = tls_ca_load_or_create(state_dir, err);
	if (!e->ca)
		return error_prefix(err, "--intercept");
	const char *pem = tls_ca_pem_path(e->ca);
	if (asprintf(&e->ca_bundle, "%s/ca/bundle.pem", state_dir) < 0) {
		e->ca_bundle = NULL;
		return error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "--intercept");
	}
	if (!bundle_is_current(e->ca_bundle, pem) && tls_ca_write_bundle(e->ca, e->ca_bundle, err) < 0)
		return error_prefix(err, "--intercept");
	if (!(e->ca_pem = read_text(pem, err)))
		return error_prefix(err, "--intercept");
	/* What the usual clients read: a bundle of both (the system path is
	 * bound over too, see mount_plan_add_ca), and Node's extra CA alone. */
	static const char *const bundle_vars[] = {"SSL_CERT_FILE", "REQUESTS_CA_BUNDLE",
	                                          "CURL_CA_BUNDLE", "PIP_CERT", "GIT_SSL_CAINFO"};
	bool system = access(TLS_CA_SYSTEM_BUNDLE, F_OK) == 0;
	for (size_t i = 0; i < sizeof bundle_vars / sizeof bundle_vars[0]; i++)
		if (env_add(e, bundle_vars[i], system ? TLS_CA_SYSTEM_BUNDLE : EGRESS_CA_PATH) < 0)
			return error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "--intercept");
	if (env_add(e, "NODE_EXTRA_CA_CERTS", EGRESS_CA_PATH) < 0)
		return error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "--intercept");

	e->secrets = calloc(policy->n_secrets ? policy->n_secrets : 1, sizeof *e->secrets);
	if (!e->secrets)
		return error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "--secret");
	for (size_t i = 0; i < policy->n_secrets; i++) {
		const struct policy_secret *ps = &policy->secrets[i];
		struct egress_secret *s = &e->secrets[e->n_secrets++];
		unsigned char random[16];
		if (getrandom(random, sizeof random, 0) != (ssize_t)sizeof random)
			return error_errno(err, "--secret %s: getrandom", ps->name);
		int n = snprintf(s->placeholder, sizeof s->placeholder, "CORRAL_SECRET_");
		for (size_t b = 0; b < sizeof random; b++)
			n += snprintf(s->placeholder + n, sizeof s->placeholder - (size_t)n, "%02x", random[b]);
		s->name = ps->name;
		s->hosts = ps->hosts;
		s->n_hosts = ps->n_hosts;
		if (!(s->value = strdup(ps->value)) || env_add(e, ps->name, s->placeholder) < 0)
			return error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "--secret %s", ps->name);
	}
	return 0;
}

int egress_prepare(struct egress *e, const corral_policy *policy, corral_error *err)
{
	memset(e, 0, sizeof *e);
	e->log_fd = -1;
	pthread_mutex_init(&e->proxy_lock, NULL);
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
	e->intercept = needs_interception(e, policy);
	if (e->intercept && prepare_interception(e, policy, err) < 0)
		goto fail;
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
		.intercept = e->intercept,
		.secrets = e->secrets,
		.n_secrets = e->n_secrets,
	};
	if (e->intercept) {
		if (!(e->tls_server = tls_ca_server_ctx(e->ca, err)) ||
		    !(e->tls_client = tls_ca_client_ctx(policy->net_ca, err))) {
			close(sock);
			return error_prefix(err, "--intercept");
		}
		config.tls_server = e->tls_server;
		config.tls_client = e->tls_client;
	}
	return net_proxy_start(&config, &e->plan, sock, &e->proxy, err);
}

int egress_set_rules(struct egress *e, char *const *rules, size_t n_rules, corral_error *err)
{
	if (!e->rules)
		return error_set(err, CORRAL_ERR_USAGE, ENONET,
		                 "network rules: this sandbox has no network (it must start with a rule)");
	struct net_ruleset *set = net_ruleset_new();
	if (!set)
		return error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "network rules");
	for (size_t i = 0; i < n_rules; i++) {
		if (net_ruleset_add(set, rules[i], err) < 0)
			goto fail;
		if (!e->intercept && net_ruleset_get(set, net_ruleset_count(set) - 1)->kind ==
		                             NET_RULE_REQUEST) {
			error_set(err, CORRAL_ERR_USAGE, 0,
			          "--allow-net %s: a path rule needs interception, which this sandbox "
			          "started without (--intercept)",
			          rules[i]);
			goto fail;
		}
	}
	pthread_mutex_lock(&e->proxy_lock);
	if (!e->proxy) {
		pthread_mutex_unlock(&e->proxy_lock);
		error_set(err, CORRAL_ERR_USAGE, ESRCH, "network rules: the sandbox has ended");
		goto fail;
	}
	int rc = net_proxy_set_rules(e->proxy, set, err);
	pthread_mutex_unlock(&e->proxy_lock);
	return rc;
fail:
	net_ruleset_free(set);
	return -1;
}

void egress_finish(struct egress *e, corral_result *result)
{
	if (!e->proxy)
		return;
	struct net_proxy_stats stats;
	pthread_mutex_lock(&e->proxy_lock);
	net_proxy_stats(e->proxy, &stats);
	net_proxy_stop(e->proxy);
	e->proxy = NULL;
	pthread_mutex_unlock(&e->proxy_lock);
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
	for (size_t i = 0; i < e->n_secrets; i++) {
		if (e->secrets[i].value) {
			explicit_bzero(e->secrets[i].value, strlen(e->secrets[i].value));
			free(e->secrets[i].value);
		}
	}
	free(e->secrets);
	strv_free(e->env, e->n_env);
	free(e->ca_bundle);
	free(e->ca_pem);
	/* Non-NULL only once OpenSSL is loaded (util/lazylib.h). */
	if (e->tls_server)
		SSL_CTX_free(e->tls_server);
	if (e->tls_client)
		SSL_CTX_free(e->tls_client);
	tls_ca_free(e->ca);
	pthread_mutex_destroy(&e->proxy_lock);
	if (e->log_fd >= 0)
		close(e->log_fd);
	memset(e, 0, sizeof *e);
	e->log_fd = -1;
}
