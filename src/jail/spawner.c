/*
 * The spawner: init's child in an idle sandbox. Restricted once exactly as
 * a command would be, it then forks and execs one process per request from
 * the supervisor and reports each one's end (protocol in spawner.h).
 *
 * It never allocates: its buffers come from the supervisor, allocated
 * before the clone (a copy of a multi-threaded process must not touch
 * malloc's locks). Children start with vfork, as posix_spawn does: no copy
 * of the address space (a copy of the supervisor's, however large the
 * caller is), no at-fork handlers, no malloc locks; the child only makes
 * system calls until execve or _exit.
 */
#include "jail/spawner.h"

#include "jail/jail.h"
#include "util/error.h"
#include "util/fileutil.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* What a child that did not reach its program writes on its error pipe. */
struct spawn_child_error {
	uint32_t stage;
	int32_t errnum;
};

static void reply(int sock, uint64_t id, uint32_t type, pid_t pid, uint32_t stage, int errnum)
{
	struct spawn_reply r = {.id = id, .type = type, .pid = pid, .stage = stage,
	                        .errnum = errnum};
	/* The supervisor reads every reply; if it cannot take one it is gone
	 * or has given up on this request. */
	(void)send(sock, &r, sizeof r, MSG_NOSIGNAL | MSG_DONTWAIT);
}

__attribute__((noreturn)) static void child_fail(int errpipe, uint32_t stage, int errnum)
{
	struct spawn_child_error e = {.stage = stage, .errnum = errnum};
	(void)write_all(errpipe, &e, sizeof e);
	_exit(stage == SPAWN_STAGE_EXEC && errnum == ENOENT ? CORRAL_EXIT_NOT_FOUND
	                                                    : CORRAL_EXIT_NOT_EXECUTABLE);
}

/* The forked child: its own session, the caller's stdio, the cwd, execvp.
 * Every other restriction is the spawner's, inherited. */
__attribute__((noreturn)) static void child_main(const int stdio[3], const char *cwd,
                                                 char **argv, char **envp, int errpipe)
{
	sigset_t empty;
	sigemptyset(&empty);
	sigprocmask(SIG_SETMASK, &empty, NULL);
	if (setsid() < 0)
		child_fail(errpipe, SPAWN_STAGE_FORK, errno);
	/* stdio descriptors are received above 2 (0-2 are /dev/null), so no
	 * dup2 overwrites a source still to come. */
	for (int i = 0; i < 3; i++)
		if (stdio[i] >= 0 && dup2(stdio[i], i) < 0)
			child_fail(errpipe, SPAWN_STAGE_STDIO, errno);
	if (cwd && chdir(cwd) < 0)
		child_fail(errpipe, SPAWN_STAGE_CWD, errno);
	/* The spawner's descriptors (its socket, other processes' status
	 * pipes) are close-on-exec already; this covers any that is not. */
	if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		child_fail(errpipe, SPAWN_STAGE_FORK, errno);
	/* execvpe, not environ = envp: the child shares the spawner's memory
	 * until execve and writes none of it. */
	execvpe(argv[0], argv, envp);
	child_fail(errpipe, SPAWN_STAGE_EXEC, errno);
}

/* vfork in a function of its own: the parent resumes in this frame once
 * the child has exec'd or exited, so no local of the caller can be
 * clobbered by the child (which never returns here). The child calls only
 * system-call wrappers before execve or _exit, on memory no one else
 * touches meanwhile (the spawner is single-threaded and suspended), which
 * is what posix_spawn does too. */
__attribute__((noinline)) static pid_t start_child(const int stdio[3], const char *cwd,
                                                   char **argv, char **envp,
                                                   const int errpipe[2])
{
	pid_t pid = vfork(); // NOLINT(clang-analyzer-security.insecureAPI.vfork)
	if (pid == 0)
		// NOLINTNEXTLINE(clang-analyzer-unix.Vfork): see above
		child_main(stdio, cwd, argv, envp, errpipe[1]);
	return pid;
}

static struct spawn_slot *slot_find(struct spawner_buffers *buf, uint64_t id)
{
	for (size_t i = 0; i < SPAWN_SLOTS; i++)
		if (buf->slots[i].id == id)
			return &buf->slots[i];
	return NULL;
}

/* Reap every child that ended and report it on its status pipe. */
static void reap(struct spawner_buffers *buf, int sigfd)
{
	struct signalfd_siginfo si;
	while (read(sigfd, &si, sizeof si) == (ssize_t)sizeof si)
		;
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (size_t i = 0; i < SPAWN_SLOTS; i++) {
			struct spawn_slot *s = &buf->slots[i];
			if (s->id == 0 || s->pid != pid)
				continue;
			struct spawn_status rec = {.type = SPAWN_STATUS_WAIT, .wait_status = status};
			/* One record, well under PIPE_BUF: written whole or,
			 * if the supervisor closed its end, not at all. */
			(void)write_all(s->status_fd, &rec, sizeof rec);
			close(s->status_fd);
			*s = (struct spawn_slot){.status_fd = -1};
			break;
		}
	}
}

/* Split the request's strings into argv, env and cwd. */
static int parse_strings(struct spawner_buffers *buf, size_t len, const char **cwd)
{
	const struct spawn_request *h = &buf->msg.header;
	if (h->argc < 1 || h->argc > SPAWN_STRINGS_MAX || h->envc > SPAWN_STRINGS_MAX - h->argc ||
	    h->has_cwd > 1 || h->strings_len != len)
		return -1;
	char *p = buf->msg.bytes + sizeof *h, *end = p + len;
	uint32_t want = h->argc + h->envc + h->has_cwd;
	size_t slot = 0;
	*cwd = NULL;
	for (uint32_t k = 0; k < want; k++) {
		char *nul = memchr(p, '\0', (size_t)(end - p));
		if (!nul)
			return -1;
		if (k < h->argc + h->envc) {
			buf->strings[slot++] = p;
			if (k + 1 == h->argc)
				buf->strings[slot++] = NULL;
		} else {
			*cwd = p;
		}
		p = nul + 1;
	}
	if (p != end || buf->strings[0][0] == '\0')
		return -1;
	buf->strings[slot] = NULL;
	return 0;
}

/* Start one process; on success its slot holds the status pipe. */
static void exec_request(struct spawner_buffers *buf, int sock, size_t len, int fds[SPAWN_FDS_MAX],
                         int n_fds)
{
	const struct spawn_request *h = &buf->msg.header;
	uint64_t id = h->id;
	const char *cwd = NULL;
	int stdio[3] = {-1, -1, -1};
	int want = 1;
	for (int i = 0; i < 3; i++)
		if (h->fd_mask & (1u << i))
			stdio[i] = fds[want++];
	if (id == 0 || (h->fd_mask & ~7u) || n_fds != want || slot_find(buf, id) ||
	    parse_strings(buf, len, &cwd) < 0) {
		reply(sock, id, SPAWN_REPLY_FAILED, 0, SPAWN_STAGE_REQUEST, EINVAL);
		return;
	}
	struct spawn_slot *slot = slot_find(buf, 0);
	if (!slot) {
		reply(sock, id, SPAWN_REPLY_FAILED, 0, SPAWN_STAGE_BUSY, EAGAIN);
		return;
	}
	int errpipe[2];
	if (pipe2(errpipe, O_CLOEXEC) < 0) {
		reply(sock, id, SPAWN_REPLY_FAILED, 0, SPAWN_STAGE_FORK, errno);
		return;
	}
	char **argv = buf->strings;
	char **envp = buf->strings + h->argc + 1;
	pid_t pid = start_child(stdio, cwd, argv, envp, errpipe);
	int fork_errno = errno;
	close(errpipe[1]);
	if (pid < 0) {
		close(errpipe[0]);
		reply(sock, id, SPAWN_REPLY_FAILED, 0, SPAWN_STAGE_FORK, fork_errno);
		return;
	}
	/* vfork returned: the child has exec'd (EOF, the pipe was
	 * close-on-exec) or written why not and exited. */
	struct spawn_child_error ce;
	ssize_t n = read_full(errpipe[0], &ce, sizeof ce);
	close(errpipe[0]);
	if (n != 0) {
		int status;
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if (n != (ssize_t)sizeof ce)
			ce = (struct spawn_child_error){.stage = SPAWN_STAGE_FORK, .errnum = EIO};
		reply(sock, id, SPAWN_REPLY_FAILED, 0, ce.stage, ce.errnum);
		return;
	}
	*slot = (struct spawn_slot){.id = id, .pid = pid, .status_fd = fds[0]};
	fds[0] = -1;
	reply(sock, id, SPAWN_REPLY_STARTED, pid, 0, 0);
}

/* One request. Returns -1 when the supervisor has closed its end. */
static int serve(struct spawner_buffers *buf, int sock)
{
	struct iovec iov = {.iov_base = buf->msg.bytes, .iov_len = sizeof buf->msg.bytes};
	union {
		char b[CMSG_SPACE(SPAWN_FDS_MAX * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
	                     .msg_controllen = sizeof ctl.b};
	ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (n == 0)
		return -1;
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : -1;
	int fds[SPAWN_FDS_MAX] = {-1, -1, -1, -1};
	int n_fds = 0;
	bool extra = (msg.msg_flags & MSG_CTRUNC) != 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < count; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
			if (n_fds < SPAWN_FDS_MAX)
				fds[n_fds++] = fd;
			else {
				close(fd);
				extra = true;
			}
		}
	}
	const struct spawn_request *h = &buf->msg.header;
	if ((size_t)n < sizeof *h || (msg.msg_flags & MSG_TRUNC)) {
		/* Not a request at all: no id to answer. */
	} else if (h->type == SPAWN_REQ_SIGNAL) {
		struct spawn_slot *s = h->id ? slot_find(buf, h->id) : NULL;
		/* Not yet reaped, so the pid is still this process's. */
		if (s)
			(void)kill(s->pid, h->signal);
	} else if (h->type == SPAWN_REQ_EXEC && !extra) {
		exec_request(buf, sock, (size_t)n - sizeof *h, fds, n_fds);
	} else {
		reply(sock, h->id, SPAWN_REPLY_FAILED, 0, SPAWN_STAGE_REQUEST, EINVAL);
	}
	for (int i = 0; i < n_fds; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return 0;
}

void spawner_main(struct jail_context *ctx)
{
	corral_error err = {0};
	struct spawner_buffers *buf = ctx->spawn_buf;
	int sock = ctx->spawn_sock;

	/* The processes' stdio is what each request brings; the spawner's
	 * own is nothing of the caller's. */
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0) {
		error_errno(&err, "open /dev/null");
		jail_fail_setup(ctx, &err);
	}
	for (int fd = 0; fd < 3; fd++) {
		if (dup2(null, fd) < 0) {
			error_errno(&err, "dup2 /dev/null");
			jail_fail_setup(ctx, &err);
		}
	}
	if (null > 2)
		close(null);
	if (jail_restrict(ctx, &err) < 0)
		jail_fail_setup(ctx, &err);
	/* Non-dumpable: the sandbox's processes run as the same user, and
	 * this keeps them from ptrace, /proc/PID/mem and /proc/PID/fd of the
	 * spawner (its socket to the supervisor). Each child's execve makes
	 * it dumpable again. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
		error_errno(&err, "set the spawner non-dumpable");
		jail_fail_setup(ctx, &err);
	}
	/* SIGCHLD through a signalfd; SIGPIPE blocked, so a status pipe the
	 * supervisor closed gives EPIPE. Children restore an empty mask. */
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGPIPE);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0) {
		error_errno(&err, "block signals");
		jail_fail_setup(ctx, &err);
	}
	sigdelset(&mask, SIGPIPE);
	int sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sigfd < 0) {
		error_errno(&err, "signalfd");
		jail_fail_setup(ctx, &err);
	}
	for (size_t i = 0; i < SPAWN_SLOTS; i++)
		buf->slots[i] = (struct spawn_slot){.status_fd = -1};
	/* Only the request socket and the signalfd stay: not init's status
	 * pipe, not the listener's socket, nothing the caller leaked. */
	jail_close_fds_except(sock, sigfd);
	reply(sock, 0, SPAWN_REPLY_READY, 0, 0, 0);

	for (;;) {
		struct pollfd p[2] = {{.fd = sock, .events = POLLIN},
		                      {.fd = sigfd, .events = POLLIN}};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			_exit(CORRAL_EXIT_FAILURE);
		}
		if (p[1].revents)
			reap(buf, sigfd);
		if (p[0].revents & POLLIN) {
			if (serve(buf, sock) < 0)
				_exit(0);
		} else if (p[0].revents) {
			/* The supervisor closed its end: the sandbox ends. */
			_exit(0);
		}
	}
}
