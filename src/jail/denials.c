#include "jail/denials.h"

#include "util/error.h"
#include "util/fdpass.h"

#include <errno.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

int denials_send_listener(int sock, int listener_fd, corral_error *err)
{
	return fdpass_send(sock, listener_fd, "hand the seccomp listener to the supervisor", err);
}

int denials_receive_listener(int sock)
{
	return fdpass_recv(sock, MSG_DONTWAIT);
}

static void record(struct denial_log *log, int nr)
{
	for (unsigned i = 0; i < log->n; i++) {
		if (log->calls[i].nr == nr) {
			log->calls[i].count++;
			return;
		}
	}
	if (log->n < DENIALS_TRACKED) {
		log->calls[log->n].nr = nr;
		log->calls[log->n].count = 1;
		log->n++;
	} else {
		log->untracked++;
	}
}

int denials_answer(int listener_fd, struct denial_log *log)
{
	/* The kernel's structures may grow: ask for their sizes once. */
	static struct seccomp_notif_sizes sizes;
	if (sizes.seccomp_notif == 0 &&
	    syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) < 0)
		return -1;
	union {
		struct seccomp_notif n;
		char buf[512];
	} req;
	union {
		struct seccomp_notif_resp r;
		char buf[512];
	} resp;
	if (sizes.seccomp_notif > sizeof req || sizes.seccomp_notif_resp > sizeof resp)
		return -1;
	memset(&req, 0, sizeof req);
	if (ioctl(listener_fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0)
		/* ENOENT: the caller died meanwhile; anything else: done. */
		return errno == ENOENT || errno == EINTR ? 0 : -1;
	record(log, req.n.data.nr);
	memset(&resp, 0, sizeof resp);
	resp.r.id = req.n.id;
	resp.r.error = -EPERM;
	if (ioctl(listener_fd, SECCOMP_IOCTL_NOTIF_SEND, &resp) < 0 && errno != ENOENT)
		return -1;
	return 0;
}

void denials_export(const struct denial_log *log, corral_result *result)
{
	result->n_denials = 0;
	for (unsigned i = 0; i < log->n && result->n_denials < CORRAL_DENIALS_MAX; i++) {
		corral_denial *d = &result->denials[result->n_denials++];
		snprintf(d->kind, sizeof d->kind, "syscall");
		char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, log->calls[i].nr);
		if (name)
			snprintf(d->name, sizeof d->name, "%s", name);
		else
			snprintf(d->name, sizeof d->name, "syscall_%d", log->calls[i].nr);
		free(name);
		d->count = log->calls[i].count;
	}
}
