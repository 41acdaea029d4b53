/*
 * JSON-RPC 2.0 over newline-delimited streams, as MCP's stdio transport
 * frames it: one JSON value per line, no embedded newlines. Also used for
 * the session driver's answers, which are as untrusted as the client.
 */
#ifndef CORRAL_MCP_JSONRPC_H
#define CORRAL_MCP_JSONRPC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

enum {
	JSONRPC_PARSE_ERROR = -32700,
	JSONRPC_INVALID_REQUEST = -32600,
	JSONRPC_METHOD_NOT_FOUND = -32601,
	JSONRPC_INVALID_PARAMS = -32602,
	JSONRPC_INTERNAL_ERROR = -32603,
};

/* Splits a byte stream into lines of at most `max` bytes. A longer line is
 * dropped up to its newline and reported once as too long. */
struct line_reader {
	char *buf;
	size_t len;
	size_t cap;
	size_t max;
	size_t scanned;    /* bytes of buf already searched for a newline */
	size_t pending;    /* bytes of the line handed out last, dropped on the next call */
	bool discarding;   /* inside an over-long line */
	bool eof;
};

void line_reader_init(struct line_reader *lr, size_t max);
void line_reader_free(struct line_reader *lr);
/* Read what is available from fd (non-blocking or after poll). Returns the
 * number of bytes read, 0 at end of stream, -1 on error (errno set; EAGAIN
 * means nothing yet). */
long line_reader_fill(struct line_reader *lr, int fd);
enum line_status { LINE_NONE, LINE_READY, LINE_TOO_LONG };
/* The next complete line (without its newline, NUL-terminated, valid until
 * the next call), or LINE_TOO_LONG once per over-long line. At end of
 * stream a final unterminated line is returned too. */
enum line_status line_reader_next(struct line_reader *lr, char **line, size_t *len);

/* Write one message followed by a newline; -1 if the peer is gone. */
int jsonrpc_send(int fd, json_t *message);
/* The message objects; `id` is borrowed (NULL means JSON null). */
json_t *jsonrpc_result(json_t *id, json_t *result /* stolen */);
json_t *jsonrpc_error(json_t *id, int code, const char *message);
json_t *jsonrpc_notification(const char *method, json_t *params /* stolen */);

#endif
