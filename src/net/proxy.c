#include "net/proxy_internal.h"

#include "net/http_engine.h"
#include "net/net_rules.h"
#include "util/error.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

uint64_t proxy_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

bool proxy_literal_address(const char *host, struct sockaddr_storage *sa)
{
	memset(sa, 0, sizeof *sa);
	struct sockaddr_in *a4 = (struct sockaddr_in *)sa;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)sa;
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		return true;
	}
	return false;
}

size_t proxy_format_response(char *buf, size_t size, int status, const char *reason,
                             const char *body)
{
	int n = snprintf(buf, size,
	                 "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
	                 "Content-Length: %zu\r\nConnection: close\r\nX-Corral-Proxy: %s\r\n\r\n%s",
	                 status, reason, strlen(body), reason, body);
	if (n < 0)
		return 0;
	return (size_t)n < size ? (size_t)n : size - 1;
}

bool proxy_pinned(const struct net_proxy *p, const char *name, struct sockaddr_storage *addr)
{
	size_t len = strlen(name);
	for (size_t i = 0; i < p->config.n_pins; i++) {
		const char *pin = p->config.pins[i];
		if (strncasecmp(pin, name, len) != 0 || pin[len] != '=')
			continue;
		if (!addr)
			return true;
		const char *ip = pin + len + 1;
		memset(addr, 0, sizeof *addr);
		struct sockaddr_in *a4 = (struct sockaddr_in *)addr;
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)addr;
		if (inet_pton(AF_INET, ip, &a4->sin_addr) == 1) {
			a4->sin_family = AF_INET;
			return true;
		}
		if (inet_pton(AF_INET6, ip, &a6->sin6_addr) == 1) {
			a6->sin6_family = AF_INET6;
			return true;
		}
	}
	return false;
}

static void log_line(struct net_proxy *p, json_t *entry)
{
	if (p->config.log_fd < 0 || !entry) {
		json_decref(entry);
		return;
	}
	char *text = json_dumps(entry, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(entry);
	if (!text)
		return;
	size_t len = strlen(text);
	text[len] = '\n'; /* replaces the NUL: one write per line (O_APPEND) */
	ssize_t n = write(p->config.log_fd, text, len + 1);
	(void)n;
	free(text);
}

static void timestamp(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, size - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

static void count(struct net_proxy *p, bool allowed, const char *host, uint16_t port)
{
	pthread_mutex_lock(&p->stats_lock);
	if (allowed) {
		p->stats.allowed++;
	} else {
		p->stats.denied++;
		snprintf(p->stats.last_denied, sizeof p->stats.last_denied, "%.40s:%u", host, port);
	}
	pthread_mutex_unlock(&p->stats_lock);
}

void proxy_log_record(struct net_proxy *p, const struct proxy_record *r, const char *decision,
                      const char *reason)
{
	count(p, strcmp(decision, "allow") == 0, r->host, r->port);
	char when[40];
	timestamp(when, sizeof when);
	json_t *e = json_pack("{s:s, s:s, s:s?, s:s, s:s, s:i, s:s?, s:s, s:s?, s:s?, s:i, s:I, s:I, s:I}",
	                      "time", when, "decision", decision, "method",
	                      r->method && r->method[0] ? r->method : NULL, "scheme",
	                      r->scheme ? r->scheme : "tcp", "host", r->host[0] ? r->host : "?", "port",
	                      r->port, "path", r->path && r->path[0] ? r->path : NULL, "via",
	                      r->via ? r->via : "address", "rule",
	                      r->rule && r->rule[0] ? r->rule : NULL, "reason", reason, "status",
	                      r->status, "bytes_up", (json_int_t)r->bytes_up, "bytes_down",
	                      (json_int_t)r->bytes_down, "duration_ms",
	                      (json_int_t)(proxy_now_ms() - r->started_ms));
	log_line(p, e);
}

void proxy_log(struct net_proxy *p, const struct proxy_conn *c, const char *decision,
               const char *reason)
{
	struct proxy_record r = {
		.method = c->method, .scheme = c->scheme, .host = c->host, .port = c->port,
		.path = c->path, .via = c->via, .rule = c->rule, .status = c->status,
		.bytes_up = c->bytes_up, .bytes_down = c->bytes_down, .started_ms = c->started_ms,
	};
	proxy_log_record(p, &r, decision, reason);
}

void proxy_log_dns_denial(struct net_proxy *p, const char *name)
{
	count(p, false, name, 53);
	char when[40];
	timestamp(when, sizeof when);
	log_line(p, json_pack("{s:s, s:s, s:s, s:s, s:i, s:s}", "time", when, "decision", "deny",
	                      "scheme", "dns", "host", name, "port", 53, "reason",
	                      "no rule allows this name"));
}

static bool dns_allows(void *ctx, const char *name)
{
	const struct net_proxy *p = ctx;
	/* With a rule command, every name gets a stand-in: the decision waits
	 * for the connection, where the command is asked. */
	return p->rule_cmd || net_rules_allow_name(p->config.rules, name);
}

static void serve_dns(struct net_proxy *p)
{
	struct dns_query_info info;
	for (int i = 0; i < 64; i++) {
		if (dns_serve_one(p->dns_fd, dns_allows, p, &p->names, &info) <= 0)
			return;
		if (info.rcode == 3 && info.name[0]) /* NXDOMAIN: refused by the rules */
			proxy_log_dns_denial(p, info.name);
	}
}

static void accept_all(struct net_proxy *p, int listener)
{
	for (int i = 0; i < 64; i++) {
		int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		proxy_conn_accepted(p, fd);
	}
}

static int watch(struct net_proxy *p, struct proxy_tag *tag, corral_error *err);

/* The listeners arrive once init has built the sandbox's network; if init
 * fails first, the proxy only waits to be stopped. */
static void receive_listeners(struct net_proxy *p)
{
	int fds[NET_CAPTURE_PORTS_MAX + 1];
	corral_error err = {0};
	int rc = net_capture_receive(&p->plan, p->sock, fds, &err);
	close(p->sock);
	p->sock = -1;
	if (rc < 0)
		return;
	for (size_t i = 0; i < p->plan.n_ports; i++)
		p->listeners[p->n_listeners++] = (struct proxy_tag){PROXY_TAG_LISTENER, fds[i], NULL, NULL};
	p->dns_fd = fds[p->plan.n_ports];
	p->dns_tag = (struct proxy_tag){PROXY_TAG_DNS, p->dns_fd, NULL, NULL};
	bool ok = watch(p, &p->dns_tag, &err) == 0;
	for (size_t i = 0; ok && i < p->n_listeners; i++)
		ok = watch(p, &p->listeners[i], &err) == 0;
}

static void swap_rules(struct net_proxy *p)
{
	uint64_t n;
	if (read(p->rules_fd, &n, sizeof n) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&p->pending_lock);
	struct net_ruleset *fresh = p->pending_rules;
	uint64_t generation = p->rules_requested;
	p->pending_rules = NULL;
	pthread_mutex_unlock(&p->pending_lock);
	if (fresh) {
		pthread_rwlock_wrlock(&p->rules_lock);
		struct net_ruleset *old = p->owned_rules;
		p->config.rules = p->owned_rules = fresh;
		pthread_rwlock_unlock(&p->rules_lock);
		net_ruleset_free(old);
		proxy_conn_recheck(p);
	}
	pthread_mutex_lock(&p->pending_lock);
	p->rules_applied_gen = generation;
	pthread_cond_broadcast(&p->rules_applied);
	pthread_mutex_unlock(&p->pending_lock);
}

int net_proxy_set_rules(struct net_proxy *p, struct net_ruleset *rules, corral_error *err)
{
	pthread_mutex_lock(&p->pending_lock);
	struct net_ruleset *superseded = p->pending_rules;
	p->pending_rules = rules;
	uint64_t generation = ++p->rules_requested;
	pthread_mutex_unlock(&p->pending_lock);
	net_ruleset_free(superseded);
	uint64_t one = 1;
	if (write(p->rules_fd, &one, sizeof one) < 0)
		return error_errno(err, "network proxy: new rules");
	/* In force when this returns: the loop has swapped them in and closed
	 * what they no longer allow. */
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 5;
	int rc = 0;
	pthread_mutex_lock(&p->pending_lock);
	while (p->rules_applied_gen < generation && rc == 0)
		rc = pthread_cond_timedwait(&p->rules_applied, &p->pending_lock, &deadline);
	pthread_mutex_unlock(&p->pending_lock);
	if (rc != 0)
		return error_set(err, CORRAL_ERR_INTERNAL, rc, "network proxy: the new rules were not applied");
	return 0;
}

static void *proxy_main(void *arg)
{
	struct net_proxy *p = arg;
	struct epoll_event events[64];
	receive_listeners(p);
	while (!p->stopping) {
		int timeout = proxy_conn_expire(p);
		if (p->rule_cmd) {
			int t = rule_cmd_expire(p->rule_cmd, proxy_now_ms());
			if (t >= 0 && (timeout < 0 || t < timeout))
				timeout = t;
		}
		int n = epoll_wait(p->epfd, events, 64, timeout);
		if (n < 0 && errno != EINTR)
			break;
		for (int i = 0; i < n && !p->stopping; i++) {
			struct proxy_tag *tag = events[i].data.ptr;
			switch (tag->kind) {
			case PROXY_TAG_STOP:
				p->stopping = true;
				break;
			case PROXY_TAG_DNS:
				serve_dns(p);
				break;
			case PROXY_TAG_RESOLVER:
				proxy_conn_resolved(p);
				break;
			case PROXY_TAG_LISTENER:
				accept_all(p, tag->fd);
				break;
			case PROXY_TAG_CLIENT:
			case PROXY_TAG_UPSTREAM:
				proxy_conn_event(p, tag, events[i].events);
				break;
			case PROXY_TAG_RULE_CMD:
				proxy_conn_rule_answered(p, tag->run);
				break;
			case PROXY_TAG_RULES:
				swap_rules(p);
				break;
			}
		}
		proxy_conn_bury(p);
	}
	return NULL;
}

static int watch(struct net_proxy *p, struct proxy_tag *tag, corral_error *err)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = tag};
	if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, tag->fd, &ev) < 0)
		return error_errno(err, "network proxy: epoll");
	return 0;
}

static void proxy_free(struct net_proxy *p)
{
	http_engine_stop_all(p);
	while (p->conns)
		proxy_conn_close(p, p->conns);
	proxy_conn_bury(p);
	for (size_t i = 0; i < p->n_listeners; i++)
		close(p->listeners[i].fd);
	if (p->dns_fd >= 0)
		close(p->dns_fd);
	if (p->sock >= 0)
		close(p->sock);
	if (p->stop_fd >= 0)
		close(p->stop_fd);
	if (p->epfd >= 0)
		close(p->epfd);
	resolver_free(p->resolver);
	rule_cmd_free(p->rule_cmd);
	dns_names_free(&p->names);
	pthread_mutex_destroy(&p->stats_lock);
	pthread_mutex_destroy(&p->engine_lock);
	pthread_rwlock_destroy(&p->rules_lock);
	pthread_mutex_destroy(&p->pending_lock);
	pthread_cond_destroy(&p->rules_applied);
	net_ruleset_free(p->pending_rules);
	net_ruleset_free(p->owned_rules);
	if (p->rules_fd >= 0)
		close(p->rules_fd);
	pthread_cond_destroy(&p->engine_gone);
	free(p);
}

int net_proxy_start(const struct net_proxy_config *config, const struct net_capture_plan *plan,
                    int sock, struct net_proxy **out, corral_error *err)
{
	*out = NULL;
	struct net_proxy *p = calloc(1, sizeof *p);
	if (!p) {
		close(sock);
		return error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "network proxy");
	}
	p->config = *config;
	p->plan = *plan;
	p->sock = sock;
	p->epfd = p->stop_fd = p->dns_fd = -1;
	pthread_mutex_init(&p->stats_lock, NULL);
	pthread_mutex_init(&p->engine_lock, NULL);
	pthread_cond_init(&p->engine_gone, NULL);
	pthread_rwlock_init(&p->rules_lock, NULL);
	pthread_mutex_init(&p->pending_lock, NULL);
	pthread_cond_init(&p->rules_applied, NULL);
	p->rules_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	p->epfd = epoll_create1(EPOLL_CLOEXEC);
	p->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	p->resolver = resolver_new();
	if (config->rule_cmd && !(p->rule_cmd = rule_cmd_new(config->rule_cmd))) {
		error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "network proxy");
		goto fail;
	}
	if (p->epfd < 0 || p->stop_fd < 0 || p->rules_fd < 0 || !p->resolver) {
		error_errno(err, "network proxy");
		goto fail;
	}
	p->stop_tag = (struct proxy_tag){PROXY_TAG_STOP, p->stop_fd, NULL, NULL};
	p->resolver_tag = (struct proxy_tag){PROXY_TAG_RESOLVER, resolver_fd(p->resolver), NULL, NULL};
	p->rules_tag = (struct proxy_tag){PROXY_TAG_RULES, p->rules_fd, NULL, NULL};
	if (watch(p, &p->stop_tag, err) < 0 || watch(p, &p->resolver_tag, err) < 0 ||
	    watch(p, &p->rules_tag, err) < 0)
		goto fail;

	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pthread_create(&p->thread, NULL, proxy_main, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		errno = rc;
		error_errno(err, "network proxy thread");
		goto fail;
	}
	p->started = true;
	*out = p;
	return 0;
fail:
	proxy_free(p);
	return -1;
}

void net_proxy_stop(struct net_proxy *p)
{
	if (!p)
		return;
	if (p->started) {
		uint64_t one = 1;
		if (write(p->stop_fd, &one, sizeof one) < 0)
			p->stopping = true;
		pthread_join(p->thread, NULL);
	}
	proxy_free(p);
}

void net_proxy_stats(struct net_proxy *p, struct net_proxy_stats *out)
{
	pthread_mutex_lock(&p->stats_lock);
	*out = p->stats;
	pthread_mutex_unlock(&p->stats_lock);
}
