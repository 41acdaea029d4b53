/*
 * Fuzz the MCP server's message handling (src/mcp/mcp_server.c and
 * mcp_tools.c): JSON-RPC validation, initialize, tools/list, tools/call
 * argument checking, cancellation, for any bytes a client can send.
 * Sandboxes are disabled (no interpreter), so code and file tools answer with
 * tool errors instead of starting one.
 *
 * Properties: no crash, leak or sanitizer report; every line the server
 * writes is one JSON object with "jsonrpc": "2.0" and either an id with a
 * result or an error, or a method (a notification); and the server never
 * writes more than one response per request line.
 */
#include "mcp/mcp_server.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_INPUT 65536

static void fail(const char *what, const char *line)
{
	fprintf(stderr, "fuzz_mcp_jsonrpc: %s: %.300s\n", what, line);
	abort();
}

static void check_output(int fd, size_t requests)
{
	off_t end = lseek(fd, 0, SEEK_END);
	if (end <= 0)
		return;
	char *out = malloc((size_t)end + 1);
	if (!out || pread(fd, out, (size_t)end, 0) != end)
		abort();
	out[end] = '\0';
	size_t responses = 0;
	for (char *line = out, *nl; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		if (!nl)
			fail("output not newline-terminated", line);
		*nl = '\0';
		json_error_t jerr;
		json_t *msg = json_loads(line, 0, &jerr);
		if (!json_is_object(msg))
			fail("output is not a JSON object", line);
		if (!json_is_string(json_object_get(msg, "jsonrpc")) ||
		    strcmp(json_string_value(json_object_get(msg, "jsonrpc")), "2.0") != 0)
			fail("output without jsonrpc 2.0", line);
		bool has_id = json_object_get(msg, "id") != NULL;
		bool has_result = json_object_get(msg, "result") != NULL;
		bool has_error = json_object_get(msg, "error") != NULL;
		bool is_note = json_is_string(json_object_get(msg, "method"));
		if (!(is_note || (has_id && (has_result != has_error))))
			fail("output is neither a response nor a notification", line);
		if (!is_note)
			responses++;
		json_decref(msg);
	}
	if (responses > requests)
		fail("more responses than lines", "");
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > MAX_INPUT)
		return 0;
	int out = memfd_create("fuzz-mcp-out", MFD_CLOEXEC);
	if (out < 0)
		abort();
	corral_policy *policy = corral_policy_new();
	struct mcp_options opts = {.policy = policy, .python = NULL, .call_timeout_ms = 60000,
	                           .output_cap = 262144, .memory_limit = 1u << 30};
	struct mcp_server *server = mcp_server_new(&opts, out);
	if (!server)
		abort();
	/* A session is not needed to reach most handlers, but tools need the
	 * server initialized: the first line of most seeds does that. */
	char *text = malloc(size + 1);
	if (!text)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	size_t lines = 0;
	for (size_t start = 0; start <= size;) {
		const char *nl = memchr(text + start, '\n', size - start);
		size_t len = nl ? (size_t)(nl - (text + start)) : size - start;
		if (len > 0) {
			mcp_server_handle_message(server, text + start, len);
			lines++;
		}
		if (!nl)
			break;
		start += len + 1;
	}
	mcp_server_free(server);
	corral_policy_free(policy);
	check_output(out, lines);
	close(out);
	free(text);
	return 0;
}
