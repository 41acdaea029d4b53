/*
 * The MCP server over one pair of descriptors: JSON-RPC messages in and
 * out, initialize, the request dispatch and the poll loop. The code calls
 * behind tools/call are in mcp_calls.c.
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

#define MESSAGE_MAX ((size_t)16 << 20)

/* Newest first: what an unknown version is answered with. */
static const char *const protocol_versions[] = {"2025-11-25", "2025-06-18", "2025-03-26",
                                                "2024-11-05"};

uint64_t mcp_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void mcp_send_message(struct mcp_server *s, json_t *message)
{
	if (!message) {
		fprintf(stderr, "corral mcp: out of memory building a message\n");
		return;
	}
	if (jsonrpc_send(s->out_fd, message) < 0)
		s->quit = true; /* the client is gone */
	json_decref(message);
}

void mcp_reply_result(struct mcp_server *s, json_t *id, json_t *result)
{
	if (!result) {
		mcp_send_message(s, jsonrpc_error(id, JSONRPC_INTERNAL_ERROR, "out of memory"));
		return;
	}
	mcp_send_message(s, jsonrpc_result(id, result));
}

void mcp_reply_error(struct mcp_server *s, json_t *id, int code, const char *fmt, ...)
{
	char text[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	mcp_send_message(s, jsonrpc_error(id, code, text));
}

void mcp_log_event(const struct mcp_server *s, const char *fmt, ...)
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

/* ---- the protocol ------------------------------------------------------ */

static void handle_initialize(struct mcp_server *s, json_t *id, json_t *params)
{
	json_t *version = json_object_get(params, "protocolVersion");
	if (!json_is_string(version)) {
		mcp_reply_error(s, id, JSONRPC_INVALID_PARAMS, "initialize: 'protocolVersion' must be a string");
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
	mcp_reply_result(s, id,
	                 json_pack("{s:s, s:{s:{s:b}}, s:{s:s, s:s, s:s}, s:s}", "protocolVersion", chosen,
	                           "capabilities", "tools", "listChanged", 0, "serverInfo", "name",
	                           "corral", "title", "corral sandbox", "version", CORRAL_VERSION,
	                           "instructions", instructions));
}

static void handle_notification(struct mcp_server *s, const char *method, json_t *params)
{
	if (strcmp(method, "notifications/cancelled") == 0)
		mcp_cancel_request(s, json_object_get(params, "requestId"));
	/* notifications/initialized and any other notification: nothing to do. */
}

static void handle_request(struct mcp_server *s, json_t *id, const char *method, json_t *params)
{
	if (strcmp(method, "ping") == 0) {
		mcp_reply_result(s, id, json_object());
	} else if (strcmp(method, "initialize") == 0) {
		if (s->initialized)
			mcp_reply_error(s, id, JSONRPC_INVALID_REQUEST, "already initialized");
		else
			handle_initialize(s, id, params);
	} else if (!s->initialized) {
		mcp_reply_error(s, id, JSONRPC_INVALID_REQUEST, "not initialized: send initialize first");
	} else if (strcmp(method, "tools/list") == 0) {
		mcp_reply_result(s, id, json_pack("{s:O}", "tools", s->tools));
	} else if (strcmp(method, "tools/call") == 0) {
		mcp_handle_tools_call(s, id, params);
	} else {
		mcp_reply_error(s, id, JSONRPC_METHOD_NOT_FOUND, "method not found: %.100s", method);
	}
}

static void handle_message(struct mcp_server *s, const char *line, size_t len)
{
	json_error_t jerr;
	json_t *msg = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!msg) {
		mcp_reply_error(s, NULL, JSONRPC_PARSE_ERROR, "parse error: %s", jerr.text);
		return;
	}
	json_t *id = json_object_get(msg, "id");
	json_t *method = json_object_get(msg, "method");
	json_t *params = json_object_get(msg, "params");
	bool id_ok = json_is_string(id) || json_is_integer(id);
	if (json_is_array(msg)) {
		mcp_reply_error(s, NULL, JSONRPC_INVALID_REQUEST, "batches are not supported");
	} else if (!json_is_object(msg)) {
		mcp_reply_error(s, NULL, JSONRPC_INVALID_REQUEST, "a message must be a JSON object");
	} else if (!method && (json_object_get(msg, "result") || json_object_get(msg, "error"))) {
		/* A response: this server sends no requests, so nothing waits for it. */
	} else if (!json_is_string(method) ||
	           !json_is_string(json_object_get(msg, "jsonrpc")) ||
	           strcmp(json_string_value(json_object_get(msg, "jsonrpc")), "2.0") != 0 ||
	           (id && !id_ok)) {
		mcp_reply_error(s, id_ok ? id : NULL, JSONRPC_INVALID_REQUEST,
		                "invalid request: expected jsonrpc \"2.0\", a string method and a string or integer id");
	} else if (params && !json_is_object(params)) {
		if (id)
			mcp_reply_error(s, id, JSONRPC_INVALID_PARAMS, "params must be an object");
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
			mcp_reply_error(s, NULL, JSONRPC_INVALID_REQUEST, "message too large (the limit is %zu bytes)",
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
	mcp_call_free(s->running);
	while (s->queue) {
		struct call *c = s->queue;
		s->queue = c->next;
		mcp_call_free(c);
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
		mcp_start_next_call(s);
		struct pollfd fds[8];
		struct session_pollfds at;
		fds[0] = (struct pollfd){.fd = in_fd, .events = POLLIN};
		fds[1] = (struct pollfd){.fd = sigfd, .events = POLLIN};
		int n = 2 + session_pollfds(&s->session, fds + 2, &at);
		int ready = poll(fds, (nfds_t)n, mcp_poll_timeout(s));
		if (ready < 0 && errno != EINTR) {
			perror("corral mcp: poll");
			break;
		}
		if (ready > 0 && fds[1].revents)
			break; /* SIGTERM, SIGINT, SIGHUP: clean up and leave */
		if (ready > 0 && session_dispatch(&s->session, fds + 2, &at, mcp_on_driver_reply, s))
			mcp_on_session_end(s);
		if (ready > 0 && fds[0].revents)
			read_client(s);
		mcp_check_timers(s);
	}
	mcp_server_free(s);
	close(sigfd);
	return 0;
}
