/* Field lines, lists and Content-Length, shared by the request and
 * response head parsers. */
#include "net/http_field.h"

#include <string.h>
#include <strings.h>

bool http_is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

bool http_is_ows(char c)
{
	return c == ' ' || c == '\t';
}

bool http_span_is(const char *s, size_t n, const char *word)
{
	return n == strlen(word) && strncasecmp(s, word, n) == 0;
}

bool http_list_next(const char **s, const char *end, const char **elem, size_t *n)
{
	if (*s > end)
		return false;
	const char *comma = memchr(*s, ',', (size_t)(end - *s));
	const char *stop = comma ? comma : end;
	const char *a = *s, *b = stop;
	while (a < b && http_is_ows(*a))
		a++;
	while (b > a && http_is_ows(b[-1]))
		b--;
	*elem = a;
	*n = (size_t)(b - a);
	*s = stop + 1;
	return true;
}

enum http_field_error http_field_parse(const char *line, size_t n, struct http_header *h)
{
	*h = (struct http_header){0};
	/* obs-fold: a continuation line some parsers join and others do not. */
	if (http_is_ows(line[0]))
		return HTTP_FIELD_OBS_FOLD;
	const char *colon = memchr(line, ':', n);
	if (!colon)
		return HTTP_FIELD_NO_COLON;
	size_t name_len = (size_t)(colon - line);
	if (name_len == 0)
		return HTTP_FIELD_EMPTY_NAME;
	/* "Content-Length : 5" is a field some servers see and others not. */
	if (http_is_ows(colon[-1]))
		return HTTP_FIELD_SPACE_BEFORE_COLON;
	for (size_t i = 0; i < name_len; i++)
		if (!http_is_tchar((unsigned char)line[i]))
			return HTTP_FIELD_BAD_NAME;
	const char *v = colon + 1, *end = line + n;
	while (v < end && http_is_ows(*v))
		v++;
	while (end > v && http_is_ows(end[-1]))
		end--;
	h->name = line;
	h->name_len = name_len;
	for (const char *c = v; c < end; c++) {
		unsigned char b = (unsigned char)*c;
		if ((b < ' ' && b != '\t') || b == 0x7f)
			return HTTP_FIELD_BAD_VALUE;
	}
	h->value = v;
	h->value_len = (size_t)(end - v);
	return HTTP_FIELD_OK;
}

const char *http_field_error_str(enum http_field_error e)
{
	switch (e) {
	case HTTP_FIELD_OK:
		return "no error";
	case HTTP_FIELD_OBS_FOLD:
		return "obsolete line folding (a line beginning with whitespace)";
	case HTTP_FIELD_NO_COLON:
		return "header line without ':'";
	case HTTP_FIELD_EMPTY_NAME:
		return "empty header name";
	case HTTP_FIELD_SPACE_BEFORE_COLON:
		return "whitespace before ':' in a header";
	case HTTP_FIELD_BAD_NAME:
		return "invalid header name";
	case HTTP_FIELD_BAD_VALUE:
		return "invalid byte in header";
	}
	return "invalid header line";
}

const char *http_content_length(const char *v, size_t n, bool *has, uint64_t *value)
{
	const char *s = v, *elem;
	size_t len;
	while (http_list_next(&s, v + n, &elem, &len)) {
		uint64_t x = 0;
		/* 18 digits cannot overflow 64 bits; no sign, no hex, no blanks. */
		if (len == 0 || len > 18)
			return "invalid Content-Length";
		for (size_t i = 0; i < len; i++) {
			if (elem[i] < '0' || elem[i] > '9')
				return "invalid Content-Length";
			x = x * 10 + (uint64_t)(elem[i] - '0');
		}
		if (*has && x != *value)
			return "differing Content-Length values";
		*has = true;
		*value = x;
	}
	return NULL;
}
