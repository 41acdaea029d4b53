/*
 * What HTTP/1.x request and response heads share (RFC 9110 §5, RFC 9112
 * §5): the parse result, header field spans, the limits on a head, and the
 * strict syntax of a field line, of lists and of Content-Length. Kept in
 * one place so that the proxy reads both directions with the same rules.
 */
#ifndef CORRAL_NET_HTTP_FIELD_H
#define CORRAL_NET_HTTP_FIELD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_HEAD_MAX 65536          /* bytes of the head, blank line included (431) */
#define HTTP_HEADERS_MAX 100         /* header fields (431) */

enum http_parse_result {
	HTTP_PARSE_OK,
	HTTP_PARSE_NEED_MORE,
	HTTP_PARSE_ERROR,        /* error_reason (and, for requests, error_status) say why */
};

/* A header field: spans into the caller's buffer (not NUL-terminated),
 * valid while it is; the value without surrounding whitespace. */
struct http_header {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};

/* Why a field line was refused. */
enum http_field_error {
	HTTP_FIELD_OK,
	HTTP_FIELD_OBS_FOLD,         /* the line begins with whitespace */
	HTTP_FIELD_NO_COLON,
	HTTP_FIELD_EMPTY_NAME,
	HTTP_FIELD_SPACE_BEFORE_COLON,
	HTTP_FIELD_BAD_NAME,         /* a byte that is not a tchar */
	HTTP_FIELD_BAD_VALUE,        /* a control byte (other than HTAB) or DEL */
};

/* ASCII only, whatever the locale. */
bool http_is_tchar(unsigned char c);
bool http_is_ows(char c);

/* s[0..n) equals word, ASCII case-insensitively. */
bool http_span_is(const char *s, size_t n, const char *word);

/* The next element of a comma-separated list at *s (OWS trimmed, possibly
 * empty); false once the list is used up. Start with *s at the value. */
bool http_list_next(const char **s, const char *end, const char **elem, size_t *n);

/* Split the field line line[0..n) (n > 0, CRLF excluded) as
 * name ":" OWS value OWS into *h. On HTTP_FIELD_BAD_VALUE h->name and
 * h->name_len are set, for the message. */
enum http_field_error http_field_parse(const char *line, size_t n, struct http_header *h);

/* A sentence saying what is wrong, for error_reason. */
const char *http_field_error_str(enum http_field_error e);

/* One Content-Length field value: 1*DIGIT (at most 18 digits, so no
 * overflow), or a list whose elements are all the same. Several fields
 * must agree with each other too: *has and *value carry what the previous
 * ones said. NULL when fine, else the reason. */
const char *http_content_length(const char *v, size_t n, bool *has, uint64_t *value);

#endif
