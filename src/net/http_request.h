/*
 * The head of an HTTP/1.x request, as corral's egress proxy receives it:
 * from a client using HTTP_PROXY (absolute-form "GET http://host/path",
 * authority-form "CONNECT host:port") or caught transparently or after
 * interception (origin-form "GET /path" with a Host header).
 *
 * Strict where leniency lets a request mean one thing to the proxy and
 * another to the server (RFC 9112 §11.2, request smuggling): lines end in
 * CRLF only; single spaces in the request line; no obs-fold; no space
 * before a header's colon; one Host; Content-Length and Transfer-Encoding
 * never together; several Content-Length only if all equal;
 * Transfer-Encoding only as exactly "chunked" (HTTP/1.1); userinfo in a
 * URL refused.
 *
 * Incremental: give the bytes received so far. NEED_MORE until the blank
 * line ending the head has arrived; an error as soon as the complete
 * lines received show one. More bytes never turn an error into success
 * nor change its status; a complete head gives the same result whatever
 * follows it.
 */
#ifndef CORRAL_NET_HTTP_REQUEST_H
#define CORRAL_NET_HTTP_REQUEST_H

#include "net/http_field.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_REQUEST_LINE_MAX 8192   /* bytes of the request line, CRLF excluded (414) */
#define HTTP_HOST_MAX 255            /* bytes of a host name or address */

enum http_target_form {
	HTTP_FORM_ORIGIN,        /* "/path?q"; host and port from Host */
	HTTP_FORM_ABSOLUTE,      /* "http://host:port/path?q"; Host ignored */
	HTTP_FORM_AUTHORITY,     /* "host:port", CONNECT only */
};

struct http_request {
	char method[8];                  /* one of the known methods */
	int minor_version;               /* HTTP/1.0 or HTTP/1.1 */
	enum http_target_form form;
	const char *scheme;              /* "http" or "https" (absolute-form), else NULL */
	char host[HTTP_HOST_MAX + 1];    /* lowercase; IPv6 without brackets */
	uint16_t port;                   /* absolute-form: explicit or 80/443;
	                                    authority-form: explicit; origin-form:
	                                    Host's, or 0 when it names none (the
	                                    caller knows the port dialled) */
	char path[HTTP_REQUEST_LINE_MAX]; /* with query; "" for CONNECT; "/" when
	                                    an absolute URL has no path */
	struct http_header headers[HTTP_HEADERS_MAX];
	size_t n_headers;
	bool has_content_length;
	uint64_t content_length;
	bool chunked;                    /* Transfer-Encoding: chunked */
	bool keep_alive;                 /* the client's wish for the connection */
	size_t head_len;                 /* bytes of the head, blank line included */
	int error_status;                /* 400, 405, 414 or 431 */
	char error_reason[128];          /* one line, no trailing newline */
};

/* Parse the head at the start of buf[0..len). On HTTP_PARSE_OK every field
 * is set; on HTTP_PARSE_ERROR error_status and error_reason. */
enum http_parse_result http_request_parse(const char *buf, size_t len, struct http_request *req);

#endif
