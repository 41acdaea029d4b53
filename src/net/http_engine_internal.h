/* Shared by the HTTP engine's connection handling (http_engine.c) and its
 * request/response exchanges (http_exchange.c, http_body.c). */
#ifndef CORRAL_NET_HTTP_ENGINE_INTERNAL_H
#define CORRAL_NET_HTTP_ENGINE_INTERNAL_H

#include "net/http_engine.h"
#include "net/http_request.h"
#include "net/http_response.h"
#include "net/http_stream.h"
#include "net/proxy_internal.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define ENGINE_HEAD_MS 10000        /* a request head, once the connection is open */
#define ENGINE_KEEPALIVE_MS 120000  /* between two requests */
#define ENGINE_IO_MS 600000         /* a response, or a body, making no progress */
#define ENGINE_BUFFER_MAX (8u << 20) /* a text body buffered to replace placeholders */
#define ENGINE_BUFFER_BUDGET (64u << 20) /* all buffered bodies of one sandbox, with copies */

struct http_engine {
	struct net_proxy *p;
	pthread_t thread;
	struct http_stream client;
	struct http_stream upstream;      /* fd -1: not connected */
	char upstream_host[256];
	uint16_t upstream_port;
	bool upstream_tls;
	/* The connection, as the epoll loop decided it. */
	bool tls;                         /* a TLS ClientHello: terminate it */
	bool explicit_connect;            /* CONNECT: answer 200 first */
	char host[256];                   /* the tunnel's host, or the first request's */
	uint16_t port;
	uint16_t dialled_port;
	const char *via;
	bool host_allowed;                /* a rule or the rule command allows host:port */
	char rule[160];
	uint64_t started_ms;
	volatile bool cut;                /* closed because the rules changed */
	struct http_request req;          /* the current request */
	struct http_response resp;        /* its response */
	struct http_engine *prev, *next;  /* p->engines, under p->engine_lock */
};

/* http_exchange.c: serve one request whose head is at the start of
 * e->client.buf (parsed into e->req). False: close the connection. */
bool engine_exchange(struct http_engine *e);

/* http_engine.c */
/* Connect e->upstream to host:port (closing another), TLS if `tls`;
 * false with a reason in why[0..size). */
bool engine_connect_upstream(struct http_engine *e, const char *host, uint16_t port, bool tls,
                             bool *denied, char *why, size_t size);
void engine_close_upstream(struct http_engine *e);
/* Pass bytes both ways until either side ends (an upgrade, a tunnel). */
void engine_relay_raw(struct http_engine *e, struct proxy_record *rec);

#endif
