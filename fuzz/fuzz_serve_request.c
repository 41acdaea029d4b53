/*
 * Fuzz corral serve's request layer (src/server/routes.c) and its output
 * text conversion (utf8_sanitize in src/server/output.c): what a hostile
 * client controls, without sockets or sandboxes.
 *
 * Input: METHOD '\n' PATH '\n' BODY.
 * Properties:
 *  - nothing crashes or trips a sanitizer; every parse is deterministic;
 *  - a route found names a valid sandbox id when it names one, and a
 *    405 always lists the allowed methods;
 *  - a create body that parses leaves a JSON object without "ttl" and a
 *    ttl within the bound; an exec body that parses has a non-empty argv,
 *    a timeout and output cap within their bounds; a spawn body the same
 *    (no timeout unless given); a signal body a signal from 1 to 64; a
 *    network body non-empty rules;
 *  - a process route names a positive pid;
 *  - utf8_sanitize's output is valid UTF-8 (json_stringn accepts it), and
 *    final mode consumes everything.
 */
#include "server/output.h"
#include "server/proc_bodies.h"
#include "server/routes.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) ((x) ? (void)0 : abort())

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	char *in = malloc(size + 1);
	if (!in)
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';
	char *method = in, *path = "", *body = "";
	size_t body_len = 0;
	char *nl = memchr(in, '\n', size);
	if (nl) {
		*nl = '\0';
		path = nl + 1;
		char *nl2 = memchr(path, '\n', size - (size_t)(path - in));
		if (nl2) {
			*nl2 = '\0';
			body = nl2 + 1;
			body_len = size - (size_t)(body - in);
		}
	}

	struct route r1, r2;
	const char *allow1, *allow2;
	enum route_status s1 = route_match(method, path, &r1, &allow1);
	enum route_status s2 = route_match(method, path, &r2, &allow2);
	CHECK(s1 == s2 && memcmp(&r1, &r2, sizeof r1) == 0);
	if (s1 == ROUTE_BAD_METHOD)
		CHECK(allow1 && *allow1);
	if (s1 != ROUTE_NOT_FOUND && r1.sandbox[0])
		CHECK(sandbox_id_valid(r1.sandbox));
	if (s1 != ROUTE_NOT_FOUND && (r1.id == ROUTE_PROCESS || r1.id == ROUTE_PROCESS_STDIN ||
	                              r1.id == ROUTE_PROCESS_SIGNAL || r1.id == ROUTE_PROCESS_OUTPUT))
		CHECK(r1.pid > 0);

	char message[REQUEST_MESSAGE_MAX];
	char *policy = NULL;
	uint64_t ttl = 0;
	if (parse_create_body(body, body_len, 1800000, 3600000, &policy, &ttl, message) == 0) {
		CHECK(ttl > 0 && ttl <= 3600000);
		json_t *doc = json_loads(policy, 0, NULL);
		CHECK(json_is_object(doc) && !json_object_get(doc, "ttl"));
		json_decref(doc);
		free(policy);
	}
	struct exec_params p;
	if (parse_exec_body(body, body_len, 60000, 600000, 1 << 20, 16 << 20, &p, message) == 0) {
		CHECK(p.argv && p.argv[0] && p.timeout_ms > 0 && p.timeout_ms <= 600000);
		CHECK(p.output_max <= (16 << 20));
		exec_params_free(&p);
	}

	bool eof;
	if (parse_spawn_body(body, body_len, 3600000, 1 << 20, 16 << 20, &p, &eof, message) == 0) {
		CHECK(p.argv && p.argv[0] && p.timeout_ms <= 3600000 && p.output_max <= (16 << 20));
		exec_params_free(&p);
	}
	int sig;
	if (parse_signal_body(body, body_len, &sig, message) == 0)
		CHECK(sig >= 1 && sig <= 64);
	char **rules;
	size_t n_rules;
	if (parse_network_body(body, body_len, &rules, &n_rules, message) == 0) {
		for (size_t i = 0; i < n_rules; i++)
			CHECK(rules[i] && rules[i][0]);
		string_list_free(rules, n_rules);
	}

	size_t used, out_len;
	char *text = utf8_sanitize((const unsigned char *)data, size, true, &used, &out_len);
	if (text) {
		CHECK(used == size);
		json_t *s = json_stringn(text, out_len);
		CHECK(s != NULL);
		json_decref(s);
		free(text);
	}
	text = utf8_sanitize((const unsigned char *)data, size, false, &used, &out_len);
	if (text) {
		CHECK(used <= size && size - used < 4);
		free(text);
	}
	free(in);
	return 0;
}
