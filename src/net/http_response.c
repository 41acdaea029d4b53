/* HTTP/1.x response heads (RFC 9110, 9112), for the egress proxy. */
#include "net/http_response.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* What the header lines said, checked against each other at the end. */
struct head_state {
	bool te_seen;
	bool te_chunked_seen;
	bool te_chunked_last;
	bool conn_close, conn_keep_alive;
};

static enum http_parse_result fail(struct http_response *resp, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static enum http_parse_result fail(struct http_response *resp, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(resp->error_reason, sizeof resp->error_reason, fmt, ap);
	va_end(ap);
	return HTTP_PARSE_ERROR;
}

/* HTTP/1.x SP 3DIGIT [SP reason-phrase]. The space and reason are optional
 * here, unlike in RFC 9112's grammar: servers do send "HTTP/1.1 200", and
 * the reason plays no part in framing. */
static enum http_parse_result parse_status_line(struct http_response *resp, const char *line,
                                                size_t n)
{
	/* The version is case-sensitive (RFC 9112 §2.3). */
	if (n >= 8 && memcmp(line, "HTTP/1.1", 8) == 0)
		resp->minor_version = 1;
	else if (n >= 8 && memcmp(line, "HTTP/1.0", 8) == 0)
		resp->minor_version = 0;
	else if (n >= 5 && memcmp(line, "HTTP/", 5) == 0)
		return fail(resp, "unsupported HTTP version");
	else
		return fail(resp, "malformed status line");
	if (n < 12 || line[8] != ' ')
		return fail(resp, "malformed status line");
	const char *code = line + 9;
	if (code[0] < '1' || code[0] > '9' || code[1] < '0' || code[1] > '9' || code[2] < '0' ||
	    code[2] > '9')
		return fail(resp, "invalid status code");
	resp->status = (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');
	if (n == 12)
		return HTTP_PARSE_OK;
	if (line[12] != ' ')
		return fail(resp, "invalid status code");
	const char *reason = line + 13;
	size_t rlen = n - 13;
	for (size_t i = 0; i < rlen; i++) {
		unsigned char c = (unsigned char)reason[i];
		if ((c < ' ' && c != '\t') || c == 0x7f)
			return fail(resp, "invalid byte in the reason phrase");
	}
	size_t keep = rlen < sizeof resp->reason ? rlen : sizeof resp->reason - 1;
	memcpy(resp->reason, reason, keep);
	resp->reason[keep] = '\0';
	return HTTP_PARSE_OK;
}

static enum http_parse_result header_meaning(struct http_response *resp, struct head_state *st,
                                             const struct http_header *h)
{
	const char *s = h->value, *end = h->value + h->value_len, *elem;
	size_t len;
	if (http_span_is(h->name, h->name_len, "content-length")) {
		const char *why = http_content_length(h->value, h->value_len,
		                                      &resp->has_content_length,
		                                      &resp->content_length);
		return why ? fail(resp, "%s", why) : HTTP_PARSE_OK;
	}
	if (http_span_is(h->name, h->name_len, "transfer-encoding")) {
		/* The codings of every Transfer-Encoding field, in order. Only
		 * whether chunked is last matters for framing, but chunked
		 * twice (RFC 9112 §7: never), or with parameters, is a body
		 * that recipients may delimit differently. */
		st->te_seen = true;
		while (http_list_next(&s, end, &elem, &len)) {
			size_t name_len = 0;
			while (name_len < len && elem[name_len] != ';')
				name_len++;
			while (name_len > 0 && http_is_ows(elem[name_len - 1]))
				name_len--;
			if (name_len == 0)
				return fail(resp, "empty transfer coding");
			for (size_t i = 0; i < name_len; i++)
				if (!http_is_tchar((unsigned char)elem[i]))
					return fail(resp, "invalid transfer coding");
			bool chunked = http_span_is(elem, name_len, "chunked");
			if (chunked && name_len != len)
				return fail(resp, "chunked with parameters");
			if (chunked && st->te_chunked_seen)
				return fail(resp, "Transfer-Encoding chunked more than once");
			st->te_chunked_seen = st->te_chunked_seen || chunked;
			st->te_chunked_last = chunked;
		}
	} else if (http_span_is(h->name, h->name_len, "connection")) {
		while (http_list_next(&s, end, &elem, &len)) {
			st->conn_close = st->conn_close || http_span_is(elem, len, "close");
			st->conn_keep_alive = st->conn_keep_alive || http_span_is(elem, len, "keep-alive");
			resp->upgrade = resp->upgrade || http_span_is(elem, len, "upgrade");
		}
	}
	return HTTP_PARSE_OK;
}

static enum http_parse_result parse_header(struct http_response *resp, struct head_state *st,
                                           const char *line, size_t n)
{
	struct http_header *h = &resp->headers[resp->n_headers];
	enum http_field_error e = http_field_parse(line, n, h);
	if (e == HTTP_FIELD_BAD_VALUE)
		return fail(resp, "%s %.*s", http_field_error_str(e),
		            (int)(h->name_len > 40 ? 40 : h->name_len), h->name);
	if (e != HTTP_FIELD_OK)
		return fail(resp, "%s", http_field_error_str(e));
	resp->n_headers++;
	return header_meaning(resp, st, h);
}

/* Checks across headers, once the head is complete. */
static enum http_parse_result finish(struct http_response *resp, const struct head_state *st)
{
	if (st->te_seen && resp->has_content_length)
		return fail(resp, "both Content-Length and Transfer-Encoding");
	/* RFC 9112 §6.1: such framing is faulty; the proxy would have to
	 * guess, so it refuses. */
	if (st->te_seen && resp->minor_version == 0)
		return fail(resp, "Transfer-Encoding in an HTTP/1.0 response");
	resp->chunked = st->te_chunked_last;
	resp->close_delimited = !resp->chunked && !resp->has_content_length;
	resp->connection_close = st->conn_close || (st->te_seen && !resp->chunked) ||
	                         (resp->minor_version == 0 && !st->conn_keep_alive);
	resp->upgrade = resp->upgrade || resp->status == 101;
	return HTTP_PARSE_OK;
}

enum http_parse_result http_response_parse(const char *buf, size_t len, struct http_response *resp)
{
	memset(resp, 0, sizeof *resp);
	struct head_state st = {0};
	/* Only what lies within the limit is looked at, so more bytes never
	 * change the answer about those already seen. */
	size_t limit = len < HTTP_HEAD_MAX ? len : HTTP_HEAD_MAX;
	bool status_line = true;
	for (size_t pos = 0;;) {
		const char *lf = memchr(buf + pos, '\n', limit - pos);
		if (!lf) {
			if (len < HTTP_HEAD_MAX)
				return HTTP_PARSE_NEED_MORE;
			return fail(resp, "response head larger than %d bytes", HTTP_HEAD_MAX);
		}
		size_t end = (size_t)(lf - buf);
		if (end == pos || buf[end - 1] != '\r')
			return fail(resp, "line not ended by CRLF");
		size_t n = end - 1 - pos;
		enum http_parse_result r;
		if (status_line) {
			r = parse_status_line(resp, buf + pos, n);
			status_line = false;
		} else if (n == 0) {
			resp->head_len = end + 1;
			return finish(resp, &st);
		} else if (resp->n_headers == HTTP_HEADERS_MAX) {
			return fail(resp, "more than %d header fields", HTTP_HEADERS_MAX);
		} else {
			r = parse_header(resp, &st, buf + pos, n);
		}
		if (r != HTTP_PARSE_OK)
			return r;
		pos = end + 1;
	}
}

bool http_response_has_body(int status, bool request_was_head)
{
	return !request_was_head && status >= 200 && status != 204 && status != 304;
}
