/*
 * What a new proxied connection is: TLS (by its SNI), plain HTTP (parsed and
 * rewritten to go upstream on its own) or another protocol. Separate from
 * proxy_conn.c because it is parsing of untrusted first bytes and nothing
 * else; it hands the connection on to the decision (proxy_dial.c).
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

bool proxy_conn_looks_like_http(const struct proxy_buf *b)
{
	size_t i = 0;
	while (i < b->len && i < 16 && b->data[i] >= 'A' && b->data[i] <= 'Z')
		i++;
	return i > 0 && (i == b->len || b->data[i] == ' ');
}

/* Decide from the first bytes if possible; true once decided. */
bool proxy_conn_classify(struct net_proxy *p, struct proxy_conn *c, bool silent)
{
	/* The port HTTP_PROXY names speaks HTTP only. */
	bool proxy_port = c->dialled_port == NET_CAPTURE_PROXY_PORT;
	if (c->up.len == 0) {
		if (!silent || proxy_port)
			return false;
		proxy_conn_dialled_host(p, c); /* the server speaks first (SSH, SMTP, MySQL...) */
		c->via = "address";
		proxy_conn_decide(p, c);
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
			proxy_conn_decide(p, c);
			return true;
		case SNI_ABSENT:
			c->to_engine = p->config.intercept;
			c->scheme = "https";
			break;
		case SNI_NOT_TLS:
			break;
		}
		proxy_conn_dialled_host(p, c);
		c->via = "address";
		proxy_conn_decide(p, c);
		return true;
	}
	if (!proxy_port && !proxy_conn_looks_like_http(&c->up)) {
		proxy_conn_dialled_host(p, c);
		c->via = "address";
		proxy_conn_decide(p, c);
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
		proxy_conn_dialled_host(p, c);
		c->status = status;
		proxy_log(p, c, "deny", body);
		proxy_conn_respond(p, c, status, status == 431 ? "Request Header Fields Too Large" :
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
			proxy_conn_respond(p, c, 431, "Request Header Fields Too Large",
			                   "corral: request head too large\n");
			return true;
		}
	}
	proxy_conn_decide(p, c);
	return true;
}
