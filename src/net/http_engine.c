/* The HTTP engine's connections: threads, TLS toward the sandbox, the
 * upstream connection, the request loop (see http_engine.h). */
#include "net/http_engine_internal.h"

#include "net/net_rules.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define ENGINE_CONNECT_MS 10000

static void send_plain_error(struct http_stream *s, int status, const char *reason,
                             const char *body)
{
	char msg[1024];
	(void)http_stream_write(s, msg, proxy_format_response(msg, sizeof msg, status, reason, body));
}

/* A blocking connect bounded by ENGINE_CONNECT_MS; the fd or -1. */
static int dial(struct sockaddr_storage *sa, uint16_t port, int *error)
{
	socklen_t len;
	if (sa->ss_family == AF_INET) {
		((struct sockaddr_in *)sa)->sin_port = htons(port);
		len = sizeof(struct sockaddr_in);
	} else {
		((struct sockaddr_in6 *)sa)->sin6_port = htons(port);
		len = sizeof(struct sockaddr_in6);
	}
	int fd = socket(sa->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*error = errno;
		return -1;
	}
	if (connect(fd, (struct sockaddr *)sa, len) < 0) {
		if (errno != EINPROGRESS) {
			*error = errno;
			close(fd);
			return -1;
		}
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};
		int n;
		do
			n = poll(&pfd, 1, ENGINE_CONNECT_MS);
		while (n < 0 && errno == EINTR);
		int so = 0;
		socklen_t so_len = sizeof so;
		if (n == 0)
			so = ETIMEDOUT;
		else if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &so_len) < 0)
			so = errno;
		if (so) {
			*error = so;
			close(fd);
			return -1;
		}
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

/* Sockets are set and closed under the engine lock, so that a stop never
 * shuts down a descriptor number reused meanwhile. */
static void set_fd(struct http_engine *e, struct http_stream *s, int fd)
{
	pthread_mutex_lock(&e->p->engine_lock);
	if (fd < 0 && s->fd >= 0)
		close(s->fd);
	s->fd = fd;
	pthread_mutex_unlock(&e->p->engine_lock);
}

void engine_close_upstream(struct http_engine *e)
{
	http_stream_release(&e->upstream);
	set_fd(e, &e->upstream, -1);
	e->upstream.eof = false;
}

static bool engine_names_address(struct net_proxy *p, const struct sockaddr *addr)
{
	pthread_rwlock_rdlock(&p->rules_lock);
	bool named = net_rules_names_address(p->config.rules, addr);
	pthread_rwlock_unlock(&p->rules_lock);
	return named;
}

bool engine_connect_upstream(struct http_engine *e, const char *host, uint16_t port, bool tls,
                             bool *denied, char *why, size_t size)
{
	struct net_proxy *p = e->p;
	*denied = false;
	if (e->upstream.fd >= 0 && !e->upstream.eof && e->upstream_port == port &&
	    e->upstream_tls == tls && strcmp(e->upstream_host, host) == 0)
		return true;
	engine_close_upstream(e);

	struct sockaddr_storage one;
	struct addrinfo *addrs = NULL;
	const struct addrinfo *ai = NULL;
	struct addrinfo single = {0};
	bool pinned = proxy_pinned(p, host, &one);
	if (pinned || proxy_literal_address(host, &one)) {
		single.ai_family = one.ss_family;
		single.ai_addr = (struct sockaddr *)&one;
		single.ai_addrlen = one.ss_family == AF_INET ? sizeof(struct sockaddr_in)
		                                             : sizeof(struct sockaddr_in6);
		ai = &single;
	} else {
		struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG};
		int rc = getaddrinfo(host, NULL, &hints, &addrs);
		if (rc != 0) {
			snprintf(why, size, "%s", gai_strerror(rc));
			return false;
		}
		ai = addrs;
	}
	int fd = -1, error = 0;
	bool refused_private = false;
	for (; ai && fd < 0; ai = ai->ai_next) {
		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		/* A pin was asked for by the caller; anything else must not lead
		 * to a private address no rule names. */
		if (!pinned && net_rules_address_is_private(ai->ai_addr) &&
		    !engine_names_address(p, ai->ai_addr)) {
			refused_private = true;
			continue;
		}
		struct sockaddr_storage sa;
		memcpy(&sa, ai->ai_addr, ai->ai_addrlen);
		fd = dial(&sa, port, &error);
	}
	if (addrs)
		freeaddrinfo(addrs);
	if (fd < 0) {
		*denied = refused_private && !error;
		snprintf(why, size, "%s",
		         *denied ? "a private, loopback or link-local address that no rule names"
		                 : error ? strerror(error) : "no usable address");
		return false;
	}
	http_stream_init(&e->upstream, fd, NULL, 0);
	e->upstream.fd = -1;
	set_fd(e, &e->upstream, fd);
	if (http_stream_set_timeout(&e->upstream, ENGINE_IO_MS) < 0 ||
	    (tls && http_stream_connect_tls(&e->upstream, p->config.tls_client, host) < 0)) {
		snprintf(why, size, "%s", e->upstream.error);
		engine_close_upstream(e);
		return false;
	}
	snprintf(e->upstream_host, sizeof e->upstream_host, "%s", host);
	e->upstream_port = port;
	e->upstream_tls = tls;
	return true;
}

void engine_relay_raw(struct http_engine *e, struct proxy_record *rec)
{
	struct http_stream *side[2] = {&e->client, &e->upstream};
	uint64_t *count[2] = {&rec->bytes_up, &rec->bytes_down};
	for (;;) {
		bool moved = false;
		for (int i = 0; i < 2; i++) {
			if (!http_stream_has_pending(side[i]))
				continue;
			if (side[i]->len == 0 && http_stream_fill(side[i]) <= 0)
				return;
			if (http_stream_write(side[1 - i], side[i]->buf, side[i]->len) < 0)
				return;
			*count[i] += side[i]->len;
			side[i]->len = 0;
			moved = true;
		}
		if (moved)
			continue;
		struct pollfd pfd[2] = {{.fd = e->client.fd, .events = POLLIN},
		                        {.fd = e->upstream.fd, .events = POLLIN}};
		int n = poll(pfd, 2, ENGINE_IO_MS);
		if (n <= 0 && !(n < 0 && errno == EINTR))
			return;
		for (int i = 0; i < 2; i++) {
			if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t got = http_stream_fill(side[i]);
			if (got <= 0)
				return;
			if (http_stream_write(side[1 - i], side[i]->buf, side[i]->len) < 0)
				return;
			*count[i] += side[i]->len;
			side[i]->len = 0;
		}
	}
}

static bool looks_like_http(const unsigned char *b, size_t len)
{
	size_t i = 0;
	while (i < len && i < 16 && b[i] >= 'A' && b[i] <= 'Z')
		i++;
	return i > 0 && i < len && b[i] == ' ';
}

static void log_connection(struct http_engine *e, const char *decision, const char *reason,
                           int status, uint64_t up, uint64_t down)
{
	struct proxy_record r = {
		.scheme = e->tls ? "https" : "tcp", .host = e->host, .port = e->port, .via = e->via,
		.rule = e->rule, .status = status, .bytes_up = up, .bytes_down = down,
		.started_ms = e->started_ms,
	};
	proxy_log_record(e->p, &r, decision, reason);
}

/* After a CONNECT: what the tunnel carries decides how it is served. */
static bool open_tunnel(struct http_engine *e)
{
	static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
	if (http_stream_write(&e->client, ok, sizeof ok - 1) < 0)
		return false;
	while (e->client.len == 0)
		if (http_stream_fill(&e->client) <= 0)
			return false;
	if (e->client.buf[0] == 0x16) {
		e->tls = true;
		return true;
	}
	if (looks_like_http(e->client.buf, e->client.len))
		return true;
	/* Neither TLS nor HTTP: relayed as it is, if the host is allowed. */
	struct proxy_record r = {
		.scheme = "tcp", .host = e->host, .port = e->port, .via = e->via, .rule = e->rule,
		.status = 200, .started_ms = e->started_ms,
	};
	char why[200];
	bool denied = false;
	if (!e->host_allowed) {
		log_connection(e, "deny", "only some requests to this host are allowed, and this is not HTTP",
		               0, 0, 0);
	} else if (!engine_connect_upstream(e, e->host, e->port, false, &denied, why, sizeof why)) {
		log_connection(e, denied ? "deny" : "allow", why, 0, 0, 0);
	} else {
		engine_relay_raw(e, &r);
		proxy_log_record(e->p, &r, "allow", NULL);
	}
	return false;
}

static void serve(struct http_engine *e)
{
	if (http_stream_set_timeout(&e->client, ENGINE_HEAD_MS) < 0)
		return;
	if (e->explicit_connect && !open_tunnel(e))
		return;
	if (e->tls && http_stream_accept_tls(&e->client, e->p->config.tls_server, e->host) < 0) {
		log_connection(e, "deny", e->client.error, 0, 0, 0);
		return;
	}
	for (;;) {
		enum http_parse_result r;
		for (;;) {
			r = http_request_parse((const char *)e->client.buf, e->client.len, &e->req);
			if (r != HTTP_PARSE_NEED_MORE || e->client.len >= HTTP_HEAD_MAX)
				break;
			ssize_t n = http_stream_fill(&e->client);
			if (n < 0 && e->client.len > 0) {
				send_plain_error(&e->client, 408, "Request Timeout",
				                 "corral: request head timed out\n");
				return;
			}
			if (n <= 0)
				return; /* the client is done (or silent between requests) */
		}
		if (r != HTTP_PARSE_OK) {
			int status = r == HTTP_PARSE_NEED_MORE ? 431 : e->req.error_status;
			char body[200];
			snprintf(body, sizeof body, "corral: %s\n",
			         r == HTTP_PARSE_NEED_MORE ? "request head too large" : e->req.error_reason);
			log_connection(e, "deny", body, status, 0, 0);
			send_plain_error(&e->client, status,
			                 status == 431   ? "Request Header Fields Too Large"
			                 : status == 405 ? "Method Not Allowed"
			                 : status == 414 ? "URI Too Long"
			                                 : "Bad Request",
			                 body);
			return;
		}
		if (http_stream_set_timeout(&e->client, ENGINE_IO_MS) < 0 || !engine_exchange(e))
			return;
		if (http_stream_set_timeout(&e->client, ENGINE_KEEPALIVE_MS) < 0)
			return;
	}
}

static void *engine_main(void *arg)
{
	struct http_engine *e = arg;
	struct net_proxy *p = e->p;
	serve(e);
	if (e->cut)
		log_connection(e, "deny", "the rules changed and no longer allow it", 0, 0, 0);
	http_stream_release(&e->client);
	http_stream_release(&e->upstream);
	pthread_mutex_lock(&p->engine_lock);
	if (e->client.fd >= 0)
		close(e->client.fd);
	if (e->upstream.fd >= 0)
		close(e->upstream.fd);
	if (e->prev)
		e->prev->next = e->next;
	else
		p->engines = e->next;
	if (e->next)
		e->next->prev = e->prev;
	p->n_engines--;
	pthread_cond_broadcast(&p->engine_gone);
	pthread_mutex_unlock(&p->engine_lock);
	free(e);
	return NULL;
}

void http_engine_start(struct net_proxy *p, struct proxy_conn *c)
{
	struct http_engine *e = calloc(1, sizeof *e);
	int fd = c->client.fd;
	if (!e) {
		static const char oom[] = "HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\n\r\n";
		(void)send(fd, oom, sizeof oom - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		return; /* the caller closes it */
	}
	e->p = p;
	e->tls = !c->explicit_connect && !c->http;
	e->explicit_connect = c->explicit_connect;
	snprintf(e->host, sizeof e->host, "%s", c->host);
	e->port = c->port;
	e->dialled_port = c->dialled_port;
	e->via = c->via;
	e->host_allowed = c->host_allowed;
	snprintf(e->rule, sizeof e->rule, "%s", c->rule);
	e->started_ms = c->started_ms;
	e->upstream.fd = -1;
	/* The connection leaves the epoll loop: its socket is the engine's. */
	epoll_ctl(p->epfd, EPOLL_CTL_DEL, fd, NULL);
	c->client.fd = -1;
	http_stream_init(&e->client, fd, c->up.data, c->up.len);

	pthread_mutex_lock(&p->engine_lock);
	e->next = p->engines;
	if (p->engines)
		p->engines->prev = e;
	p->engines = e;
	p->n_engines++;
	pthread_attr_t attr;
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pthread_attr_init(&attr);
	if (rc == 0) {
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		rc = pthread_create(&e->thread, &attr, engine_main, e);
		pthread_attr_destroy(&attr);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		p->engines = e->next;
		if (e->next)
			e->next->prev = NULL;
		p->n_engines--;
		pthread_mutex_unlock(&p->engine_lock);
		send_plain_error(&e->client, 502, "Bad Gateway", "corral: too many connections\n");
		http_stream_close(&e->client);
		free(e);
		return;
	}
	pthread_mutex_unlock(&p->engine_lock);
}

void http_engine_cut(struct http_engine *e)
{
	e->cut = true;
	if (e->client.fd >= 0)
		shutdown(e->client.fd, SHUT_RDWR);
	if (e->upstream.fd >= 0)
		shutdown(e->upstream.fd, SHUT_RDWR);
}

void http_engine_stop_all(struct net_proxy *p)
{
	pthread_mutex_lock(&p->engine_lock);
	for (struct http_engine *e = p->engines; e; e = e->next) {
		if (e->client.fd >= 0)
			shutdown(e->client.fd, SHUT_RDWR);
		if (e->upstream.fd >= 0)
			shutdown(e->upstream.fd, SHUT_RDWR);
	}
	while (p->n_engines > 0)
		pthread_cond_wait(&p->engine_gone, &p->engine_lock);
	pthread_mutex_unlock(&p->engine_lock);
}
