/*
 * The proxy's HTTP engine, used with interception (--intercept, path
 * rules, secrets). The epoll loop classifies a connection (proxy_classify.c)
 * and decides on its destination (proxy_dial.c); an HTTP or TLS connection
 * then moves here, to a thread of its own, which
 *   - terminates TLS with a leaf certificate of corral's CA (tls_ca.h),
 *   - reads each request of the connection (keep-alive), decides it by the
 *     rules (path rules included), refuses it with a 403 that says why,
 *   - replaces secret placeholders with their values in requests to the
 *     secret's hosts, and blocks a request carrying a placeholder anywhere
 *     else,
 *   - forwards it to the server over verified TLS (or plain HTTP) and
 *     relays the response, framed, so the connection can carry the next,
 *   - logs one line per request.
 */
#ifndef CORRAL_NET_HTTP_ENGINE_H
#define CORRAL_NET_HTTP_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct net_proxy;
struct proxy_conn;
struct http_engine;

/* Take the connection over (its client socket and the bytes read so far)
 * and serve it on a new thread; the caller then forgets the connection
 * without closing its client socket. On failure the connection is
 * answered (502) and closed here. */
void http_engine_start(struct net_proxy *p, struct proxy_conn *c);
/* The rules changed and no longer allow e's destination: shut its sockets
 * (its thread then logs and ends it). Under the proxy's engine_lock. */
void http_engine_cut(struct http_engine *e);
/* Stop every engine thread of the proxy and wait until all are gone. */
void http_engine_stop_all(struct net_proxy *p);

#endif
