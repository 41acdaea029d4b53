/*
 * Credentials and capabilities inside the sandbox. Dropping is ordered so
 * each step still holds the capability it needs: securebits and the
 * bounding set first (CAP_SETPCAP), then ids (CAP_SETUID/SETGID), then the
 * remaining sets, then no_new_privs.
 */
#ifndef CORRAL_JAIL_PRIVILEGES_H
#define CORRAL_JAIL_PRIVILEGES_H

#include "corral.h"

#include <stdbool.h>
#include <sys/types.h>

/* Become (uid, gid) inside the user namespace; clear supplementary groups
 * where the map allows it. Capabilities are kept. */
int privileges_set_ids(uid_t uid, gid_t gid, bool can_setgroups, corral_error *err);

/* Switch to (uid, gid) and drop every capability from every set
 * (including bounding and ambient), lock securebits, set no_new_privs. */
int privileges_drop_to(uid_t uid, gid_t gid, bool can_setgroups, corral_error *err);

/* For corral's init: keep only CAP_KILL (to signal the sandbox's
 * processes), in every set; non-dumpable; no_new_privs. */
int privileges_reduce_to_kill(corral_error *err);

#endif
