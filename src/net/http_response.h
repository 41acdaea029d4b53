/*
 * The head of an HTTP/1.x response, as corral's egress proxy receives it
 * from an upstream server before relaying it to the sandbox (plain HTTP,
 * or after TLS interception), keeping the client connection alive when
 * the response's framing allows it.
 *
 * Strict where leniency would let the proxy and the client delimit the
 * body differently (response splitting and desynchronisation, RFC 9112
 * §11): lines end in CRLF only (a bare LF is refused, not taken as a line
 * end); "HTTP/1.0" or "HTTP/1.1", a single space, three digits; no
 * obs-fold; no space before a header's colon; Content-Length all digits,
 * several only if equal; Content-Length and Transfer-Encoding never
 * together; chunked at most once and only as the last coding; no
 * Transfer-Encoding in an HTTP/1.0 response.
 *
 * A Transfer-Encoding whose last coding is not chunked is valid: RFC 9112
 * §6.3 says the body then runs until the connection closes, which
 * close_delimited reports.
 *
 * Incremental like http_request_parse(): NEED_MORE until the blank line
 * has arrived; an error as soon as the complete lines received show one;
 * more bytes never change an answer already given. A 1xx response is a
 * head of its own: parse again after head_len for the final one.
 */
#ifndef CORRAL_NET_HTTP_RESPONSE_H
#define CORRAL_NET_HTTP_RESPONSE_H

#include "net/http_field.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct http_response {
	int status;                      /* 100..999 */
	int minor_version;               /* HTTP/1.0 or HTTP/1.1 */
	char reason[128];                /* reason phrase, truncated to fit */
	struct http_header headers[HTTP_HEADERS_MAX];
	size_t n_headers;
	bool has_content_length;
	uint64_t content_length;
	bool chunked;                    /* chunked is the last transfer coding */
	bool close_delimited;            /* neither Content-Length nor a final
	                                    chunked: a body, if the response has
	                                    one (http_response_has_body), ends
	                                    when the connection closes */
	bool connection_close;           /* the connection ends after this
	                                    response: "Connection: close",
	                                    HTTP/1.0 without keep-alive, or a
	                                    Transfer-Encoding that is not chunked */
	bool upgrade;                    /* 101, or Connection lists upgrade */
	size_t head_len;                 /* bytes of the head, blank line included */
	char error_reason[128];          /* one line, no trailing newline */
};

/* Parse the head at the start of buf[0..len). On HTTP_PARSE_OK every field
 * is set; on HTTP_PARSE_ERROR error_reason. */
enum http_parse_result http_response_parse(const char *buf, size_t len, struct http_response *resp);

/* Whether a response with this status carries a body at all (RFC 9112
 * §6.3): never to HEAD, never for 1xx, 204 or 304. */
bool http_response_has_body(int status, bool request_was_head);

#endif
