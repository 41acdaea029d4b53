/*
 * An MCP session: one long-lived sandbox whose first process is the session
 * driver (session_driver.py), a persistent Python namespace that also runs
 * shell and JavaScript commands. Requests go to the driver as JSON lines on
 * its stdin; answers come back on its stdout. Everything the driver says is
 * untrusted: the code it runs shares its process.
 *
 * corral_sandbox_wait runs in a helper thread (it is the sandbox's monitor:
 * limits, OOM); the server's loop learns of the end through an eventfd.
 */
#ifndef CORRAL_MCP_SESSION_H
#define CORRAL_MCP_SESSION_H

#include "corral.h"
#include "mcp/jsonrpc.h"

#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct session_config {
	const corral_policy *policy;  /* the session's sandbox: no wall clock, no output cap */
	const char *python;           /* interpreter inside the sandbox */
	uint64_t output_cap;          /* per call, stdout + stderr */
	uint64_t memory_limit;        /* for messages only */
	uint64_t cpu_time_limit_ms;
};

struct session {
	const struct session_config *cfg;
	corral_sandbox *sb;
	pthread_t waiter;
	bool waiter_running;
	int done_fd;                 /* eventfd: the sandbox has finished */
	int to_driver;
	int from_driver;
	struct line_reader lines;
	char *out;                   /* requests not yet written to the driver */
	size_t out_len;
	size_t out_sent;
	bool ready;                  /* the driver said hello */
	bool ended;                  /* the sandbox has finished (done_fd fired) */
	corral_result result;        /* written by the waiter thread */
	corral_error wait_err;
	uint64_t next_id;
};

void session_init(struct session *s, const struct session_config *cfg);
bool session_running(const struct session *s);
int session_start(struct session *s, corral_error *err);
/* Kill the sandbox (if any), wait for it, release everything. */
void session_stop(struct session *s);

/* Queue a request for the driver; *id receives its id. */
int session_send(struct session *s, const char *op, const char *code, uint64_t *id);
/* Interrupt what the driver runs (SIGINT), or kill the whole sandbox. */
void session_interrupt(struct session *s);
void session_kill(struct session *s);

/* Poll plumbing for the server's loop. */
struct session_pollfds {
	int from_driver;
	int to_driver;
	int done;
};
int session_pollfds(struct session *s, struct pollfd *fds, struct session_pollfds *at);
/* Handle readiness. Driver answers are passed to on_reply (which takes
 * ownership); returns true when the sandbox has ended (then call
 * session_end_reason and session_stop). */
bool session_dispatch(struct session *s, const struct pollfd *fds,
                      const struct session_pollfds *at,
                      void (*on_reply)(void *ctx, json_t *reply), void *ctx);
/* Why the finished sandbox ended, for the user. */
void session_end_reason(const struct session *s, char *buf, size_t size);

#endif
