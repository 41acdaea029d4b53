/*
 * corral's egress proxy for one sandbox: a thread of the supervisor with
 * one epoll loop over the listeners init handed out (net_capture.h), the
 * DNS socket (dns_server.h) and every connection.
 *
 * Each connection is classified from its first bytes: an HTTP CONNECT or
 * absolute-form request (a client using HTTP_PROXY), a TLS ClientHello
 * (its SNI), a plain HTTP request (its Host), or else the stand-in address
 * it dialled. The destination is checked against the rules; a denial is a
 * 403 naming the rule that would allow it (HTTP) or an immediate reset.
 * Allowed names are resolved here, outside the sandbox; addresses that are
 * loopback, private, link-local, multicast or unspecified are refused
 * unless a rule or a --net-host pin names them; the connection goes to the
 * very address that was checked. Then bytes are relayed both ways.
 */
#ifndef CORRAL_NET_PROXY_H
#define CORRAL_NET_PROXY_H

#include "corral.h"
#include "net/net_capture.h"

#include <openssl/types.h>
#include <stdbool.h>
#include <stdint.h>

struct net_ruleset;
struct egress_secret;

struct net_proxy_config {
	const struct net_ruleset *rules;
	char *const *pins;          /* "NAME=ADDRESS" */
	size_t n_pins;
	int log_fd;                 /* JSON lines, or -1 */
	unsigned max_connections;   /* at once */
	const char *rule_cmd;       /* --net-rule-cmd PROG, or NULL */
	/* Interception: HTTP and TLS connections go to the HTTP engine
	 * (http_engine.h), which sees, decides and logs every request. */
	bool intercept;
	SSL_CTX *tls_server;        /* toward the sandbox (tls_ca_server_ctx) */
	SSL_CTX *tls_client;        /* toward servers (tls_ca_client_ctx) */
	const struct egress_secret *secrets;
	size_t n_secrets;
};

struct net_proxy;

/* Start the proxy thread. It first receives the sandbox's listeners from
 * init over `sock` (net_capture_receive; the socket is taken over). */
int net_proxy_start(const struct net_proxy_config *config, const struct net_capture_plan *plan,
                    int sock, struct net_proxy **out, corral_error *err);
/* Stop: close every connection and listener, join the thread. */
void net_proxy_stop(struct net_proxy *proxy);

struct net_proxy_stats {
	uint64_t allowed;
	uint64_t denied;
	char last_denied[48];       /* host:port of the latest denial */
};
void net_proxy_stats(struct net_proxy *proxy, struct net_proxy_stats *out);

/* Replace the rules (taken over) while the proxy runs: new connections and
 * requests are decided by them, and open connections they no longer allow
 * are closed. Any thread. */
int net_proxy_set_rules(struct net_proxy *proxy, struct net_ruleset *rules, corral_error *err);

#endif
