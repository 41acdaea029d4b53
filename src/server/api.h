/* corral serve's endpoints: one request (already read, authenticated) in,
 * a reply or an NDJSON stream out. No HTTP library here. */
#ifndef CORRAL_SERVER_API_H
#define CORRAL_SERVER_API_H

#include "server/exec_api.h"
#include "server/reply.h"
#include "server/sandboxes.h"
#include "server/server.h"

#include <stdbool.h>
#include <stddef.h>

struct api_ctx {
	struct registry *reg;
	struct metrics *metrics;
	const struct server_options *opts;
};

/* A response streamed as it is produced: read blocks until some bytes are
 * ready, 0 at the end; free releases obj. */
struct api_stream {
	size_t (*read)(void *obj, char *buf, size_t max);
	void (*free)(void *obj);
	void *obj;
};

struct api_request {
	const char *method;
	const char *path;        /* without the query string */
	const char *arg_path;    /* ?path= */
	const char *arg_list;    /* ?list= */
	const char *arg_recursive;
	const char *arg_eof;     /* ?eof= */
	const char *arg_follow;  /* ?follow= */
	const char *accept;      /* Accept header */
	const char *body;
	size_t len;
	bool too_large;          /* the body went over its bound and was dropped */
};

/* The bound of the request's body: files may be larger than JSON. */
size_t api_body_max(const struct api_ctx *ctx, const char *method, const char *path);

/* Fills `r`, or sets stream->obj (then r is untouched) to NDJSON the
 * caller sends and then frees. */
void api_handle(struct api_ctx *ctx, const struct api_request *rq, struct reply *r,
                struct api_stream *stream);

/* "1" or "true" */
bool api_flag(const char *v);

#endif
