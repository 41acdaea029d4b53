#include "mcp/mcp_server.h"
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

#define MESSAGE_MAX ((size_t)16 << 20)
#define CODE_MAX ((size_t)4 << 20)
#define QUEUE_MAX 64
#define INTERRUPT_GRACE_MS 2000
#define PROGRESS_INTERVAL_MS 1000

/* Newest first: what an unknown version is answered with. */
static const char *const protocol_versions[] = {"2025-11-25", "2025-06-18", "2025-03-26",
                                                "2024-11-05"};

struct call {
	json_t *id;
	enum mcp_tool tool;
	char *code;
	uint64_t timeout_ms;
	json_t *progress_token;
	struct call *next;
};

enum stop_reason { STOP_NONE, STOP_TIMEOUT, STOP_CANCEL };

struct mcp_server {
	const struct mcp_options *opts;
	int in_fd;
	int out_fd;
	struct line_reader in;
	bool initialized;
	bool quit;
	struct session session;
	struct session_config session_cfg;
	struct call *queue;
	size_t queued;
	struct call *running;
	uint64_t driver_id;
	uint64_t started_ms;
	uint64_t deadline_ms;
	uint64_t grace_ms;          /* 0: no interrupt pending */
	uint64_t next_progress_ms;
	enum stop_reason stopping;
	char note[320];             /* the running call's session note, or "" */
	char lost[256];             /* why the session ended between calls, or "" */
	json_t *tools;
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void send_message(struct mcp_server *s, json_t *message)
{
	if (!message) {
		fprintf(stderr, "corral mcp: out of memory building a message\n");
		return;
	}
	if (jsonrpc_send(s->out_fd, message) < 0)
		s->quit = true; /* the client is gone */
	json_decref(message);
}

static void reply_result(struct mcp_server *s, json_t *id, json_t *result)
{
	if (!result) {
		send_message(s, jsonrpc_error(id, JSONRPC_INTERNAL_ERROR, "out of memory"));
		return;
	}
	send_message(s, jsonrpc_result(id, result));
}

static void reply_error(struct mcp_server *s, json_t *id, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void reply_error(struct mcp_server *s, json_t *id, int code, const char *fmt, ...)
{
	char text[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	send_message(s, jsonrpc_error(id, code, text));
}

static void log_event(const struct mcp_server *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void log_event(const struct mcp_server *s, const char *fmt, ...)
{
	if (!s->opts->verbose)
		return;
	va_list ap;
	va_start(ap, fmt);
	fputs("corral mcp: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void call_free(struct call *c)
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
		call_free(c);
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
	log_event(s, "%s: %s in %llu ms%s%s", mcp_tool_driver_op(c->tool), status,
	          (unsigned long long)(now_ms() - s->started_ms), note[0] ? ": " : "", note);
	struct mcp_exec_outcome outcome = {
		.status = status,
		.session_reset = session_ended || s->note[0],
		.note = note[0] ? note : NULL,
		.duration_ms = now_ms() - s->started_ms,
		.output_cap = s->opts->output_cap,
	};
	reply_result(s, c->id, mcp_exec_result(c->tool, reply, &outcome));
	call_free(c);
}

static void on_driver_reply(void *ctx, json_t *reply)
{
	struct mcp_server *s = ctx;
	json_t *id = json_object_get(reply, "id");
	/* Answers to calls already given up on (or forged) are dropped. */
	if (s->running && json_is_integer(id) && (uint64_t)json_integer_value(id) == s->driver_id)
		finish_running(s, reply, false, NULL);
	json_decref(reply);
}

static void on_session_end(struct mcp_server *s)
{
	char reason[256];
	session_end_reason(&s->session, reason, sizeof reason);
	log_event(s, "session ended: %s", reason);
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
		log_event(s, "session could not start: %s", err->message);
		return -1;
	}
	log_event(s, "session started");
	return 0;
}

static void start_next_call(struct mcp_server *s)
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
	s->started_ms = now_ms();
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
		reply_result(s, c->id, mcp_tool_error("could not start the sandbox: %s", err.message));
		call_free(c);
		return;
	}
	if (session_send(&s->session, mcp_tool_driver_op(c->tool), c->code, &s->driver_id) < 0) {
		s->running = NULL;
		reply_result(s, c->id, mcp_tool_error("could not reach the session: out of memory"));
		call_free(c);
	}
}

static void stop_running(struct mcp_server *s, enum stop_reason why)
{
	if (!s->running || s->stopping != STOP_NONE)
		return;
	s->stopping = why;
	session_interrupt(&s->session);
	s->grace_ms = now_ms() + INTERRUPT_GRACE_MS;
}

static void check_timers(struct mcp_server *s)
{
	if (!s->running)
		return;
	uint64_t now = now_ms();
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
		send_message(s, jsonrpc_notification(
		                        "notifications/progress",
		                        json_pack("{s:O, s:I, s:s}", "progressToken",
		                                  s->running->progress_token, "progress",
		                                  (json_int_t)elapsed, "message", message)));
		s->next_progress_ms += PROGRESS_INTERVAL_MS;
	}
}

static int poll_timeout(const struct mcp_server *s)
{
	if (!s->running)
		return -1;
	uint64_t now = now_ms();
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

static void cancel_request(struct mcp_server *s, json_t *request_id)
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
			call_free(c);
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
	reply_result(s, id,
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

static void handle_tools_call(struct mcp_server *s, json_t *id, json_t *params)
{
	json_t *name = json_object_get(params, "name");
	if (!json_is_string(name)) {
		reply_error(s, id, JSONRPC_INVALID_PARAMS, "tools/call: 'name' must be a string");
		return;
	}
	enum mcp_tool tool = mcp_tool_lookup(json_string_value(name));
	if (tool == TOOL_UNKNOWN) {
		reply_error(s, id, JSONRPC_INVALID_PARAMS, "unknown tool: %.100s", json_string_value(name));
		return;
	}
	json_t *args = json_object_get(params, "arguments");
	if (args && !json_is_object(args)) {
		reply_error(s, id, JSONRPC_INVALID_PARAMS, "tools/call: 'arguments' must be an object");
		return;
	}
	json_t *empty = NULL;
	if (!args)
		args = empty = json_object();

	if (mcp_tool_runs_code(tool)) {
		json_t *error = NULL;
		struct call *c = code_call(s, tool, args, &error);
		if (!c) {
			reply_result(s, id, error);
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
			start_next_call(s);
		}
	} else if (tool == TOOL_RESET) {
		if (json_object_size(args) > 0)
			reply_result(s, id, mcp_tool_error("reset takes no arguments"));
		else
			reset_session(s, id);
	} else {
		reply_result(s, id, file_tool(s, tool, args));
	}
	json_decref(empty);
}

/* ---- the protocol ------------------------------------------------------ */

static void handle_initialize(struct mcp_server *s, json_t *id, json_t *params)
{
	json_t *version = json_object_get(params, "protocolVersion");
	if (!json_is_string(version)) {
		reply_error(s, id, JSONRPC_INVALID_PARAMS, "initialize: 'protocolVersion' must be a string");
		return;
	}
	const char *chosen = protocol_versions[0];
	for (size_t i = 0; i < sizeof protocol_versions / sizeof protocol_versions[0]; i++)
		if (strcmp(json_string_value(version), protocol_versions[i]) == 0)
			chosen = protocol_versions[i];
	char instructions[768];
	/* What the agent can expect of the network: none, or only what the
	 * policy allows, with secrets as placeholders the proxy fills in. */
	bool net = s->opts->policy && policy_net_enabled(s->opts->policy);
	bool secrets = net && s->opts->policy->n_secrets > 0;
	snprintf(instructions, sizeof instructions,
	         "Code runs in an isolated Linux sandbox %s run_python keeps its state between "
	         "calls; run_shell and run_javascript share its files. The working directory is "
	         "/workspace. Each call is limited to %.3g s and %llu bytes of output.",
	         !net       ? "with no network access."
	         : secrets  ? "whose network reaches only the hosts its policy allows (others get "
	                      "HTTP 403 with the reason). API keys in its environment are "
	                      "placeholders that corral's proxy replaces on requests to their own "
	                      "hosts: use them as if they were the keys."
	                    : "whose network reaches only the hosts its policy allows (others get "
	                      "HTTP 403 with the reason).",
	         (double)s->opts->call_timeout_ms / 1000.0, (unsigned long long)s->opts->output_cap);
	s->initialized = true;
	reply_result(s, id,
	             json_pack("{s:s, s:{s:{s:b}}, s:{s:s, s:s, s:s}, s:s}", "protocolVersion", chosen,
	                       "capabilities", "tools", "listChanged", 0, "serverInfo", "name",
	                       "corral", "title", "corral sandbox", "version", CORRAL_VERSION,
	                       "instructions", instructions));
}

static void handle_notification(struct mcp_server *s, const char *method, json_t *params)
{
	if (strcmp(method, "notifications/cancelled") == 0)
		cancel_request(s, json_object_get(params, "requestId"));
	/* notifications/initialized and any other notification: nothing to do. */
}

static void handle_request(struct mcp_server *s, json_t *id, const char *method, json_t *params)
{
	if (strcmp(method, "ping") == 0) {
		reply_result(s, id, json_object());
	} else if (strcmp(method, "initialize") == 0) {
		if (s->initialized)
			reply_error(s, id, JSONRPC_INVALID_REQUEST, "already initialized");
		else
			handle_initialize(s, id, params);
	} else if (!s->initialized) {
		reply_error(s, id, JSONRPC_INVALID_REQUEST, "not initialized: send initialize first");
	} else if (strcmp(method, "tools/list") == 0) {
		reply_result(s, id, json_pack("{s:O}", "tools", s->tools));
	} else if (strcmp(method, "tools/call") == 0) {
		handle_tools_call(s, id, params);
	} else {
		reply_error(s, id, JSONRPC_METHOD_NOT_FOUND, "method not found: %.100s", method);
	}
}

static void handle_message(struct mcp_server *s, const char *line, size_t len)
{
	json_error_t jerr;
	json_t *msg = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!msg) {
		reply_error(s, NULL, JSONRPC_PARSE_ERROR, "parse error: %s", jerr.text);
		return;
	}
	json_t *id = json_object_get(msg, "id");
	json_t *method = json_object_get(msg, "method");
	json_t *params = json_object_get(msg, "params");
	bool id_ok = json_is_string(id) || json_is_integer(id);
	if (json_is_array(msg)) {
		reply_error(s, NULL, JSONRPC_INVALID_REQUEST, "batches are not supported");
	} else if (!json_is_object(msg)) {
		reply_error(s, NULL, JSONRPC_INVALID_REQUEST, "a message must be a JSON object");
	} else if (!method && (json_object_get(msg, "result") || json_object_get(msg, "error"))) {
		/* A response: this server sends no requests, so nothing waits for it. */
	} else if (!json_is_string(method) ||
	           !json_is_string(json_object_get(msg, "jsonrpc")) ||
	           strcmp(json_string_value(json_object_get(msg, "jsonrpc")), "2.0") != 0 ||
	           (id && !id_ok)) {
		reply_error(s, id_ok ? id : NULL, JSONRPC_INVALID_REQUEST,
		            "invalid request: expected jsonrpc \"2.0\", a string method and a string or integer id");
	} else if (params && !json_is_object(params)) {
		if (id)
			reply_error(s, id, JSONRPC_INVALID_PARAMS, "params must be an object");
	} else if (!id) {
		handle_notification(s, json_string_value(method), params);
	} else {
		handle_request(s, id, json_string_value(method), params);
	}
	json_decref(msg);
}

static void read_client(struct mcp_server *s)
{
	long got = line_reader_fill(&s->in, s->in_fd);
	if (got < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	char *line;
	size_t len;
	enum line_status st;
	while (!s->quit && (st = line_reader_next(&s->in, &line, &len)) != LINE_NONE) {
		if (st == LINE_TOO_LONG) {
			reply_error(s, NULL, JSONRPC_INVALID_REQUEST, "message too large (the limit is %zu bytes)",
			            MESSAGE_MAX);
			continue;
		}
		size_t start = 0;
		while (start < len && (line[start] == ' ' || line[start] == '\t' || line[start] == '\r'))
			start++;
		if (start < len)
			handle_message(s, line + start, len - start);
	}
	/* End of input: the client is done (or gone). */
	if (got <= 0)
		s->quit = true;
}

static int block_signals(void)
{
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return -1;
	signal(SIGPIPE, SIG_IGN);
	return signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
}

struct mcp_server *mcp_server_new(const struct mcp_options *opts, int out_fd)
{
	struct mcp_server *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->opts = opts;
	s->in_fd = -1;
	s->out_fd = out_fd;
	s->session_cfg = (struct session_config){
		.policy = opts->policy,
		.python = opts->python,
		.output_cap = opts->output_cap,
		.memory_limit = opts->memory_limit,
		.cpu_time_limit_ms = opts->cpu_time_limit_ms,
	};
	line_reader_init(&s->in, MESSAGE_MAX);
	session_init(&s->session, &s->session_cfg);
	s->tools = mcp_tools_list(opts->call_timeout_ms, opts->output_cap);
	if (!s->tools) {
		mcp_server_free(s);
		return NULL;
	}
	return s;
}

void mcp_server_handle_message(struct mcp_server *s, const char *line, size_t len)
{
	handle_message(s, line, len);
}

void mcp_server_free(struct mcp_server *s)
{
	if (!s)
		return;
	call_free(s->running);
	while (s->queue) {
		struct call *c = s->queue;
		s->queue = c->next;
		call_free(c);
	}
	session_stop(&s->session);
	line_reader_free(&s->in);
	json_decref(s->tools);
	free(s);
}

int mcp_server_run(const struct mcp_options *opts, int in_fd, int out_fd)
{
	return mcp_server_serve(opts, in_fd, out_fd, true);
}

int mcp_server_serve(const struct mcp_options *opts, int in_fd, int out_fd, bool own_signals)
{
	int sigfd = own_signals ? block_signals() : eventfd(0, EFD_CLOEXEC);
	if (sigfd < 0) {
		perror("corral mcp: signalfd");
		return CORRAL_EXIT_FAILURE;
	}
	struct mcp_server *s = mcp_server_new(opts, out_fd);
	if (!s) {
		fprintf(stderr, "corral mcp: cannot start: out of memory\n");
		close(sigfd);
		return CORRAL_EXIT_FAILURE;
	}
	s->in_fd = in_fd;

	while (!s->quit) {
		start_next_call(s);
		struct pollfd fds[8];
		struct session_pollfds at;
		fds[0] = (struct pollfd){.fd = in_fd, .events = POLLIN};
		fds[1] = (struct pollfd){.fd = sigfd, .events = POLLIN};
		int n = 2 + session_pollfds(&s->session, fds + 2, &at);
		int ready = poll(fds, (nfds_t)n, poll_timeout(s));
		if (ready < 0 && errno != EINTR) {
			perror("corral mcp: poll");
			break;
		}
		if (ready > 0 && fds[1].revents)
			break; /* SIGTERM, SIGINT, SIGHUP: clean up and leave */
		if (ready > 0 && session_dispatch(&s->session, fds + 2, &at, on_driver_reply, s))
			on_session_end(s);
		if (ready > 0 && fds[0].revents)
			read_client(s);
		check_timers(s);
	}
	mcp_server_free(s);
	close(sigfd);
	return 0;
}
