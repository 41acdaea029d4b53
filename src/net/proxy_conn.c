/*
 * One proxied connection: its life (accept, events, relay, time-outs, close)
 * and the proxy's own answers. Classifying is in proxy_classify.c; deciding,
 * resolving and connecting in proxy_dial.c.
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

static void unlink_conn(struct net_proxy *p, struct proxy_conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		p->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	p->n_conns--;
}

void proxy_conn_close(struct net_proxy *p, struct proxy_conn *c)
{
	unlink_conn(p, c);
	if (c->client.fd >= 0)
		close(c->client.fd); /* closing also removes it from epoll */
	if (c->upstream.fd >= 0)
		close(c->upstream.fd);
	c->client.fd = c->upstream.fd = -1;
	if (c->addrs)
		freeaddrinfo(c->addrs);
	c->addrs = c->next_addr = NULL;
	/* Later events of this batch may still name it. */
	c->dead = true;
	c->next = p->graveyard;
	p->graveyard = c;
}

void proxy_conn_bury(struct net_proxy *p)
{
	while (p->graveyard) {
		struct proxy_conn *c = p->graveyard;
		p->graveyard = c->next;
		free(c);
	}
}

/* Close with a reset, so the client fails at once instead of waiting. */
static void reset_close(struct net_proxy *p, struct proxy_conn *c)
{
	struct linger hard = {.l_onoff = 1, .l_linger = 0};
	setsockopt(c->client.fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
	proxy_conn_close(p, c);
}

void proxy_conn_set_interest(struct net_proxy *p, struct proxy_conn *c)
{
	struct epoll_event ev = {.data.ptr = &c->client};
	if (!c->client_eof && c->up.len < PROXY_BUF)
		ev.events |= EPOLLIN;
	if (c->down.len > 0)
		ev.events |= EPOLLOUT;
	epoll_ctl(p->epfd, EPOLL_CTL_MOD, c->client.fd, &ev);
	if (c->upstream.fd < 0)
		return;
	ev = (struct epoll_event){.data.ptr = &c->upstream};
	if (c->state == CONN_CONNECT) {
		ev.events = EPOLLOUT;
	} else {
		if (!c->upstream_eof && c->down.len < PROXY_BUF)
			ev.events |= EPOLLIN;
		if (c->up.len > 0)
			ev.events |= EPOLLOUT;
	}
	epoll_ctl(p->epfd, EPOLL_CTL_MOD, c->upstream.fd, &ev);
}

/* A small HTTP answer from the proxy itself, then close. */
void proxy_conn_respond(struct net_proxy *p, struct proxy_conn *c, int status, const char *reason,
                        const char *body)
{
	char msg[2048];
	size_t n = proxy_format_response(msg, sizeof msg, status, reason, body);
	c->status = status;
	ssize_t w = write(c->client.fd, msg, n);
	(void)w;
	proxy_conn_close(p, c);
}

void proxy_conn_deny(struct net_proxy *p, struct proxy_conn *c, const char *why)
{
	char suggestion[300];
	net_rules_suggest(c->host, c->port, c->method[0] ? c->method : NULL,
	                  c->path[0] ? c->path : NULL, suggestion, sizeof suggestion);
	c->status = c->http ? 403 : 0;
	proxy_log(p, c, "deny", why);
	if (!c->http) {
		reset_close(p, c);
		return;
	}
	char body[1024];
	snprintf(body, sizeof body,
	         "corral: the connection to %s:%u was denied: %s.\nTo allow it: %s\n", c->host,
	         c->port, why, suggestion);
	proxy_conn_respond(p, c, 403, "Forbidden", body);
}

void proxy_conn_fail_upstream(struct net_proxy *p, struct proxy_conn *c, const char *why)
{
	c->status = c->http ? 502 : 0;
	proxy_log(p, c, "allow", why);
	if (!c->http) {
		reset_close(p, c);
		return;
	}
	char body[512];
	snprintf(body, sizeof body, "corral: %s:%u could not be reached: %s.\n", c->host, c->port,
	         why);
	proxy_conn_respond(p, c, 502, "Bad Gateway", body);
}

void proxy_conn_accepted(struct net_proxy *p, int fd)
{
	struct proxy_conn *c = calloc(1, sizeof *c);
	if (!c) {
		close(fd);
		return;
	}
	c->client = (struct proxy_tag){PROXY_TAG_CLIENT, fd, c, NULL};
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	c->upstream = (struct proxy_tag){PROXY_TAG_UPSTREAM, -1, c, NULL};
	c->started_ms = proxy_now_ms();
	c->deadline_ms = c->started_ms + PROXY_SNIFF_MS;
	c->up_allow = UINT64_MAX;
	c->state = CONN_SNIFF;
	socklen_t len = sizeof c->dialled;
	getsockname(fd, (struct sockaddr *)&c->dialled, &len);
	c->dialled_port = ntohs(c->dialled.ss_family == AF_INET
	                                ? ((struct sockaddr_in *)&c->dialled)->sin_port
	                                : ((struct sockaddr_in6 *)&c->dialled)->sin6_port);
	/* A client speaking first is seen at once; silence means a server
	 * speaks first -- except on the proxy port, where a head must come. */
	if (c->dialled_port == NET_CAPTURE_PROXY_PORT)
		c->deadline_ms = c->started_ms + PROXY_HEAD_MS;
	c->next = p->conns;
	if (p->conns)
		p->conns->prev = c;
	p->conns = c;
	p->n_conns++;
	pthread_mutex_lock(&p->engine_lock);
	unsigned engines = p->n_engines;
	pthread_mutex_unlock(&p->engine_lock);
	if (p->n_conns + engines > p->config.max_connections) {
		proxy_conn_dialled_host(p, c);
		proxy_conn_deny(p, c, "the sandbox has too many connections open");
		return;
	}
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &c->client};
	if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		proxy_conn_close(p, c);
}

/* Move bytes from fd into b; false on EOF or error. */
static bool fill(int fd, struct proxy_buf *b, uint64_t *counter)
{
	ssize_t n = read(fd, b->data + b->len, PROXY_BUF - b->len);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	if (n == 0)
		return false;
	b->len += (size_t)n;
	if (counter)
		*counter += (uint64_t)n;
	return true;
}

/* Client bytes past what may go upstream (rewrite_request) are read and
 * dropped. */
static bool fill_client(struct proxy_conn *c)
{
	size_t before = c->up.len;
	bool ok = fill(c->client.fd, &c->up, &c->bytes_up);
	size_t got = c->up.len - before;
	if (c->up_allow != UINT64_MAX && got > 0) {
		size_t keep = got < c->up_allow ? got : (size_t)c->up_allow;
		c->up.len = before + keep;
		c->up_allow -= keep;
	}
	return ok;
}

/* Write what b holds to fd; false on error. */
static bool drain(int fd, struct proxy_buf *b)
{
	ssize_t n = write(fd, b->data, b->len);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	memmove(b->data, b->data + n, b->len - (size_t)n);
	b->len -= (size_t)n;
	return true;
}

static void relay(struct net_proxy *p, struct proxy_conn *c, bool from_client, uint32_t events)
{
	bool ok = true;
	if (from_client) {
		if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !c->client_eof && c->up.len < PROXY_BUF)
			c->client_eof = !fill_client(c);
		if ((events & EPOLLOUT) && c->down.len)
			ok = drain(c->client.fd, &c->down);
	} else {
		if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !c->upstream_eof && c->down.len < PROXY_BUF)
			c->upstream_eof = !fill(c->upstream.fd, &c->down, &c->bytes_down);
		if ((events & EPOLLOUT) && c->up.len)
			ok = drain(c->upstream.fd, &c->up);
	}
	/* Pass each side's end on once its bytes are delivered. */
	if (c->client_eof && c->up.len == 0 && !c->upstream_shut) {
		shutdown(c->upstream.fd, SHUT_WR);
		c->upstream_shut = true;
	}
	if (c->upstream_eof && c->down.len == 0 && !c->client_shut) {
		shutdown(c->client.fd, SHUT_WR);
		c->client_shut = true;
	}
	if (!ok || (c->client_shut && c->upstream_shut)) {
		proxy_log(p, c, "allow", NULL);
		proxy_conn_close(p, c);
		return;
	}
	c->deadline_ms = proxy_now_ms() + PROXY_IDLE_MS;
	proxy_conn_set_interest(p, c);
}

static void connected(struct net_proxy *p, struct proxy_conn *c)
{
	int error = 0;
	socklen_t len = sizeof error;
	getsockopt(c->upstream.fd, SOL_SOCKET, SO_ERROR, &error, &len);
	if (error) {
		close(c->upstream.fd);
		c->upstream.fd = -1;
		if (c->next_addr) {
			proxy_conn_try_connect(p, c);
			return;
		}
		proxy_conn_fail_upstream(p, c, strerror(error));
		return;
	}
	c->state = CONN_RELAY;
	if (c->explicit_connect) {
		static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
		memcpy(c->down.data, ok, sizeof ok - 1);
		c->down.len = sizeof ok - 1;
		c->status = 200;
	}
	c->deadline_ms = proxy_now_ms() + PROXY_IDLE_MS;
	proxy_conn_set_interest(p, c);
}

void proxy_conn_event(struct net_proxy *p, struct proxy_tag *tag, uint32_t events)
{
	struct proxy_conn *c = tag->conn;
	bool from_client = tag->kind == PROXY_TAG_CLIENT;
	if (c->dead)
		return;
	switch (c->state) {
	case CONN_SNIFF:
		if (!from_client)
			return;
		if (!fill(c->client.fd, &c->up, &c->bytes_up)) {
			if (c->up.len == 0) {
				proxy_conn_close(p, c);
				return;
			}
			c->client_eof = true;
		}
		if (!proxy_conn_classify(p, c, c->client_eof))
			c->deadline_ms = c->started_ms + PROXY_HEAD_MS;
		return;
	case CONN_ASK:
	case CONN_RESOLVE:
		/* Keep what the client sends meanwhile, up to the buffer. */
		if (from_client && !c->client_eof && c->up.len < PROXY_BUF)
			c->client_eof = !fill_client(c);
		if (c->up.len >= PROXY_BUF || c->client_eof) {
			struct epoll_event ev = {.events = 0, .data.ptr = &c->client};
			epoll_ctl(p->epfd, EPOLL_CTL_MOD, c->client.fd, &ev);
		}
		return;
	case CONN_CONNECT:
		if (!from_client)
			connected(p, c);
		else
			relay(p, c, true, events & ~(uint32_t)EPOLLOUT);
		return;
	case CONN_RELAY:
		relay(p, c, from_client, events);
		return;
	}
}

/* Whether the current rules still allow what c was allowed. */
static bool still_allowed(struct net_proxy *p, const char *host, uint16_t port, bool intercepted,
                          const char *method, const char *scheme, const char *path)
{
	const struct net_ruleset *rules = p->config.rules;
	struct sockaddr_storage sa;
	if (proxy_literal_address(host, &sa))
		return net_rules_allow_address(rules, (struct sockaddr *)&sa, port, NULL);
	if (method && method[0] && path && path[0])
		return net_rules_allow_request(rules, method, scheme, host, port, path, NULL);
	return net_rules_allow_host(rules, host, port, NULL) ||
	       (intercepted && net_rules_has_requests(rules, host, port));
}

void proxy_conn_recheck(struct net_proxy *p)
{
	static const char why[] = "the rules changed and no longer allow it";
	struct proxy_conn *c = p->conns;
	while (c) {
		struct proxy_conn *following = c->next;
		/* Undecided connections are decided by the new rules anyway; the
		 * rule command's answers stand. */
		bool decided = c->state != CONN_SNIFF && c->state != CONN_ASK;
		if (decided && strcmp(c->rule, "--net-rule-cmd") != 0 &&
		    !still_allowed(p, c->host, c->port, false, c->method, c->scheme, c->path)) {
			proxy_log(p, c, "deny", why);
			reset_close(p, c);
		}
		c = following;
	}
	pthread_mutex_lock(&p->engine_lock);
	for (struct http_engine *e = p->engines; e; e = e->next) {
		if (strcmp(e->rule, "--net-rule-cmd") != 0 &&
		    !still_allowed(p, e->host, e->port, true, NULL, NULL, NULL))
			http_engine_cut(e);
	}
	pthread_mutex_unlock(&p->engine_lock);
}

int proxy_conn_expire(struct net_proxy *p)
{
	uint64_t now = proxy_now_ms();
	uint64_t next = UINT64_MAX;
	struct proxy_conn *c = p->conns;
	while (c) {
		struct proxy_conn *following = c->next;
		if (c->deadline_ms <= now) {
			switch (c->state) {
			case CONN_SNIFF: {
				bool proxy_port = c->dialled_port == NET_CAPTURE_PROXY_PORT;
				bool silent = c->up.len == 0 && now - c->started_ms < PROXY_HEAD_MS && !proxy_port;
				if (!silent && (c->http || proxy_port || proxy_conn_looks_like_http(&c->up))) {
					c->http = true;
					proxy_conn_dialled_host(p, c);
					c->status = 408;
					proxy_log(p, c, "deny", "the request head did not arrive in time");
					proxy_conn_respond(p, c, 408, "Request Timeout", "corral: request head timed out\n");
				} else {
					proxy_conn_classify(p, c, true);
				}
				break;
			}
			case CONN_ASK:
				proxy_conn_deny(p, c, "the rule command did not answer");
				break;
			case CONN_RESOLVE:
			case CONN_CONNECT:
				proxy_conn_fail_upstream(p, c, "timed out");
				break;
			case CONN_RELAY:
				proxy_log(p, c, "allow", "idle");
				proxy_conn_close(p, c);
				break;
			}
		} else if (c->deadline_ms < next) {
			next = c->deadline_ms;
		}
		c = following;
	}
	/* Deadlines of connections changed above are picked up next round. */
	if (next == UINT64_MAX)
		return p->conns ? 1000 : -1;
	return next <= now ? 0 : (int)(next - now);
}
