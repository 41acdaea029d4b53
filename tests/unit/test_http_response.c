/* HTTP/1.x response heads: status lines, framing (Content-Length, chunked,
 * close-delimited), connection handling, every error, response-splitting
 * shapes, NEED_MORE on partial heads and stable answers as bytes arrive,
 * and the limits at and past their boundary. */
#include "net/http_response.h"
#include "unit.h"

#include <string.h>

static struct http_response resp;

static enum http_parse_result parse(const char *s)
{
	return http_response_parse(s, strlen(s), &resp);
}

static bool header_is(size_t i, const char *name, const char *value)
{
	if (i >= resp.n_headers)
		return false;
	const struct http_header *h = &resp.headers[i];
	return h->name_len == strlen(name) && memcmp(h->name, name, h->name_len) == 0 &&
	       h->value_len == strlen(value) && memcmp(h->value, value, h->value_len) == 0;
}

/* Every strict prefix is NEED_MORE or the same error; a prefix holding the
 * whole head gives the same head. */
static void check_prefixes(const char *s, size_t len)
{
	static struct http_response full, part;
	enum http_parse_result r = http_response_parse(s, len, &full);
	for (size_t n = 0; n < len; n++) {
		enum http_parse_result p = http_response_parse(s, n, &part);
		bool ok = p == HTTP_PARSE_NEED_MORE ||
		          (p == HTTP_PARSE_ERROR && r == HTTP_PARSE_ERROR &&
		           strcmp(part.error_reason, full.error_reason) == 0);
		if (r == HTTP_PARSE_OK && n >= full.head_len)
			ok = p == HTTP_PARSE_OK && part.head_len == full.head_len &&
			     part.status == full.status && part.chunked == full.chunked &&
			     part.content_length == full.content_length &&
			     part.connection_close == full.connection_close;
		if (!ok) {
			fprintf(stderr, "prefix %zu of \"%.40s...\": %d (%s)\n", n, s, p,
			        part.error_reason);
			CHECK(!"prefix answer");
			return;
		}
	}
}

static void check_good(void)
{
	const char *ok = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
	                 "X-A:   v  v \t\r\nX-Empty:\r\nX-Bin: \x80\xff\r\n\r\nhello";
	CHECK(parse(ok) == HTTP_PARSE_OK);
	CHECK(resp.status == 200 && resp.minor_version == 1 && strcmp(resp.reason, "OK") == 0);
	CHECK(resp.has_content_length && resp.content_length == 5 && !resp.chunked);
	CHECK(!resp.close_delimited && !resp.connection_close && !resp.upgrade);
	CHECK(resp.head_len == strlen(ok) - 5 && resp.n_headers == 5);
	CHECK(header_is(0, "Content-Type", "text/plain") && header_is(1, "Content-Length", "5"));
	CHECK(header_is(2, "X-A", "v  v") && header_is(3, "X-Empty", ""));
	CHECK(header_is(4, "X-Bin", "\x80\xff"));
	check_prefixes(ok, strlen(ok));

	const char *chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
	CHECK(parse(chunked) == HTTP_PARSE_OK && resp.chunked && !resp.has_content_length);
	CHECK(!resp.close_delimited && !resp.connection_close);
	check_prefixes(chunked, strlen(chunked));
	CHECK(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n") == HTTP_PARSE_OK &&
	      resp.chunked && !resp.close_delimited && !resp.connection_close);
	CHECK(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n") ==
	      HTTP_PARSE_OK && resp.chunked);

	/* A last coding other than chunked: the body runs to the close. */
	CHECK(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n") == HTTP_PARSE_OK &&
	      !resp.chunked && resp.close_delimited && resp.connection_close);
	CHECK(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n") == HTTP_PARSE_OK &&
	      !resp.chunked && resp.close_delimited && resp.connection_close);
	CHECK(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n") ==
	      HTTP_PARSE_OK && !resp.chunked && resp.close_delimited);
	CHECK(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip;level=9\r\n\r\n") == HTTP_PARSE_OK &&
	      resp.close_delimited);
	/* Neither header: close-delimited, but the connection only closes
	 * if there is a body, which the caller decides. */
	CHECK(parse("HTTP/1.1 204 No Content\r\n\r\n") == HTTP_PARSE_OK && resp.status == 204 &&
	      resp.close_delimited && !resp.connection_close);

	CHECK(parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n") ==
	      HTTP_PARSE_OK && resp.content_length == 5);
	CHECK(parse("HTTP/1.1 200 OK\r\nContent-Length: 7 , 7\r\n\r\n") == HTTP_PARSE_OK &&
	      resp.content_length == 7);
	CHECK(parse("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n") == HTTP_PARSE_OK &&
	      resp.has_content_length && resp.content_length == 0 && !resp.close_delimited);
	CHECK(parse("HTTP/1.1 200 OK\r\nContent-Length: 999999999999999999\r\n\r\n") ==
	      HTTP_PARSE_OK && resp.content_length == 999999999999999999ULL);

	/* Reason phrases: optional, free text, truncated to fit. */
	CHECK(parse("HTTP/1.1 200\r\n\r\n") == HTTP_PARSE_OK && resp.status == 200 && !resp.reason[0]);
	CHECK(parse("HTTP/1.1 404 \r\n\r\n") == HTTP_PARSE_OK && resp.status == 404 && !resp.reason[0]);
	CHECK(parse("HTTP/1.1 500 Internal  Server\tError \x80\r\n\r\n") == HTTP_PARSE_OK &&
	      strcmp(resp.reason, "Internal  Server\tError \x80") == 0);
	CHECK(parse("HTTP/1.1 999 x\r\n\r\n") == HTTP_PARSE_OK && resp.status == 999);
	CHECK(parse("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n") == HTTP_PARSE_OK &&
	      resp.status == 100 && resp.head_len == 25);
	char longreason[400];
	snprintf(longreason, sizeof longreason, "HTTP/1.1 200 %0300d\r\n\r\n", 0);
	CHECK(parse(longreason) == HTTP_PARSE_OK && strlen(resp.reason) == sizeof resp.reason - 1);

	/* Connection handling. */
	CHECK(parse("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n") ==
	      HTTP_PARSE_OK && resp.connection_close);
	CHECK(parse("HTTP/1.1 200 OK\r\nConnection: x, CLOSE\r\nContent-Length: 0\r\n\r\n") ==
	      HTTP_PARSE_OK && resp.connection_close);
	CHECK(parse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n") == HTTP_PARSE_OK &&
	      resp.minor_version == 0 && resp.connection_close);
	CHECK(parse("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n") ==
	      HTTP_PARSE_OK && !resp.connection_close);
	CHECK(parse("HTTP/1.0 200 OK\r\nConnection: keep-alive, close\r\n\r\n") == HTTP_PARSE_OK &&
	      resp.connection_close);
	CHECK(parse("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	            "Connection: Upgrade\r\n\r\n") == HTTP_PARSE_OK && resp.upgrade && resp.status == 101);
	CHECK(parse("HTTP/1.1 101 Switching Protocols\r\n\r\n") == HTTP_PARSE_OK && resp.upgrade);
	CHECK(parse("HTTP/1.1 200 OK\r\nConnection: keep-alive, upgrade\r\n\r\n") == HTTP_PARSE_OK &&
	      resp.upgrade && !resp.connection_close);
	CHECK(parse("HTTP/1.1 200 OK\r\nUpgrade: h2c\r\n\r\n") == HTTP_PARSE_OK && !resp.upgrade);
}

static const struct {
	const char *text;
	const char *reason;
} bad[] = {
	{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
	 "both Content-Length and Transfer-Encoding"},
	{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
	 "both Content-Length and Transfer-Encoding"},
	{"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 5\r\n\r\n",
	 "both Content-Length and Transfer-Encoding"},
	{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", "chunked more than once"},
	{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
	 "chunked more than once"},
	{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked;x=1\r\n\r\n", "chunked with parameters"},
	{"HTTP/1.1 200 OK\r\nTransfer-Encoding:\r\n\r\n", "empty transfer coding"},
	{"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip,,chunked\r\n\r\n", "empty transfer coding"},
	{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked,\r\n\r\n", "empty transfer coding"},
	{"HTTP/1.1 200 OK\r\nTransfer-Encoding: ;x\r\n\r\n", "empty transfer coding"},
	{"HTTP/1.1 200 OK\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", "invalid transfer coding"},
	{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chu nked\r\n\r\n", "invalid transfer coding"},
	{"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "HTTP/1.0"},
	{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", "differing Content-Length"},
	{"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n", "differing Content-Length"},
	{"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "invalid Content-Length"},
	{"HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n", "invalid Content-Length"},
	{"HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n", "invalid Content-Length"},
	{"HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", "invalid Content-Length"},
	{"HTTP/1.1 200 OK\r\nContent-Length: 1 2\r\n\r\n", "invalid Content-Length"},
	{"HTTP/1.1 200 OK\r\nContent-Length: 5,\r\n\r\n", "invalid Content-Length"},
	{"HTTP/1.1 200 OK\r\nContent-Length: 9999999999999999999\r\n\r\n", "invalid Content-Length"},
	{"HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551616\r\n\r\n", "invalid Content-Length"},
	{"HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", "obsolete line folding"},
	{"HTTP/1.1 200 OK\r\n\tX: a\r\n\r\n", "obsolete line folding"},
	{"HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\n", "whitespace before ':'"},
	{"HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", "without ':'"},
	{"HTTP/1.1 200 OK\r\n: v\r\n\r\n", "empty header name"},
	{"HTTP/1.1 200 OK\r\nX(A): v\r\n\r\n", "invalid header name"},
	{"HTTP/1.1 200 OK\r\nX-A: a\rb\r\n\r\n", "invalid byte in header X-A"},
	{"HTTP/1.1 200 OK\r\nX-A: a\x7f\r\n\r\n", "invalid byte in header X-A"},
	{"HTTP/1.1 200 OK\nContent-Length: 0\n\n", "line not ended by CRLF"},
	{"HTTP/1.1 200 OK\r\nContent-Length: 0\n\r\n", "line not ended by CRLF"},
	{"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\n", "line not ended by CRLF"},
	{"HTTP/1.1 200 OK\r\nX: a\nContent-Length: 0\r\n\r\n", "line not ended by CRLF"},
	{"\r\nHTTP/1.1 200 OK\r\n\r\n", "malformed status line"},
	{"\n", "line not ended by CRLF"},
	{"HTTP/1.1 200 O\rK\r\n\r\n", "invalid byte in the reason phrase"},
	{"HTTP/1.1 200 O\x01K\r\n\r\n", "invalid byte in the reason phrase"},
	{"HTTP/2 200\r\n\r\n", "unsupported HTTP version"},
	{"HTTP/2.0 200 OK\r\n\r\n", "unsupported HTTP version"},
	{"HTTP/1.2 200 OK\r\n\r\n", "unsupported HTTP version"},
	{"HTTP/0.9 200 OK\r\n\r\n", "unsupported HTTP version"},
	{"http/1.1 200 OK\r\n\r\n", "malformed status line"},
	{"HTTP/1.10 200 OK\r\n\r\n", "malformed status line"},
	{"HTTP/1.1\r\n\r\n", "malformed status line"},
	{"HTTP/1.1 20\r\n\r\n", "malformed status line"},
	{"HTTP/1.1  200 OK\r\n\r\n", "invalid status code"},
	{"HTTP/1.1 099 OK\r\n\r\n", "invalid status code"},
	{"HTTP/1.1 2x0 OK\r\n\r\n", "invalid status code"},
	{"HTTP/1.1 2000 OK\r\n\r\n", "invalid status code"},
	{"HTTP/1.1 200\tOK\r\n\r\n", "invalid status code"},
	{"HTTP/1.1 -20 OK\r\n\r\n", "invalid status code"},
	{" HTTP/1.1 200 OK\r\n\r\n", "malformed status line"},
	{"ICY 200 OK\r\n\r\n", "malformed status line"},
};

static void check_bad(void)
{
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		enum http_parse_result r = parse(bad[i].text);
		if (r != HTTP_PARSE_ERROR || !strstr(resp.error_reason, bad[i].reason)) {
			fprintf(stderr, "\"%s\": %d \"%s\"; expected \"%s\"\n", bad[i].text, r,
			        resp.error_reason, bad[i].reason);
			CHECK(!"error case");
		}
		CHECK(!strchr(resp.error_reason, '\n'));
		check_prefixes(bad[i].text, strlen(bad[i].text));
	}
	static const char nul_value[] = "HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n";
	CHECK(http_response_parse(nul_value, sizeof nul_value - 1, &resp) == HTTP_PARSE_ERROR);
	static const char nul_reason[] = "HTTP/1.1 200 O\0K\r\n\r\n";
	CHECK(http_response_parse(nul_reason, sizeof nul_reason - 1, &resp) == HTTP_PARSE_ERROR);
	static const char nul_cl[] = "HTTP/1.1 200 OK\r\nContent-Length: 1\0\r\n\r\n";
	CHECK(http_response_parse(nul_cl, sizeof nul_cl - 1, &resp) == HTTP_PARSE_ERROR);
}

static void check_need_more(void)
{
	CHECK(http_response_parse("", 0, &resp) == HTTP_PARSE_NEED_MORE);
	CHECK(parse("HTTP/1.1") == HTTP_PARSE_NEED_MORE);
	CHECK(parse("HTTP/1.1 200 OK\r") == HTTP_PARSE_NEED_MORE);
	CHECK(parse("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n") == HTTP_PARSE_NEED_MORE);
	CHECK(parse("HTTP/1.1 200 OK\r\n\r") == HTTP_PARSE_NEED_MORE);
	/* Errors show as soon as a complete line does. */
	CHECK(parse("HTTP/9.9 200 OK\r\n") == HTTP_PARSE_ERROR);
	CHECK(parse("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n") ==
	      HTTP_PARSE_ERROR);
	CHECK(parse("HTTP/1.1 200 OK\r\nX: a\r\n b") == HTTP_PARSE_NEED_MORE);
	CHECK(parse("HTTP/1.1 200 OK\r\nX: a\r\n b\r\n") == HTTP_PARSE_ERROR);
	/* Cross-header checks wait for the blank line. */
	CHECK(parse("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n") ==
	      HTTP_PARSE_NEED_MORE);
}

static char big[HTTP_HEAD_MAX + 4096];

/* A head of exactly `total` bytes: one long header fills it. */
static size_t build_head(size_t total)
{
	const char *start = "HTTP/1.1 200 OK\r\nX-Fill: ";
	size_t n = strlen(start);
	memcpy(big, start, n);
	memset(big + n, 'f', total - n - 4);
	memcpy(big + total - 4, "\r\n\r\n", 5);
	return total;
}

static size_t build_headers(size_t count)
{
	size_t n = (size_t)snprintf(big, sizeof big, "HTTP/1.1 200 OK\r\n");
	for (size_t i = 0; i < count; i++)
		n += (size_t)snprintf(big + n, sizeof big - n, "X-%zu: v\r\n", i);
	n += (size_t)snprintf(big + n, sizeof big - n, "\r\n");
	return n;
}

static void check_limits(void)
{
	size_t n = build_head(HTTP_HEAD_MAX);
	CHECK(http_response_parse(big, n, &resp) == HTTP_PARSE_OK && resp.head_len == HTTP_HEAD_MAX);
	n = build_head(HTTP_HEAD_MAX + 1);
	CHECK(http_response_parse(big, n, &resp) == HTTP_PARSE_ERROR &&
	      strstr(resp.error_reason, "larger than 65536"));
	CHECK(http_response_parse(big, HTTP_HEAD_MAX - 1, &resp) == HTTP_PARSE_NEED_MORE);
	CHECK(http_response_parse(big, HTTP_HEAD_MAX, &resp) == HTTP_PARSE_ERROR);
	/* A status line alone longer than the head limit. */
	memcpy(big, "HTTP/1.1 200 ", 13);
	memset(big + 13, 'r', HTTP_HEAD_MAX);
	CHECK(http_response_parse(big, HTTP_HEAD_MAX + 10, &resp) == HTTP_PARSE_ERROR);

	n = build_headers(HTTP_HEADERS_MAX);
	CHECK(http_response_parse(big, n, &resp) == HTTP_PARSE_OK &&
	      resp.n_headers == HTTP_HEADERS_MAX);
	n = build_headers(HTTP_HEADERS_MAX + 1);
	CHECK(http_response_parse(big, n, &resp) == HTTP_PARSE_ERROR &&
	      strstr(resp.error_reason, "more than 100 header fields"));
	check_prefixes(big, n);
}

static void check_has_body(void)
{
	CHECK(http_response_has_body(200, false) && http_response_has_body(404, false));
	CHECK(http_response_has_body(500, false) && http_response_has_body(302, false));
	CHECK(!http_response_has_body(200, true) && !http_response_has_body(404, true));
	CHECK(!http_response_has_body(100, false) && !http_response_has_body(101, false));
	CHECK(!http_response_has_body(199, false) && !http_response_has_body(204, false));
	CHECK(!http_response_has_body(304, false) && http_response_has_body(205, false));
}

int main(void)
{
	check_good();
	check_bad();
	check_need_more();
	check_limits();
	check_has_body();
	return unit_done();
}
