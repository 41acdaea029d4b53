/* One proxied connection: classify, decide, resolve, connect, relay. */
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

static void set_interest(struct net_proxy *p, struct proxy_conn *c)
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
static void respond(struct net_proxy *p, struct proxy_conn *c, int status, const char *reason,
                    const char *body)
{
	char msg[2048];
	size_t n = proxy_format_response(msg, sizeof msg, status, reason, body);
	c->status = status;
	ssize_t w = write(c->client.fd, msg, n);
	(void)w;
	proxy_conn_close(p, c);
}

static void deny(struct net_proxy *p, struct proxy_conn *c, const char *why)
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
	respond(p, c, 403, "Forbidden", body);
}

static void fail_upstream(struct net_proxy *p, struct proxy_conn *c, const char *why)
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
	respond(p, c, 502, "Bad Gateway", body);
}

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

static void try_connect(struct net_proxy *p, struct proxy_conn *c);

static void connect_to(struct net_proxy *p, struct proxy_conn *c, struct sockaddr_storage *sa)
{
	set_port(sa, c->port);
	socklen_t len = sa->ss_family == AF_INET ? sizeof(struct sockaddr_in)
	                                         : sizeof(struct sockaddr_in6);
	int fd = socket(sa->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fail_upstream(p, c, strerror(errno));
		return;
	}
	if (connect(fd, (struct sockaddr *)sa, len) < 0 && errno != EINPROGRESS) {
		int e = errno;
		close(fd);
		if (c->next_addr) {
			try_connect(p, c);
			return;
		}
		fail_upstream(p, c, strerror(e));
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
	set_interest(p, c);
}

/* Try the next resolved address that may be used. */
static void try_connect(struct net_proxy *p, struct proxy_conn *c)
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
		deny(p, c, "the name resolves to a private, loopback or link-local address that no rule names");
	else
		fail_upstream(p, c, "no usable address");
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
		deny(p, c, "out of memory asking the rule command");
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
		deny(p, c, why);
		return;
	}
	if (!run->watch) {
		struct proxy_tag *tag = calloc(1, sizeof *tag);
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = tag};
		if (!tag || (*tag = (struct proxy_tag){PROXY_TAG_RULE_CMD, run->pidfd, NULL, run},
		             epoll_ctl(p->epfd, EPOLL_CTL_ADD, run->pidfd, &ev) < 0)) {
			free(tag);
			deny(p, c, "cannot wait for the rule command");
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
				deny(p, c, why);
			}
		}
		c = following;
	}
}

static void decide(struct net_proxy *p, struct proxy_conn *c)
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
		deny(p, c, "no rule allows it");
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
			deny(p, c, "a private, loopback or link-local address that no rule names");
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
		fail_upstream(p, c, "cannot start a name lookup");
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
				fail_upstream(p, c, gai_strerror(job->gai_error));
			} else {
				c->addrs = job->result;
				c->next_addr = c->addrs;
				job->result = NULL;
				try_connect(p, c);
			}
		}
		resolver_job_free(job);
	}
}

/* The name or address the client dialled: a stand-in's name, else the
 * address itself. */
static void dialled_host(struct net_proxy *p, struct proxy_conn *c)
{
	const char *name = dns_names_lookup(&p->names, (struct sockaddr *)&c->dialled);
	if (name)
		snprintf(c->host, sizeof c->host, "%s", name);
	else
		format_address((struct sockaddr *)&c->dialled, c->host, sizeof c->host);
	c->port = c->dialled_port;
}

/* A plain HTTP request goes upstream in origin form, with the Host the
 * decision was about (RFC 9112 3.2.2: a client's own Host could name
 * another site on the same server), as the only request of its connection
 * (later requests on a kept-alive connection, or pipelined ones, could name
 * other hosts or paths unchecked): Connection: close, and nothing past the
 * request's body is passed on. */
static bool rewrite_request(struct proxy_conn *c, const struct http_request *req)
{
	unsigned char head[PROXY_BUF];
	size_t o = 0;
	bool v6 = strchr(c->host, ':') != NULL;
	char port[8] = "";
	if (c->port != 80)
		snprintf(port, sizeof port, ":%u", c->port);
	int n = snprintf((char *)head, sizeof head, "%s %s HTTP/1.1\r\nHost: %s%s%s%s\r\n", c->method,
	                 c->path[0] ? c->path : "/", v6 ? "[" : "", c->host, v6 ? "]" : "", port);
	if (n < 0 || (size_t)n >= sizeof head)
		return false;
	o = (size_t)n;
	for (size_t i = 0; i < req->n_headers; i++) {
		const struct http_header *h = &req->headers[i];
		static const char *const hop[] = {"host", "connection", "proxy-connection", "keep-alive",
		                                  "proxy-authorization", NULL};
		bool skip = false;
		for (const char *const *k = hop; *k; k++)
			skip = skip || (h->name_len == strlen(*k) && strncasecmp(h->name, *k, h->name_len) == 0);
		if (skip)
			continue;
		if (o + h->name_len + h->value_len + 4 > sizeof head)
			return false;
		memcpy(head + o, h->name, h->name_len);
		o += h->name_len;
		head[o++] = ':';
		head[o++] = ' ';
		memcpy(head + o, h->value, h->value_len);
		o += h->value_len;
		head[o++] = '\r';
		head[o++] = '\n';
	}
	static const char closing[] = "Connection: close\r\n\r\n";
	size_t body = c->up.len - req->head_len;
	/* A chunked body's end is not tracked: it flows on, still as the only
	 * request (Connection: close). */
	c->up_allow = req->chunked ? UINT64_MAX : req->has_content_length ? req->content_length : 0;
	if (body > c->up_allow)
		body = (size_t)c->up_allow;
	if (c->up_allow != UINT64_MAX)
		c->up_allow -= body;
	if (o + sizeof closing - 1 + body > sizeof head)
		return false;
	memcpy(head + o, closing, sizeof closing - 1);
	o += sizeof closing - 1;
	memcpy(head + o, c->up.data + req->head_len, body);
	o += body;
	memcpy(c->up.data, head, o);
	c->up.len = o;
	return true;
}

static bool looks_like_http(const struct proxy_buf *b)
{
	size_t i = 0;
	while (i < b->len && i < 16 && b->data[i] >= 'A' && b->data[i] <= 'Z')
		i++;
	return i > 0 && (i == b->len || b->data[i] == ' ');
}

/* Decide from the first bytes if possible; true once decided. */
static bool classify(struct net_proxy *p, struct proxy_conn *c, bool silent)
{
	/* The port HTTP_PROXY names speaks HTTP only. */
	bool proxy_port = c->dialled_port == NET_CAPTURE_PROXY_PORT;
	if (c->up.len == 0) {
		if (!silent || proxy_port)
			return false;
		dialled_host(p, c); /* the server speaks first (SSH, SMTP, MySQL...) */
		c->via = "address";
		decide(p, c);
		return true;
	}
	if (c->up.data[0] == 0x16) {
		char sni[256];
		switch (tls_sni_parse(c->up.data, c->up.len, sni, sizeof sni)) {
		case SNI_NEED_MORE:
			if (c->up.len < PROXY_BUF)
				return false;
			break;
		case SNI_FOUND:
			snprintf(c->host, sizeof c->host, "%s", sni);
			c->port = c->dialled_port;
			c->scheme = "https";
			c->via = "sni";
			c->to_engine = p->config.intercept;
			decide(p, c);
			return true;
		case SNI_ABSENT:
			c->to_engine = p->config.intercept;
			c->scheme = "https";
			break;
		case SNI_NOT_TLS:
			break;
		}
		dialled_host(p, c);
		c->via = "address";
		decide(p, c);
		return true;
	}
	if (!proxy_port && !looks_like_http(&c->up)) {
		dialled_host(p, c);
		c->via = "address";
		decide(p, c);
		return true;
	}
	struct http_request req;
	enum http_parse_result r = http_request_parse((const char *)c->up.data, c->up.len, &req);
	if (r == HTTP_PARSE_NEED_MORE && c->up.len < PROXY_BUF)
		return false;
	c->http = true;
	if (r != HTTP_PARSE_OK) {
		int status = r == HTTP_PARSE_NEED_MORE ? 431 : req.error_status;
		char body[300];
		snprintf(body, sizeof body, "corral: %s\n",
		         r == HTTP_PARSE_NEED_MORE ? "request head too large" : req.error_reason);
		dialled_host(p, c);
		c->status = status;
		proxy_log(p, c, "deny", body);
		respond(p, c, status, status == 431 ? "Request Header Fields Too Large" :
		                      status == 405 ? "Method Not Allowed" :
		                      status == 414 ? "URI Too Long" : "Bad Request", body);
		return true;
	}
	snprintf(c->method, sizeof c->method, "%s", req.method);
	snprintf(c->host, sizeof c->host, "%s", req.host);
	c->port = req.port ? req.port : c->dialled_port;
	c->to_engine = p->config.intercept;
	if (req.form == HTTP_FORM_AUTHORITY) {
		c->explicit_connect = true;
		c->scheme = "https";
		c->via = "connect";
		c->method[0] = '\0'; /* the tunnel's requests are not seen */
		/* What follows the CONNECT head is the tunnel's first bytes. */
		memmove(c->up.data, c->up.data + req.head_len, c->up.len - req.head_len);
		c->up.len -= req.head_len;
	} else {
		snprintf(c->path, sizeof c->path, "%s", req.path);
		c->scheme = "http";
		c->via = req.form == HTTP_FORM_ABSOLUTE ? "http-proxy" : "host";
		/* Intercepting, the engine reads every request of the connection. */
		if (!c->to_engine && !rewrite_request(c, &req)) {
			respond(p, c, 431, "Request Header Fields Too Large", "corral: request head too large\n");
			return true;
		}
	}
	decide(p, c);
	return true;
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
		dialled_host(p, c);
		deny(p, c, "the sandbox has too many connections open");
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
	set_interest(p, c);
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
			try_connect(p, c);
			return;
		}
		fail_upstream(p, c, strerror(error));
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
	set_interest(p, c);
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
		if (!classify(p, c, c->client_eof))
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
				if (!silent && (c->http || proxy_port || looks_like_http(&c->up))) {
					c->http = true;
					dialled_host(p, c);
					c->status = 408;
					proxy_log(p, c, "deny", "the request head did not arrive in time");
					respond(p, c, 408, "Request Timeout", "corral: request head timed out\n");
				} else {
					classify(p, c, true);
				}
				break;
			}
			case CONN_ASK:
				deny(p, c, "the rule command did not answer");
				break;
			case CONN_RESOLVE:
			case CONN_CONNECT:
				fail_upstream(p, c, "timed out");
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
