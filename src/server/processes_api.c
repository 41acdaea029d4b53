#include "server/processes_api.h"

#include "server/proc_bodies.h"
#include "server/sbx_json.h"
#include "util/base64.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STREAM_BATCH (64 * 1024)

static const char *state_name(const struct bgproc *p)
{
	if (!p->ended)
		return "running";
	switch (p->st.state) {
	case CORRAL_PROCESS_EXITED:
		return "exited";
	case CORRAL_PROCESS_SIGNALED:
		return "signaled";
	default:
		return "lost";
	}
}

/* Under the table's lock. */
static json_t *exit_json(const struct bgproc *p)
{
	bool exited = p->ended && p->st.state == CORRAL_PROCESS_EXITED;
	bool signaled = p->ended && p->st.state == CORRAL_PROCESS_SIGNALED;
	return json_pack("{s:s, s:o, s:o, s:b}", "state", state_name(p), "exit_code",
	                 exited ? json_integer(p->st.exit_code) : json_null(), "signal",
	                 signaled ? json_integer(p->st.signal) : json_null(), "timed_out",
	                 p->timed_out);
}

/* Under the table's lock. */
static json_t *proc_json(const struct bgproc *p)
{
	json_t *o = exit_json(p);
	if (!o)
		return NULL;
	json_object_set_new(o, "pid", json_integer(p->pid));
	json_object_set(o, "argv", p->argv);
	json_object_set_new(o, "started", time_json(p->started_ms));
	json_object_set_new(o, "ended", p->ended ? time_json(p->ended_ms) : json_null());
	json_object_set_new(o, "stdin_open", json_boolean(p->in_fd >= 0 && !p->in_eof));
	json_object_set_new(o, "stdout_bytes", json_integer((json_int_t)p->bytes[0]));
	json_object_set_new(o, "stderr_bytes", json_integer((json_int_t)p->bytes[1]));
	json_object_set_new(o, "output_dropped_bytes", json_integer((json_int_t)p->dropped));
	return o;
}

static json_t *list_json(struct proc_table *t)
{
	json_t *arr = json_array();
	pthread_mutex_lock(&t->lock);
	for (struct bgproc *p = t->list; p && arr; p = p->next)
		json_array_append_new(arr, proc_json(p));
	pthread_mutex_unlock(&t->lock);
	return json_pack("{s:o}", "processes", arr);
}

struct out_stream {
	struct registry *reg;
	struct sbx *s;
	struct bgproc *p;
	bool follow, done;
	uint64_t pos;
	struct buf lines;
	size_t off;
};

static void add_line(struct out_stream *o, json_t *line)
{
	char *text = line ? json_dumps(line, JSON_COMPACT) : NULL;
	json_decref(line);
	if (text && buf_add(&o->lines, text, strlen(text)) == 0)
		buf_add(&o->lines, "\n", 1);
	free(text);
}

static json_t *chunk_json(const struct bgproc *p, const struct chunk *c)
{
	json_t *data;
	if (p->base64) {
		char *b = base64_encode(c->data, c->len);
		data = b ? json_string(b) : NULL;
		free(b);
	} else {
		data = json_stringn((const char *)c->data, c->len);
	}
	return json_pack("{s:s, s:o}", "stream", c->stream == 0 ? "stdout" : "stderr", "data",
	                 data ? data : json_string(""));
}

/* The next lines: output kept from pos on, or the end. Under the lock;
 * false when there is nothing yet (following a running process). */
static bool next_lines(struct out_stream *o)
{
	struct bgproc *p = o->p;
	if (p->head && p->head->pos > o->pos) {
		add_line(o, json_pack("{s:I}", "dropped", (json_int_t)(p->head->pos - o->pos)));
		o->pos = p->head->pos;
	}
	for (const struct chunk *c = p->head; c && o->lines.len < STREAM_BATCH; c = c->next) {
		if (c->pos < o->pos)
			continue;
		add_line(o, chunk_json(p, c));
		o->pos = c->pos + c->len;
	}
	if (o->lines.len > 0)
		return true;
	if (p->ended) {
		add_line(o, json_pack("{s:o}", "exit", exit_json(p)));
		o->done = true;
		return true;
	}
	if (!o->follow) {
		o->done = true;
		return true;
	}
	return false;
}

static size_t out_read(void *obj, char *buf, size_t max)
{
	struct out_stream *o = obj;
	if (o->off == o->lines.len) {
		o->lines.len = o->off = 0;
		if (o->done)
			return 0;
		struct proc_table *t = &o->s->procs;
		pthread_mutex_lock(&t->lock);
		while (!next_lines(o))
			pthread_cond_wait(&t->changed, &t->lock);
		pthread_mutex_unlock(&t->lock);
		if (o->lines.len == 0)
			return 0;
	}
	size_t n = o->lines.len - o->off;
	if (n > max)
		n = max;
	memcpy(buf, o->lines.data + o->off, n);
	o->off += n;
	return n;
}

static void out_free(void *obj)
{
	struct out_stream *o = obj;
	proc_put(&o->s->procs, o->p);
	sbx_put(o->reg, o->s);
	free(o->lines.data);
	free(o);
}

static void spawn(struct api_ctx *ctx, const struct api_request *rq, struct sbx *s,
                  struct reply *r)
{
	char message[REQUEST_MESSAGE_MAX];
	struct exec_params params;
	bool eof;
	const struct server_options *o = ctx->opts;
	if (parse_spawn_body(rq->body, rq->len, o->limits.max_ttl_ms, o->default_output,
	                     o->max_output, &params, &eof, message) < 0) {
		reply_error(r, 400, "bad_request", "%s", message);
		return;
	}
	unsigned status;
	const char *code;
	/* Twice what one command may keep of each stream. */
	int pid = proc_spawn(&s->procs, s->sb, &params, eof, 2 * o->max_output, &status, &code,
	                     message);
	if (pid < 0) {
		reply_error(r, status, code, "%s", message);
		return;
	}
	pthread_mutex_lock(&ctx->reg->lock);
	s->execs++;
	pthread_mutex_unlock(&ctx->reg->lock);
	struct bgproc *p = proc_get(&s->procs, pid);
	if (!p) { /* ended and pruned at once: unlikely, still an answer */
		reply_json(r, 201, json_pack("{s:i}", "pid", pid));
		return;
	}
	pthread_mutex_lock(&s->procs.lock);
	reply_json(r, 201, proc_json(p));
	pthread_mutex_unlock(&s->procs.lock);
	proc_put(&s->procs, p);
}

/* Takes the process's reference over (kept by a stream). */
static void on_process(struct api_ctx *ctx, const struct api_request *rq,
                       const struct route *route, struct sbx *s, struct bgproc *p,
                       struct reply *r, struct api_stream *stream)
{
	char message[REQUEST_MESSAGE_MAX];
	const char *code = "internal";
	unsigned status = 0;
	struct proc_table *t = &s->procs;
	int sig;
	switch (route->id) {
	case ROUTE_PROCESS:
		pthread_mutex_lock(&t->lock);
		reply_json(r, 200, proc_json(p));
		pthread_mutex_unlock(&t->lock);
		break;
	case ROUTE_PROCESS_STDIN:
		status = proc_write_stdin(t, p, rq->body, rq->len, api_flag(rq->arg_eof), &code,
		                          message);
		if (!status)
			reply_json(r, 200, json_pack("{s:I, s:b}", "written", (json_int_t)rq->len,
			                             "stdin_open", !api_flag(rq->arg_eof)));
		break;
	case ROUTE_PROCESS_SIGNAL:
		if (parse_signal_body(rq->body, rq->len, &sig, message) < 0) {
			status = 400;
			code = "bad_request";
		} else if (!(status = proc_signal(t, p, sig, &code, message))) {
			reply_json(r, 200, json_pack("{s:i, s:i}", "pid", p->pid, "signal", sig));
		}
		break;
	default: { /* ROUTE_PROCESS_OUTPUT */
		struct out_stream *o = calloc(1, sizeof *o);
		if (!o) {
			status = 500;
			snprintf(message, REQUEST_MESSAGE_MAX, "out of memory");
			break;
		}
		*o = (struct out_stream){.reg = ctx->reg, .s = s, .p = p,
		                         .follow = !(rq->arg_follow && !api_flag(rq->arg_follow))};
		*stream = (struct api_stream){.read = out_read, .free = out_free, .obj = o};
		return;
	}
	}
	if (status)
		reply_error(r, status, code, "%s", message);
	proc_put(t, p);
	sbx_put(ctx->reg, s);
}

void processes_route(struct api_ctx *ctx, const struct api_request *rq,
                     const struct route *route, struct sbx *s, struct reply *r,
                     struct api_stream *stream)
{
	if (route->id == ROUTE_PROCESSES) {
		if (strcmp(rq->method, "POST") == 0)
			spawn(ctx, rq, s, r);
		else
			reply_json(r, 200, list_json(&s->procs));
		sbx_put(ctx->reg, s);
		return;
	}
	struct bgproc *p = proc_get(&s->procs, route->pid);
	if (!p) {
		reply_error(r, 404, "process_not_found", "no process %d in sandbox %s", route->pid,
		            s->id);
		sbx_put(ctx->reg, s);
		return;
	}
	on_process(ctx, rq, route, s, p, r, stream);
}
