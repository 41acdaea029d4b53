/*
 * Fuzz the proxy's HTTP/1.x request-head parser (src/net/http_request.h).
 *
 * The input is copied into a buffer of exactly its size, so any read past
 * the bytes given is an ASan report. Properties, for any bytes:
 *  - the parser never crashes and is deterministic;
 *  - an error has status 400, 405, 414 or 431 and a one-line reason;
 *  - an accepted head: head_len within the input and the limits, ending in
 *    CRLF CRLF, a request line of at most 8192 bytes; a known method;
 *    fields consistent with the target form (CONNECT is authority-form
 *    with a port and no path; absolute-form has a scheme and a port; paths
 *    begin with '/'); a lowercase host; never both Content-Length and
 *    chunked; every header span within the head, its name a token and its
 *    value free of CR, LF and NUL;
 *  - answers are stable as bytes arrive: the head alone gives the same
 *    result, one byte less NEED_MORE; a prefix of an error is NEED_MORE or
 *    the same error;
 *  - the decision functions take whatever the parser produced.
 */
#include "net/http_request.h"
#include "net/net_rules.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_INPUT (HTTP_HEAD_MAX + 1024)

static struct http_request first, second;

static void fail(const char *what, const struct http_request *req)
{
	fprintf(stderr, "fuzz_http_request: %s (status %d: %s)\n", what, req->error_status,
	        req->error_reason);
	abort();
}

/* Parse the first n bytes from a buffer of exactly n bytes. */
static enum http_parse_result parse_exact(const char *buf, size_t n, struct http_request *req)
{
	char *copy = malloc(n ? n : 1);
	if (!copy)
		abort();
	memcpy(copy, buf, n);
	enum http_parse_result r = http_request_parse(copy, n, req);
	/* Spans would point into the copy: compare only what was copied out. */
	for (size_t i = 0; i < req->n_headers; i++)
		req->headers[i] = (struct http_header){0};
	free(copy);
	return r;
}

static bool same_fields(const struct http_request *a, const struct http_request *b)
{
	return strcmp(a->method, b->method) == 0 && a->form == b->form &&
	       a->scheme == b->scheme && strcmp(a->host, b->host) == 0 && a->port == b->port &&
	       strcmp(a->path, b->path) == 0 && a->n_headers == b->n_headers &&
	       a->head_len == b->head_len && a->chunked == b->chunked &&
	       a->has_content_length == b->has_content_length &&
	       a->content_length == b->content_length && a->keep_alive == b->keep_alive;
}

static void check_error(const struct http_request *req)
{
	int s = req->error_status;
	if (s != 400 && s != 405 && s != 414 && s != 431)
		fail("unexpected status", req);
	size_t n = strnlen(req->error_reason, sizeof req->error_reason);
	if (n == 0 || n == sizeof req->error_reason || memchr(req->error_reason, '\n', n))
		fail("reason empty, unterminated or not one line", req);
}

static void check_ok(const struct http_request *req, const char *buf, size_t size)
{
	static const char *const known[] = {"GET",     "HEAD",    "POST",  "PUT",  "DELETE",
	                                    "CONNECT", "OPTIONS", "TRACE", "PATCH"};
	size_t h = req->head_len;
	if (h < 4 || h > size || h > HTTP_HEAD_MAX || memcmp(buf + h - 4, "\r\n\r\n", 4) != 0)
		fail("head_len wrong", req);
	const char *crlf = memmem(buf, h, "\r\n", 2);
	if (!crlf || crlf - buf > HTTP_REQUEST_LINE_MAX)
		fail("request line too long", req);
	bool is_known = false;
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
		is_known = is_known || strcmp(req->method, known[i]) == 0;
	if (!is_known)
		fail("unknown method accepted", req);
	bool connect = strcmp(req->method, "CONNECT") == 0;
	if (connect != (req->form == HTTP_FORM_AUTHORITY))
		fail("CONNECT and authority-form disagree", req);
	if (req->form == HTTP_FORM_AUTHORITY && (req->port == 0 || req->path[0] || req->scheme))
		fail("authority-form without port, or with path or scheme", req);
	if (req->form == HTTP_FORM_ABSOLUTE && (!req->scheme || req->port == 0))
		fail("absolute-form without scheme or port", req);
	if (req->form == HTTP_FORM_ORIGIN && req->scheme)
		fail("origin-form with a scheme", req);
	if (req->form != HTTP_FORM_AUTHORITY && req->path[0] != '/')
		fail("path does not begin with '/'", req);
	if (!req->host[0] || strnlen(req->host, sizeof req->host) > HTTP_HOST_MAX)
		fail("host empty or too long", req);
	for (const char *c = req->host; *c; c++)
		if (isupper((unsigned char)*c))
			fail("host not lowercase", req);
	if (req->chunked && req->has_content_length)
		fail("both Content-Length and chunked", req);
	if (req->chunked && req->minor_version != 1)
		fail("chunked in HTTP/1.0", req);
	if (req->n_headers > HTTP_HEADERS_MAX)
		fail("too many headers", req);
	for (size_t i = 0; i < req->n_headers; i++) {
		const struct http_header *hd = &req->headers[i];
		if (hd->name < buf || hd->name + hd->name_len > buf + h || hd->value < buf ||
		    hd->value + hd->value_len > buf + h || hd->name_len == 0)
			fail("header span outside the head", req);
		for (size_t k = 0; k < hd->name_len; k++)
			if (!isalnum((unsigned char)hd->name[k]) && !strchr("!#$%&'*+-.^_`|~", hd->name[k]))
				fail("header name not a token", req);
		for (size_t k = 0; k < hd->value_len; k++)
			if (hd->value[k] == '\r' || hd->value[k] == '\n' || hd->value[k] == '\0')
				fail("CR, LF or NUL in a header value", req);
	}
}

/* Feed the decision functions what the parser produced. */
static void decide(const struct http_request *req)
{
	static struct net_ruleset *rules;
	if (!rules) {
		rules = net_ruleset_new();
		if (!rules || net_ruleset_add(rules, "*.example.com", NULL) < 0 ||
		    net_ruleset_add(rules, "GET https://api.example.org/v1/*", NULL) < 0 ||
		    net_ruleset_add(rules, "10.0.0.5:80", NULL) < 0)
			abort();
	}
	const struct net_rule *m = NULL;
	if (req->form == HTTP_FORM_AUTHORITY)
		(void)net_rules_allow_host(rules, req->host, req->port, &m);
	else
		(void)net_rules_allow_request(rules, req->method, req->scheme ? req->scheme : "http",
		                              req->host, req->port, req->path, &m);
	char buf[512];
	net_rules_suggest(req->host, req->port, req->method, req->path, buf, sizeof buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > MAX_INPUT)
		return -1;
	char *buf = malloc(size ? size : 1);
	if (!buf)
		abort();
	memcpy(buf, data, size);
	enum http_parse_result r = http_request_parse(buf, size, &first);
	enum http_parse_result again = http_request_parse(buf, size, &second);
	if (r != again || (r == HTTP_PARSE_OK && !same_fields(&first, &second)) ||
	    (r == HTTP_PARSE_ERROR && (first.error_status != second.error_status ||
	                               strcmp(first.error_reason, second.error_reason) != 0)))
		fail("not deterministic", &first);
	if (r == HTTP_PARSE_ERROR) {
		check_error(&first);
		/* Prefixes: NEED_MORE or the same error. */
		size_t cuts[] = {size / 2, size - 1, size * 3 / 4};
		for (size_t i = 0; i < sizeof cuts / sizeof cuts[0] && size > 0; i++) {
			enum http_parse_result p = parse_exact(buf, cuts[i], &second);
			if (p == HTTP_PARSE_OK ||
			    (p == HTTP_PARSE_ERROR && second.error_status != first.error_status))
				fail("a prefix of an error answered differently", &second);
		}
	} else if (r == HTTP_PARSE_OK) {
		check_ok(&first, buf, size);
		if (parse_exact(buf, first.head_len, &second) != HTTP_PARSE_OK ||
		    !same_fields(&first, &second))
			fail("the head alone parses differently", &second);
		if (parse_exact(buf, first.head_len - 1, &second) != HTTP_PARSE_NEED_MORE)
			fail("one byte short of the head is not NEED_MORE", &second);
		decide(&first);
	} else if (r != HTTP_PARSE_NEED_MORE) {
		fail("unknown result", &first);
	} else if (size >= HTTP_HEAD_MAX) {
		fail("NEED_MORE past the head limit", &first);
	}
	free(buf);
	return 0;
}
