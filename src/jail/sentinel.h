/*
 * A sandbox's cgroup must not outlive it even when the supervisor is
 * SIGKILLed. The sentinel is a tiny process the supervisor starts once the
 * cgroup exists (a clone sharing its memory, see sentinel.c): it waits on a
 * pipe and, if the supervisor vanishes without saying "done", kills and
 * removes the cgroup. (The sandbox's processes themselves die with the
 * supervisor through init's parent-death signal.)
 */
#ifndef CORRAL_JAIL_SENTINEL_H
#define CORRAL_JAIL_SENTINEL_H

#include "corral.h"

#include <sys/types.h>

struct cgroup_sandbox;

struct sentinel {
	pid_t pid;     /* 0: none */
	int fd;        /* write end; -1: none */
	void *area;    /* its stack and data, unmapped once it is reaped */
};

int sentinel_start(struct sentinel *s, struct cgroup_sandbox *cg, corral_error *err);
/* The supervisor cleaned up itself: tell the sentinel and reap it. */
void sentinel_dismiss(struct sentinel *s);

#endif
