/*
 * corral serve's background processes: commands started in a sandbox that
 * the client drives over several requests (stdin, signals, output, status).
 * Each has a pump thread that moves its stdout and stderr into a bounded
 * buffer of chunks (the oldest dropped past output_max, counted), feeds its
 * stdin from what clients post, enforces its timeout, and records its end.
 *
 * One table per sandbox, one lock for the table and everything in it. An
 * entry is referenced by the table while listed and by each request using
 * it; ended entries past PROCESSES_KEPT are pruned, oldest first.
 */
#ifndef CORRAL_SERVER_PROCESSES_H
#define CORRAL_SERVER_PROCESSES_H

#include "corral.h"
#include "server/output.h"
#include "server/routes.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define PROCESSES_MAX 16        /* running at once in one sandbox */
#define PROCESSES_KEPT 64       /* listed, ended ones included */
#define PROCESS_STDIN_MAX (1u << 20)  /* posted and not yet read by the process */

struct chunk {
	struct chunk *next;
	uint64_t pos;            /* of its first byte, in all the output kept or not */
	size_t len;
	int stream;              /* 0 stdout, 1 stderr */
	unsigned char data[];    /* text mode: valid UTF-8 */
};

struct bgproc {
	int pid;
	corral_process *proc;
	json_t *argv;
	int out_fd[2], in_fd, wake_fd;
	struct buf in_pending;
	size_t in_off;
	bool in_eof;              /* close stdin once in_pending is written */
	bool base64;
	uint64_t output_max;
	struct chunk *head, *tail;
	uint64_t kept, end_pos, dropped, bytes[2];
	unsigned char carry[2][4];
	size_t n_carry[2];
	int64_t started_ms, ended_ms;
	uint64_t deadline_ns;     /* 0: none */
	bool timed_out, ended;
	corral_process_status st;
	pthread_t pump;
	unsigned refs;
	bool listed;
	struct bgproc *next;
};

struct proc_table {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	struct bgproc *list;
	size_t n;
};

void proc_table_init(struct proc_table *t);
/* The sandbox has been killed: wait for every pump and free every entry.
 * No request may use the table any more. */
void proc_table_end(struct proc_table *t);

/* Start params' command (taken over) with piped stdio. The output_max of
 * the processes listed, this one's included, may total `budget` bytes at
 * most (ended ones are forgotten to make room): what bounds the daemon's
 * memory for one sandbox's output. The pid, or -1 with *status (400, 409,
 * 429, 500), *code and message. */
int proc_spawn(struct proc_table *t, corral_sandbox *sb, struct exec_params *params,
               bool stdin_eof, uint64_t budget, unsigned *status, const char **code,
               char message[REQUEST_MESSAGE_MAX]);
/* The listed entry, referenced, or NULL. */
struct bgproc *proc_get(struct proc_table *t, int pid);
void proc_put(struct proc_table *t, struct bgproc *p);

/* Queue bytes for its stdin (and close it after them with eof). 0, or the
 * HTTP status of the refusal (409 stdin closed or process ended, 413 over
 * PROCESS_STDIN_MAX pending) with *code and message. */
unsigned proc_write_stdin(struct proc_table *t, struct bgproc *p, const void *data, size_t len,
                          bool eof, const char **code, char message[REQUEST_MESSAGE_MAX]);
/* 0, or 409 (ended) / 500 with *code and message. */
unsigned proc_signal(struct proc_table *t, struct bgproc *p, int sig, const char **code,
                     char message[REQUEST_MESSAGE_MAX]);

#endif
