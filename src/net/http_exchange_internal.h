/*
 * Shared by an HTTP exchange (http_exchange.c) and the moving of its bytes
 * (http_body.c); not part of the module's interface.
 */
#ifndef CORRAL_NET_HTTP_EXCHANGE_INTERNAL_H
#define CORRAL_NET_HTTP_EXCHANGE_INTERNAL_H

#include "net/http_engine_internal.h"
#include "net/secret_scan.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct growbuf {
	unsigned char *data;
	size_t len, cap;
	bool failed;
};

struct body_reader {
	struct growbuf *into;       /* collect the decoded body, or NULL */
	/* Streaming upstream past placeholders that may not go there: the
	 * scanner passes on only bytes it has seen every placeholder around,
	 * so none leaves even in part; a chunked body is chunked anew. */
	struct secret_stream *scan;
	struct http_stream *out;
	bool rechunk;
	bool failed;
	int found;                  /* such a placeholder, or -1 */
};

/* Append to b; on ENOMEM b->failed is set and later appends do nothing. */
void exchange_gb_put(struct growbuf *b, const void *p, size_t n);
void exchange_gb_str(struct growbuf *b, const char *s);
/* The header is `name` (case-insensitive). */
bool exchange_named(const struct http_header *h, const char *name);
/* Move a request body from the client: into r->into, or upstream as it
 * comes (bytes counted in *moved). False on a broken body or connection;
 * r->found set when a placeholder stopped it. */
bool exchange_move_body(struct http_engine *e, struct body_reader *r, bool to_upstream,
                        uint64_t *moved, const char **why);
/* Relay the response to the request just sent; false: close after it. */
bool exchange_relay_response(struct http_engine *e, struct proxy_record *rec, bool request_head,
                             bool client_keeps, bool *sent);

#endif
