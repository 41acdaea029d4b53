/* The chunked tracker: where a body ends and what it decodes to, for good
 * and malformed streams, fed in one piece, byte by byte and split at every
 * point (all must agree); the limits at and past their boundary; sticky
 * ends; the chunk header encoder. */
#include "net/http_chunked.h"
#include "unit.h"

#include <stdint.h>
#include <string.h>

/* What feeding a stream gave. */
struct outcome {
	bool error;
	const char *why;
	bool done;
	size_t consumed;             /* body bytes, when done */
	size_t data_len;
	unsigned char data[4096];    /* the first decoded bytes */
};

static void collect(void *ctx, const unsigned char *p, size_t n)
{
	struct outcome *o = ctx;
	for (size_t i = 0; i < n; i++, o->data_len++)
		if (o->data_len < sizeof o->data)
			o->data[o->data_len] = p[i];
}

/* Feed s[0..len) in pieces ending at the offsets cuts[0..ncuts), then
 * the rest. */
static void feed_split(const unsigned char *s, size_t len, const size_t *cuts, size_t ncuts,
                       struct outcome *o)
{
	struct http_chunked t;
	http_chunked_init(&t);
	memset(o, 0, sizeof *o);
	size_t from = 0;
	for (size_t k = 0; k <= ncuts; k++) {
		size_t to = k < ncuts ? cuts[k] : len;
		bool was_done = t.done;
		ssize_t r = http_chunked_feed(&t, s + from, to - from, collect, o);
		if (r < 0) {
			o->error = true;
			o->why = t.error;
			o->consumed = 0;
			CHECK(t.error != NULL && !t.done);
			/* Errors stay. */
			CHECK(http_chunked_feed(&t, (const unsigned char *)"0\r\n\r\n", 5, NULL, NULL) == -1);
			return;
		}
		CHECK((size_t)r <= to - from);
		CHECK(!was_done || r == 0);
		if (!t.done)
			CHECK((size_t)r == to - from);
		o->consumed += (size_t)r;
		from = to;
	}
	o->done = t.done;
	CHECK(t.data_len == o->data_len);
	if (t.done)
		CHECK(http_chunked_feed(&t, s, len, collect, o) == 0 && t.done);
}

static bool same(const struct outcome *a, const struct outcome *b)
{
	return a->error == b->error && a->why == b->why && a->done == b->done &&
	       a->consumed == b->consumed && a->data_len == b->data_len &&
	       memcmp(a->data, b->data, a->data_len < sizeof a->data ? a->data_len : sizeof a->data) == 0;
}

static struct outcome whole, piece;

/* One piece, byte by byte, and every two-way split agree; returns the
 * one-piece outcome in `whole`. */
static void run(const void *p, size_t len)
{
	const unsigned char *s = p;
	feed_split(s, len, NULL, 0, &whole);
	size_t cuts[1];
	/* Long inputs: splits around every size and line boundary would do,
	 * a stride that is prime to them covers enough. */
	size_t stride = len <= 4096 ? 1 : 101;
	for (size_t i = 0; i <= len; i += stride) {
		cuts[0] = i;
		feed_split(s, len, cuts, 1, &piece);
		if (!same(&whole, &piece)) {
			fprintf(stderr, "split at %zu of \"%.40s\" differs\n", i, (const char *)s);
			CHECK(!"two-way split");
			break;
		}
	}
	if (len <= 4096) {
		static size_t every[4096];
		for (size_t i = 0; i < len; i++)
			every[i] = i;
		feed_split(s, len, every, len, &piece);
		if (!same(&whole, &piece)) {
			fprintf(stderr, "byte by byte of \"%.40s\" differs\n", (const char *)s);
			CHECK(!"byte by byte");
		}
	}
}

static bool good(const char *s, size_t body_len, const char *data)
{
	run(s, strlen(s));
	bool ok = !whole.error && whole.done && whole.consumed == body_len &&
	          whole.data_len == strlen(data) && memcmp(whole.data, data, whole.data_len) == 0;
	if (!ok)
		fprintf(stderr, "\"%s\": error %d (%s) done %d consumed %zu data %zu\n", s, whole.error,
		        whole.why ? whole.why : "", whole.done, whole.consumed, whole.data_len);
	return ok;
}

static bool bad(const char *s, const char *why)
{
	run(s, strlen(s));
	bool ok = whole.error && whole.why && strstr(whole.why, why);
	if (!ok)
		fprintf(stderr, "\"%s\": error %d (%s), expected %s\n", s, whole.error,
		            whole.why ? whole.why : "", why);
	return ok;
}

/* Neither done nor an error: more is needed. */
static bool incomplete(const char *s)
{
	run(s, strlen(s));
	return !whole.error && !whole.done && whole.consumed == strlen(s);
}

static void check_good(void)
{
	CHECK(good("0\r\n\r\n", 5, ""));
	CHECK(good("5\r\nhello\r\n0\r\n\r\n", 15, "hello"));
	const char *two = "5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n\r\n";
	CHECK(good(two, strlen(two) - 19, "hello, world"));
	CHECK(good("A\r\n0123456789\r\n0\r\n\r\n", 20, "0123456789"));
	CHECK(good("a\r\n0123456789\r\n0\r\n\r\n", 20, "0123456789"));
	CHECK(good("000000000000000a\r\n0123456789\r\n0000000000000000\r\n\r\n", 50, "0123456789"));
	/* Data is opaque: CR, LF, NUL and "0\r\n\r\n" inside it are data. */
	CHECK(good("7\r\n0\r\n\r\n\n\r\r\n0\r\n\r\n", 17, "0\r\n\r\n\n\r"));
	static const char nul[] = "3\r\na\0b\r\n0\r\n\r\n";
	run(nul, sizeof nul - 1);
	CHECK(whole.done && whole.consumed == sizeof nul - 1 && whole.data_len == 3 &&
	      memcmp(whole.data, "a\0b", 3) == 0);
	/* Extensions, with optional whitespace before them. */
	CHECK(good("5;name=value\r\nhello\r\n0;last\r\n\r\n", 31, "hello"));
	CHECK(good("5 ;a=\"q s\"\t; b\r\nhello\r\n0\t;x\r\n\r\n", 31, "hello"));
	CHECK(good("5;\x80\xff\r\nhello\r\n0\r\n\r\n", 18, "hello"));
	/* Trailers. */
	CHECK(good("5\r\nhello\r\n0\r\nX-Sum: abc\r\nX-Empty:\r\n\r\nrest", 37, "hello"));
	CHECK(good("0\r\nA:b\r\n\r\n", 10, ""));
	CHECK(good("0\r\nA: \x80\tb \r\n\r\n", 14, ""));
}

static void check_bad(void)
{
	CHECK(bad("\r\n", "invalid chunk size"));
	CHECK(bad(" 5\r\nhello\r\n0\r\n\r\n", "invalid chunk size"));
	CHECK(bad("\t5\r\nhello\r\n0\r\n\r\n", "invalid chunk size"));
	CHECK(bad("+5\r\nhello\r\n0\r\n\r\n", "invalid chunk size"));
	CHECK(bad("-5\r\n", "invalid chunk size"));
	CHECK(bad("0x5\r\nhello\r\n0\r\n\r\n", "invalid chunk size"));
	CHECK(bad("5g\r\nhello\r\n0\r\n\r\n", "invalid chunk size"));
	CHECK(bad("g\r\n", "invalid chunk size"));
	CHECK(bad(";x\r\n", "invalid chunk size"));
	CHECK(bad("5 \r\nhello\r\n0\r\n\r\n", "invalid chunk size"));
	CHECK(bad("5 x\r\nhello\r\n0\r\n\r\n", "invalid chunk size"));
	CHECK(bad("5,6\r\nhello\r\n0\r\n\r\n", "invalid chunk size"));
	CHECK(bad("00000000000000005\r\nhello\r\n0\r\n\r\n", "chunk size too large"));
	CHECK(bad("10000000000000000\r\n", "chunk size too large"));
	/* Bare LF and bare CR, everywhere a line ends. */
	CHECK(bad("5\nhello\r\n0\r\n\r\n", "not ended by CRLF"));
	CHECK(bad("5;x\nhello\r\n0\r\n\r\n", "not ended by CRLF"));
	CHECK(bad("5\rhello\r\n0\r\n\r\n", "not ended by CRLF"));
	CHECK(bad("5\r\nhello\n0\r\n\r\n", "chunk data not followed by CRLF"));
	CHECK(bad("5\r\nhello\r0\r\n\r\n", "chunk data not followed by CRLF"));
	CHECK(bad("5\r\nhelloX\r\n0\r\n\r\n", "chunk data not followed by CRLF"));
	CHECK(bad("5\r\nhell\r\n0\r\n\r\n", "chunk data not followed by CRLF"));
	CHECK(bad("0\n\r\n", "not ended by CRLF"));
	CHECK(bad("0\r\n\n", "trailer line not ended by CRLF"));
	CHECK(bad("0\r\n\rX", "trailer line not ended by CRLF"));
	CHECK(bad("0\r\nA: b\n\r\n", "trailer line not ended by CRLF"));
	CHECK(bad("0\r\nA: b\rc\r\n\r\n", "trailer line not ended by CRLF"));
	/* Extensions: control bytes refused. */
	CHECK(bad("5;a\x01\r\nhello\r\n0\r\n\r\n", "invalid byte in a chunk extension"));
	CHECK(bad("5;a\x7f\r\nhello\r\n0\r\n\r\n", "invalid byte in a chunk extension"));
	static const char nul_ext[] = "5;a\0b\r\nhello\r\n0\r\n\r\n";
	run(nul_ext, sizeof nul_ext - 1);
	CHECK(whole.error && strstr(whole.why, "chunk extension"));
	/* Trailers: field-line syntax. */
	CHECK(bad("0\r\n X: a\r\n\r\n", "obsolete line folding"));
	CHECK(bad("0\r\nX: a\r\n\tb\r\n\r\n", "obsolete line folding"));
	CHECK(bad("0\r\nX : a\r\n\r\n", "invalid trailer field name"));
	CHECK(bad("0\r\n: a\r\n\r\n", "invalid trailer field name"));
	CHECK(bad("0\r\nNoColon\r\n\r\n", "invalid trailer field name"));
	CHECK(bad("0\r\nX: a\x01\r\n\r\n", "invalid byte in a trailer field"));
	/* The chunked body of a smuggled request: the 0-size chunk inside a
	 * would-be size line is an error, not an end. */
	CHECK(bad("0 \r\n\r\nGET / HTTP/1.1\r\n\r\n", "invalid chunk size"));
}

static void check_incomplete(void)
{
	CHECK(incomplete(""));
	CHECK(incomplete("5"));
	CHECK(incomplete("5\r"));
	CHECK(incomplete("5\r\nhel"));
	CHECK(incomplete("5\r\nhello\r\n"));
	CHECK(incomplete("5\r\nhello\r\n0\r\n"));
	CHECK(incomplete("5\r\nhello\r\n0\r\n\r"));
	CHECK(incomplete("0\r\nX: a\r\n"));
	/* The largest size is fine: its data just has not all come. */
	run("ffffffffffffffff\r\nabc", 21);
	CHECK(!whole.error && !whole.done && whole.data_len == 3);
	run("FFFFFFFFFFFFFFFF;x\r\n", 20);
	CHECK(!whole.error && !whole.done);
}

static char big[2 * HTTP_CHUNKED_TRAILER_MAX];

static void check_limits(void)
{
	struct http_chunked t;
	/* A size line of exactly the limit, then one byte more. */
	size_t n = 0;
	big[n++] = '1';
	big[n++] = ';';
	memset(big + n, 'e', HTTP_CHUNKED_LINE_MAX - 2);
	n += HTTP_CHUNKED_LINE_MAX - 2;
	memcpy(big + n, "\r\nx\r\n0\r\n\r\n", 11);
	http_chunked_init(&t);
	CHECK(http_chunked_feed(&t, (unsigned char *)big, n + 10, NULL, NULL) == (ssize_t)(n + 10) &&
	      t.done && t.data_len == 1);
	run(big, n + 10);
	CHECK(whole.done);
	memmove(big + 3, big + 2, n + 9);
	big[2] = 'e';
	http_chunked_init(&t);
	CHECK(http_chunked_feed(&t, (unsigned char *)big, n + 11, NULL, NULL) == -1 &&
	      strstr(t.error, "too long"));

	/* A trailer section of exactly the limit (final CRLF included), then
	 * one byte more. */
	memcpy(big, "0\r\nX: ", 6);
	size_t fill = HTTP_CHUNKED_TRAILER_MAX - 3 - 4; /* "X: ", two CRLF */
	memset(big + 6, 'v', fill);
	memcpy(big + 6 + fill, "\r\n\r\n", 4);
	n = 6 + fill + 4;
	http_chunked_init(&t);
	CHECK(http_chunked_feed(&t, (unsigned char *)big, n, NULL, NULL) == (ssize_t)n && t.done);
	run(big, n);
	CHECK(whole.done && whole.consumed == n);
	memmove(big + 7, big + 6, fill + 4);
	big[6] = 'v';
	http_chunked_init(&t);
	CHECK(http_chunked_feed(&t, (unsigned char *)big, n + 1, NULL, NULL) == -1 &&
	      strstr(t.error, "trailer section too large"));
	/* Many small trailer lines add up the same way. */
	n = 3;
	memcpy(big, "0\r\n", 3);
	while (n < HTTP_CHUNKED_TRAILER_MAX + 16) {
		memcpy(big + n, "A: b\r\n", 6);
		n += 6;
	}
	http_chunked_init(&t);
	CHECK(http_chunked_feed(&t, (unsigned char *)big, n, NULL, NULL) == -1);

	/* A count that cannot be returned is refused before any byte is read. */
	http_chunked_init(&t);
	CHECK(http_chunked_feed(&t, (unsigned char *)big, SIZE_MAX, NULL, NULL) == -1 && t.error);

	/* Many tiny chunks are fine: no limit on their number. */
	n = 0;
	for (int i = 0; i < 10000; i++) {
		memcpy(big + n, "1\r\nz\r\n", 6);
		n += 6;
	}
	memcpy(big + n, "0\r\n\r\n", 5);
	n += 5;
	http_chunked_init(&t);
	CHECK(http_chunked_feed(&t, (unsigned char *)big, n, NULL, NULL) == (ssize_t)n && t.done &&
	      t.data_len == 10000);
}

static void check_header(void)
{
	char buf[HTTP_CHUNKED_HEADER_MAX];
	CHECK(http_chunked_header(buf, sizeof buf, 0) == 3 && strcmp(buf, "0\r\n") == 0);
	CHECK(http_chunked_header(buf, sizeof buf, 5) == 3 && strcmp(buf, "5\r\n") == 0);
	CHECK(http_chunked_header(buf, sizeof buf, 0x1fab) == 6 && strcmp(buf, "1fab\r\n") == 0);
	CHECK(http_chunked_header(buf, sizeof buf, SIZE_MAX) == 18 &&
	      strcmp(buf, "ffffffffffffffff\r\n") == 0);
	CHECK(http_chunked_header(buf, 4, 5) == 3 && strcmp(buf, "5\r\n") == 0);
	memcpy(buf, "zzzz", 5);
	CHECK(http_chunked_header(buf, 3, 5) == 0 && strcmp(buf, "zzzz") == 0);
	CHECK(http_chunked_header(buf, 0, 5) == 0);
	/* What it writes, the tracker reads back. */
	char stream[64];
	size_t n = http_chunked_header(stream, sizeof stream, 11);
	memcpy(stream + n, "hello world\r\n", 13);
	n += 13;
	n += http_chunked_header(stream + n, sizeof stream - n, 0);
	memcpy(stream + n, "\r\n", 3);
	CHECK(good(stream, n + 2, "hello world"));
}

int main(void)
{
	check_good();
	check_bad();
	check_incomplete();
	check_limits();
	check_header();
	return unit_done();
}
