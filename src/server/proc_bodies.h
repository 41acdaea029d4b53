/* Request bodies of the process and network endpoints (pure, fuzzed like
 * routes.c). */
#ifndef CORRAL_SERVER_PROC_BODIES_H
#define CORRAL_SERVER_PROC_BODIES_H

#include "server/routes.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* POST /v1/sandboxes/{id}/processes: the exec body, where "timeout" has no
 * default (0: none) and "output_max" bounds the output kept, plus
 * "stdin_eof" (close stdin once "stdin" is written; default false: stdin
 * stays open for POST .../stdin). */
int parse_spawn_body(const char *body, size_t len, uint64_t max_timeout_ms,
                     uint64_t default_output, uint64_t max_output, struct exec_params *out,
                     bool *stdin_eof, char message[REQUEST_MESSAGE_MAX]);

/* POST .../signal: {"signal": "TERM"}, "SIGTERM" or a number (1-64). */
int parse_signal_body(const char *body, size_t len, int *sig, char message[REQUEST_MESSAGE_MAX]);

/* PUT .../network: {"allow": ["host", ...]}: the rules (malloc'd, each
 * malloc'd), checked only for shape here; the library parses them. */
int parse_network_body(const char *body, size_t len, char ***rules, size_t *n_rules,
                       char message[REQUEST_MESSAGE_MAX]);
void string_list_free(char **v, size_t n);

#endif
