/*
 * One side of a connection the HTTP engine (http_engine.c) serves, plain
 * or TLS, over a blocking socket whose reads and writes time out
 * (SO_RCVTIMEO / SO_SNDTIMEO): the engine runs one thread per connection,
 * so blocking I/O keeps each exchange a straight line of code.
 */
#ifndef CORRAL_NET_HTTP_STREAM_H
#define CORRAL_NET_HTTP_STREAM_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HTTP_STREAM_BUF 65536

struct http_stream {
	int fd;
	SSL *ssl;                       /* NULL: plain */
	unsigned char buf[HTTP_STREAM_BUF]; /* received, not yet consumed */
	size_t len;
	bool eof;
	char error[160];                /* why the last call failed */
};

/* fd is taken over; `prefix` (bytes already read from it) comes first. */
void http_stream_init(struct http_stream *s, int fd, const void *prefix, size_t prefix_len);
void http_stream_close(struct http_stream *s);
/* End TLS (close_notify, without waiting for the peer's) and free it; the
 * socket stays open, for the caller to close. */
void http_stream_release(struct http_stream *s);
int http_stream_set_timeout(struct http_stream *s, unsigned ms);

/* TLS toward the sandbox: the buffered bytes are the ClientHello's start. */
int http_stream_accept_tls(struct http_stream *s, SSL_CTX *ctx, const char *host);
/* TLS toward a server, verified for `host`. */
int http_stream_connect_tls(struct http_stream *s, SSL_CTX *ctx, const char *host);

/* Read more into buf (appending); 0 on EOF, -1 on error or timeout. */
ssize_t http_stream_fill(struct http_stream *s);
/* Drop n bytes from the front of buf. */
void http_stream_consume(struct http_stream *s, size_t n);
int http_stream_write(struct http_stream *s, const void *data, size_t len);
/* Bytes readable without blocking (buffered, or pending in TLS). */
bool http_stream_has_pending(const struct http_stream *s);

#endif
