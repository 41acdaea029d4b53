/*
 * Landlock as a second wall behind the mount table: the sandboxed command may
 * read and execute what the sandbox's root shows, and write only below the
 * paths granted writable. Uses the best ABI the kernel offers and degrades to
 * nothing (reported, not fatal) on kernels without Landlock.
 */
#ifndef CORRAL_LANDLOCK_FS_H
#define CORRAL_LANDLOCK_FS_H

#include "corral.h"

#include <stdbool.h>
#include <stddef.h>

enum landlock_grant_access {
	LANDLOCK_GRANT_READ = 1,   /* read files, list dirs, execute */
	LANDLOCK_GRANT_WRITE = 2,  /* create, write, remove, rename, truncate below */
	LANDLOCK_GRANT_DEVICE = 4, /* open device files for writing (and ioctl them) */
};

struct landlock_grant {
	const char *path;   /* absolute, in the sandbox's final view */
	unsigned access;    /* LANDLOCK_GRANT_* bits */
};

/* The Landlock ABI version the running kernel offers, 0 if none. */
int landlock_abi_version(void);

/* Restrict the calling thread (and its future children) to `grants`.
 * Paths that do not exist are skipped. Sets *abi_used to the ABI applied
 * (0 when the kernel has no Landlock: then nothing is done and 0 returned).
 * `audit_after_exec` (ABI >= 7): the kernel logs denials to audit also
 * after execve, not only before (its default). Needs no_new_privs, or
 * CAP_SYS_ADMIN in the caller's user namespace. Allocation-free. */
int landlock_restrict(const struct landlock_grant *grants, size_t n_grants, bool audit_after_exec,
                      int *abi_used, corral_error *err);

#endif
