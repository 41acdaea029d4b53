/*
 * The supervisor's end of the spawner protocol (spawner.h): sending a
 * request with its descriptors, awaiting the matching reply, decoding a
 * process's status record. Separate from exec.c, which builds requests and
 * owns the process handles, so that everything read from the (hostile)
 * spawner is parsed in one small file.
 */
#include "jail/jail.h"
#include "jail/spawner.h"

#include "util/error.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* How long a request may wait for room in the socket's buffer. */
#define SEND_TIMEOUT_MS 1000

int64_t spawn_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Receive one reply; descriptors attached to it are closed (the kernel
 * drops any that do not fit the control buffer). Returns the byte count,
 * 0 at the peer's close, -1 with errno. */
static ssize_t receive_reply(int sock, struct spawn_reply *r, bool *truncated)
{
	struct iovec iov = {.iov_base = r, .iov_len = sizeof *r};
	union {
		char b[CMSG_SPACE(SPAWN_FDS_MAX * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
	                     .msg_controllen = sizeof ctl.b};
	ssize_t n = recvmsg(sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < count; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
			close(fd);
		}
	}
	*truncated = (msg.msg_flags & MSG_TRUNC) != 0;
	return n;
}

int spawn_await_reply(int sock, int alive_fd, uint64_t id, int timeout_ms,
                      struct spawn_reply *reply)
{
	int64_t deadline = spawn_now_ms() + timeout_ms;
	for (;;) {
		int64_t left = deadline - spawn_now_ms();
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		struct pollfd p[2] = {{.fd = sock, .events = POLLIN},
		                      {.fd = alive_fd, .events = POLLIN}};
		int ready = poll(p, alive_fd >= 0 ? 2 : 1, (int)left);
		if (ready < 0 && errno != EINTR)
			return -1;
		if (ready <= 0)
			continue;
		if (p[0].revents & POLLIN) {
			struct spawn_reply r;
			bool truncated = false;
			ssize_t n = receive_reply(sock, &r, &truncated);
			if (n == 0) {
				errno = ESRCH;
				return -1;
			}
			if (n < 0 && errno != EINTR && errno != EAGAIN)
				return -1;
			if (n == (ssize_t)sizeof r && !truncated && r.id == id) {
				*reply = r;
				return 0;
			}
			/* A stale reply (its request timed out) or garbage. */
			continue;
		}
		if (p[0].revents || (alive_fd >= 0 && p[1].revents)) {
			errno = ESRCH;
			return -1;
		}
	}
}

bool spawn_status_decode(const void *rec, size_t len, corral_process_status *status)
{
	struct spawn_status s;
	if (len != sizeof s)
		return false;
	memcpy(&s, rec, sizeof s);
	if (s.type != SPAWN_STATUS_WAIT)
		return false;
	int ws = s.wait_status;
	if (WIFEXITED(ws)) {
		*status = (corral_process_status){.state = CORRAL_PROCESS_EXITED,
		                                  .exit_code = WEXITSTATUS(ws)};
		return true;
	}
	if (WIFSIGNALED(ws) && WTERMSIG(ws) > 0 && WTERMSIG(ws) <= SIGRTMAX) {
		*status = (corral_process_status){.state = CORRAL_PROCESS_SIGNALED,
		                                  .signal = WTERMSIG(ws)};
		return true;
	}
	return false;
}

/* init's pidfd is readable once init has exited: the sandbox is over. */
int spawn_send_request(int sock, const void *data, size_t len, const int *fds, int n_fds)
{
	struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
	union {
		char b[CMSG_SPACE(SPAWN_FDS_MAX * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	memset(&ctl, 0, sizeof ctl);
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	if (n_fds > 0) {
		msg.msg_control = ctl.b;
		msg.msg_controllen = CMSG_SPACE((size_t)n_fds * sizeof(int));
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN((size_t)n_fds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, (size_t)n_fds * sizeof(int));
	}
	/* The socket's buffer holds a few hundred small requests (signals
	 * queue while the spawner waits for a child's execve); past that, wait
	 * for room, but never longer than SEND_TIMEOUT_MS: a spawner that
	 * stopped reading must not hold the supervisor. */
	int64_t deadline = spawn_now_ms() + SEND_TIMEOUT_MS;
	ssize_t n;
	for (;;) {
		n = sendmsg(sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n >= 0 || (errno != EINTR && errno != EAGAIN))
			break;
		int64_t left = deadline - spawn_now_ms();
		if (errno == EAGAIN) {
			if (left <= 0)
				break;
			struct pollfd p = {.fd = sock, .events = POLLOUT};
			if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
				return -1;
			errno = EAGAIN;
		}
	}
	if (n < 0)
		return -1;
	if ((size_t)n != len) {
		errno = EMSGSIZE;
		return -1;
	}
	return 0;
}
