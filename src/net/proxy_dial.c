/*
 * Where a proxied connection goes: the rule decision (with the rule command
 * when one is configured), name resolution and connecting to the upstream,
 * address by address. Separate from proxy_conn.c, which owns a connection's
 * life and relays its bytes, because this is the policy side of it.
 */
#include "net/http_engine_internal.h"
#include "net/http_request.h"
#include "net/net_rules.h"
#include "net/proxy_internal.h"
#include "net/tls_sni.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

static void format_address(const struct sockaddr *sa, char *buf, size_t size)
{
	if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, (socklen_t)size);
		return;
	}
	const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	if (IN6_IS_ADDR_V4MAPPED(a6))
		inet_ntop(AF_INET, &a6->s6_addr[12], buf, (socklen_t)size);
	else
		inet_ntop(AF_INET6, a6, buf, (socklen_t)size);
}

static void set_port(struct sockaddr_storage *sa, uint16_t port)
{
	if (sa->ss_family == AF_INET)
		((struct sockaddr_in *)sa)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)sa)->sin6_port = htons(port);
}

static void connect_to(struct net_proxy *p, struct proxy_conn *c, struct sockaddr_storage *sa)
{
	set_port(sa, c->port);
	socklen_t len = sa->ss_family == AF_INET ? sizeof(struct sockaddr_in)
	                                         : sizeof(struct sockaddr_in6);
	int fd = socket(sa->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		proxy_conn_fail_upstream(p, c, strerror(errno));
		return;
	}
	if (connect(fd, (struct sockaddr *)sa, len) < 0 && errno != EINPROGRESS) {
		int e = errno;
		close(fd);
		if (c->next_addr) {
			proxy_conn_try_connect(p, c);
			return;
		}
		proxy_conn_fail_upstream(p, c, strerror(e));
		return;
	}
	c->upstream = (struct proxy_tag){PROXY_TAG_UPSTREAM, fd, c, NULL};
	/* Relayed writes go out at once: Nagle would hold a small second write
	 * until the first is acknowledged (tens of ms with delayed ACKs). */
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = &c->upstream};
	epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev);
	c->state = CONN_CONNECT;
	c->deadline_ms = proxy_now_ms() + PROXY_CONNECT_MS;
	proxy_conn_set_interest(p, c);
}

/* Try the next resolved address that may be used. */
void proxy_conn_try_connect(struct net_proxy *p, struct proxy_conn *c)
{
	bool refused_private = false;
	while (c->next_addr) {
		struct addrinfo *ai = c->next_addr;
		c->next_addr = ai->ai_next;
		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		if (net_rules_address_is_private(ai->ai_addr) &&
		    !net_rules_names_address(p->config.rules, ai->ai_addr)) {
			refused_private = true;
			continue;
		}
		struct sockaddr_storage sa;
		memcpy(&sa, ai->ai_addr, ai->ai_addrlen);
		connect_to(p, c, &sa);
		return;
	}
	if (refused_private)
		proxy_conn_deny(p, c,
		                "the name resolves to a private, loopback or link-local address that no rule names");
	else
		proxy_conn_fail_upstream(p, c, "no usable address");
}

/* The destination is known: check it, then resolve and connect. */
static void proceed(struct net_proxy *p, struct proxy_conn *c);

static void ask_rule_cmd(struct net_proxy *p, struct proxy_conn *c)
{
	char key[300];
	snprintf(key, sizeof key, "%s:%u", c->host, c->port);
	json_t *request = json_pack("{s:s?, s:s, s:s, s:i, s:s?, s:s}", "method",
	                            c->method[0] ? c->method : NULL, "scheme",
	                            c->scheme ? c->scheme : "tcp", "host", c->host, "port", c->port,
	                            "path", c->path[0] ? c->path : NULL, "via",
	                            c->via ? c->via : "address");
	char *json = request ? json_dumps(request, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(request);
	if (!json) {
		proxy_conn_deny(p, c, "out of memory asking the rule command");
		return;
	}
	struct rule_cmd_run *run = NULL;
	const char *why = NULL;
	enum rule_cmd_verdict v = rule_cmd_ask(p->rule_cmd, key, json, proxy_now_ms(), &run, &why);
	free(json);
	if (v == RULE_CMD_ALLOW) {
		snprintf(c->rule, sizeof c->rule, "--net-rule-cmd");
		c->host_allowed = true;
		proceed(p, c);
		return;
	}
	if (v == RULE_CMD_DENY) {
		proxy_conn_deny(p, c, why);
		return;
	}
	if (!run->watch) {
		struct proxy_tag *tag = calloc(1, sizeof *tag);
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = tag};
		if (!tag || (*tag = (struct proxy_tag){PROXY_TAG_RULE_CMD, run->pidfd, NULL, run},
		             epoll_ctl(p->epfd, EPOLL_CTL_ADD, run->pidfd, &ev) < 0)) {
			free(tag);
			proxy_conn_deny(p, c, "cannot wait for the rule command");
			return;
		}
		run->watch = tag;
	}
	c->state = CONN_ASK;
	c->ask = run;
	c->deadline_ms = proxy_now_ms() + RULE_CMD_TIMEOUT_MS + 1000;
}

void proxy_conn_rule_answered(struct net_proxy *p, struct rule_cmd_run *run)
{
	const char *why = NULL;
	uintptr_t answered = (uintptr_t)run;
	enum rule_cmd_verdict v = rule_cmd_finish(p->rule_cmd, run, proxy_now_ms(), &why);
	struct proxy_conn *c = p->conns;
	while (c) {
		struct proxy_conn *following = c->next;
		if (c->state == CONN_ASK && (uintptr_t)c->ask == answered) {
			c->ask = NULL;
			if (v == RULE_CMD_ALLOW) {
				snprintf(c->rule, sizeof c->rule, "--net-rule-cmd");
				c->host_allowed = true;
				proceed(p, c);
			} else {
				proxy_conn_deny(p, c, why);
			}
		}
		c = following;
	}
}

void proxy_conn_decide(struct net_proxy *p, struct proxy_conn *c)
{
	struct sockaddr_storage sa;
	const struct net_rule *rule = NULL;
	bool literal = proxy_literal_address(c->host, &sa);
	bool allowed;
	if (literal)
		allowed = net_rules_allow_address(p->config.rules, (struct sockaddr *)&sa, c->port, &rule);
	else if (c->path[0] && c->scheme && c->method[0])
		allowed = net_rules_allow_request(p->config.rules, c->method, c->scheme, c->host, c->port,
		                                  c->path, &rule);
	else
		allowed = net_rules_allow_host(p->config.rules, c->host, c->port, &rule);
	if (rule) {
		char *text = net_rule_format(rule);
		snprintf(c->rule, sizeof c->rule, "%s", text ? text : "");
		free(text);
	}
	/* What the engine may allow without a rule of its own, per request. */
	c->host_allowed = literal ? allowed : net_rules_allow_host(p->config.rules, c->host, c->port, NULL);
	if (!allowed && p->rule_cmd) {
		ask_rule_cmd(p, c);
		return;
	}
	/* Intercepted, a host with path rules is decided request by request. */
	if (!allowed && c->to_engine && !literal && net_rules_has_requests(p->config.rules, c->host, c->port))
		allowed = true;
	if (!allowed) {
		proxy_conn_deny(p, c, "no rule allows it");
		return;
	}
	proceed(p, c);
}

/* Allowed: connect to the address, the pin, or what the name resolves to. */
static void proceed(struct net_proxy *p, struct proxy_conn *c)
{
	if (c->to_engine) {
		http_engine_start(p, c);
		proxy_conn_close(p, c); /* the engine took its socket (or answered) */
		return;
	}
	struct sockaddr_storage sa;
	bool literal = proxy_literal_address(c->host, &sa);
	if (literal) {
		if (net_rules_address_is_private((struct sockaddr *)&sa) &&
		    !net_rules_names_address(p->config.rules, (struct sockaddr *)&sa)) {
			proxy_conn_deny(p, c, "a private, loopback or link-local address that no rule names");
			return;
		}
		connect_to(p, c, &sa);
		return;
	}
	if (proxy_pinned(p, c->host, &sa)) {
		connect_to(p, c, &sa);
		return;
	}
	c->serial = ++p->next_serial;
	if (resolver_submit(p->resolver, c->host, c, c->serial) < 0) {
		proxy_conn_fail_upstream(p, c, "cannot start a name lookup");
		return;
	}
	c->state = CONN_RESOLVE;
	c->deadline_ms = proxy_now_ms() + PROXY_CONNECT_MS;
}

void proxy_conn_resolved(struct net_proxy *p)
{
	struct resolver_job *job;
	while ((job = resolver_next(p->resolver))) {
		struct proxy_conn *c = p->conns;
		while (c && !(c == job->owner && c->serial == job->serial))
			c = c->next;
		if (c && c->state == CONN_RESOLVE) {
			if (job->gai_error) {
				proxy_conn_fail_upstream(p, c, gai_strerror(job->gai_error));
			} else {
				c->addrs = job->result;
				c->next_addr = c->addrs;
				job->result = NULL;
				proxy_conn_try_connect(p, c);
			}
		}
		resolver_job_free(job);
	}
}

/* The name or address the client dialled: a stand-in's name, else the
 * address itself. */
void proxy_conn_dialled_host(struct net_proxy *p, struct proxy_conn *c)
{
	const char *name = dns_names_lookup(&p->names, (struct sockaddr *)&c->dialled);
	if (name)
		snprintf(c->host, sizeof c->host, "%s", name);
	else
		format_address((struct sockaddr *)&c->dialled, c->host, sizeof c->host);
	c->port = c->dialled_port;
}
