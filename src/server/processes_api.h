/* corral serve's /v1/sandboxes/{id}/processes endpoints (spawn, list,
 * status, stdin, signal, output) over server/processes.h. */
#ifndef CORRAL_SERVER_PROCESSES_API_H
#define CORRAL_SERVER_PROCESSES_API_H

#include "server/api.h"
#include "server/processes.h"

/* A ROUTE_PROCESS* request on the running sandbox `s`, whose reference it
 * takes over (kept by an output stream until freed). */
void processes_route(struct api_ctx *ctx, const struct api_request *rq,
                     const struct route *route, struct sbx *s, struct reply *r,
                     struct api_stream *stream);

#endif
