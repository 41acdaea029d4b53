/* HTTP/1.x request heads (RFC 9110, 9112), for the egress proxy. */
#include "net/http_request.h"

#include "net/http_field.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* What the header lines said, checked against each other at the end. */
struct head_state {
	bool host_seen;
	const char *host_value;
	size_t host_len;
	bool te_seen;
	bool conn_close, conn_keep_alive;
};

static enum http_parse_result fail(struct http_request *req, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static enum http_parse_result fail(struct http_request *req, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(req->error_reason, sizeof req->error_reason, fmt, ap);
	va_end(ap);
	req->error_status = status;
	return HTTP_PARSE_ERROR;
}

/* ASCII only, whatever the locale. */
static bool is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* host[:port] or [v6][:port] into req->host and *port (0 if absent). */
static enum http_parse_result parse_authority(struct http_request *req, const char *s, size_t n,
                                              const char *what, uint16_t *port)
{
	*port = 0;
	if (memchr(s, '@', n))
		return fail(req, 400, "%s: user information is not allowed", what);
	const char *host = s, *rest;
	size_t host_len;
	if (n > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', n);
		char v6[INET6_ADDRSTRLEN];
		unsigned char bin[16];
		host = s + 1;
		host_len = close ? (size_t)(close - host) : 0;
		if (!close || host_len >= sizeof v6)
			return fail(req, 400, "%s: invalid IPv6 address", what);
		memcpy(v6, host, host_len);
		v6[host_len] = '\0';
		if (inet_pton(AF_INET6, v6, bin) != 1)
			return fail(req, 400, "%s: invalid IPv6 address", what);
		rest = close + 1;
	} else {
		const char *colon = memchr(s, ':', n);
		host_len = colon ? (size_t)(colon - s) : n;
		rest = s + host_len;
		if (host_len == 0)
			return fail(req, 400, "%s: empty host", what);
		for (size_t i = 0; i < host_len; i++) {
			unsigned char c = (unsigned char)s[i];
			if (!is_alnum(c) && c != '-' && c != '.' && c != '_')
				return fail(req, 400, "%s: invalid host name", what);
		}
	}
	if (host_len > HTTP_HOST_MAX)
		return fail(req, 400, "%s: host name too long", what);
	for (size_t i = 0; i < host_len; i++)
		req->host[i] = (char)(host[i] >= 'A' && host[i] <= 'Z' ? host[i] + ('a' - 'A') : host[i]);
	req->host[host_len] = '\0';

	size_t rest_len = n - (size_t)(rest - s);
	if (rest_len == 0)
		return HTTP_PARSE_OK;
	if (rest[0] != ':' || rest_len == 1 || rest_len > 6)
		return fail(req, 400, "%s: invalid port", what);
	unsigned v = 0;
	for (size_t i = 1; i < rest_len; i++) {
		if (!isdigit((unsigned char)rest[i]))
			return fail(req, 400, "%s: invalid port", what);
		v = v * 10 + (unsigned)(rest[i] - '0');
	}
	if (v == 0 || v > 65535)
		return fail(req, 400, "%s: invalid port", what);
	*port = (uint16_t)v;
	return HTTP_PARSE_OK;
}

static enum http_parse_result parse_target(struct http_request *req, const char *t, size_t n)
{
	if (strcmp(req->method, "CONNECT") == 0) {
		req->form = HTTP_FORM_AUTHORITY;
		if (n > 0 && t[0] == '/')
			return fail(req, 400, "CONNECT needs host:port");
		enum http_parse_result r = parse_authority(req, t, n, "CONNECT target", &req->port);
		if (r == HTTP_PARSE_OK && req->port == 0)
			return fail(req, 400, "CONNECT needs host:port");
		return r;
	}
	if (t[0] == '/') {
		req->form = HTTP_FORM_ORIGIN;
		memcpy(req->path, t, n);
		return HTTP_PARSE_OK;
	}
	if (n == 1 && t[0] == '*')
		return fail(req, 400, "asterisk-form (OPTIONS *) is not supported");
	const char *sep = memmem(t, n, "://", 3);
	if (!sep)
		return fail(req, 400, "invalid request target");
	size_t scheme_len = (size_t)(sep - t);
	if (http_span_is(t, scheme_len, "http"))
		req->scheme = "http";
	else if (http_span_is(t, scheme_len, "https"))
		req->scheme = "https";
	else
		return fail(req, 400, "unsupported URL scheme (http or https)");
	req->form = HTTP_FORM_ABSOLUTE;
	const char *auth = sep + 3;
	size_t left = n - scheme_len - 3;
	size_t auth_len = 0;
	while (auth_len < left && auth[auth_len] != '/' && auth[auth_len] != '?')
		auth_len++;
	enum http_parse_result r = parse_authority(req, auth, auth_len, "request target", &req->port);
	if (r != HTTP_PARSE_OK)
		return r;
	if (req->port == 0)
		req->port = strcmp(req->scheme, "https") == 0 ? 443 : 80;
	const char *path = auth + auth_len;
	size_t path_len = left - auth_len;
	size_t o = 0;
	if (path_len == 0 || path[0] == '?')
		req->path[o++] = '/';
	memcpy(req->path + o, path, path_len);
	return HTTP_PARSE_OK;
}

/* METHOD SP request-target SP HTTP/1.x */
static enum http_parse_result parse_request_line(struct http_request *req, const char *line,
                                                 size_t n)
{
	static const char *const known[] = {"GET",     "HEAD",    "POST",  "PUT",   "DELETE",
	                                    "CONNECT", "OPTIONS", "TRACE", "PATCH", NULL};
	const char *sp1 = memchr(line, ' ', n);
	const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - line)) : NULL;
	if (!sp1 || sp1 == line)
		return fail(req, 400, "malformed request line");
	size_t mlen = (size_t)(sp1 - line);
	for (size_t i = 0; i < mlen; i++)
		if (!http_is_tchar((unsigned char)line[i]))
			return fail(req, 400, "invalid method");
	if (!sp2 || sp2 == sp1 + 1)
		return fail(req, 400, "malformed request line");
	const char *version = sp2 + 1;
	size_t vlen = n - (size_t)(version - line);
	if (http_span_is(version, vlen, "HTTP/1.1") && memcmp(version, "HTTP", 4) == 0)
		req->minor_version = 1;
	else if (http_span_is(version, vlen, "HTTP/1.0") && memcmp(version, "HTTP", 4) == 0)
		req->minor_version = 0;
	else if (vlen > 5 && memcmp(version, "HTTP/", 5) == 0)
		return fail(req, 400, "unsupported HTTP version");
	else
		return fail(req, 400, "malformed request line");
	const char *target = sp1 + 1;
	size_t tlen = (size_t)(sp2 - target);
	for (size_t i = 0; i < tlen; i++) {
		unsigned char c = (unsigned char)target[i];
		if (c <= ' ' || c >= 0x7f)
			return fail(req, 400, "invalid byte in the request target");
		if (c == '#')
			return fail(req, 400, "fragment in the request target");
	}
	for (const char *const *m = known; *m; m++)
		if (mlen == strlen(*m) && memcmp(line, *m, mlen) == 0)
			memcpy(req->method, line, mlen);
	if (!req->method[0])
		return fail(req, 405, "method %.*s is not allowed", (int)(mlen > 32 ? 32 : mlen), line);
	return parse_target(req, target, tlen);
}

static enum http_parse_result content_length(struct http_request *req, const char *v, size_t n)
{
	const char *why = http_content_length(v, n, &req->has_content_length, &req->content_length);
	return why ? fail(req, 400, "%s", why) : HTTP_PARSE_OK;
}

static enum http_parse_result header_meaning(struct http_request *req, struct head_state *st,
                                             const struct http_header *h)
{
	const char *s = h->value, *end = h->value + h->value_len, *elem;
	size_t len;
	if (http_span_is(h->name, h->name_len, "host")) {
		if (st->host_seen)
			return fail(req, 400, "duplicate Host header");
		st->host_seen = true;
		st->host_value = h->value;
		st->host_len = h->value_len;
	} else if (http_span_is(h->name, h->name_len, "content-length")) {
		return content_length(req, h->value, h->value_len);
	} else if (http_span_is(h->name, h->name_len, "transfer-encoding")) {
		/* Only "chunked", once: any other coding, or chunked twice, is
		 * framing the upstream may read differently. */
		st->te_seen = true;
		while (http_list_next(&s, end, &elem, &len)) {
			if (!http_span_is(elem, len, "chunked"))
				return fail(req, 400, "unsupported Transfer-Encoding (only chunked)");
			if (req->chunked)
				return fail(req, 400, "Transfer-Encoding chunked more than once");
			req->chunked = true;
		}
	} else if (http_span_is(h->name, h->name_len, "connection")) {
		while (http_list_next(&s, end, &elem, &len)) {
			st->conn_close = st->conn_close || http_span_is(elem, len, "close");
			st->conn_keep_alive = st->conn_keep_alive || http_span_is(elem, len, "keep-alive");
		}
	}
	return HTTP_PARSE_OK;
}

/* name ":" OWS value OWS */
static enum http_parse_result parse_header(struct http_request *req, struct head_state *st,
                                           const char *line, size_t n)
{
	struct http_header *h = &req->headers[req->n_headers];
	enum http_field_error e = http_field_parse(line, n, h);
	if (e == HTTP_FIELD_BAD_VALUE)
		return fail(req, 400, "%s %.*s", http_field_error_str(e),
		            (int)(h->name_len > 40 ? 40 : h->name_len), h->name);
	if (e != HTTP_FIELD_OK)
		return fail(req, 400, "%s", http_field_error_str(e));
	req->n_headers++;
	return header_meaning(req, st, h);
}

/* Checks across headers, once the head is complete. */
static enum http_parse_result finish(struct http_request *req, const struct head_state *st)
{
	if (st->te_seen && req->has_content_length)
		return fail(req, 400, "both Content-Length and Transfer-Encoding");
	if (st->te_seen && req->minor_version == 0)
		return fail(req, 400, "Transfer-Encoding in an HTTP/1.0 request");
	if (req->form == HTTP_FORM_ORIGIN) {
		if (!st->host_seen)
			return fail(req, 400, "missing Host header");
		enum http_parse_result r =
			parse_authority(req, st->host_value, st->host_len, "Host", &req->port);
		if (r != HTTP_PARSE_OK)
			return r;
	}
	req->keep_alive = req->minor_version == 1 ? !st->conn_close
	                                          : st->conn_keep_alive && !st->conn_close;
	return HTTP_PARSE_OK;
}

enum http_parse_result http_request_parse(const char *buf, size_t len, struct http_request *req)
{
	memset(req, 0, sizeof *req);
	struct head_state st = {0};
	/* Only what lies within the limits is looked at, so more bytes never
	 * change the answer about those already seen. */
	size_t scan = len < HTTP_REQUEST_LINE_MAX + 2 ? len : HTTP_REQUEST_LINE_MAX + 2;
	const char *lf = memchr(buf, '\n', scan);
	if (!lf) {
		if (len < HTTP_REQUEST_LINE_MAX + 2)
			return HTTP_PARSE_NEED_MORE;
		return fail(req, 414, "request line longer than %d bytes", HTTP_REQUEST_LINE_MAX);
	}
	size_t end = (size_t)(lf - buf);
	if (end == 0 || buf[end - 1] != '\r')
		return fail(req, 400, "line not ended by CRLF");
	if (end == 1)
		return fail(req, 400, "empty request line");
	enum http_parse_result r = parse_request_line(req, buf, end - 1);
	if (r != HTTP_PARSE_OK)
		return r;
	/* pos <= limit: the request line ended within both limits. */
	size_t limit = len < HTTP_HEAD_MAX ? len : HTTP_HEAD_MAX;
	for (size_t pos = end + 1;; pos = end + 1) {
		lf = memchr(buf + pos, '\n', limit - pos);
		if (!lf) {
			if (len < HTTP_HEAD_MAX)
				return HTTP_PARSE_NEED_MORE;
			return fail(req, 431, "request head larger than %d bytes", HTTP_HEAD_MAX);
		}
		end = (size_t)(lf - buf);
		if (end == pos || buf[end - 1] != '\r')
			return fail(req, 400, "line not ended by CRLF");
		if (end - 1 == pos) {
			req->head_len = end + 1;
			return finish(req, &st);
		}
		if (req->n_headers == HTTP_HEADERS_MAX)
			return fail(req, 431, "more than %d header fields", HTTP_HEADERS_MAX);
		r = parse_header(req, &st, buf + pos, end - 1 - pos);
		if (r != HTTP_PARSE_OK)
			return r;
	}
}
