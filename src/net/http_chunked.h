/*
 * The chunked transfer coding (RFC 9112 §7.1) as the egress proxy relays
 * it: a tracker fed the body's bytes as they arrive, in any split, that
 * says where the body ends (so that what follows is the next message on a
 * kept-alive connection) and, if asked, hands out the decoded data. It
 * copies nothing and allocates nothing.
 *
 * Strict, since the proxy and the other side must agree on the end:
 *   chunk-size    1 to 16 hex digits, nothing before them (so never
 *                 more than 64 bits);
 *   extensions    optional whitespace, then ";" and any visible bytes or
 *                 HTAB/SP; the size line is at most
 *                 HTTP_CHUNKED_LINE_MAX bytes, CRLF excluded;
 *   data          exactly chunk-size bytes, then CRLF;
 *   trailers      field lines (a token, ':', a value without control
 *                 bytes), no obs-fold, at most HTTP_CHUNKED_TRAILER_MAX
 *                 bytes in all, the blank line ending them included;
 *   line ends     CRLF only: a bare LF, or a CR not followed by LF, is
 *                 an error.
 */
#ifndef CORRAL_NET_HTTP_CHUNKED_H
#define CORRAL_NET_HTTP_CHUNKED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HTTP_CHUNKED_LINE_MAX 4096       /* chunk-size and extensions, CRLF excluded */
#define HTTP_CHUNKED_TRAILER_MAX 65536   /* the trailer section, final CRLF included */
#define HTTP_CHUNKED_HEADER_MAX 19       /* "%zx\r\n" of any size_t, and a NUL */

enum http_chunked_state {
	HTTP_CHUNKED_SIZE,           /* hex digits of chunk-size */
	HTTP_CHUNKED_SIZE_WS,        /* whitespace after them: ';' must follow */
	HTTP_CHUNKED_EXT,            /* in chunk extensions, until CR */
	HTTP_CHUNKED_SIZE_LF,        /* CR seen, LF expected */
	HTTP_CHUNKED_DATA,
	HTTP_CHUNKED_DATA_CR,        /* CRLF after the data */
	HTTP_CHUNKED_DATA_LF,
	HTTP_CHUNKED_TRAILER_START,  /* start of a trailer line or the blank line */
	HTTP_CHUNKED_TRAILER_NAME,
	HTTP_CHUNKED_TRAILER_VALUE,
	HTTP_CHUNKED_TRAILER_LF,     /* CR ending a trailer line seen */
	HTTP_CHUNKED_END_LF,         /* CR of the blank line seen */
	HTTP_CHUNKED_DONE,
	HTTP_CHUNKED_ERROR,
};

struct http_chunked {
	enum http_chunked_state state;
	uint64_t remaining;          /* data bytes left in the chunk, or the size read so far */
	unsigned digits;             /* hex digits of chunk-size read */
	size_t line_len;             /* bytes of the current size line */
	size_t trailer_len;          /* bytes of the trailer section */
	uint64_t data_len;           /* decoded bytes so far */
	bool done;                   /* the body ended; stays set */
	const char *error;           /* a static string once malformed; stays set */
};

void http_chunked_init(struct http_chunked *t);

/* Consume up to len bytes of the chunked stream. Returns the number of
 * bytes that belong to the body (<= len; the rest belongs to whatever
 * follows): len until the end, then the offset just past it, then 0. Sets
 * t->done once the last chunk and the trailer section ended. -1, with
 * t->error, on malformed input (and on every call after). If data_cb is
 * not NULL it is called with each span of chunk data, in order, pointing
 * into buf. */
ssize_t http_chunked_feed(struct http_chunked *t, const unsigned char *buf, size_t len,
                          void (*data_cb)(void *ctx, const unsigned char *p, size_t n),
                          void *ctx);

/* Write the header of an n-byte chunk, "%zx\r\n", NUL-terminated, into
 * buf[0..size). Returns its length without the NUL, or 0 if it does not
 * fit (HTTP_CHUNKED_HEADER_MAX bytes always do). The last chunk is n = 0,
 * followed by "\r\n". */
size_t http_chunked_header(char *buf, size_t size, size_t n);

#endif
