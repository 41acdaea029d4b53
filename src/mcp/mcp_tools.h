/*
 * corral mcp's tools: their definitions (JSON Schema for input and output)
 * and the shape of their results (text for the model, structuredContent
 * for programs, PNG images for plots).
 */
#ifndef CORRAL_MCP_TOOLS_H
#define CORRAL_MCP_TOOLS_H

#include "corral.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

enum mcp_tool {
	TOOL_RUN_PYTHON,
	TOOL_RUN_SHELL,
	TOOL_RUN_JAVASCRIPT,
	TOOL_WRITE_FILE,
	TOOL_READ_FILE,
	TOOL_LIST_FILES,
	TOOL_RESET,
	TOOL_UNKNOWN,
};

/* The tools/list result. */
json_t *mcp_tools_list(uint64_t max_timeout_ms, uint64_t output_cap);
enum mcp_tool mcp_tool_lookup(const char *name);
bool mcp_tool_runs_code(enum mcp_tool tool);
/* The driver operation for a code tool ("python", "shell", "node"). */
const char *mcp_tool_driver_op(enum mcp_tool tool);

/* A failed call the model should see: {content:[text], isError:true}. */
json_t *mcp_tool_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A successful call with structured content (stolen) and its text. */
json_t *mcp_tool_result(json_t *structured, const char *text);

/* How a code call ended, from the server's point of view. */
struct mcp_exec_outcome {
	const char *status;       /* ok, error, timeout, cancelled, killed */
	bool session_reset;
	const char *note;         /* why the session ended or was reset, or NULL */
	uint64_t duration_ms;
	uint64_t output_cap;      /* the driver is held to it here too */
};
/* The result of a code call. `reply` is the driver's answer (borrowed, may
 * be NULL when the session died); its fields are checked, never trusted. */
json_t *mcp_exec_result(enum mcp_tool tool, json_t *reply, const struct mcp_exec_outcome *outcome);

/* write_file, read_file, list_files against a running sandbox's
 * /workspace (mcp_files.c). */
json_t *mcp_file_tool(corral_sandbox *sb, enum mcp_tool tool, json_t *args);

#endif
