/*
 * What the supervisor hands to the sandbox's init, and the messages init
 * sends back.
 *
 * Process tree:
 *   supervisor (caller's process, host namespaces)
 *     └─ init: PID 1 of the sandbox's pid namespace; builds the root, then
 *        spawns the command, forwards signals, reaps, and on the command's
 *        exit kills everything left and reports the status.
 *          └─ command: drops every privilege, applies landlock and seccomp,
 *             execs.
 *
 * All of the context is prepared in the supervisor so that init and the
 * command never allocate between clone and execve.
 */
#ifndef CORRAL_JAIL_JAIL_H
#define CORRAL_JAIL_JAIL_H

#include "corral.h"
#include "jail/environment.h"
#include "jail/idmap.h"
#include "jail/mount_plan.h"

#include <stdint.h>

struct seccomp_program;

struct jail_context {
	const corral_policy *policy;
	struct jail_ids ids;
	struct mount_plan plan;
	struct environment env;
	struct seccomp_program *seccomp;
	char *const *argv;
	const char *cwd;
	int io_fds[3];     /* -1: inherit */
	int sync_read_fd;  /* init waits here for its id maps */
	int status_write_fd;
};

enum jail_message_type {
	JAIL_MSG_SETUP_ERROR = 1,  /* init or the command failed before execve */
	JAIL_MSG_EXEC_ERROR = 2,   /* execve failed: not found / not executable */
	JAIL_MSG_EXITED = 3,       /* the command finished: wait_status is set */
};

struct jail_message {
	uint32_t type;
	int32_t wait_status;
	corral_error error;
};

/* Runs in the cloned child; never returns. */
__attribute__((noreturn)) void jail_init_main(struct jail_context *ctx);

#endif
