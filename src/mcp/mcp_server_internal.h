/*
 * Shared by the MCP server (mcp_server.c) and its code calls (mcp_calls.c);
 * not part of the module's interface.
 */
#ifndef CORRAL_MCP_MCP_SERVER_INTERNAL_H
#define CORRAL_MCP_MCP_SERVER_INTERNAL_H

#include "mcp/mcp_server.h"

#include "mcp/jsonrpc.h"
#include "mcp/mcp_tools.h"
#include "mcp/session.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* ---- mcp_server.c ---- */

uint64_t mcp_now_ms(void);
/* Send and release message (NULL: out of memory, reported); a failed write
 * means the client is gone and ends the loop. */
void mcp_send_message(struct mcp_server *s, json_t *message);
void mcp_reply_result(struct mcp_server *s, json_t *id, json_t *result);
void mcp_reply_error(struct mcp_server *s, json_t *id, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* A line on stderr with --verbose. */
void mcp_log_event(const struct mcp_server *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- mcp_calls.c ---- */

void mcp_call_free(struct call *c);
/* Session callbacks: the driver answered the running call; the session
 * ended. */
void mcp_on_driver_reply(void *ctx, json_t *reply);
void mcp_on_session_end(struct mcp_server *s);
/* Run the next queued call if none is running. */
void mcp_start_next_call(struct mcp_server *s);
/* Deadlines, interrupt grace and progress of the running call. */
void mcp_check_timers(struct mcp_server *s);
/* ms until the next timer of the running call, -1 for none. */
int mcp_poll_timeout(const struct mcp_server *s);
/* notifications/cancelled for request_id. */
void mcp_cancel_request(struct mcp_server *s, json_t *request_id);
void mcp_handle_tools_call(struct mcp_server *s, json_t *id, json_t *params);

#endif
