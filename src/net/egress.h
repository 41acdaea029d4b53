/* A sandbox's egress, from policy to proxy: the parsed rules, the ports
 * init listens on, the request log, and the proxy's lifetime around the
 * sandbox's (used by src/jail/sandbox.c). */
#ifndef CORRAL_NET_EGRESS_H
#define CORRAL_NET_EGRESS_H

#include "corral.h"
#include "net/net_capture.h"

struct net_ruleset;
struct net_proxy;

struct egress {
	struct net_ruleset *rules;
	struct net_capture_plan plan;
	int log_fd;
	struct net_proxy *proxy;
};

/* Parse the policy's rules, plan the listeners, open the log. */
int egress_prepare(struct egress *e, const corral_policy *policy, corral_error *err);
/* Start the proxy; `sock` delivers init's listeners (taken over). */
int egress_start(struct egress *e, const corral_policy *policy, int sock, corral_error *err);
/* Stop the proxy and record what it refused in the result's denials. */
void egress_finish(struct egress *e, corral_result *result);
void egress_free(struct egress *e);

#endif
