#include "net/http_stream.h"

#include "net/tls_ca.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* A socket BIO that first serves bytes already read from the socket: the
 * proxy reads a ClientHello to learn its SNI before it decides to
 * terminate the TLS connection. */
struct prefix_bio {
	int fd;
	unsigned char *data;
	size_t len, off;
};

static int prefix_read(BIO *b, char *out, int size)
{
	struct prefix_bio *pb = BIO_get_data(b);
	BIO_clear_retry_flags(b);
	if (size <= 0)
		return 0;
	if (pb->off < pb->len) {
		size_t n = pb->len - pb->off < (size_t)size ? pb->len - pb->off : (size_t)size;
		memcpy(out, pb->data + pb->off, n);
		pb->off += n;
		return (int)n;
	}
	ssize_t n;
	do
		n = read(pb->fd, out, (size_t)size);
	while (n < 0 && errno == EINTR);
	return (int)n; /* a timeout (EAGAIN) is an error: no retry */
}

static int prefix_write(BIO *b, const char *in, int size)
{
	struct prefix_bio *pb = BIO_get_data(b);
	BIO_clear_retry_flags(b);
	ssize_t n;
	do
		n = send(pb->fd, in, (size_t)size, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return (int)n;
}

static long prefix_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)b;
	(void)num;
	(void)ptr;
	return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int prefix_destroy(BIO *b)
{
	struct prefix_bio *pb = BIO_get_data(b);
	if (pb) {
		free(pb->data);
		free(pb);
	}
	BIO_set_data(b, NULL);
	return 1;
}

static BIO_METHOD *prefix_method;
static pthread_once_t prefix_once = PTHREAD_ONCE_INIT;

static void prefix_method_init(void)
{
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "corral prefix");
	if (m && BIO_meth_set_read(m, prefix_read) && BIO_meth_set_write(m, prefix_write) &&
	    BIO_meth_set_ctrl(m, prefix_ctrl) && BIO_meth_set_destroy(m, prefix_destroy)) {
		prefix_method = m;
		return;
	}
	BIO_meth_free(m);
}

void http_stream_init(struct http_stream *s, int fd, const void *prefix, size_t prefix_len)
{
	s->fd = fd;
	s->ssl = NULL;
	s->eof = false;
	s->error[0] = '\0';
	s->len = prefix_len < sizeof s->buf ? prefix_len : sizeof s->buf;
	if (s->len)
		memcpy(s->buf, prefix, s->len);
	/* The proxy's sockets are non-blocking; here timeouts bound each call. */
	int flags = fcntl(fd, F_GETFL);
	if (flags >= 0)
		fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
}

void http_stream_release(struct http_stream *s)
{
	if (s->ssl) {
		if (!s->eof)
			SSL_shutdown(s->ssl);
		SSL_free(s->ssl);
		s->ssl = NULL;
	}
	s->len = 0;
}

void http_stream_close(struct http_stream *s)
{
	http_stream_release(s);
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->len = 0;
}

int http_stream_set_timeout(struct http_stream *s, unsigned ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
	if (setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
	    setsockopt(s->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0) {
		snprintf(s->error, sizeof s->error, "socket timeout: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static void ssl_reason(struct http_stream *s, const char *what)
{
	unsigned long e = ERR_peek_last_error();
	const char *reason = e ? ERR_reason_error_string(e) : NULL;
	long verify = s->ssl ? SSL_get_verify_result(s->ssl) : X509_V_OK;
	if (verify != X509_V_OK)
		snprintf(s->error, sizeof s->error, "%s: %s", what,
		         X509_verify_cert_error_string(verify));
	else if (reason)
		snprintf(s->error, sizeof s->error, "%s: %s", what, reason);
	else if (errno == EAGAIN)
		snprintf(s->error, sizeof s->error, "%s: timed out", what);
	else
		snprintf(s->error, sizeof s->error, "%s: connection closed", what);
	ERR_clear_error();
}

int http_stream_accept_tls(struct http_stream *s, SSL_CTX *ctx, const char *host)
{
	pthread_once(&prefix_once, prefix_method_init);
	struct prefix_bio *pb = calloc(1, sizeof *pb);
	BIO *bio = prefix_method ? BIO_new(prefix_method) : NULL;
	if (!pb || !bio || (s->len && !(pb->data = malloc(s->len)))) {
		free(pb);
		BIO_free(bio);
		snprintf(s->error, sizeof s->error, "TLS: out of memory");
		return -1;
	}
	pb->fd = s->fd;
	if (s->len)
		memcpy(pb->data, s->buf, s->len);
	pb->len = s->len;
	s->len = 0;
	BIO_set_data(bio, pb);
	BIO_set_init(bio, 1);
	s->ssl = SSL_new(ctx);
	if (!s->ssl || tls_ca_set_target(s->ssl, host) < 0) {
		BIO_free(bio);
		snprintf(s->error, sizeof s->error, "TLS: cannot set up the connection");
		return -1;
	}
	SSL_set_bio(s->ssl, bio, bio);
	if (SSL_accept(s->ssl) != 1) {
		ssl_reason(s, "TLS handshake with the sandbox");
		s->eof = true; /* no close_notify on a failed handshake */
		return -1;
	}
	return 0;
}

int http_stream_connect_tls(struct http_stream *s, SSL_CTX *ctx, const char *host)
{
	s->ssl = SSL_new(ctx);
	if (!s->ssl || tls_ca_client_prepare(s->ssl, host) < 0 || SSL_set_fd(s->ssl, s->fd) != 1) {
		snprintf(s->error, sizeof s->error, "TLS: cannot set up the connection");
		return -1;
	}
	if (SSL_connect(s->ssl) != 1) {
		ssl_reason(s, "TLS handshake with the server");
		s->eof = true;
		return -1;
	}
	return 0;
}

ssize_t http_stream_fill(struct http_stream *s)
{
	if (s->len >= sizeof s->buf) {
		snprintf(s->error, sizeof s->error, "buffer full");
		return -1;
	}
	if (s->eof)
		return 0;
	size_t room = sizeof s->buf - s->len;
	ssize_t n;
	if (s->ssl) {
		size_t got = 0;
		errno = 0;
		int r = SSL_read_ex(s->ssl, s->buf + s->len, room, &got);
		if (r == 1) {
			n = (ssize_t)got;
		} else {
			int e = SSL_get_error(s->ssl, r);
			/* EOF without close_notify (SYSCALL, no error) is tolerated,
			 * as browsers do. */
			bool eof = e == SSL_ERROR_ZERO_RETURN ||
			           (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 && errno == 0);
			if (eof) {
				n = 0;
			} else {
				ssl_reason(s, "TLS read");
				return -1;
			}
		}
	} else {
		do
			n = read(s->fd, s->buf + s->len, room);
		while (n < 0 && errno == EINTR);
		if (n < 0) {
			snprintf(s->error, sizeof s->error, "read: %s",
			         errno == EAGAIN ? "timed out" : strerror(errno));
			return -1;
		}
	}
	if (n == 0)
		s->eof = true;
	s->len += (size_t)n;
	return n;
}

void http_stream_consume(struct http_stream *s, size_t n)
{
	if (n >= s->len) {
		s->len = 0;
		return;
	}
	memmove(s->buf, s->buf + n, s->len - n);
	s->len -= n;
}

int http_stream_write(struct http_stream *s, const void *data, size_t len)
{
	const unsigned char *p = data;
	while (len > 0) {
		size_t done = 0;
		if (s->ssl) {
			if (SSL_write_ex(s->ssl, p, len, &done) != 1) {
				ssl_reason(s, "TLS write");
				return -1;
			}
		} else {
			ssize_t n = send(s->fd, p, len, MSG_NOSIGNAL);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				snprintf(s->error, sizeof s->error, "write: %s",
				         errno == EAGAIN ? "timed out" : strerror(errno));
				return -1;
			}
			done = (size_t)n;
		}
		p += done;
		len -= done;
	}
	return 0;
}

bool http_stream_has_pending(const struct http_stream *s)
{
	return s->len > 0 || (s->ssl && SSL_pending(s->ssl) > 0);
}
