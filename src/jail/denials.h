/*
 * Denials that explain themselves: the sandbox's seccomp allowlist refuses
 * through a user-notification listener held by the supervisor, which records
 * each denied system call and answers EPERM, as a plain filter would. The
 * record lands in the run report and in `-v` output.
 */
#ifndef CORRAL_JAIL_DENIALS_H
#define CORRAL_JAIL_DENIALS_H

#include "corral.h"

#include <stdint.h>

#define DENIALS_TRACKED 64

struct denial_log {
	struct {
		int nr;
		uint64_t count;
	} calls[DENIALS_TRACKED];
	unsigned n;
	uint64_t untracked;  /* denials of calls beyond the table's size */
};

/* In the sandboxed command, right after installing the filter:
 * hand the listener to the supervisor. Allocation-free. */
int denials_send_listener(int sock, int listener_fd, corral_error *err);
/* In the supervisor: receive the listener, or -1 if the command sent none
 * (it failed before, or notification is off). */
int denials_receive_listener(int sock);

/* Answer one pending notification with EPERM and record it. Returns -1
 * when the listener is finished (all the sandbox's processes are gone). */
int denials_answer(int listener_fd, struct denial_log *log);

/* Copy the record into the public result, with system-call names. */
void denials_export(const struct denial_log *log, corral_result *result);

#endif
