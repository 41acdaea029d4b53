/*
 * corral mcp: a Model Context Protocol server over stdio (JSON-RPC 2.0,
 * newline-delimited) that gives an agent one sandboxed session with a
 * persistent Python namespace, a shell, Node.js and file tools.
 *
 * Single-threaded event loop over the client's stdin, the session driver's
 * pipes and timers; code calls run one at a time in arrival order, while
 * ping, tools/list, file tools and cancellation are answered at once.
 */
#ifndef CORRAL_MCP_SERVER_H
#define CORRAL_MCP_SERVER_H

#include "corral.h"

#include <stdbool.h>
#include <stdint.h>

struct mcp_options {
	const corral_policy *policy;  /* the session's sandbox */
	const char *python;
	uint64_t call_timeout_ms;     /* default and maximum per call */
	uint64_t output_cap;          /* per call */
	uint64_t memory_limit;        /* for messages */
	uint64_t cpu_time_limit_ms;
	bool shared_workspace;        /* --workspace: a host folder, kept on reset */
	bool verbose;                 /* -v: one line on stderr per session event and call */
};

/* One server, for driving it message by message (tests, fuzzing). With
 * opts->python NULL no sandbox is ever started: code and file tools answer
 * with a tool error. */
struct mcp_server;
struct mcp_server *mcp_server_new(const struct mcp_options *opts, int out_fd);
/* Handle one message: a line without its newline. Replies go to out_fd. */
void mcp_server_handle_message(struct mcp_server *server, const char *line, size_t len);
void mcp_server_free(struct mcp_server *server);

/* Serve until the client closes in_fd or a termination signal arrives.
 * Returns the process exit code. */
int mcp_server_run(const struct mcp_options *opts, int in_fd, int out_fd);
/* The same loop without taking the process's signals (for a thread of
 * the HTTP transport, which handles them itself). */
int mcp_server_serve(const struct mcp_options *opts, int in_fd, int out_fd, bool own_signals);

#endif
