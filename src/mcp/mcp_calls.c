/*
 * The code tools' calls: the queue, running one at a time in the session's
 * sandbox, time-outs, interrupts, progress and cancellation, and the
 * tools/call request that feeds them. Separate from mcp_server.c, which
 * speaks the protocol, because this is the state machine behind it.
 */
#include "mcp/mcp_server_internal.h"
#include "policy/policy.h"

#include "corral_config.h"
#include "mcp/jsonrpc.h"
#include "mcp/mcp_tools.h"
#include "mcp/session.h"
#include "util/error.h"

#include <errno.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#define CODE_MAX ((size_t)4 << 20)
#define QUEUE_MAX 64
#define INTERRUPT_GRACE_MS 2000
#define PROGRESS_INTERVAL_MS 1000

void mcp_call_free(struct call *c)
{
	if (!c)
		return;
	json_decref(c->id);
	json_decref(c->progress_token);
	free(c->code);
	free(c);
}

/* ---- code calls -------------------------------------------------------- */

static void finish_running(struct mcp_server *s, json_t *reply, bool session_ended, const char *why)
{
	struct call *c = s->running;
	s->running = NULL;
	s->grace_ms = 0;
	if (s->stopping == STOP_CANCEL) {
		/* A cancelled request gets no answer. */
		mcp_call_free(c);
		return;
	}
	const char *status = "error";
	const char *driver_status = json_string_value(json_object_get(reply, "status"));
	if (s->stopping == STOP_TIMEOUT)
		status = "timeout";
	else if (session_ended)
		status = s->session.result.status == CORRAL_STATUS_SETUP_ERROR ? "error" : "killed";
	else if (driver_status && strcmp(driver_status, "ok") == 0)
		status = "ok";
	else if (driver_status && strcmp(driver_status, "interrupted") == 0)
		status = "cancelled";

	char note[600] = "";
	if (why && s->note[0])
		snprintf(note, sizeof note, "%s; %s", s->note, why);
	else if (why || s->note[0])
		snprintf(note, sizeof note, "%s", why ? why : s->note);
	mcp_log_event(s, "%s: %s in %llu ms%s%s", mcp_tool_driver_op(c->tool), status,
	              (unsigned long long)(mcp_now_ms() - s->started_ms), note[0] ? ": " : "", note);
	struct mcp_exec_outcome outcome = {
		.status = status,
		.session_reset = session_ended || s->note[0],
		.note = note[0] ? note : NULL,
		.duration_ms = mcp_now_ms() - s->started_ms,
		.output_cap = s->opts->output_cap,
	};
	mcp_reply_result(s, c->id, mcp_exec_result(c->tool, reply, &outcome));
	mcp_call_free(c);
}

void mcp_on_driver_reply(void *ctx, json_t *reply)
{
	struct mcp_server *s = ctx;
	json_t *id = json_object_get(reply, "id");
	/* Answers to calls already given up on (or forged) are dropped. */
	if (s->running && json_is_integer(id) && (uint64_t)json_integer_value(id) == s->driver_id)
		finish_running(s, reply, false, NULL);
	json_decref(reply);
}

void mcp_on_session_end(struct mcp_server *s)
{
	char reason[256];
	session_end_reason(&s->session, reason, sizeof reason);
	mcp_log_event(s, "session ended: %s", reason);
	if (s->running) {
		const char *why = reason;
		char timed_out[256];
		if (s->stopping == STOP_TIMEOUT) {
			snprintf(timed_out, sizeof timed_out,
			         "the code did not stop within %d s of the interrupt, so the session was reset",
			         INTERRUPT_GRACE_MS / 1000);
			why = timed_out;
		}
		finish_running(s, NULL, true, why);
	} else if (s->session.result.status != CORRAL_STATUS_SETUP_ERROR) {
		snprintf(s->lost, sizeof s->lost, "%s", reason);
	}
	session_stop(&s->session);
}

static int ensure_session(struct mcp_server *s, corral_error *err)
{
	if (session_running(&s->session))
		return 0;
	if (!s->opts->python) {
		error_set(err, CORRAL_ERR_USAGE, 0, "sandboxes are disabled in this server");
		return -1;
	}
	if (session_start(&s->session, err) < 0) {
		mcp_log_event(s, "session could not start: %s", err->message);
		return -1;
	}
	mcp_log_event(s, "session started");
	return 0;
}

void mcp_start_next_call(struct mcp_server *s)
{
	struct call *c = s->queue;
	if (!c || s->running)
		return;
	s->queue = c->next;
	s->queued--;
	c->next = NULL;
	s->running = c;
	s->stopping = STOP_NONE;
	s->grace_ms = 0;
	s->started_ms = mcp_now_ms();
	s->deadline_ms = s->started_ms + c->timeout_ms;
	s->next_progress_ms = s->started_ms + PROGRESS_INTERVAL_MS;
	s->note[0] = '\0';
	if (s->lost[0]) {
		snprintf(s->note, sizeof s->note, "the previous session ended (%s); this call ran in a new one",
		         s->lost);
		s->lost[0] = '\0';
	}
	corral_error err = {0};
	if (ensure_session(s, &err) < 0) {
		s->running = NULL;
		mcp_reply_result(s, c->id, mcp_tool_error("could not start the sandbox: %s", err.message));
		mcp_call_free(c);
		return;
	}
	if (session_send(&s->session, mcp_tool_driver_op(c->tool), c->code, &s->driver_id) < 0) {
		s->running = NULL;
		mcp_reply_result(s, c->id, mcp_tool_error("could not reach the session: out of memory"));
		mcp_call_free(c);
	}
}

static void stop_running(struct mcp_server *s, enum stop_reason why)
{
	if (!s->running || s->stopping != STOP_NONE)
		return;
	s->stopping = why;
	session_interrupt(&s->session);
	s->grace_ms = mcp_now_ms() + INTERRUPT_GRACE_MS;
}

void mcp_check_timers(struct mcp_server *s)
{
	if (!s->running)
		return;
	uint64_t now = mcp_now_ms();
	if (s->stopping == STOP_NONE && now >= s->deadline_ms)
		stop_running(s, STOP_TIMEOUT);
	if (s->grace_ms && now >= s->grace_ms) {
		/* The code ignored the interrupt: the whole session goes. */
		s->grace_ms = 0;
		session_kill(&s->session);
	}
	if (s->running->progress_token && s->stopping == STOP_NONE && now >= s->next_progress_ms) {
		uint64_t elapsed = (now - s->started_ms) / 1000u;
		char message[64];
		snprintf(message, sizeof message, "running for %llu s", (unsigned long long)elapsed);
		mcp_send_message(s, jsonrpc_notification(
		                        "notifications/progress",
		                        json_pack("{s:O, s:I, s:s}", "progressToken",
		                                  s->running->progress_token, "progress",
		                                  (json_int_t)elapsed, "message", message)));
		s->next_progress_ms += PROGRESS_INTERVAL_MS;
	}
}

int mcp_poll_timeout(const struct mcp_server *s)
{
	if (!s->running)
		return -1;
	uint64_t now = mcp_now_ms();
	uint64_t next = s->stopping == STOP_NONE ? s->deadline_ms : UINT64_MAX;
	if (s->grace_ms && s->grace_ms < next)
		next = s->grace_ms;
	if (s->running->progress_token && s->stopping == STOP_NONE && s->next_progress_ms < next)
		next = s->next_progress_ms;
	if (next == UINT64_MAX)
		return -1;
	return next <= now ? 0 : (int)(next - now > 60000 ? 60000 : next - now);
}

/* ---- tools/call -------------------------------------------------------- */

static json_t *file_tool(struct mcp_server *s, enum mcp_tool tool, json_t *args)
{
	corral_error err = {0};
	if (ensure_session(s, &err) < 0)
		return mcp_tool_error("could not start the sandbox: %s", err.message);
	return mcp_file_tool(s->session.sb, tool, args);
}

void mcp_cancel_request(struct mcp_server *s, json_t *request_id)
{
	if (!request_id)
		return;
	if (s->running && json_equal(s->running->id, request_id)) {
		stop_running(s, STOP_CANCEL);
		return;
	}
	for (struct call **p = &s->queue; *p; p = &(*p)->next) {
		if (json_equal((*p)->id, request_id)) {
			struct call *c = *p;
			*p = c->next;
			s->queued--;
			mcp_call_free(c);
			return;
		}
	}
}

static void reset_session(struct mcp_server *s, json_t *id)
{
	if (s->running)
		finish_running(s, NULL, true, "the session was reset by a reset call");
	session_stop(&s->session);
	s->lost[0] = '\0';
	mcp_reply_result(s, id,
	                 mcp_tool_result(json_pack("{s:s}", "status", "ok"),
	                                 s->opts->shared_workspace
	                                         ? "The session was reset: Python state is gone; the shared workspace folder was kept."
	                                         : "The session was reset: Python state and /workspace are gone."));
}

/* Validate a code call's arguments; NULL with *error set on bad input. */
static struct call *code_call(struct mcp_server *s, enum mcp_tool tool, json_t *args, json_t **error)
{
	const char *field = tool == TOOL_RUN_SHELL ? "command" : "code";
	const char *key;
	json_t *value;
	json_object_foreach(args, key, value) {
		if (strcmp(key, field) != 0 && strcmp(key, "timeout") != 0) {
			*error = mcp_tool_error("unexpected argument '%s' (expected %s, timeout)", key, field);
			return NULL;
		}
	}
	json_t *code = json_object_get(args, field);
	if (!json_is_string(code)) {
		*error = mcp_tool_error("'%s' is required and must be a string", field);
		return NULL;
	}
	if (json_string_length(code) > CODE_MAX) {
		*error = mcp_tool_error("'%s' is too long (%zu bytes; the limit is %zu)", field,
		                        json_string_length(code), CODE_MAX);
		return NULL;
	}
	if (strlen(json_string_value(code)) != json_string_length(code)) {
		*error = mcp_tool_error("'%s' contains a NUL character", field);
		return NULL;
	}
	uint64_t timeout_ms = s->opts->call_timeout_ms;
	json_t *timeout = json_object_get(args, "timeout");
	if (timeout) {
		double max_s = (double)s->opts->call_timeout_ms / 1000.0;
		if (!json_is_number(timeout) || !(json_number_value(timeout) > 0) ||
		    json_number_value(timeout) > max_s) {
			*error = mcp_tool_error("'timeout' must be a number of seconds above 0 and at most %g",
			                        max_s);
			return NULL;
		}
		timeout_ms = (uint64_t)(json_number_value(timeout) * 1000.0);
		if (timeout_ms == 0)
			timeout_ms = 1;
	}
	if (s->queued >= QUEUE_MAX) {
		*error = mcp_tool_error("too many calls are waiting (%d); wait for some to finish", QUEUE_MAX);
		return NULL;
	}
	struct call *c = calloc(1, sizeof *c);
	if (!c || !(c->code = strdup(json_string_value(code)))) {
		free(c);
		*error = mcp_tool_error("out of memory");
		return NULL;
	}
	c->tool = tool;
	c->timeout_ms = timeout_ms;
	return c;
}

void mcp_handle_tools_call(struct mcp_server *s, json_t *id, json_t *params)
{
	json_t *name = json_object_get(params, "name");
	if (!json_is_string(name)) {
		mcp_reply_error(s, id, JSONRPC_INVALID_PARAMS, "tools/call: 'name' must be a string");
		return;
	}
	enum mcp_tool tool = mcp_tool_lookup(json_string_value(name));
	if (tool == TOOL_UNKNOWN) {
		mcp_reply_error(s, id, JSONRPC_INVALID_PARAMS, "unknown tool: %.100s", json_string_value(name));
		return;
	}
	json_t *args = json_object_get(params, "arguments");
	if (args && !json_is_object(args)) {
		mcp_reply_error(s, id, JSONRPC_INVALID_PARAMS, "tools/call: 'arguments' must be an object");
		return;
	}
	json_t *empty = NULL;
	if (!args)
		args = empty = json_object();

	if (mcp_tool_runs_code(tool)) {
		json_t *error = NULL;
		struct call *c = code_call(s, tool, args, &error);
		if (!c) {
			mcp_reply_result(s, id, error);
		} else {
			c->id = json_incref(id);
			json_t *token = json_object_get(json_object_get(params, "_meta"), "progressToken");
			if (json_is_string(token) || json_is_integer(token))
				c->progress_token = json_incref(token);
			struct call **tail = &s->queue;
			while (*tail)
				tail = &(*tail)->next;
			*tail = c;
			s->queued++;
			mcp_start_next_call(s);
		}
	} else if (tool == TOOL_RESET) {
		if (json_object_size(args) > 0)
			mcp_reply_result(s, id, mcp_tool_error("reset takes no arguments"));
		else
			reset_session(s, id);
	} else {
		mcp_reply_result(s, id, file_tool(s, tool, args));
	}
	json_decref(empty);
}
