/*
 * POST /v1/sandboxes/{id}/exec: one command run to completion in a
 * sandbox, its stdin given, its stdout and stderr captured through pipes
 * (capped, the rest drained and counted), a per-command timeout that kills
 * that process only. Answered as one JSON object, or streamed as NDJSON
 * ({"stdout": ...}, {"stderr": ...} as produced, then {"exit": {...}}).
 */
#ifndef CORRAL_SERVER_EXEC_API_H
#define CORRAL_SERVER_EXEC_API_H

#include "server/routes.h"
#include "server/sandboxes.h"

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

struct exec_run;

/* Start the command (params are taken over). A command that does not
 * exist or cannot be executed still gives a run (exit code 127 or 126 and
 * the message on stderr, as a shell would). NULL on failure: *status
 * (400, 409, 500), *code and message are set. Takes over the caller's
 * reference to `s` (released by exec_run_free, or at once on failure). */
struct exec_run *exec_start(struct registry *reg, struct sbx *s, struct exec_params *params,
                            bool stream, unsigned *status, const char **code,
                            char message[REQUEST_MESSAGE_MAX]);
/* Run to the end; the result object. */
json_t *exec_collect(struct exec_run *run);
/* Streaming: the next bytes of NDJSON into buf, blocking until some are
 * ready; 0 at the end. */
size_t exec_stream_read(struct exec_run *run, char *buf, size_t max);
/* Kills the command if it still runs. */
void exec_run_free(struct exec_run *run);

#endif
