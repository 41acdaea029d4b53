/* The file tools: paths inside /workspace, handled from outside the
 * sandbox through libcorral's safe file primitives. */
#include "mcp/mcp_tools.h"

#include "util/base64.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WORKSPACE "/workspace"
#define READ_MAX ((size_t)8 << 20)
#define LIST_MAX 1000

/* "x/y" or "/workspace/x/y" -> "/workspace/x/y". ".." is refused rather
 * than resolved: the tools stay inside the workspace by construction. */
static int workspace_path(json_t *value, char *out, size_t size, json_t **error)
{
	if (!json_is_string(value)) {
		*error = mcp_tool_error("'path' must be a string");
		return -1;
	}
	const char *path = json_string_value(value);
	size_t len = json_string_length(value);
	if (strlen(path) != len || len == 0 || len >= 4096) {
		*error = mcp_tool_error("'path' must be a non-empty path without NUL characters, under 4096 bytes");
		return -1;
	}
	const char *rest = path;
	if (path[0] == '/') {
		size_t wl = strlen(WORKSPACE);
		if (strncmp(path, WORKSPACE, wl) != 0 || (path[wl] != '\0' && path[wl] != '/')) {
			*error = mcp_tool_error("%s: paths must be inside /workspace", path);
			return -1;
		}
		rest = path + wl;
	}
	for (const char *c = rest; *c;) {
		while (*c == '/')
			c++;
		const char *end = strchrnul(c, '/');
		if (end - c == 2 && c[0] == '.' && c[1] == '.') {
			*error = mcp_tool_error("%s: '..' is not allowed; paths stay inside /workspace", path);
			return -1;
		}
		c = end;
	}
	while (*rest == '/')
		rest++;
	snprintf(out, size, "%s%s%s", WORKSPACE, *rest ? "/" : "", rest);
	return 0;
}

static int encoding_of(json_t *args, bool *base64, json_t **error)
{
	json_t *enc = json_object_get(args, "encoding");
	*base64 = false;
	if (!enc)
		return 0;
	if (json_is_string(enc) && strcmp(json_string_value(enc), "base64") == 0) {
		*base64 = true;
		return 0;
	}
	if (json_is_string(enc) && (strcmp(json_string_value(enc), "utf-8") == 0 ||
	                            strcmp(json_string_value(enc), "utf8") == 0))
		return 0;
	*error = mcp_tool_error("'encoding' must be \"utf-8\" or \"base64\"");
	return -1;
}

static int check_keys(json_t *args, const char *const *allowed, json_t **error)
{
	const char *key;
	json_t *value;
	json_object_foreach(args, key, value) {
		bool ok = false;
		for (const char *const *a = allowed; *a; a++)
			ok = ok || strcmp(*a, key) == 0;
		if (!ok) {
			*error = mcp_tool_error("unexpected argument '%s'", key);
			return -1;
		}
	}
	return 0;
}

static json_t *write_tool(corral_sandbox *sb, json_t *args)
{
	static const char *const keys[] = {"path", "content", "encoding", NULL};
	char path[4200];
	bool base64;
	json_t *error = NULL;
	if (check_keys(args, keys, &error) < 0 ||
	    workspace_path(json_object_get(args, "path"), path, sizeof path, &error) < 0 ||
	    encoding_of(args, &base64, &error) < 0)
		return error;
	json_t *content = json_object_get(args, "content");
	if (!json_is_string(content))
		return mcp_tool_error("'content' must be a string");
	const void *data = json_string_value(content);
	size_t len = json_string_length(content);
	unsigned char *decoded = NULL;
	if (base64) {
		if (base64_decode(json_string_value(content), len, &decoded, &len) < 0)
			return mcp_tool_error("'content' is not valid base64");
		data = decoded;
	}
	corral_error err = {0};
	char *slash = strrchr(path, '/');
	int rc = 0;
	if (slash && (size_t)(slash - path) > strlen(WORKSPACE)) {
		*slash = '\0';
		rc = corral_sandbox_make_dirs(sb, path, &err);
		*slash = '/';
	}
	if (rc == 0)
		rc = corral_sandbox_write_file(sb, path, data, len, 0644, &err);
	free(decoded);
	if (rc < 0)
		return mcp_tool_error("%s", err.message);
	char text[4400];
	snprintf(text, sizeof text, "Wrote %zu bytes to %s.", len, path);
	return mcp_tool_result(json_pack("{s:s, s:I}", "path", path, "bytes", (json_int_t)len), text);
}

static json_t *read_tool(corral_sandbox *sb, json_t *args)
{
	static const char *const keys[] = {"path", "encoding", NULL};
	char path[4200];
	bool base64;
	json_t *error = NULL;
	if (check_keys(args, keys, &error) < 0 ||
	    workspace_path(json_object_get(args, "path"), path, sizeof path, &error) < 0 ||
	    encoding_of(args, &base64, &error) < 0)
		return error;
	corral_error err = {0};
	char *data = NULL;
	size_t len = 0;
	if (corral_sandbox_read_file(sb, path, READ_MAX, &data, &len, &err) < 0)
		return mcp_tool_error("%s", err.message);
	json_t *content = NULL;
	if (base64) {
		char *text = base64_encode(data, len);
		content = text ? json_string(text) : NULL;
		free(text);
	} else {
		content = json_stringn(data, len);
		if (!content) {
			free(data);
			return mcp_tool_error("%s is not UTF-8 text: read it with encoding \"base64\"", path);
		}
	}
	free(data);
	if (!content)
		return mcp_tool_error("out of memory");
	json_t *structured = json_pack("{s:s, s:O, s:s, s:I}", "path", path, "content", content,
	                               "encoding", base64 ? "base64" : "utf-8", "bytes", (json_int_t)len);
	json_t *result = structured ? mcp_tool_result(structured, json_string_value(content)) : NULL;
	json_decref(content);
	return result;
}

static const char *type_name(char type)
{
	switch (type) {
	case 'f':
		return "file";
	case 'd':
		return "directory";
	case 'l':
		return "symlink";
	default:
		return "other";
	}
}

static json_t *list_tool(corral_sandbox *sb, json_t *args)
{
	static const char *const keys[] = {"path", NULL};
	char path[4200];
	json_t *error = NULL;
	json_t *dot = json_string(".");
	int rc = check_keys(args, keys, &error) < 0
	                 ? -1
	                 : workspace_path(json_object_get(args, "path") ? json_object_get(args, "path") : dot,
	                                  path, sizeof path, &error);
	json_decref(dot);
	if (rc < 0)
		return error;
	corral_error err = {0};
	corral_file_entry *entries = NULL;
	size_t n = 0;
	bool truncated = false;
	if (corral_sandbox_list_dir(sb, path, LIST_MAX, &entries, &n, &truncated, &err) < 0)
		return mcp_tool_error("%s", err.message);
	json_t *list = json_array();
	char *text = NULL;
	size_t text_len = 0;
	FILE *f = open_memstream(&text, &text_len);
	if (!list || !f) {
		json_decref(list);
		if (f)
			fclose(f);
		free(text);
		corral_file_entries_free(entries, n);
		return mcp_tool_error("out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		/* Names made by the sandbox need not be UTF-8: skip what JSON cannot carry. */
		json_t *name = json_string(entries[i].name);
		if (!name)
			continue;
		json_array_append_new(list, json_pack("{s:o, s:s, s:I}", "name", name, "type",
		                                      type_name(entries[i].type), "size",
		                                      (json_int_t)entries[i].size));
		fprintf(f, "%s%s  %llu\n", entries[i].name, entries[i].type == 'd' ? "/" : "",
		        (unsigned long long)entries[i].size);
	}
	if (n == 0)
		fputs("(empty directory)\n", f);
	if (truncated)
		fprintf(f, "[only the first %d entries are listed]\n", LIST_MAX);
	fclose(f);
	corral_file_entries_free(entries, n);
	json_t *structured = json_pack("{s:s, s:o, s:b}", "path", path, "entries", list, "truncated",
	                               truncated);
	json_t *result = structured ? mcp_tool_result(structured, text) : NULL;
	free(text);
	return result;
}

json_t *mcp_file_tool(corral_sandbox *sb, enum mcp_tool tool, json_t *args)
{
	switch (tool) {
	case TOOL_WRITE_FILE:
		return write_tool(sb, args);
	case TOOL_READ_FILE:
		return read_tool(sb, args);
	case TOOL_LIST_FILES:
		return list_tool(sb, args);
	default:
		return mcp_tool_error("not a file tool");
	}
}
