#include "server/api.h"

#include "server/files_api.h"
#include "server/proc_bodies.h"
#include "server/processes_api.h"
#include "server/sbx_json.h"
#include "server/routes.h"
#include "server/snapshots_api.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define LIST_MAX 10000

size_t api_body_max(const struct api_ctx *ctx, const char *method, const char *path)
{
	struct route route;
	const char *allow;
	if (route_match(method, path, &route, &allow) == ROUTE_FOUND && route.id == ROUTE_FILES &&
	    strcmp(method, "PUT") == 0)
		return ctx->opts->max_file_bytes;
	return SERVER_BODY_MAX;
}

bool api_flag(const char *v)
{
	return v && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0);
}

static void create(struct api_ctx *ctx, const struct api_request *rq, struct reply *r)
{
	char message[REQUEST_MESSAGE_MAX];
	char *policy = NULL;
	uint64_t ttl;
	const struct server_limits *l = &ctx->opts->limits;
	if (parse_create_body(rq->body, rq->len, l->default_ttl_ms, l->max_ttl_ms, &policy, &ttl,
	                      message) < 0) {
		reply_error(r, 400, "bad_request", "%s", message);
		return;
	}
	struct sbx *s;
	const char *code;
	unsigned status = sbx_create(ctx->reg, policy, ttl, &s, &code, message);
	free(policy);
	if (status != 201) {
		reply_error(r, status, code, "%s", message);
		return;
	}
	reply_json(r, 201, sbx_json(ctx->reg, s, false));
	sbx_put(ctx->reg, s);
}

static size_t exec_stream_reader(void *obj, char *buf, size_t max)
{
	return exec_stream_read(obj, buf, max);
}

static void exec_stream_free(void *obj)
{
	exec_run_free(obj);
}

static void exec(struct api_ctx *ctx, const struct api_request *rq, struct sbx *s,
                 struct reply *r, struct api_stream *stream)
{
	char message[REQUEST_MESSAGE_MAX];
	struct exec_params p;
	const struct server_options *o = ctx->opts;
	if (parse_exec_body(rq->body, rq->len, o->default_exec_timeout_ms, o->max_exec_timeout_ms,
	                    o->default_output, o->max_output, &p, message) < 0) {
		sbx_put(ctx->reg, s);
		reply_error(r, 400, "bad_request", "%s", message);
		return;
	}
	bool ndjson = rq->accept && strstr(rq->accept, "application/x-ndjson");
	unsigned status;
	const char *code;
	struct exec_run *run = exec_start(ctx->reg, s, &p, ndjson, &status, &code, message);
	if (!run) {
		reply_error(r, status, code, "%s", message);
		return;
	}
	if (ndjson) {
		*stream = (struct api_stream){.read = exec_stream_reader, .free = exec_stream_free,
		                              .obj = run};
		return;
	}
	reply_json(r, 200, exec_collect(run));
	exec_run_free(run);
}

static void files(struct api_ctx *ctx, const struct api_request *rq, struct sbx *s,
                  struct reply *r)
{
	if (!sandbox_path_valid(rq->arg_path)) {
		reply_error(r, 400, "bad_request", "the path=PATH query parameter is required");
		return;
	}
	if (strcmp(rq->method, "GET") == 0) {
		if (api_flag(rq->arg_list))
			files_list(s, rq->arg_path, LIST_MAX, r);
		else
			files_read(s, rq->arg_path, ctx->opts->max_file_bytes, r);
	} else if (strcmp(rq->method, "PUT") == 0) {
		files_write(s, rq->arg_path, rq->body, rq->len, r);
	} else {
		files_remove(s, rq->arg_path, api_flag(rq->arg_recursive), r);
	}
}

static bool is_process_route(enum route_id id)
{
	return id == ROUTE_PROCESSES || id == ROUTE_PROCESS || id == ROUTE_PROCESS_STDIN ||
	       id == ROUTE_PROCESS_SIGNAL || id == ROUTE_PROCESS_OUTPUT;
}

/* PUT /v1/sandboxes/{id}/network */
static void network(const struct api_request *rq, struct sbx *s, struct reply *r)
{
	char message[REQUEST_MESSAGE_MAX];
	char **rules;
	size_t n;
	if (parse_network_body(rq->body, rq->len, &rules, &n, message) < 0) {
		reply_error(r, 400, "bad_request", "%s", message);
		return;
	}
	corral_error err = {0};
	if (corral_sandbox_set_net_rules(s->sb, (const char *const *)rules, n, &err) < 0) {
		if (err.errnum == ESRCH)
			reply_error(r, 409, "sandbox_ended", "%s", err.message);
		else if (err.errnum == ENONET)
			reply_error(r, 409, "no_network",
			            "sandbox %s has no network egress (create it with "
			            "\"network\": {\"allow\": [...]})", s->id);
		else
			reply_error(r, err.kind == CORRAL_ERR_USAGE ? 400 : 500,
			            err.kind == CORRAL_ERR_USAGE ? "bad_rules" : "internal", "%s",
			            err.message);
	} else {
		json_t *arr = json_array();
		for (size_t i = 0; arr && i < n; i++)
			json_array_append_new(arr, json_string(rules[i]));
		reply_json(r, 200, json_pack("{s:o}", "allow", arr));
	}
	string_list_free(rules, n);
}

/* A route naming a sandbox: it must exist, and most need it running. */
static void on_sandbox(struct api_ctx *ctx, const struct api_request *rq,
                       const struct route *route, struct reply *r, struct api_stream *stream)
{
	if (route->id == ROUTE_SANDBOX && strcmp(rq->method, "DELETE") == 0) {
		if (sbx_delete(ctx->reg, route->sandbox))
			reply_json(r, 200, json_pack("{s:s, s:s}", "id", route->sandbox, "state",
			                             "deleted"));
		else
			reply_error(r, 404, "sandbox_not_found", "no sandbox %s", route->sandbox);
		return;
	}
	struct sbx *s = sbx_get(ctx->reg, route->sandbox);
	json_t *gone = !s && route->id == ROUTE_SANDBOX
	                       ? records_lookup(ctx->reg->records, route->sandbox) : NULL;
	if (gone) { /* one of a daemon that died, or deleted a while ago */
		reply_json(r, 200, gone);
		return;
	}
	if (!s) {
		reply_error(r, 404, "sandbox_not_found", "no sandbox %s", route->sandbox);
		return;
	}
	if (route->id == ROUTE_SANDBOX) {
		reply_json(r, 200, sbx_json(ctx->reg, s, true));
	} else if (is_process_route(route->id) &&
	           (strcmp(rq->method, "GET") == 0 || !sbx_ended(ctx->reg, s))) {
		processes_route(ctx, rq, route, s, r, stream); /* takes the reference over */
		return;
	} else if (sbx_ended(ctx->reg, s)) {
		reply_error(r, 409, "sandbox_ended",
		            "sandbox %s has ended (GET it for why); delete it", s->id);
	} else if (route->id == ROUTE_NETWORK) {
		network(rq, s, r);
	} else if (route->id == ROUTE_EXEC) {
		exec(ctx, rq, s, r, stream); /* takes the reference over */
		return;
	} else if (route->id == ROUTE_SNAPSHOTS) {
		snapshots_create(s, rq->body, rq->len, r);
	} else {
		files(ctx, rq, s, r);
	}
	sbx_put(ctx->reg, s);
}

void api_handle(struct api_ctx *ctx, const struct api_request *rq, struct reply *r,
                struct api_stream *stream)
{
	struct route route;
	const char *allow;
	memset(stream, 0, sizeof *stream);
	switch (route_match(rq->method, rq->path, &route, &allow)) {
	case ROUTE_NOT_FOUND:
		reply_error(r, 404, "not_found", "no such endpoint (see docs/api.md)");
		return;
	case ROUTE_BAD_METHOD:
		reply_error(r, 405, "method_not_allowed", "allowed: %s", allow);
		r->allow = allow;
		return;
	case ROUTE_FOUND:
		break;
	}
	if (rq->too_large) {
		reply_error(r, 413, "too_large", "request body over %zu bytes",
		            api_body_max(ctx, rq->method, rq->path));
		return;
	}
	switch (route.id) {
	case ROUTE_HEALTHZ:
		reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
		return;
	case ROUTE_METRICS: {
		char *text = metrics_render(ctx->metrics, registry_live(ctx->reg));
		if (text)
			reply_bytes(r, 200, "text/plain; version=0.0.4", text, strlen(text));
		else
			reply_error(r, 500, "internal", "out of memory");
		return;
	}
	case ROUTE_SANDBOXES:
		if (strcmp(rq->method, "POST") == 0)
			create(ctx, rq, r);
		else
			reply_json(r, 200, registry_list_json(ctx->reg));
		return;
	default:
		on_sandbox(ctx, rq, &route, r, stream);
	}
}
