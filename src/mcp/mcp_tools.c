#include "mcp/mcp_tools.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXEC_OUTPUT_PROPERTIES \
	"\"status\": {\"type\": \"string\", \"enum\": [\"ok\", \"error\", \"timeout\", \"cancelled\", \"killed\"]," \
	"  \"description\": \"ok; error (exception or nonzero exit); timeout; cancelled; killed (a session limit stopped it)\"}," \
	"\"stdout\": {\"type\": \"string\"}," \
	"\"stderr\": {\"type\": \"string\"}," \
	"\"truncated\": {\"type\": \"boolean\", \"description\": \"output was longer than the per-call cap\"}," \
	"\"session_reset\": {\"type\": \"boolean\", \"description\": \"the session was lost before or during this call: variables and private files are gone\"}," \
	"\"duration_ms\": {\"type\": \"integer\"}"

#define TIMEOUT_PROPERTY \
	"\"timeout\": {\"type\": \"number\", \"exclusiveMinimum\": 0, \"description\": \"seconds; default and maximum: the server's limit\"}"

static const char tools_json[] =
	"["
	"{\"name\": \"run_python\", \"title\": \"Run Python\","
	" \"description\": \"Run Python code in a persistent session inside a Linux sandbox (no network): variables, imports and files survive between calls, like a notebook. The value of a final expression is returned as `result`. Open matplotlib figures and PNG files written to ./outputs/ come back as images. The working directory is /workspace.\","
	" \"inputSchema\": {\"type\": \"object\", \"properties\": {"
	"   \"code\": {\"type\": \"string\", \"description\": \"Python source to run\"}, " TIMEOUT_PROPERTY "},"
	"   \"required\": [\"code\"], \"additionalProperties\": false},"
	" \"outputSchema\": {\"type\": \"object\", \"properties\": {" EXEC_OUTPUT_PROPERTIES ","
	"   \"result\": {\"type\": [\"string\", \"null\"]},"
	"   \"error\": {\"type\": [\"object\", \"null\"], \"properties\": {\"type\": {\"type\": \"string\"}, \"message\": {\"type\": \"string\"}, \"traceback\": {\"type\": \"string\"}}}},"
	"   \"required\": [\"status\", \"stdout\", \"stderr\", \"result\", \"error\", \"truncated\", \"session_reset\", \"duration_ms\"]},"
	" \"annotations\": {\"readOnlyHint\": false, \"destructiveHint\": false, \"openWorldHint\": false}},"
	"{\"name\": \"run_shell\", \"title\": \"Run a shell command\","
	" \"description\": \"Run a command with /bin/sh -c in the same sandbox and session as run_python (same files, same /workspace working directory).\","
	" \"inputSchema\": {\"type\": \"object\", \"properties\": {"
	"   \"command\": {\"type\": \"string\"}, " TIMEOUT_PROPERTY "},"
	"   \"required\": [\"command\"], \"additionalProperties\": false},"
	" \"outputSchema\": {\"type\": \"object\", \"properties\": {" EXEC_OUTPUT_PROPERTIES ","
	"   \"exit_code\": {\"type\": [\"integer\", \"null\"], \"description\": \"128+N when killed by signal N\"}},"
	"   \"required\": [\"status\", \"exit_code\", \"stdout\", \"stderr\", \"truncated\", \"session_reset\", \"duration_ms\"]},"
	" \"annotations\": {\"readOnlyHint\": false, \"destructiveHint\": false, \"openWorldHint\": false}},"
	"{\"name\": \"run_javascript\", \"title\": \"Run JavaScript\","
	" \"description\": \"Run JavaScript with Node.js (one process per call) in the same sandbox, working directory /workspace.\","
	" \"inputSchema\": {\"type\": \"object\", \"properties\": {"
	"   \"code\": {\"type\": \"string\"}, " TIMEOUT_PROPERTY "},"
	"   \"required\": [\"code\"], \"additionalProperties\": false},"
	" \"outputSchema\": {\"type\": \"object\", \"properties\": {" EXEC_OUTPUT_PROPERTIES ","
	"   \"exit_code\": {\"type\": [\"integer\", \"null\"]}},"
	"   \"required\": [\"status\", \"exit_code\", \"stdout\", \"stderr\", \"truncated\", \"session_reset\", \"duration_ms\"]},"
	" \"annotations\": {\"readOnlyHint\": false, \"destructiveHint\": false, \"openWorldHint\": false}},"
	"{\"name\": \"write_file\", \"title\": \"Write a file\","
	" \"description\": \"Create or replace a file in the sandbox's /workspace (parent directories are created). Paths are relative to /workspace or absolute inside it.\","
	" \"inputSchema\": {\"type\": \"object\", \"properties\": {"
	"   \"path\": {\"type\": \"string\"}, \"content\": {\"type\": \"string\"},"
	"   \"encoding\": {\"type\": \"string\", \"enum\": [\"utf-8\", \"base64\"], \"default\": \"utf-8\"}},"
	"   \"required\": [\"path\", \"content\"], \"additionalProperties\": false},"
	" \"outputSchema\": {\"type\": \"object\", \"properties\": {\"path\": {\"type\": \"string\"}, \"bytes\": {\"type\": \"integer\"}},"
	"   \"required\": [\"path\", \"bytes\"]},"
	" \"annotations\": {\"readOnlyHint\": false, \"destructiveHint\": true, \"idempotentHint\": true, \"openWorldHint\": false}},"
	"{\"name\": \"read_file\", \"title\": \"Read a file\","
	" \"description\": \"Read a file from the sandbox's /workspace, as UTF-8 text or base64.\","
	" \"inputSchema\": {\"type\": \"object\", \"properties\": {"
	"   \"path\": {\"type\": \"string\"},"
	"   \"encoding\": {\"type\": \"string\", \"enum\": [\"utf-8\", \"base64\"], \"default\": \"utf-8\"}},"
	"   \"required\": [\"path\"], \"additionalProperties\": false},"
	" \"outputSchema\": {\"type\": \"object\", \"properties\": {\"path\": {\"type\": \"string\"}, \"content\": {\"type\": \"string\"},"
	"   \"encoding\": {\"type\": \"string\"}, \"bytes\": {\"type\": \"integer\"}},"
	"   \"required\": [\"path\", \"content\", \"encoding\", \"bytes\"]},"
	" \"annotations\": {\"readOnlyHint\": true, \"openWorldHint\": false}},"
	"{\"name\": \"list_files\", \"title\": \"List files\","
	" \"description\": \"List a directory of the sandbox's /workspace.\","
	" \"inputSchema\": {\"type\": \"object\", \"properties\": {\"path\": {\"type\": \"string\", \"default\": \".\"}},"
	"   \"additionalProperties\": false},"
	" \"outputSchema\": {\"type\": \"object\", \"properties\": {\"path\": {\"type\": \"string\"},"
	"   \"entries\": {\"type\": \"array\", \"items\": {\"type\": \"object\", \"properties\": {"
	"     \"name\": {\"type\": \"string\"}, \"type\": {\"type\": \"string\", \"enum\": [\"file\", \"directory\", \"symlink\", \"other\"]},"
	"     \"size\": {\"type\": \"integer\"}}, \"required\": [\"name\", \"type\", \"size\"]}},"
	"   \"truncated\": {\"type\": \"boolean\"}},"
	"   \"required\": [\"path\", \"entries\", \"truncated\"]},"
	" \"annotations\": {\"readOnlyHint\": true, \"openWorldHint\": false}},"
	"{\"name\": \"reset\", \"title\": \"Reset the session\","
	" \"description\": \"Throw the session away and start clean: Python state is lost, running code is stopped, and a private /workspace is emptied (a shared --workspace folder is kept).\","
	" \"inputSchema\": {\"type\": \"object\", \"properties\": {}, \"additionalProperties\": false},"
	" \"outputSchema\": {\"type\": \"object\", \"properties\": {\"status\": {\"type\": \"string\"}}, \"required\": [\"status\"]},"
	" \"annotations\": {\"readOnlyHint\": false, \"destructiveHint\": true, \"idempotentHint\": true, \"openWorldHint\": false}}"
	"]";

static const char *const tool_names[] = {
	[TOOL_RUN_PYTHON] = "run_python", [TOOL_RUN_SHELL] = "run_shell",
	[TOOL_RUN_JAVASCRIPT] = "run_javascript", [TOOL_WRITE_FILE] = "write_file",
	[TOOL_READ_FILE] = "read_file", [TOOL_LIST_FILES] = "list_files",
	[TOOL_RESET] = "reset",
};

json_t *mcp_tools_list(uint64_t max_timeout_ms, uint64_t output_cap)
{
	json_error_t jerr;
	json_t *tools = json_loads(tools_json, 0, &jerr);
	if (!tools)
		return NULL;
	size_t i;
	json_t *tool;
	json_array_foreach(tools, i, tool) {
		json_t *timeout = json_object_get(
			json_object_get(json_object_get(tool, "inputSchema"), "properties"), "timeout");
		if (timeout) {
			char text[160];
			snprintf(text, sizeof text,
			         "seconds; default and maximum %.3g; output beyond %llu bytes is cut",
			         (double)max_timeout_ms / 1000.0, (unsigned long long)output_cap);
			json_object_set_new(timeout, "maximum", json_real((double)max_timeout_ms / 1000.0));
			json_object_set_new(timeout, "description", json_string(text));
		}
	}
	return tools;
}

enum mcp_tool mcp_tool_lookup(const char *name)
{
	for (int t = 0; t < TOOL_UNKNOWN; t++)
		if (strcmp(tool_names[t], name) == 0)
			return (enum mcp_tool)t;
	return TOOL_UNKNOWN;
}

bool mcp_tool_runs_code(enum mcp_tool tool)
{
	return tool == TOOL_RUN_PYTHON || tool == TOOL_RUN_SHELL || tool == TOOL_RUN_JAVASCRIPT;
}

const char *mcp_tool_driver_op(enum mcp_tool tool)
{
	switch (tool) {
	case TOOL_RUN_PYTHON:
		return "python";
	case TOOL_RUN_SHELL:
		return "shell";
	case TOOL_RUN_JAVASCRIPT:
		return "node";
	default:
		return NULL;
	}
}

json_t *mcp_tool_error(const char *fmt, ...)
{
	char text[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	return json_pack("{s:[{s:s, s:s}], s:b}", "content", "type", "text", "text", text, "isError",
	                 1);
}

json_t *mcp_tool_result(json_t *structured, const char *text)
{
	return json_pack("{s:[{s:s, s:s}], s:o, s:b}", "content", "type", "text", "text", text,
	                 "structuredContent", structured, "isError", 0);
}

#define IMAGES_MAX 8
#define IMAGE_BASE64_MAX ((size_t)6 << 20)

/* A string field of the driver's answer, cut to `max` bytes on a UTF-8
 * boundary (jansson guarantees the string is valid UTF-8). */
static json_t *clipped_string(json_t *reply, const char *key, size_t max, bool *clipped)
{
	json_t *v = json_object_get(reply, key);
	const char *text = json_is_string(v) ? json_string_value(v) : "";
	size_t len = json_is_string(v) ? json_string_length(v) : 0;
	if (len > max) {
		len = max;
		while (len > 0 && ((unsigned char)text[len] & 0xC0) == 0x80)
			len--;
		*clipped = true;
	}
	return json_stringn(text, len);
}

static uint64_t counter(json_t *reply, const char *key)
{
	json_t *v = json_object_get(reply, key);
	return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
}

static bool is_base64(const char *s, size_t len)
{
	if (len == 0 || len % 4 != 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		          c == '+' || c == '/' || (c == '=' && i >= len - 2);
		if (!ok)
			return false;
	}
	return true;
}

static void add_images(json_t *content, json_t *reply)
{
	json_t *images = json_object_get(reply, "images");
	size_t i, added = 0;
	json_t *image;
	if (!json_is_array(images))
		return;
	json_array_foreach(images, i, image) {
		json_t *data = json_object_get(image, "data");
		if (added == IMAGES_MAX || !json_is_string(data))
			continue;
		size_t len = json_string_length(data);
		/* "iVBORw0KGgo" is the PNG signature in base64. */
		if (len > IMAGE_BASE64_MAX || !is_base64(json_string_value(data), len) ||
		    strncmp(json_string_value(data), "iVBORw0KGgo", 11) != 0)
			continue;
		json_array_append_new(content, json_pack("{s:s, s:O, s:s}", "type", "image", "data", data,
		                                         "mimeType", "image/png"));
		added++;
	}
}

static void section(FILE *f, const char *title, const char *text)
{
	if (!text || !*text)
		return;
	if (ftell(f) > 0)
		fputs("\n", f);
	if (title)
		fprintf(f, "--- %s ---\n", title);
	fputs(text, f);
	size_t len = strlen(text);
	if (len && text[len - 1] != '\n')
		fputs("\n", f);
}

json_t *mcp_exec_result(enum mcp_tool tool, json_t *reply, const struct mcp_exec_outcome *outcome)
{
	bool clipped = false;
	size_t cap = (size_t)outcome->output_cap;
	json_t *out = clipped_string(reply, "stdout", cap, &clipped);
	json_t *err_text = clipped_string(reply, "stderr", cap, &clipped);
	uint64_t total = counter(reply, "stdout_bytes") + counter(reply, "stderr_bytes");
	bool truncated = clipped || total > outcome->output_cap;
	json_t *structured = json_pack("{s:s, s:o, s:o, s:b, s:b, s:I}", "status", outcome->status,
	                               "stdout", out, "stderr", err_text, "truncated", truncated,
	                               "session_reset", outcome->session_reset, "duration_ms",
	                               (json_int_t)outcome->duration_ms);
	if (!structured)
		return NULL;

	const char *error_text = NULL;
	if (tool == TOOL_RUN_PYTHON) {
		json_t *result = json_object_get(reply, "result");
		json_object_set_new(structured, "result",
		                    json_is_string(result) ? clipped_string(reply, "result", cap, &clipped)
		                                           : json_null());
		json_t *error = json_object_get(reply, "error");
		if (json_is_object(error)) {
			json_t *e = json_object();
			static const char *const keys[] = {"type", "message", "traceback"};
			for (size_t k = 0; k < 3; k++)
				json_object_set_new(e, keys[k], clipped_string(error, keys[k], cap, &clipped));
			json_object_set_new(structured, "error", e);
			error_text = json_string_value(json_object_get(e, "traceback"));
		} else if (outcome->note) {
			json_object_set_new(structured, "error",
			                    json_pack("{s:s, s:s, s:s}", "type", "SessionError", "message",
			                              outcome->note, "traceback", ""));
		} else {
			json_object_set_new(structured, "error", json_null());
		}
	} else {
		json_t *code = json_object_get(reply, "exit_code");
		json_object_set_new(structured, "exit_code",
		                    json_is_integer(code) ? json_integer(json_integer_value(code))
		                                          : json_null());
		json_t *error = json_object_get(reply, "error");
		if (json_is_object(error))
			error_text = json_string_value(json_object_get(error, "message"));
	}

	char *text = NULL;
	size_t text_len = 0;
	FILE *f = open_memstream(&text, &text_len);
	if (!f) {
		json_decref(structured);
		return NULL;
	}
	section(f, NULL, json_string_value(json_object_get(structured, "stdout")));
	section(f, "stderr", json_string_value(json_object_get(structured, "stderr")));
	if (tool == TOOL_RUN_PYTHON)
		section(f, "result", json_string_value(json_object_get(structured, "result")));
	section(f, "error", error_text);
	json_t *code = json_object_get(structured, "exit_code");
	if (json_is_integer(code) && json_integer_value(code) != 0)
		fprintf(f, "%s[exit code %lld]\n", ftell(f) > 0 ? "\n" : "",
		        (long long)json_integer_value(code));
	if (truncated)
		fprintf(f, "%s[output cut: %llu bytes produced, at most %llu shown]\n",
		        ftell(f) > 0 ? "\n" : "", (unsigned long long)total,
		        (unsigned long long)outcome->output_cap);
	if (strcmp(outcome->status, "timeout") == 0)
		fprintf(f, "%s[stopped: the call reached its time limit]\n", ftell(f) > 0 ? "\n" : "");
	if (outcome->note)
		fprintf(f, "%s[%s]\n", ftell(f) > 0 ? "\n" : "", outcome->note);
	if (ftell(f) == 0)
		fputs("(no output)\n", f);
	fclose(f);

	json_t *content = json_array();
	json_array_append_new(content, json_pack("{s:s, s:s}", "type", "text", "text", text));
	free(text);
	if (tool == TOOL_RUN_PYTHON)
		add_images(content, reply);
	return json_pack("{s:o, s:o, s:b}", "content", content, "structuredContent", structured,
	                 "isError", strcmp(outcome->status, "ok") != 0);
}
