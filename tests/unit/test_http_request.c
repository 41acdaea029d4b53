/* HTTP/1.x request heads: the three target forms, headers and framing,
 * every error status, request smuggling shapes, NEED_MORE on partial heads
 * and stable answers as bytes arrive, and the limits at and past their
 * boundary. */
#include "net/http_request.h"
#include "unit.h"

#include <string.h>

static struct http_request req;

static enum http_parse_result parse(const char *s)
{
	return http_request_parse(s, strlen(s), &req);
}

static bool header_is(size_t i, const char *name, const char *value)
{
	if (i >= req.n_headers)
		return false;
	const struct http_header *h = &req.headers[i];
	return h->name_len == strlen(name) && memcmp(h->name, name, h->name_len) == 0 &&
	       h->value_len == strlen(value) && memcmp(h->value, value, h->value_len) == 0;
}

/* Every strict prefix is NEED_MORE or the same error; what follows the
 * head changes nothing. */
static void check_prefixes(const char *s, size_t len)
{
	static struct http_request full, part;
	enum http_parse_result r = http_request_parse(s, len, &full);
	for (size_t n = 0; n < len; n++) {
		enum http_parse_result p = http_request_parse(s, n, &part);
		bool ok = p == HTTP_PARSE_NEED_MORE ||
		          (p == HTTP_PARSE_ERROR && r == HTTP_PARSE_ERROR &&
		           part.error_status == full.error_status);
		if (r == HTTP_PARSE_OK && n >= full.head_len)
			ok = p == HTTP_PARSE_OK && part.head_len == full.head_len;
		if (!ok) {
			fprintf(stderr, "prefix %zu of \"%.40s...\": %d (status %d)\n", n, s, p,
			        part.error_status);
			CHECK(!"prefix answer");
			return;
		}
	}
}

static void check_good(void)
{
	const char *abs = "GET http://Example.COM:8080/path?q=1 HTTP/1.1\r\n"
	                  "Host: other.example\r\nUser-Agent: t\r\nX-A:   v  v \t\r\nX-Empty:\r\n"
	                  "X-Bin: \x80\xff\r\n\r\nBODY";
	CHECK(parse(abs) == HTTP_PARSE_OK);
	CHECK(strcmp(req.method, "GET") == 0 && req.form == HTTP_FORM_ABSOLUTE);
	CHECK(req.scheme && strcmp(req.scheme, "http") == 0);
	CHECK(strcmp(req.host, "example.com") == 0 && req.port == 8080);
	CHECK(strcmp(req.path, "/path?q=1") == 0 && req.minor_version == 1);
	CHECK(req.keep_alive && !req.chunked && !req.has_content_length);
	CHECK(req.head_len == strlen(abs) - 4 && req.n_headers == 5);
	CHECK(header_is(0, "Host", "other.example") && header_is(1, "User-Agent", "t"));
	CHECK(header_is(2, "X-A", "v  v") && header_is(3, "X-Empty", ""));
	CHECK(header_is(4, "X-Bin", "\x80\xff"));
	for (size_t i = 0; i < req.n_headers; i++)
		CHECK(req.headers[i].name >= abs && req.headers[i].value + req.headers[i].value_len <=
		                                            abs + req.head_len);
	check_prefixes(abs, strlen(abs));

	CHECK(parse("GET http://example.com HTTP/1.1\r\n\r\n") == HTTP_PARSE_OK);
	CHECK(strcmp(req.path, "/") == 0 && req.port == 80 && strcmp(req.host, "example.com") == 0);
	CHECK(parse("GET http://example.com?x=/ HTTP/1.0\r\n\r\n") == HTTP_PARSE_OK);
	CHECK(strcmp(req.path, "/?x=/") == 0 && !req.keep_alive && req.minor_version == 0);
	CHECK(parse("GET HTTPS://example.com/a HTTP/1.1\r\n\r\n") == HTTP_PARSE_OK);
	CHECK(strcmp(req.scheme, "https") == 0 && req.port == 443);
	CHECK(parse("PUT http://[::1]:8080/x HTTP/1.1\r\n\r\n") == HTTP_PARSE_OK);
	CHECK(strcmp(req.host, "::1") == 0 && req.port == 8080 && strcmp(req.method, "PUT") == 0);
	CHECK(parse("GET http://10.0.0.5/ HTTP/1.1\r\n\r\n") == HTTP_PARSE_OK);
	CHECK(strcmp(req.host, "10.0.0.5") == 0);

	const char *connect = "CONNECT Example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n\x16\x03";
	CHECK(parse(connect) == HTTP_PARSE_OK);
	CHECK(req.form == HTTP_FORM_AUTHORITY && req.scheme == NULL && req.path[0] == '\0');
	CHECK(strcmp(req.host, "example.com") == 0 && req.port == 443);
	CHECK(req.head_len == strlen(connect) - 2);
	check_prefixes(connect, strlen(connect));
	CHECK(parse("CONNECT [2001:DB8::1]:8443 HTTP/1.1\r\n\r\n") == HTTP_PARSE_OK);
	CHECK(strcmp(req.host, "2001:db8::1") == 0 && req.port == 8443);

	const char *origin = "GET /a/b?c=d HTTP/1.1\r\nhost: Example.com\r\n\r\n";
	CHECK(parse(origin) == HTTP_PARSE_OK);
	CHECK(req.form == HTTP_FORM_ORIGIN && req.scheme == NULL && req.port == 0);
	CHECK(strcmp(req.host, "example.com") == 0 && strcmp(req.path, "/a/b?c=d") == 0);
	check_prefixes(origin, strlen(origin));
	CHECK(parse("GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n") == HTTP_PARSE_OK);
	CHECK(req.port == 8080);
	CHECK(parse("GET / HTTP/1.1\r\nHost: [fd00::1]:80\r\n\r\n") == HTTP_PARSE_OK);
	CHECK(strcmp(req.host, "fd00::1") == 0 && req.port == 80);

	const char *post = "POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello";
	CHECK(parse(post) == HTTP_PARSE_OK && req.has_content_length && req.content_length == 5);
	CHECK(req.head_len == strlen(post) - 5);
	check_prefixes(post, strlen(post));
	CHECK(parse("POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n") ==
	      HTTP_PARSE_OK && req.content_length == 5);
	CHECK(parse("POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 7 , 7\r\n\r\n") == HTTP_PARSE_OK &&
	      req.content_length == 7);
	CHECK(parse("POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n") == HTTP_PARSE_OK &&
	      req.has_content_length && req.content_length == 0);
	CHECK(parse("POST /f HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n") ==
	      HTTP_PARSE_OK && req.chunked && !req.has_content_length);

	CHECK(parse("GET / HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n\r\n") == HTTP_PARSE_OK &&
	      req.keep_alive);
	CHECK(parse("GET / HTTP/1.0\r\nHost: a\r\nConnection: Keep-Alive, close\r\n\r\n") ==
	      HTTP_PARSE_OK && !req.keep_alive);
	CHECK(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n") == HTTP_PARSE_OK &&
	      !req.keep_alive);
	CHECK(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, keep-alive\r\n\r\n") ==
	      HTTP_PARSE_OK && req.keep_alive);
	CHECK(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: x\r\nConnection: CLOSE\r\n\r\n") ==
	      HTTP_PARSE_OK && !req.keep_alive);

	static const char *const methods[] = {"GET",     "HEAD",    "POST",  "PUT",  "DELETE",
	                                      "OPTIONS", "TRACE", "PATCH", NULL};
	for (const char *const *m = methods; *m; m++) {
		char buf[80];
		snprintf(buf, sizeof buf, "%s /x HTTP/1.1\r\nHost: a\r\n\r\n", *m);
		CHECK(parse(buf) == HTTP_PARSE_OK && strcmp(req.method, *m) == 0);
	}
}

static const struct {
	const char *text;
	int status;
	const char *reason;
} bad[] = {
	{"GET / HTTP/1.1\r\n\r\n", 400, "missing Host header"},
	{"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400, "duplicate Host header"},
	{"GET / HTTP/1.1\r\nHost:\r\n\r\n", 400, "Host: empty host"},
	{"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, "Host: invalid host name"},
	{"GET / HTTP/1.1\r\nHost: a:0\r\n\r\n", 400, "Host: invalid port"},
	{"GET / HTTP/1.1\r\nHost: a:\r\n\r\n", 400, "Host: invalid port"},
	{"GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400, "user information"},
	{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
	 "both Content-Length and Transfer-Encoding"},
	{"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400,
	 "both Content-Length and Transfer-Encoding"},
	{"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 400, "unsupported Transfer-Encoding"},
	{"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 400,
	 "unsupported Transfer-Encoding"},
	{"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400,
	 "unsupported Transfer-Encoding"},
	{"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
	 400, "chunked more than once"},
	{"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n", 400, "unsupported"},
	{"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n", 400, "unsupported"},
	{"POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "HTTP/1.0"},
	{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400,
	 "differing Content-Length"},
	{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n", 400, "differing Content-Length"},
	{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400, "invalid Content-Length"},
	{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", 400, "invalid Content-Length"},
	{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n", 400, "invalid Content-Length"},
	{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", 400, "invalid Content-Length"},
	{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n", 400, "invalid Content-Length"},
	{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,\r\n\r\n", 400, "invalid Content-Length"},
	{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9999999999999999999\r\n\r\n", 400,
	 "invalid Content-Length"},
	{"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", 400, "obsolete line folding"},
	{"GET / HTTP/1.1\r\n\tHost: a\r\n\r\n", 400, "obsolete line folding"},
	{"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400, "whitespace before ':'"},
	{"GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", 400, "without ':'"},
	{"GET / HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n", 400, "empty header name"},
	{"GET / HTTP/1.1\r\nHost: a\r\nX(A): v\r\n\r\n", 400, "invalid header name"},
	{"GET / HTTP/1.1\r\nHost: a\r\nX-A: a\rb\r\n\r\n", 400, "invalid byte in header X-A"},
	{"GET / HTTP/1.1\r\nHost: a\r\nX-A: a\x7f\r\n\r\n", 400, "invalid byte in header X-A"},
	{"GET / HTTP/1.1\nHost: a\n\n", 400, "line not ended by CRLF"},
	{"GET / HTTP/1.1\r\nHost: a\n\r\n", 400, "line not ended by CRLF"},
	{"GET / HTTP/1.1\r\nHost: a\r\n\n", 400, "line not ended by CRLF"},
	{"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "empty request line"},
	{"\n", 400, "line not ended by CRLF"},
	{"G@T / HTTP/1.1\r\n\r\n", 400, "invalid method"},
	{"G\x01T / HTTP/1.1\r\n\r\n", 400, "invalid method"},
	{"FOO / HTTP/1.1\r\nHost: a\r\n\r\n", 405, "method FOO is not allowed"},
	{"get / HTTP/1.1\r\nHost: a\r\n\r\n", 405, "method get is not allowed"},
	{"PROPFIND / HTTP/1.1\r\nHost: a\r\n\r\n", 405, "not allowed"},
	{"GET /  HTTP/1.1\r\n\r\n", 400, "malformed request line"},
	{"GET  / HTTP/1.1\r\n\r\n", 400, "malformed request line"},
	{" GET / HTTP/1.1\r\n\r\n", 400, "malformed request line"},
	{"GET /\r\n\r\n", 400, "malformed request line"},
	{"GET / FOO/1.1\r\n\r\n", 400, "malformed request line"},
	{"GET / HTTP/1.1 \r\n\r\n", 400, "unsupported HTTP version"},
	{"GET / HTTP/2.0\r\n\r\n", 400, "unsupported HTTP version"},
	{"GET / HTTP/1.2\r\n\r\n", 400, "unsupported HTTP version"},
	{"GET / http/1.1\r\n\r\n", 400, "malformed request line"},
	{"GET /a#b HTTP/1.1\r\n\r\n", 400, "fragment"},
	{"GET /a\x7f HTTP/1.1\r\n\r\n", 400, "invalid byte in the request target"},
	{"GET /a\xc3\xa9 HTTP/1.1\r\n\r\n", 400, "invalid byte in the request target"},
	{"GET http://user:pw@example.com/ HTTP/1.1\r\n\r\n", 400, "user information"},
	{"GET ftp://example.com/ HTTP/1.1\r\n\r\n", 400, "unsupported URL scheme"},
	{"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", 400, "asterisk-form"},
	{"GET example.com:80 HTTP/1.1\r\n\r\n", 400, "invalid request target"},
	{"GET http:///x HTTP/1.1\r\n\r\n", 400, "empty host"},
	{"GET http://exa$mple.com/ HTTP/1.1\r\n\r\n", 400, "invalid host name"},
	{"GET http://example.com:99999/ HTTP/1.1\r\n\r\n", 400, "invalid port"},
	{"GET http://example.com:8a/ HTTP/1.1\r\n\r\n", 400, "invalid port"},
	{"GET http://[::1/ HTTP/1.1\r\n\r\n", 400, "invalid IPv6 address"},
	{"GET http://[fe80::1%25eth0]/ HTTP/1.1\r\n\r\n", 400, "invalid IPv6 address"},
	{"GET http://[::1]x/ HTTP/1.1\r\n\r\n", 400, "invalid port"},
	{"CONNECT example.com HTTP/1.1\r\n\r\n", 400, "CONNECT needs host:port"},
	{"CONNECT /x HTTP/1.1\r\n\r\n", 400, "CONNECT needs host:port"},
	{"CONNECT example.com:0 HTTP/1.1\r\n\r\n", 400, "invalid port"},
	{"CONNECT example.com:65536 HTTP/1.1\r\n\r\n", 400, "invalid port"},
	{"CONNECT http://example.com:443 HTTP/1.1\r\n\r\n", 400, "CONNECT target"},
};

static void check_bad(void)
{
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		enum http_parse_result r = parse(bad[i].text);
		if (r != HTTP_PARSE_ERROR || req.error_status != bad[i].status ||
		    !strstr(req.error_reason, bad[i].reason)) {
			fprintf(stderr, "\"%s\": %d, %d \"%s\"; expected %d \"%s\"\n", bad[i].text, r,
			        req.error_status, req.error_reason, bad[i].status, bad[i].reason);
			CHECK(!"error case");
		}
		CHECK(!strchr(req.error_reason, '\n'));
		check_prefixes(bad[i].text, strlen(bad[i].text));
	}
	/* A NUL is a byte like any other: refused where it is not allowed. */
	static const char nul_value[] = "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n";
	CHECK(http_request_parse(nul_value, sizeof nul_value - 1, &req) == HTTP_PARSE_ERROR &&
	      req.error_status == 400);
	static const char nul_target[] = "GET /\0 HTTP/1.1\r\n\r\n";
	CHECK(http_request_parse(nul_target, sizeof nul_target - 1, &req) == HTTP_PARSE_ERROR);
}

static void check_need_more(void)
{
	CHECK(http_request_parse("", 0, &req) == HTTP_PARSE_NEED_MORE);
	CHECK(parse("GET") == HTTP_PARSE_NEED_MORE);
	CHECK(parse("GET / HTTP/1.1\r") == HTTP_PARSE_NEED_MORE);
	CHECK(parse("GET / HTTP/1.1\r\nHost: a\r\n") == HTTP_PARSE_NEED_MORE);
	CHECK(parse("GET / HTTP/1.1\r\nHost: a\r\n\r") == HTTP_PARSE_NEED_MORE);
	/* Errors show as soon as a complete line does. */
	CHECK(parse("GET / HTTP/9.9\r\n") == HTTP_PARSE_ERROR && req.error_status == 400);
	CHECK(parse("BREW / HTTP/1.1\r\n") == HTTP_PARSE_ERROR && req.error_status == 405);
	CHECK(parse("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n") == HTTP_PARSE_ERROR);
	CHECK(parse("GET / HTTP/1.1\r\nX: a\r\n b") == HTTP_PARSE_NEED_MORE);
	CHECK(parse("GET / HTTP/1.1\r\nX: a\r\n b\r\n") == HTTP_PARSE_ERROR);
	/* Cross-header checks wait for the blank line. */
	CHECK(parse("GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n") ==
	      HTTP_PARSE_NEED_MORE);
}

static char big[HTTP_HEAD_MAX + 4096];

/* "GET /aaa... HTTP/1.1" of exactly `line` bytes, then `rest`. */
static size_t build_line(size_t line, const char *rest)
{
	memcpy(big, "GET /", 5);
	memset(big + 5, 'a', line - 5 - 9);
	memcpy(big + line - 9, " HTTP/1.1", 9);
	strcpy(big + line, rest);
	return strlen(big);
}

/* A head of exactly `total` bytes: one long header fills it. */
static size_t build_head(size_t total)
{
	const char *start = "GET / HTTP/1.1\r\nHost: a\r\nX-Fill: ";
	size_t n = strlen(start);
	memcpy(big, start, n);
	memset(big + n, 'f', total - n - 4);
	memcpy(big + total - 4, "\r\n\r\n", 5);
	return total;
}

/* `count` header fields (Host first). */
static size_t build_headers(size_t count)
{
	size_t n = (size_t)snprintf(big, sizeof big, "GET / HTTP/1.1\r\nHost: a\r\n");
	for (size_t i = 1; i < count; i++)
		n += (size_t)snprintf(big + n, sizeof big - n, "X-%zu: v\r\n", i);
	n += (size_t)snprintf(big + n, sizeof big - n, "\r\n");
	return n;
}

static void check_limits(void)
{
	size_t n = build_line(HTTP_REQUEST_LINE_MAX, "\r\nHost: a\r\n\r\n");
	CHECK(http_request_parse(big, n, &req) == HTTP_PARSE_OK &&
	      strlen(req.path) == HTTP_REQUEST_LINE_MAX - 13);
	n = build_line(HTTP_REQUEST_LINE_MAX + 1, "\r\nHost: a\r\n\r\n");
	CHECK(http_request_parse(big, n, &req) == HTTP_PARSE_ERROR && req.error_status == 414);
	/* Without its end: 414 once more than the longest line is there. */
	CHECK(http_request_parse(big, HTTP_REQUEST_LINE_MAX + 1, &req) == HTTP_PARSE_NEED_MORE);
	CHECK(http_request_parse(big, HTTP_REQUEST_LINE_MAX + 2, &req) == HTTP_PARSE_ERROR &&
	      req.error_status == 414);

	n = build_head(HTTP_HEAD_MAX);
	CHECK(http_request_parse(big, n, &req) == HTTP_PARSE_OK && req.head_len == HTTP_HEAD_MAX);
	n = build_head(HTTP_HEAD_MAX + 1);
	CHECK(http_request_parse(big, n, &req) == HTTP_PARSE_ERROR && req.error_status == 431);
	CHECK(http_request_parse(big, HTTP_HEAD_MAX - 1, &req) == HTTP_PARSE_NEED_MORE);
	CHECK(http_request_parse(big, HTTP_HEAD_MAX, &req) == HTTP_PARSE_ERROR &&
	      req.error_status == 431 && strstr(req.error_reason, "65536"));

	n = build_headers(HTTP_HEADERS_MAX);
	CHECK(http_request_parse(big, n, &req) == HTTP_PARSE_OK && req.n_headers == HTTP_HEADERS_MAX);
	n = build_headers(HTTP_HEADERS_MAX + 1);
	CHECK(http_request_parse(big, n, &req) == HTTP_PARSE_ERROR && req.error_status == 431 &&
	      strstr(req.error_reason, "more than 100 header fields"));
	check_prefixes(big, n);

	char host[400];
	memset(host, 'h', 255);
	snprintf(host + 255, sizeof host - 255, " HTTP/1.1\r\n\r\n");
	char line[500];
	snprintf(line, sizeof line, "CONNECT %.255s:443%s", host, host + 255);
	CHECK(parse(line) == HTTP_PARSE_OK && strlen(req.host) == 255);
	snprintf(line, sizeof line, "CONNECT h%.255s:443%s", host, host + 255);
	CHECK(parse(line) == HTTP_PARSE_ERROR && strstr(req.error_reason, "too long"));
}

int main(void)
{
	check_good();
	check_bad();
	check_need_more();
	check_limits();
	return unit_done();
}
