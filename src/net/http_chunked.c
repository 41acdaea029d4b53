/* Chunked transfer coding (RFC 9112 §7.1): a byte-at-a-time state machine,
 * with chunk data passed through in spans. */
#include "net/http_chunked.h"

#include "net/http_field.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

void http_chunked_init(struct http_chunked *t)
{
	memset(t, 0, sizeof *t);
	t->state = HTTP_CHUNKED_SIZE;
}

static int hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Bytes allowed in extensions and trailer values: HTAB, SP, VCHAR,
 * obs-text; no other control byte (CR and LF least of all) and no DEL. */
static bool is_text(unsigned char c)
{
	return c == '\t' || (c >= ' ' && c != 0x7f);
}

static ssize_t fail(struct http_chunked *t, const char *why)
{
	t->state = HTTP_CHUNKED_ERROR;
	t->error = why;
	return -1;
}

/* One byte of a size line, a CRLF or the trailer section. NULL if it was
 * fine, else why not. */
static const char *step(struct http_chunked *t, unsigned char c)
{
	int h;
	switch (t->state) {
	case HTTP_CHUNKED_SIZE:
	case HTTP_CHUNKED_SIZE_WS:
	case HTTP_CHUNKED_EXT:
		if (c != '\r' && ++t->line_len > HTTP_CHUNKED_LINE_MAX)
			return "chunk size line too long";
		break;
	case HTTP_CHUNKED_TRAILER_START:
	case HTTP_CHUNKED_TRAILER_NAME:
	case HTTP_CHUNKED_TRAILER_VALUE:
	case HTTP_CHUNKED_TRAILER_LF:
	case HTTP_CHUNKED_END_LF:
		if (++t->trailer_len > HTTP_CHUNKED_TRAILER_MAX)
			return "chunked trailer section too large";
		break;
	default:
		break;
	}
	switch (t->state) {
	case HTTP_CHUNKED_SIZE:
		h = hex_value(c);
		if (h >= 0) {
			/* 16 digits fill 64 bits: no overflow, and no leading
			 * zeros without end either. */
			if (++t->digits > 16)
				return "chunk size too large";
			t->remaining = t->remaining << 4 | (uint64_t)h;
			return NULL;
		}
		if (t->digits == 0)
			return "invalid chunk size";
		if (c == '\r')
			t->state = HTTP_CHUNKED_SIZE_LF;
		else if (c == ';')
			t->state = HTTP_CHUNKED_EXT;
		else if (c == ' ' || c == '\t')
			t->state = HTTP_CHUNKED_SIZE_WS;
		else if (c == '\n')
			return "chunk size line not ended by CRLF";
		else
			return "invalid chunk size";
		return NULL;
	case HTTP_CHUNKED_SIZE_WS:
		/* BWS is only allowed before an extension (RFC 9112 §7.1.1). */
		if (c == ';')
			t->state = HTTP_CHUNKED_EXT;
		else if (c != ' ' && c != '\t')
			return "invalid chunk size";
		return NULL;
	case HTTP_CHUNKED_EXT:
		if (c == '\r')
			t->state = HTTP_CHUNKED_SIZE_LF;
		else if (c == '\n')
			return "chunk size line not ended by CRLF";
		else if (!is_text(c))
			return "invalid byte in a chunk extension";
		return NULL;
	case HTTP_CHUNKED_SIZE_LF:
		if (c != '\n')
			return "chunk size line not ended by CRLF";
		t->state = t->remaining == 0 ? HTTP_CHUNKED_TRAILER_START : HTTP_CHUNKED_DATA;
		return NULL;
	case HTTP_CHUNKED_DATA_CR:
		if (c != '\r')
			return "chunk data not followed by CRLF";
		t->state = HTTP_CHUNKED_DATA_LF;
		return NULL;
	case HTTP_CHUNKED_DATA_LF:
		if (c != '\n')
			return "chunk data not followed by CRLF";
		t->state = HTTP_CHUNKED_SIZE;
		t->digits = 0;
		t->line_len = 0;
		t->remaining = 0;
		return NULL;
	case HTTP_CHUNKED_TRAILER_START:
		if (c == '\r')
			t->state = HTTP_CHUNKED_END_LF;
		else if (c == ' ' || c == '\t')
			return "obsolete line folding in the chunked trailer section";
		else if (http_is_tchar(c))
			t->state = HTTP_CHUNKED_TRAILER_NAME;
		else if (c == '\n')
			return "chunked trailer line not ended by CRLF";
		else
			return "invalid trailer field name";
		return NULL;
	case HTTP_CHUNKED_TRAILER_NAME:
		if (c == ':')
			t->state = HTTP_CHUNKED_TRAILER_VALUE;
		else if (!http_is_tchar(c))
			return "invalid trailer field name";
		return NULL;
	case HTTP_CHUNKED_TRAILER_VALUE:
		if (c == '\r')
			t->state = HTTP_CHUNKED_TRAILER_LF;
		else if (c == '\n')
			return "chunked trailer line not ended by CRLF";
		else if (!is_text(c))
			return "invalid byte in a trailer field";
		return NULL;
	case HTTP_CHUNKED_TRAILER_LF:
		if (c != '\n')
			return "chunked trailer line not ended by CRLF";
		t->state = HTTP_CHUNKED_TRAILER_START;
		return NULL;
	case HTTP_CHUNKED_END_LF:
		if (c != '\n')
			return "chunked trailer line not ended by CRLF";
		t->state = HTTP_CHUNKED_DONE;
		t->done = true;
		return NULL;
	case HTTP_CHUNKED_DATA:
	case HTTP_CHUNKED_DONE:
	case HTTP_CHUNKED_ERROR:
		break;
	}
	return "chunked tracker in an unexpected state";
}

ssize_t http_chunked_feed(struct http_chunked *t, const unsigned char *buf, size_t len,
                          void (*data_cb)(void *ctx, const unsigned char *p, size_t n),
                          void *ctx)
{
	if (t->state == HTTP_CHUNKED_ERROR)
		return -1;
	if (t->state == HTTP_CHUNKED_DONE)
		return 0;
	/* The count returned must fit its type: no object is this large, so
	 * this is a caller's error, refused rather than mistaken for an end. */
	if (len > (size_t)SSIZE_MAX)
		return fail(t, "more bytes at once than a count can say");
	size_t i = 0;
	while (i < len && t->state != HTTP_CHUNKED_DONE) {
		if (t->state == HTTP_CHUNKED_DATA) {
			size_t n = len - i;
			if ((uint64_t)n > t->remaining)
				n = (size_t)t->remaining;
			if (data_cb)
				data_cb(ctx, buf + i, n);
			t->remaining -= n;
			t->data_len += n;
			i += n;
			if (t->remaining == 0)
				t->state = HTTP_CHUNKED_DATA_CR;
			continue;
		}
		const char *why = step(t, buf[i]);
		if (why)
			return fail(t, why);
		i++;
	}
	return (ssize_t)i;
}

size_t http_chunked_header(char *buf, size_t size, size_t n)
{
	char tmp[HTTP_CHUNKED_HEADER_MAX];
	int w = snprintf(tmp, sizeof tmp, "%zx\r\n", n);
	if (w < 0 || (size_t)w >= size)
		return 0;
	memcpy(buf, tmp, (size_t)w + 1);
	return (size_t)w;
}
