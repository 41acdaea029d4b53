/*
 * Fuzz the proxy's HTTP/1.x response-head parser (src/net/http_response.h)
 * and the chunked body tracker (src/net/http_chunked.h) behind it.
 *
 * The input is a response as an upstream would send it. Properties, for
 * any bytes:
 *  - the head parser never crashes, is deterministic and stable as bytes
 *    arrive (the head alone gives the same answer, one byte less
 *    NEED_MORE; a prefix of an error is NEED_MORE or the same error); an
 *    accepted head is consistent: head_len within the input and the limit
 *    and ending in CRLF CRLF, a status of 100..999, exactly one framing
 *    (Content-Length, chunked or close-delimited), header spans within the
 *    head with token names and values free of CR, LF and NUL;
 *  - the chunked tracker, fed what follows an accepted head (or the whole
 *    input otherwise, to reach it without a valid head), gives the same
 *    end, error and decoded bytes in one piece, byte by byte and in
 *    pseudo-random splits; every call consumes at most what it was given,
 *    all of it until the end; done and errors are sticky; the decoded data
 *    is never longer than the body, which ends in CRLF.
 */
#include "net/http_chunked.h"
#include "net/http_response.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_INPUT (2 * HTTP_HEAD_MAX + 1024)

static struct http_response first, second;

static void fail(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_http_response: %s (%s)\n", what, detail ? detail : "");
	abort();
}

/* Parse the first n bytes from a buffer of exactly n bytes. */
static enum http_parse_result parse_exact(const char *buf, size_t n, struct http_response *resp)
{
	char *copy = malloc(n ? n : 1);
	if (!copy)
		abort();
	memcpy(copy, buf, n);
	enum http_parse_result r = http_response_parse(copy, n, resp);
	for (size_t i = 0; i < resp->n_headers; i++)
		resp->headers[i] = (struct http_header){0};
	free(copy);
	return r;
}

static bool same_fields(const struct http_response *a, const struct http_response *b)
{
	return a->status == b->status && a->minor_version == b->minor_version &&
	       strcmp(a->reason, b->reason) == 0 && a->n_headers == b->n_headers &&
	       a->has_content_length == b->has_content_length &&
	       a->content_length == b->content_length && a->chunked == b->chunked &&
	       a->close_delimited == b->close_delimited &&
	       a->connection_close == b->connection_close && a->upgrade == b->upgrade &&
	       a->head_len == b->head_len;
}

static bool is_token(const char *s, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (!http_is_tchar((unsigned char)s[k]))
			return false;
	return n > 0;
}

static void check_ok(const struct http_response *resp, const char *buf, size_t size)
{
	size_t h = resp->head_len;
	if (h < 4 || h > size || h > HTTP_HEAD_MAX || memcmp(buf + h - 4, "\r\n\r\n", 4) != 0)
		fail("head_len wrong", NULL);
	if (resp->status < 100 || resp->status > 999 || resp->minor_version < 0 ||
	    resp->minor_version > 1)
		fail("status or version out of range", NULL);
	if ((int)resp->has_content_length + (int)resp->chunked + (int)resp->close_delimited != 1)
		fail("not exactly one framing", NULL);
	if (resp->chunked && resp->minor_version != 1)
		fail("chunked in HTTP/1.0", NULL);
	if (resp->status == 101 && !resp->upgrade)
		fail("101 without upgrade", NULL);
	size_t rlen = strnlen(resp->reason, sizeof resp->reason);
	if (rlen == sizeof resp->reason || strpbrk(resp->reason, "\r\n"))
		fail("reason unterminated or with a line end", resp->reason);
	if (resp->n_headers > HTTP_HEADERS_MAX)
		fail("too many headers", NULL);
	for (size_t i = 0; i < resp->n_headers; i++) {
		const struct http_header *hd = &resp->headers[i];
		if (hd->name < buf || hd->name + hd->name_len > buf + h || hd->value < buf ||
		    hd->value + hd->value_len > buf + h)
			fail("header span outside the head", NULL);
		if (!is_token(hd->name, hd->name_len))
			fail("header name not a token", NULL);
		for (size_t k = 0; k < hd->value_len; k++)
			if (hd->value[k] == '\r' || hd->value[k] == '\n' || hd->value[k] == '\0')
				fail("CR, LF or NUL in a header value", NULL);
	}
}

static void check_head(const char *buf, size_t size, enum http_parse_result r)
{
	enum http_parse_result again = http_response_parse(buf, size, &second);
	if (r != again || (r == HTTP_PARSE_OK && !same_fields(&first, &second)) ||
	    (r == HTTP_PARSE_ERROR && strcmp(first.error_reason, second.error_reason) != 0))
		fail("not deterministic", first.error_reason);
	if (r == HTTP_PARSE_ERROR) {
		size_t n = strnlen(first.error_reason, sizeof first.error_reason);
		if (n == 0 || n == sizeof first.error_reason || memchr(first.error_reason, '\n', n))
			fail("reason empty, unterminated or not one line", first.error_reason);
		size_t cuts[] = {size / 2, size - 1, size * 3 / 4};
		for (size_t i = 0; i < sizeof cuts / sizeof cuts[0] && size > 0; i++) {
			enum http_parse_result p = parse_exact(buf, cuts[i], &second);
			if (p == HTTP_PARSE_OK ||
			    (p == HTTP_PARSE_ERROR && strcmp(second.error_reason, first.error_reason) != 0))
				fail("a prefix of an error answered differently", second.error_reason);
		}
	} else if (r == HTTP_PARSE_OK) {
		check_ok(&first, buf, size);
		if (parse_exact(buf, first.head_len, &second) != HTTP_PARSE_OK ||
		    !same_fields(&first, &second))
			fail("the head alone parses differently", second.error_reason);
		if (parse_exact(buf, first.head_len - 1, &second) != HTTP_PARSE_NEED_MORE)
			fail("one byte short of the head is not NEED_MORE", second.error_reason);
	} else if (r != HTTP_PARSE_NEED_MORE) {
		fail("unknown result", NULL);
	} else if (size >= HTTP_HEAD_MAX) {
		fail("NEED_MORE past the head limit", NULL);
	}
}

/* What feeding a chunked stream gave. */
struct outcome {
	bool error, done;
	const char *why;
	size_t consumed;
	uint64_t data_len;
	uint64_t hash;               /* FNV-1a of the decoded bytes */
};

static void collect(void *ctx, const unsigned char *p, size_t n)
{
	struct outcome *o = ctx;
	if (n == 0)
		fail("empty data span", NULL);
	for (size_t i = 0; i < n; i++)
		o->hash = (o->hash ^ p[i]) * 1099511628211ULL;
	o->data_len += n;
}

/* xorshift: the splits depend on the input, so a crash reproduces. */
static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Feed b[0..n) in pieces: max_piece 0 means all at once, else pieces of
 * 1..max_piece bytes (drawn from *rng, or exactly max_piece without it). */
static void feed(const unsigned char *b, size_t n, size_t max_piece, uint64_t *rng,
                 struct outcome *o)
{
	struct http_chunked t;
	http_chunked_init(&t);
	*o = (struct outcome){.hash = 14695981039346656037ULL};
	size_t at = 0;
	do {
		size_t piece = n - at;
		if (max_piece) {
			size_t want = rng ? 1 + (size_t)(next_rand(rng) % max_piece) : max_piece;
			piece = want < piece ? want : piece;
		}
		bool was_done = t.done;
		ssize_t r = http_chunked_feed(&t, b + at, piece, collect, o);
		if (r < 0) {
			if (!t.error || t.done || t.state != HTTP_CHUNKED_ERROR)
				fail("an error without its reason", NULL);
			if (http_chunked_feed(&t, b, n, collect, o) != -1)
				fail("an error is not sticky", t.error);
			o->error = true;
			o->why = t.error;
			o->consumed = 0;
			return;
		}
		if ((size_t)r > piece)
			fail("consumed more than given", NULL);
		if (was_done && (r != 0 || !t.done))
			fail("done is not sticky", NULL);
		if (!t.done && (size_t)r != piece)
			fail("stopped short before the end", NULL);
		o->consumed += (size_t)r;
		at += piece;
	} while (at < n);
	o->done = t.done;
	if (t.data_len != o->data_len)
		fail("data_len disagrees with the spans", NULL);
	if (t.done) {
		if (http_chunked_feed(&t, b, n, collect, o) != 0 || !t.done)
			fail("done is not sticky", NULL);
		if (o->consumed < 5 || o->data_len > o->consumed ||
		    memcmp(b + o->consumed - 2, "\r\n", 2) != 0)
			fail("a body that does not end in CRLF", NULL);
	}
}

static bool same_outcome(const struct outcome *a, const struct outcome *b)
{
	return a->error == b->error && a->why == b->why && a->done == b->done &&
	       a->consumed == b->consumed && a->data_len == b->data_len && a->hash == b->hash;
}

static void check_chunked(const unsigned char *b, size_t n)
{
	struct outcome whole, part;
	feed(b, n, 0, NULL, &whole);
	feed(b, n, 1, NULL, &part);
	if (!same_outcome(&whole, &part))
		fail("byte by byte differs from one piece", whole.why);
	uint64_t rng = 0x9e3779b97f4a7c15ULL ^ n;
	for (size_t i = 0; i < n && i < 64; i++)
		rng = (rng ^ b[i]) * 1099511628211ULL;
	rng |= 1;
	static const size_t max_pieces[] = {2, 7, 64, 4096};
	for (size_t k = 0; k < sizeof max_pieces / sizeof max_pieces[0]; k++) {
		feed(b, n, max_pieces[k], &rng, &part);
		if (!same_outcome(&whole, &part))
			fail("a random split differs from one piece", whole.why);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > MAX_INPUT)
		return -1;
	char *buf = malloc(size ? size : 1);
	if (!buf)
		abort();
	memcpy(buf, data, size);
	enum http_parse_result r = http_response_parse(buf, size, &first);
	check_head(buf, size, r);
	if (r == HTTP_PARSE_OK)
		check_chunked((const unsigned char *)buf + first.head_len, size - first.head_len);
	else
		check_chunked((const unsigned char *)buf, size);
	free(buf);
	return 0;
}
