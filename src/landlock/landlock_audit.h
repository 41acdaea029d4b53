/*
 * Landlock's refusals, read back from the kernel's audit records.
 *
 * On ABI >= 7 the kernel logs each Landlock denial to the audit subsystem
 * (when audit is enabled): an AUDIT_LANDLOCK_ACCESS record naming the
 * domain, the access refused and the path, and AUDIT_LANDLOCK_DOMAIN
 * records when a domain first shows up and when it is freed. The
 * supervisor reads them from the audit netlink socket's read-only
 * multicast group (CAP_AUDIT_READ), which leaves auditd and its rules
 * alone, and keeps those of its sandbox's domain.
 *
 * Which domain is the sandbox's: right after restricting itself, the
 * sandbox's first process sends signal 0 to init, which the domain's
 * signal scope refuses; the first such record aimed at init's host pid
 * names the domain. Its deallocation record (all of the sandbox's
 * processes gone) closes the stream and gives the kernel's own count.
 */
#ifndef CORRAL_LANDLOCK_AUDIT_H
#define CORRAL_LANDLOCK_AUDIT_H

#include "corral.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define LANDLOCK_AUDIT_TRACKED 32
#define LANDLOCK_AUDIT_WHY_MAX 256

struct landlock_audit_entry {
	char path[256];
	char access[64];
	uint64_t count;
};

struct landlock_audit {
	int fd;             /* the multicast socket, or -1 when not reading */
	pid_t init_pid;     /* host pid of the sandbox's init: the probe's target */
	uint64_t domain;    /* the sandbox's domain id, 0 until the probe's record */
	bool ended;         /* the domain's deallocation record arrived */
	bool lost;          /* the socket overflowed: records were dropped */
	uint64_t kernel_total; /* denials the kernel counted (deallocation record) */
	uint64_t seen;      /* records of the domain after the probe */
	uint64_t untracked; /* path denials beyond the table */
	struct landlock_audit_entry entries[LANDLOCK_AUDIT_TRACKED];
	unsigned n;
	char why[LANDLOCK_AUDIT_WHY_MAX]; /* why denials are not (all) shown, or "" */
};

/* Before the sandbox starts: start reading, or say why it cannot be done
 * (Landlock too old, no CAP_AUDIT_READ, audit disabled) in a->why.
 * Returns true when reading; the sandbox must then be restricted with
 * logging after execve and send the probe. Never fails the sandbox. */
bool landlock_audit_open(struct landlock_audit *a);
/* One record (its netlink type and text): kept if it is the sandbox's. */
void landlock_audit_take(struct landlock_audit *a, int type, const char *text);
/* Records pending on a->fd: take those of the sandbox's domain. */
void landlock_audit_read(struct landlock_audit *a);
/* Once every process of the sandbox is gone: wait up to timeout_ms for
 * the domain's end, then stop reading (0: the sandbox never restricted
 * itself, nothing to wait for). */
void landlock_audit_finish(struct landlock_audit *a, int timeout_ms);
/* Append the path denials to result->denials, as room allows. */
void landlock_audit_export(const struct landlock_audit *a, corral_result *result);
void landlock_audit_close(struct landlock_audit *a);

#endif
