/*
 * Moving bytes in an HTTP exchange: the growable buffer heads are built in,
 * a request body from the client (collected, or streamed upstream past the
 * secret scanner, re-chunked when it must be), and the response back,
 * framed. Separate from http_exchange.c, which decides what an exchange may
 * do; this only carries it out.
 */
#include "net/http_exchange_internal.h"

#include "net/egress.h"
#include "net/http_chunked.h"
#include "net/net_rules.h"
#include "net/secret_scan.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void exchange_gb_put(struct growbuf *b, const void *p, size_t n)
{
	if (b->failed || n == 0)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n)
			cap *= 2;
		unsigned char *grown = realloc(b->data, cap);
		if (!grown) {
			b->failed = true;
			return;
		}
		b->data = grown;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

void exchange_gb_str(struct growbuf *b, const char *s)
{
	exchange_gb_put(b, s, strlen(s));
}

bool exchange_named(const struct http_header *h, const char *name)
{
	return h->name_len == strlen(name) && strncasecmp(h->name, name, h->name_len) == 0;
}

static void emit_upstream(void *ctx, const void *p, size_t n)
{
	struct body_reader *r = ctx;
	if (r->failed || n == 0)
		return;
	char head[HTTP_CHUNKED_HEADER_MAX];
	size_t head_len = r->rechunk ? http_chunked_header(head, sizeof head, n) : 0;
	if (http_stream_write(r->out, head, head_len) < 0 || http_stream_write(r->out, p, n) < 0 ||
	    (r->rechunk && http_stream_write(r->out, "\r\n", 2) < 0))
		r->failed = true;
}

static void on_data(void *ctx, const unsigned char *p, size_t n)
{
	struct body_reader *r = ctx;
	if (r->into)
		exchange_gb_put(r->into, p, n);
	if (r->scan && r->found < 0 &&
	    secret_stream_feed(r->scan, p, n, r->out ? emit_upstream : NULL, r) == -2)
		r->found = r->scan->blocked;
}

/* Move a request body from the client: into r->into, or upstream as it
 * comes (bytes counted in *moved). False on a broken body or connection;
 * r->found set when a placeholder stopped it. */
bool exchange_move_body(struct http_engine *e, struct body_reader *r, bool to_upstream,
                        uint64_t *moved, const char **why)
{
	const struct http_request *req = &e->req;
	struct http_chunked t;
	http_chunked_init(&t);
	uint64_t left = req->has_content_length ? req->content_length : 0;
	bool chunked = req->chunked;
	while (chunked ? !t.done : left > 0) {
		if (e->client.len == 0 && http_stream_fill(&e->client) <= 0) {
			*why = "the request body ended early";
			return false;
		}
		size_t take;
		if (chunked) {
			ssize_t n = http_chunked_feed(&t, e->client.buf, e->client.len, on_data, r);
			if (n < 0) {
				*why = t.error;
				return false;
			}
			take = (size_t)n;
		} else {
			take = e->client.len < left ? e->client.len : (size_t)left;
			on_data(r, e->client.buf, take);
			left -= take;
		}
		if (r->found >= 0)
			return false;
		if (r->into && (r->into->failed || r->into->len > ENGINE_BUFFER_MAX)) {
			*why = "the body is too large to look for placeholders in";
			return false;
		}
		if (r->failed || (to_upstream && !r->scan &&
		                  http_stream_write(&e->upstream, e->client.buf, take) < 0)) {
			*why = e->upstream.error;
			return false;
		}
		*moved += take;
		http_stream_consume(&e->client, take);
	}
	if (r->scan && secret_stream_finish(r->scan, r->out ? emit_upstream : NULL, r) == -2) {
		r->found = r->scan->blocked;
		return false;
	}
	if (r->rechunk && !r->failed && http_stream_write(r->out, "0\r\n\r\n", 5) < 0)
		r->failed = true;
	if (r->failed)
		*why = e->upstream.error;
	return !r->failed;
}

/* Relay the response to the request just sent; false: close after it. */
bool exchange_relay_response(struct http_engine *e, struct proxy_record *rec, bool request_head,
                             bool client_keeps, bool *sent)
{
	struct http_response *resp = &e->resp;
	for (;;) {
		enum http_parse_result r = http_response_parse((const char *)e->upstream.buf, e->upstream.len, resp);
		if (r == HTTP_PARSE_NEED_MORE && e->upstream.len < HTTP_HEAD_MAX &&
		    http_stream_fill(&e->upstream) > 0)
			continue;
		if (r != HTTP_PARSE_OK)
			return false;
		if (resp->status >= 100 && resp->status < 200 && resp->status != 101) {
			/* 100 Continue and friends go through as they are. */
			if (http_stream_write(&e->client, e->upstream.buf, resp->head_len) < 0)
				return false;
			http_stream_consume(&e->upstream, resp->head_len);
			continue;
		}
		break;
	}
	*sent = true;
	rec->status = resp->status;
	bool body = http_response_has_body(resp->status, request_head);
	bool closing = !client_keeps || resp->connection_close || (body && resp->close_delimited);
	bool upgrade = resp->status == 101;
	struct growbuf head = {0};
	const char *eol = memchr(e->upstream.buf, '\n', resp->head_len);
	exchange_gb_put(&head, e->upstream.buf,
	                eol ? (size_t)(eol - (const char *)e->upstream.buf) + 1 : 0);
	for (size_t i = 0; i < resp->n_headers; i++) {
		const struct http_header *h = &resp->headers[i];
		if (!upgrade && (exchange_named(h, "connection") || exchange_named(h, "keep-alive") ||
		                 exchange_named(h, "proxy-connection")))
			continue;
		exchange_gb_put(&head, h->name, h->name_len);
		exchange_gb_str(&head, ": ");
		exchange_gb_put(&head, h->value, h->value_len);
		exchange_gb_str(&head, "\r\n");
	}
	if (closing && !upgrade)
		exchange_gb_str(&head, "Connection: close\r\n");
	exchange_gb_str(&head, "\r\n");
	bool ok = !head.failed && http_stream_write(&e->client, head.data, head.len) == 0;
	rec->bytes_down += head.len;
	free(head.data);
	http_stream_consume(&e->upstream, resp->head_len);
	if (!ok)
		return false;
	if (upgrade) {
		engine_relay_raw(e, rec);
		return false;
	}
	if (!body)
		return !closing;
	struct http_chunked t;
	http_chunked_init(&t);
	uint64_t left = resp->has_content_length ? resp->content_length : UINT64_MAX;
	for (;;) {
		if (resp->chunked ? t.done : left == 0)
			break;
		if (e->upstream.len == 0) {
			ssize_t n = http_stream_fill(&e->upstream);
			if (n == 0 && resp->close_delimited)
				return false;
			if (n <= 0)
				return false;
		}
		size_t take;
		if (resp->chunked) {
			ssize_t n = http_chunked_feed(&t, e->upstream.buf, e->upstream.len, NULL, NULL);
			if (n < 0)
				return false;
			take = (size_t)n;
		} else {
			take = e->upstream.len < left ? e->upstream.len : (size_t)left;
			if (left != UINT64_MAX)
				left -= take;
		}
		if (http_stream_write(&e->client, e->upstream.buf, take) < 0)
			return false;
		rec->bytes_down += take;
		http_stream_consume(&e->upstream, take);
	}
	return !closing;
}
