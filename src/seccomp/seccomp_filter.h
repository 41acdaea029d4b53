/*
 * The sandbox's seccomp policy (see docs/seccomp.md).
 *
 * The filter is compiled with libseccomp once, in the supervisor, into a BPF
 * program held in memory; the sandbox's setup child then installs that
 * program with one seccomp(2) call and no allocation, right before execve.
 */
#ifndef CORRAL_SECCOMP_FILTER_H
#define CORRAL_SECCOMP_FILTER_H

#include "corral.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct seccomp_program;

struct seccomp_options {
	/* Reserved for later policies (e.g. allowing nested user namespaces). */
	bool allow_nested_userns;
	/* Refuse denied calls through a user-notification listener instead of
	 * a plain EPERM, so the supervisor can record what was denied; the
	 * supervisor answers each with EPERM (src/jail/denials.c). */
	bool notify_denials;
};

/* Compile the default policy. */
int seccomp_program_build(const struct seccomp_options *options, struct seccomp_program **out,
                          corral_error *err);
/* Install in the calling thread; needs no_new_privs already set.
 * With notify_denials, *listener_fd receives the notification listener
 * (else -1). Allocation-free: safe in a cloned child. */
int seccomp_program_install(const struct seccomp_program *program, int *listener_fd,
                            corral_error *err);
void seccomp_program_free(struct seccomp_program *program);

/* Compile with libseccomp regardless of any prebuilt program (the build-time
 * generator and tests use this). */
int seccomp_program_compile(const struct seccomp_options *options, struct seccomp_program **out,
                            corral_error *err);
/* Emit the program as C arrays for seccomp_prebuilt.h. */
int seccomp_program_write_c(const struct seccomp_program *program, FILE *out);

/* Same instructions in the same order (tests: prebuilt == compiled). */
bool seccomp_program_equal(const struct seccomp_program *a, const struct seccomp_program *b);

/* Number of BPF instructions (for tests and -v output). */
size_t seccomp_program_length(const struct seccomp_program *program);

#endif
