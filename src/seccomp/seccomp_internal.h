/*
 * Shared by seccomp_filter.c and the policy's rules (seccomp_rules.c); not
 * part of the module's interface.
 */
#ifndef CORRAL_SECCOMP_SECCOMP_INTERNAL_H
#define CORRAL_SECCOMP_SECCOMP_INTERNAL_H

#include "seccomp/seccomp_filter.h"

#include <seccomp.h>

/* Fill ctx (default action already set) with the allowlist: every allowed
 * call, the conditional ones, ENOSYS for newer calls. */
int seccomp_build_allowlist(scmp_filter_ctx ctx, corral_error *err);
/* Fill ctx (default ALLOW) with the ioctl TIOCSTI/TIOCLINUX denials. */
int seccomp_build_ioctl_denylist(scmp_filter_ctx ctx, corral_error *err);

#endif
