#include "server/routes.h"

#include "policy/parse.h"
#include "util/base64.h"
#include "util/strings.h"

#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool sandbox_id_valid(const char *id)
{
	size_t n = 0;
	for (; id[n]; n++)
		if (!((id[n] >= '0' && id[n] <= '9') || (id[n] >= 'a' && id[n] <= 'f')))
			return false;
	return n == SANDBOX_ID_LEN;
}

static enum route_status allow_only(const char *method, const char *methods, const char **allow)
{
	/* methods: "GET, POST" */
	size_t n = strlen(method);
	for (const char *at = methods; n > 0 && (at = strstr(at, method)) != NULL; at += n)
		if ((at == methods || at[-1] == ' ') && (at[n] == '\0' || at[n] == ','))
			return ROUTE_FOUND;
	*allow = methods;
	return ROUTE_BAD_METHOD;
}

/* /processes/{pid}[/stdin|/signal|/output] */
static enum route_status route_process(const char *method, const char *rest, struct route *out,
                                       const char **allow)
{
	static const char prefix[] = "/processes/";
	if (strncmp(rest, prefix, sizeof prefix - 1) != 0)
		return ROUTE_NOT_FOUND;
	rest += sizeof prefix - 1;
	long pid = 0;
	size_t digits = 0;
	while (rest[digits] >= '0' && rest[digits] <= '9' && digits < 10) {
		pid = pid * 10 + (rest[digits] - '0');
		digits++;
	}
	if (digits == 0 || rest[0] == '0' || pid > INT_MAX)
		return ROUTE_NOT_FOUND;
	out->pid = (int)pid;
	rest += digits;
	static const struct {
		const char *name;
		enum route_id id;
		const char *methods;
	} subs[] = {
		{"", ROUTE_PROCESS, "GET"},
		{"/", ROUTE_PROCESS, "GET"},
		{"/stdin", ROUTE_PROCESS_STDIN, "POST"},
		{"/signal", ROUTE_PROCESS_SIGNAL, "POST"},
		{"/output", ROUTE_PROCESS_OUTPUT, "GET"},
	};
	for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
		if (strcmp(rest, subs[i].name) == 0) {
			out->id = subs[i].id;
			return allow_only(method, subs[i].methods, allow);
		}
	}
	return ROUTE_NOT_FOUND;
}

enum route_status route_match(const char *method, const char *path, struct route *out,
                              const char **allow)
{
	memset(out, 0, sizeof *out);
	*allow = NULL;
	if (strcmp(path, "/healthz") == 0) {
		out->id = ROUTE_HEALTHZ;
		return allow_only(method, "GET", allow);
	}
	if (strcmp(path, "/metrics") == 0) {
		out->id = ROUTE_METRICS;
		return allow_only(method, "GET", allow);
	}
	static const char prefix[] = "/v1/sandboxes";
	if (strncmp(path, prefix, sizeof prefix - 1) != 0)
		return ROUTE_NOT_FOUND;
	const char *rest = path + sizeof prefix - 1;
	if (*rest == '\0' || strcmp(rest, "/") == 0) {
		out->id = ROUTE_SANDBOXES;
		return allow_only(method, "GET, POST", allow);
	}
	if (*rest != '/')
		return ROUTE_NOT_FOUND;
	rest++;
	const char *slash = strchr(rest, '/');
	size_t id_len = slash ? (size_t)(slash - rest) : strlen(rest);
	if (id_len != SANDBOX_ID_LEN)
		return ROUTE_NOT_FOUND;
	memcpy(out->sandbox, rest, SANDBOX_ID_LEN);
	out->sandbox[SANDBOX_ID_LEN] = '\0';
	if (!sandbox_id_valid(out->sandbox))
		return ROUTE_NOT_FOUND;
	if (!slash || strcmp(slash, "/") == 0) {
		out->id = ROUTE_SANDBOX;
		return allow_only(method, "GET, DELETE", allow);
	}
	static const struct {
		const char *name;
		enum route_id id;
		const char *methods;
	} subs[] = {
		{"/exec", ROUTE_EXEC, "POST"},
		{"/files", ROUTE_FILES, "GET, PUT, DELETE"},
		{"/snapshots", ROUTE_SNAPSHOTS, "POST"},
		{"/processes", ROUTE_PROCESSES, "GET, POST"},
		{"/network", ROUTE_NETWORK, "PUT"},
	};
	for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
		if (strcmp(slash, subs[i].name) == 0) {
			out->id = subs[i].id;
			return allow_only(method, subs[i].methods, allow);
		}
	}
	return route_process(method, slash, out, allow);
}

bool sandbox_path_valid(const char *path)
{
	return path && *path && strlen(path) < PATH_MAX;
}

int request_fail(char message[REQUEST_MESSAGE_MAX], const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, REQUEST_MESSAGE_MAX, fmt, ap);
	va_end(ap);
	return -1;
}

json_t *request_load_object(const char *body, size_t len, char message[REQUEST_MESSAGE_MAX])
{
	json_error_t jerr;
	json_t *doc = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc) {
		request_fail(message, "malformed JSON: %s (line %d)", jerr.text, jerr.line);
		return NULL;
	}
	if (!json_is_object(doc)) {
		json_decref(doc);
		request_fail(message, "expected a JSON object");
		return NULL;
	}
	return doc;
}

/* A duration, as "10s" or a number of seconds. */
static int get_duration(json_t *v, const char *name, uint64_t *ms,
                        char message[REQUEST_MESSAGE_MAX])
{
	if (json_is_integer(v) && json_integer_value(v) > 0 &&
	    json_integer_value(v) <= (json_int_t)(UINT32_MAX)) {
		*ms = (uint64_t)json_integer_value(v) * 1000;
		return 0;
	}
	if (!json_is_string(v) || parse_duration_ms(json_string_value(v), ms) < 0 || *ms == 0 ||
	    *ms == LIMIT_UNLIMITED)
		return request_fail(message, "%s: expected a finite duration such as \"10s\" or \"5m\"", name);
	return 0;
}

int parse_create_body(const char *body, size_t len, uint64_t default_ttl_ms, uint64_t max_ttl_ms,
                      char **policy_json, uint64_t *ttl_ms, char message[REQUEST_MESSAGE_MAX])
{
	*policy_json = NULL;
	*ttl_ms = default_ttl_ms;
	json_t *doc = len ? request_load_object(body, len, message) : json_object();
	if (!doc)
		return -1;
	/* "image" and "from" name store objects of the server's store only. */
	static const char *const allowed[] = {"version", "uid",     "hostname", "cwd",  "env",
	                                      "limits",  "network", "ttl",      "image", "from"};
	const char *key;
	json_t *value;
	int rc = -1;
	json_object_foreach(doc, key, value) {
		bool ok = false;
		for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
			ok = ok || strcmp(key, allowed[i]) == 0;
		if (!ok) {
			request_fail(message, "policy key \"%.64s\" is not available through the API "
			              "(it would reach the host)", key);
			goto done;
		}
	}
	json_t *net = json_object_get(doc, "network");
	if (net) {
		if (!json_is_object(net) || json_object_size(net) > 1 ||
		    (json_object_size(net) == 1 && !json_object_get(net, "allow"))) {
			request_fail(message, "network: only {\"allow\": [...]} is available through the API");
			goto done;
		}
	}
	json_t *limits = json_object_get(doc, "limits");
	if (json_is_object(limits) &&
	    (json_object_get(limits, "timeout") || json_object_get(limits, "output"))) {
		request_fail(message, "limits.timeout and limits.output do not apply: the sandbox lives "
		              "for \"ttl\", each command has its own \"timeout\"");
		goto done;
	}
	json_t *ttl = json_object_get(doc, "ttl");
	if (ttl) {
		if (get_duration(ttl, "ttl", ttl_ms, message) < 0)
			goto done;
		if (*ttl_ms > max_ttl_ms) {
			char max[32];
			format_duration_ms(max_ttl_ms, max, sizeof max);
			request_fail(message, "ttl: at most %s on this server", max);
			goto done;
		}
		json_object_del(doc, "ttl");
	}
	*policy_json = json_dumps(doc, JSON_COMPACT);
	if (!*policy_json) {
		request_fail(message, "out of memory");
		goto done;
	}
	rc = 0;
done:
	json_decref(doc);
	return rc;
}

void exec_params_free(struct exec_params *p)
{
	for (size_t i = 0; p->argv && p->argv[i]; i++)
		free(p->argv[i]);
	for (size_t i = 0; p->env && p->env[i]; i++)
		free(p->env[i]);
	free(p->argv);
	free(p->env);
	free(p->cwd);
	free(p->stdin_data);
	memset(p, 0, sizeof *p);
}

static int string_list(json_t *arr, char ***out, char message[REQUEST_MESSAGE_MAX])
{
	size_t n = json_array_size(arr);
	if (!json_is_array(arr) || n == 0 || n > 4096)
		return request_fail(message, "argv: expected a non-empty array of at most 4096 strings");
	char **v = calloc(n + 1, sizeof *v);
	if (!v)
		return request_fail(message, "out of memory");
	*out = v;
	for (size_t i = 0; i < n; i++) {
		json_t *s = json_array_get(arr, i);
		if (!json_is_string(s) || memchr(json_string_value(s), '\0', json_string_length(s)))
			return request_fail(message, "argv[%zu]: expected a string without NUL", i);
		v[i] = strdup(json_string_value(s));
		if (!v[i])
			return request_fail(message, "out of memory");
	}
	return 0;
}

static int env_list(json_t *obj, char ***out, char message[REQUEST_MESSAGE_MAX])
{
	if (!json_is_object(obj) || json_object_size(obj) > 4096)
		return request_fail(message, "env: expected an object of at most 4096 strings");
	char **v = calloc(json_object_size(obj) + 1, sizeof *v);
	if (!v)
		return request_fail(message, "out of memory");
	*out = v;
	size_t i = 0;
	const char *key;
	json_t *value;
	json_object_foreach(obj, key, value) {
		if (!env_name_is_valid(key, strlen(key)))
			return request_fail(message, "env: \"%.64s\" is not a valid variable name", key);
		if (!json_is_string(value) ||
		    memchr(json_string_value(value), '\0', json_string_length(value)))
			return request_fail(message, "env.%.64s: expected a string without NUL", key);
		if (asprintf(&v[i], "%s=%s", key, json_string_value(value)) < 0) {
			v[i] = NULL;
			return request_fail(message, "out of memory");
		}
		i++;
	}
	return 0;
}

int parse_exec_doc(json_t *doc, uint64_t default_timeout_ms, uint64_t max_timeout_ms,
                   uint64_t default_output, uint64_t max_output, struct exec_params *out,
                   char message[REQUEST_MESSAGE_MAX])
{
	memset(out, 0, sizeof *out);
	out->timeout_ms = default_timeout_ms;
	out->output_max = default_output;
	int rc = -1;
	static const char *const allowed[] = {"argv", "env", "cwd", "stdin", "stdin_base64",
	                                      "timeout", "output_max", "output_encoding"};
	const char *key;
	json_t *v;
	json_object_foreach(doc, key, v) {
		bool ok = false;
		for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
			ok = ok || strcmp(key, allowed[i]) == 0;
		if (!ok) {
			request_fail(message, "unknown field \"%.64s\"", key);
			goto done;
		}
	}
	if (string_list(json_object_get(doc, "argv"), &out->argv, message) < 0)
		goto done;
	if ((v = json_object_get(doc, "env")) && env_list(v, &out->env, message) < 0)
		goto done;
	if ((v = json_object_get(doc, "cwd"))) {
		if (!json_is_string(v) || !sandbox_path_valid(json_string_value(v)) ||
		    strlen(json_string_value(v)) != json_string_length(v)) {
			request_fail(message, "cwd: expected a path");
			goto done;
		}
		out->cwd = strdup(json_string_value(v));
		if (!out->cwd) {
			request_fail(message, "out of memory");
			goto done;
		}
	}
	json_t *text = json_object_get(doc, "stdin"), *b64 = json_object_get(doc, "stdin_base64");
	if (text && b64) {
		request_fail(message, "stdin and stdin_base64 exclude each other");
		goto done;
	}
	if (text) {
		if (!json_is_string(text)) {
			request_fail(message, "stdin: expected a string");
			goto done;
		}
		out->stdin_len = json_string_length(text);
		out->stdin_data = malloc(out->stdin_len + 1);
		if (!out->stdin_data) {
			request_fail(message, "out of memory");
			goto done;
		}
		memcpy(out->stdin_data, json_string_value(text), out->stdin_len + 1);
	} else if (b64) {
		if (!json_is_string(b64) ||
		    base64_decode(json_string_value(b64), json_string_length(b64), &out->stdin_data,
		                  &out->stdin_len) < 0) {
			request_fail(message, "stdin_base64: expected base64 (RFC 4648, padded)");
			goto done;
		}
	}
	if ((v = json_object_get(doc, "timeout"))) {
		if (get_duration(v, "timeout", &out->timeout_ms, message) < 0)
			goto done;
		if (out->timeout_ms > max_timeout_ms) {
			char max[32];
			format_duration_ms(max_timeout_ms, max, sizeof max);
			request_fail(message, "timeout: at most %s on this server", max);
			goto done;
		}
	}
	if ((v = json_object_get(doc, "output_max"))) {
		uint64_t n = 0;
		if (json_is_integer(v) && json_integer_value(v) >= 0)
			n = (uint64_t)json_integer_value(v);
		else if (!json_is_string(v) || parse_size(json_string_value(v), &n) < 0) {
			request_fail(message, "output_max: expected a size such as \"1M\" or a byte count");
			goto done;
		}
		if (n > max_output) {
			request_fail(message, "output_max: at most %llu bytes on this server",
			     (unsigned long long)max_output);
			goto done;
		}
		out->output_max = n;
	}
	if ((v = json_object_get(doc, "output_encoding"))) {
		const char *enc = json_string_value(v);
		if (!enc || (strcmp(enc, "text") != 0 && strcmp(enc, "base64") != 0)) {
			request_fail(message, "output_encoding: \"text\" or \"base64\"");
			goto done;
		}
		out->base64_output = strcmp(enc, "base64") == 0;
	}
	rc = 0;
done:
	if (rc < 0)
		exec_params_free(out);
	return rc;
}

int parse_exec_body(const char *body, size_t len, uint64_t default_timeout_ms,
                    uint64_t max_timeout_ms, uint64_t default_output, uint64_t max_output,
                    struct exec_params *out, char message[REQUEST_MESSAGE_MAX])
{
	memset(out, 0, sizeof *out);
	json_t *doc = request_load_object(body, len, message);
	if (!doc)
		return -1;
	int rc = parse_exec_doc(doc, default_timeout_ms, max_timeout_ms, default_output, max_output,
	                        out, message);
	json_decref(doc);
	return rc;
}
