#include "mcp/jsonrpc.h"

#include "util/fileutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READ_CHUNK 65536

void line_reader_init(struct line_reader *lr, size_t max)
{
	memset(lr, 0, sizeof *lr);
	lr->max = max;
}

void line_reader_free(struct line_reader *lr)
{
	free(lr->buf);
	memset(lr, 0, sizeof *lr);
}

static int reserve(struct line_reader *lr, size_t extra)
{
	if (lr->cap - lr->len >= extra + 1)
		return 0;
	size_t want = lr->cap ? lr->cap : READ_CHUNK;
	while (want - lr->len < extra + 1)
		want *= 2;
	char *grown = realloc(lr->buf, want);
	if (!grown)
		return -1;
	lr->buf = grown;
	lr->cap = want;
	return 0;
}

static void consume(struct line_reader *lr, size_t count)
{
	memmove(lr->buf, lr->buf + count, lr->len - count);
	lr->len -= count;
	lr->scanned = 0;
}

/* The line handed out last is valid until the reader is used again. */
static void drop_pending(struct line_reader *lr)
{
	if (lr->pending) {
		consume(lr, lr->pending);
		lr->pending = 0;
	}
}

long line_reader_fill(struct line_reader *lr, int fd)
{
	drop_pending(lr);
	if (reserve(lr, READ_CHUNK) < 0) {
		errno = ENOMEM;
		return -1;
	}
	ssize_t n;
	while ((n = read(fd, lr->buf + lr->len, READ_CHUNK)) < 0 && errno == EINTR)
		;
	if (n < 0)
		return -1;
	if (n == 0)
		lr->eof = true;
	lr->len += (size_t)n;
	return (long)n;
}

enum line_status line_reader_next(struct line_reader *lr, char **line, size_t *len)
{
	drop_pending(lr);
	for (;;) {
		char *nl = lr->len > lr->scanned
		                   ? memchr(lr->buf + lr->scanned, '\n', lr->len - lr->scanned)
		                   : NULL;
		if (!nl) {
			lr->scanned = lr->len;
			if (lr->discarding) {
				/* Keep nothing of an over-long line. */
				consume(lr, lr->len);
				return LINE_NONE;
			}
			if (lr->len > lr->max) {
				lr->discarding = true;
				consume(lr, lr->len);
				return LINE_TOO_LONG;
			}
			if (lr->eof && lr->len > 0) {
				/* The last line, without a newline: take it whole. */
				if (reserve(lr, 1) < 0)
					return LINE_NONE;
				lr->buf[lr->len] = '\0';
				*line = lr->buf;
				*len = lr->len;
				lr->pending = lr->len;
				lr->scanned = lr->len;
				return LINE_READY;
			}
			return LINE_NONE;
		}
		size_t line_len = (size_t)(nl - lr->buf);
		if (lr->discarding) {
			lr->discarding = false;
			consume(lr, line_len + 1);
			continue;
		}
		if (line_len > lr->max) {
			consume(lr, line_len + 1);
			return LINE_TOO_LONG;
		}
		/* Hand out the line in place; it is removed on the next call. */
		*nl = '\0';
		*line = lr->buf;
		*len = line_len;
		lr->scanned = 0;
		lr->pending = line_len + 1;
		return LINE_READY;
	}
}

int jsonrpc_send(int fd, json_t *message)
{
	char *text = json_dumps(message, JSON_COMPACT | JSON_ENSURE_ASCII);
	if (!text)
		return -1;
	size_t len = strlen(text);
	/* One write for message and newline, so nothing interleaves. */
	char *framed = realloc(text, len + 2);
	if (!framed) {
		free(text);
		return -1;
	}
	framed[len] = '\n';
	framed[len + 1] = '\0';
	int rc = write_all(fd, framed, len + 1);
	free(framed);
	return rc;
}

json_t *jsonrpc_result(json_t *id, json_t *result)
{
	return json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id ? id : json_null(), "result",
	                 result);
}

json_t *jsonrpc_error(json_t *id, int code, const char *message)
{
	return json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id", id ? id : json_null(),
	                 "error", "code", code, "message", message);
}

json_t *jsonrpc_notification(const char *method, json_t *params)
{
	return json_pack("{s:s, s:s, s:o}", "jsonrpc", "2.0", "method", method, "params", params);
}
