/* A sandbox's egress, from policy to proxy: the parsed rules, the ports
 * init listens on, the request log, and the proxy's lifetime around the
 * sandbox's (used by src/jail/sandbox.c). */
#ifndef CORRAL_NET_EGRESS_H
#define CORRAL_NET_EGRESS_H

#include "corral.h"
#include "net/net_capture.h"

#include <openssl/types.h>
#include <pthread.h>
#include <stdbool.h>

struct net_ruleset;
struct net_proxy;
struct tls_ca;

/* A secret as the proxy holds it: the sandbox sees only the placeholder. */
struct egress_secret {
	const char *name;           /* borrowed from the policy */
	char *value;                /* a copy, wiped when freed */
	char placeholder[48];
	char *const *hosts;         /* borrowed: "host" or "*.domain" */
	size_t n_hosts;
};

struct egress {
	struct net_ruleset *rules;
	struct net_capture_plan plan;
	int log_fd;
	struct net_proxy *proxy;
	pthread_mutex_t proxy_lock;  /* egress_set_rules (any thread) against the proxy's stop */
	/* Interception (--intercept, path rules, secrets). */
	bool intercept;
	struct tls_ca *ca;
	SSL_CTX *tls_server, *tls_client;
	char *ca_bundle;            /* host file: the system bundle plus corral's CA */
	char *ca_pem;               /* corral's CA certificate alone, PEM text */
	struct egress_secret *secrets;
	size_t n_secrets;
	char **env;                 /* "NAME=VALUE" for the sandbox: placeholders, CA paths */
	size_t n_env;
};

/* Where the sandbox finds corral's CA alone (NODE_EXTRA_CA_CERTS). */
#define EGRESS_CA_PATH "/etc/corral-ca.pem"

/* Parse the policy's rules, plan the listeners, open the log; with
 * interception, load (or create) corral's CA, write the bundle and make
 * the placeholders. */
int egress_prepare(struct egress *e, const corral_policy *policy, corral_error *err);
/* Start the proxy; `sock` delivers init's listeners (taken over). */
int egress_start(struct egress *e, const corral_policy *policy, int sock, corral_error *err);
/* Replace the rules while the sandbox runs (see corral_sandbox_set_net_rules). */
int egress_set_rules(struct egress *e, char *const *rules, size_t n_rules, corral_error *err);
/* Stop the proxy and record what it refused in the result's denials. */
void egress_finish(struct egress *e, corral_result *result);
void egress_free(struct egress *e);

#endif
