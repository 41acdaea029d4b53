#include "server/proc_bodies.h"

#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NET_RULES_MAX 256

int parse_spawn_body(const char *body, size_t len, uint64_t max_timeout_ms,
                     uint64_t default_output, uint64_t max_output, struct exec_params *out,
                     bool *stdin_eof, char message[REQUEST_MESSAGE_MAX])
{
	memset(out, 0, sizeof *out);
	*stdin_eof = false;
	json_t *doc = request_load_object(body, len, message);
	if (!doc)
		return -1;
	int rc = -1;
	json_t *eof = json_object_get(doc, "stdin_eof");
	if (eof) {
		if (!json_is_boolean(eof)) {
			request_fail(message, "stdin_eof: expected true or false");
			goto done;
		}
		*stdin_eof = json_is_true(eof);
		json_object_del(doc, "stdin_eof");
	}
	/* A background process has no timeout unless asked: the sandbox's
	 * ttl bounds it. */
	rc = parse_exec_doc(doc, 0, max_timeout_ms, default_output, max_output, out, message);
done:
	json_decref(doc);
	return rc;
}

static int signal_by_name(const char *name)
{
	static const struct {
		const char *name;
		int sig;
	} names[] = {
		{"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"KILL", SIGKILL},
		{"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},
		{"TERM", SIGTERM}, {"CONT", SIGCONT}, {"STOP", SIGSTOP}, {"TSTP", SIGTSTP},
		{"WINCH", SIGWINCH},
	};
	if (strncasecmp(name, "SIG", 3) == 0)
		name += 3;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcasecmp(name, names[i].name) == 0)
			return names[i].sig;
	return 0;
}

int parse_signal_body(const char *body, size_t len, int *sig, char message[REQUEST_MESSAGE_MAX])
{
	*sig = 0;
	json_t *doc = request_load_object(body, len, message);
	if (!doc)
		return -1;
	json_t *v = json_object_get(doc, "signal");
	if (json_is_integer(v) && json_integer_value(v) >= 1 && json_integer_value(v) <= 64)
		*sig = (int)json_integer_value(v);
	else if (json_is_string(v) && json_string_length(v) < 16)
		*sig = signal_by_name(json_string_value(v));
	int rc = 0;
	if (*sig == 0 || json_object_size(doc) != 1)
		rc = request_fail(message, "expected {\"signal\": NAME or NUMBER}, e.g. "
		                           "{\"signal\": \"TERM\"}");
	json_decref(doc);
	return rc;
}

void string_list_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

int parse_network_body(const char *body, size_t len, char ***rules, size_t *n_rules,
                       char message[REQUEST_MESSAGE_MAX])
{
	*rules = NULL;
	*n_rules = 0;
	json_t *doc = request_load_object(body, len, message);
	if (!doc)
		return -1;
	int rc = -1;
	json_t *allow = json_object_get(doc, "allow");
	size_t n = json_array_size(allow);
	if (!json_is_array(allow) || json_object_size(doc) != 1 || n > NET_RULES_MAX) {
		request_fail(message, "expected {\"allow\": [RULE, ...]} with at most %d rules",
		             NET_RULES_MAX);
		goto done;
	}
	char **v = calloc(n + 1, sizeof *v);
	if (!v) {
		request_fail(message, "out of memory");
		goto done;
	}
	*rules = v;
	for (size_t i = 0; i < n; i++) {
		json_t *s = json_array_get(allow, i);
		if (!json_is_string(s) || json_string_length(s) == 0 ||
		    strlen(json_string_value(s)) != json_string_length(s)) {
			request_fail(message, "allow[%zu]: expected a non-empty string without NUL", i);
			goto done;
		}
		v[i] = strdup(json_string_value(s));
		if (!v[i]) {
			request_fail(message, "out of memory");
			goto done;
		}
		(*n_rules)++;
	}
	rc = 0;
done:
	if (rc < 0) {
		string_list_free(*rules, *n_rules);
		*rules = NULL;
		*n_rules = 0;
	}
	json_decref(doc);
	return rc;
}
