/*
 * The spawner of an idle sandbox and the supervisor's protocol with it.
 *
 * The spawner is init's child in a sandbox started without a command. It
 * applies every restriction a command gets (jail_restrict) once, then
 * serves requests from the supervisor over a SOCK_SEQPACKET socket pair:
 *
 *   supervisor → spawner   struct spawn_request + strings, with SCM_RIGHTS:
 *                          the process's status pipe (write end), then the
 *                          stdio descriptors named in fd_mask
 *   spawner → supervisor   struct spawn_reply: READY once, then STARTED (pid)
 *                          or FAILED (stage, errno) per exec request
 *   spawner → status pipe  struct spawn_status once the process is reaped;
 *                          the pipe's close without it means the sandbox
 *                          (or the spawner) is gone
 *
 * The spawner runs as the sandboxed user, so sandboxed code may have
 * subverted it (docs/security.md): everything it sends is checked by the
 * supervisor (exact sizes, the request id, descriptors it attaches are
 * closed), and nothing it sends can name another process than its own.
 */
#ifndef CORRAL_JAIL_SPAWNER_H
#define CORRAL_JAIL_SPAWNER_H

#include "corral.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Bytes of argv, env and cwd strings in one request (with their NULs). */
#define SPAWN_STRINGS_BYTES CORRAL_EXEC_BYTES_MAX
/* argv and env entries in one request. */
#define SPAWN_STRINGS_MAX CORRAL_EXEC_STRINGS_MAX
/* Processes the spawner tracks at once. */
#define SPAWN_SLOTS 1024
/* The status pipe and three stdio descriptors. */
#define SPAWN_FDS_MAX 4

enum spawn_request_type {
	SPAWN_REQ_EXEC = 1,
	SPAWN_REQ_SIGNAL = 2,
};

struct spawn_request {
	uint32_t type;
	uint32_t fd_mask;      /* bit i: stdio descriptor i is attached */
	uint64_t id;           /* chosen by the supervisor, never 0 */
	int32_t signal;        /* SIGNAL */
	uint32_t argc;         /* EXEC: at least 1 */
	uint32_t envc;
	uint32_t has_cwd;
	uint32_t strings_len;  /* bytes after the header: argc + envc + has_cwd strings */
	uint32_t reserved;
};

enum spawn_reply_type {
	SPAWN_REPLY_READY = 1,    /* id 0: the spawner serves requests */
	SPAWN_REPLY_STARTED = 2,  /* pid: the process runs (execve succeeded) */
	SPAWN_REPLY_FAILED = 3,   /* stage, errnum */
};

enum spawn_stage {
	SPAWN_STAGE_REQUEST = 1,  /* malformed request */
	SPAWN_STAGE_BUSY = 2,     /* SPAWN_SLOTS processes already run */
	SPAWN_STAGE_FORK = 3,
	SPAWN_STAGE_STDIO = 4,
	SPAWN_STAGE_CWD = 5,
	SPAWN_STAGE_EXEC = 6,
};

struct spawn_reply {
	uint64_t id;
	uint32_t type;
	int32_t pid;
	int32_t errnum;
	uint32_t stage;
};

#define SPAWN_STATUS_WAIT 0x57414954u /* "WAIT" */

struct spawn_status {
	uint32_t type;         /* SPAWN_STATUS_WAIT */
	int32_t wait_status;
};

struct spawn_slot {
	uint64_t id;           /* 0: free */
	pid_t pid;
	int status_fd;
};

/* Everything the spawner needs beyond its stack, allocated by the
 * supervisor before the clone: nothing in the sandbox allocates. */
struct spawner_buffers {
	union {
		struct spawn_request header;
		char bytes[sizeof(struct spawn_request) + SPAWN_STRINGS_BYTES];
	} msg;
	char *strings[SPAWN_STRINGS_MAX + 2];  /* argv, NULL, env, NULL */
	struct spawn_slot slots[SPAWN_SLOTS];
};

/* Supervisor side: read replies on `sock` until one of type `type` for
 * `id` arrives, skipping (and counting nothing from) anything else.
 * Gives up when `alive_fd` (init's pidfd; -1: none) becomes readable, the
 * peer closes, or `timeout_ms` pass. Returns 0 with *reply filled, or -1
 * with errno ESRCH (gone), ETIMEDOUT, or another error. Descriptors the
 * peer attaches are closed. */
int spawn_await_reply(int sock, int alive_fd, uint64_t id, int timeout_ms,
                      struct spawn_reply *reply);

/* Supervisor side: decode a process's status record. Returns false when
 * `len` bytes at `rec` are not a valid record. */
bool spawn_status_decode(const void *rec, size_t len, corral_process_status *status);

/* Supervisor side: send a request with up to n_fds descriptors, waiting a
 * bounded time for room in the socket's buffer. 0, or -1 with errno. */
int spawn_send_request(int sock, const void *data, size_t len, const int *fds, int n_fds);
/* CLOCK_MONOTONIC in milliseconds, for the deadlines above. */
int64_t spawn_now_ms(void);

#endif
