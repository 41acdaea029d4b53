/*
 * Commands in a running sandbox, the supervisor's side: requests to the
 * spawner (spawner.h), its replies, and each process's status pipe.
 *
 * The spawner runs as the sandboxed user, so whatever comes back from it
 * is treated as hostile: replies are fixed-size records matched to the
 * request id the supervisor chose, anything else is skipped (descriptors
 * attached to it closed), every wait on it is bounded by a deadline and by
 * init's pidfd, and a process's end arrives on a pipe only that process's
 * handle reads. At worst a subverted spawner lies about its own sandbox's
 * processes or stops answering; it cannot reach another sandbox's handles
 * or make the supervisor block past the deadline.
 *
 * The wire (sending, awaiting replies, decoding statuses) is in
 * spawn_client.c.
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

/* How long an exec request may take to be answered: the spawner replies
 * once execve has succeeded or failed, normally within a millisecond. */
#define EXEC_REPLY_TIMEOUT_MS 10000
/* How long the sandbox may take to be built before it is ready. */
#define READY_TIMEOUT_MS 30000

struct corral_process {
	corral_sandbox *sb;
	uint64_t id;
	pid_t pid;
	int status_fd;
	corral_process_status status;
};

static bool sandbox_ended(const corral_sandbox *sb)
{
	struct pollfd p = {.fd = sb->pidfd, .events = POLLIN};
	return poll(&p, 1, 0) != 0;
}

int exec_await_ready(corral_sandbox *sb, corral_error *err)
{
	struct spawn_reply r;
	if (spawn_await_reply(sb->spawn_sock, sb->pidfd, 0, READY_TIMEOUT_MS, &r) < 0) {
		if (errno == ETIMEDOUT)
			return error_set(err, CORRAL_ERR_SETUP, ETIMEDOUT,
			                 "the sandbox was not ready within %d s", READY_TIMEOUT_MS / 1000);
		return error_set(err, CORRAL_ERR_SETUP, errno == ESRCH ? 0 : errno,
		                 "the sandbox ended before it was ready");
	}
	if (r.type != SPAWN_REPLY_READY)
		return error_set(err, CORRAL_ERR_SETUP, 0,
		                 "the sandbox's spawner sent an invalid reply");
	return 0;
}

/* "NAME=..." entries name the same variable. */
static bool same_name(const char *a, const char *b)
{
	size_t n = strcspn(a, "=");
	return strncmp(a, b, n) == 0 && b[n] == '=';
}

/* Whether env[i] is overridden by a later entry of the request. */
static bool overridden(char *const *env, size_t i)
{
	for (size_t j = i + 1; env[j]; j++)
		if (same_name(env[i], env[j]))
			return true;
	return false;
}

/* Append one string; false when the request would be too large. */
static bool put(char *buf, size_t *len, uint32_t *count, uint32_t *total, const char *s)
{
	size_t n = strlen(s) + 1;
	if (n > SPAWN_STRINGS_BYTES - *len || *total >= SPAWN_STRINGS_MAX)
		return false;
	memcpy(buf + *len, s, n);
	*len += n;
	(*count)++;
	(*total)++;
	return true;
}

/* The request's strings after `header`: argv, the policy's environment
 * with the request's over it, cwd. */
static int build_request(const corral_sandbox *sb, const corral_exec_request *req,
                         struct spawn_request *header, char *strings, corral_error *err)
{
	size_t len = 0;
	uint32_t total = 0;
	memset(header, 0, sizeof *header);
	header->type = SPAWN_REQ_EXEC;
	for (size_t i = 0; req->argv[i]; i++)
		if (!put(strings, &len, &header->argc, &total, req->argv[i]))
			goto too_big;
	for (size_t i = 0; req->env && req->env[i]; i++) {
		const char *eq = strchr(req->env[i], '=');
		if (!eq || eq == req->env[i])
			return error_set(err, CORRAL_ERR_USAGE, 0,
			                 "exec %s: environment entry %s is not NAME=VALUE",
			                 req->argv[0], req->env[i]);
	}
	for (size_t i = 0; i < sb->env.n; i++) {
		bool replaced = false;
		for (size_t j = 0; req->env && req->env[j] && !replaced; j++)
			replaced = same_name(sb->env.vars[i], req->env[j]);
		if (!replaced && !put(strings, &len, &header->envc, &total, sb->env.vars[i]))
			goto too_big;
	}
	for (size_t i = 0; req->env && req->env[i]; i++)
		if (!overridden(req->env, i) && !put(strings, &len, &header->envc, &total, req->env[i]))
			goto too_big;
	if (req->cwd) {
		uint32_t ignored = 0;
		if (!req->cwd[0])
			return error_set(err, CORRAL_ERR_USAGE, 0, "exec %s: empty working directory",
			                 req->argv[0]);
		if (!put(strings, &len, &ignored, &total, req->cwd))
			goto too_big;
		header->has_cwd = 1;
	}
	header->strings_len = (uint32_t)len;
	return 0;
too_big:
	return error_set(err, CORRAL_ERR_USAGE, E2BIG,
	                 "exec %s: argv, environment and cwd exceed %d bytes or %d strings",
	                 req->argv[0], SPAWN_STRINGS_BYTES, SPAWN_STRINGS_MAX);
}

/* A FAILED reply as the caller's error. The errno comes from the sandbox:
 * only its value is used, and only within range. */
static int failed_exec(const corral_exec_request *req, const struct spawn_reply *r,
                       corral_error *err)
{
	const char *prog = req->argv[0];
	int e = r->errnum > 0 && r->errnum < 4096 ? r->errnum : EIO;
	switch (r->stage) {
	case SPAWN_STAGE_EXEC:
		if (e == ENOENT && !strchr(prog, '/'))
			return error_set(err, CORRAL_ERR_EXEC_NOT_FOUND, 0, "%s: command not found", prog);
		return error_set(err, e == ENOENT ? CORRAL_ERR_EXEC_NOT_FOUND : CORRAL_ERR_EXEC_DENIED,
		                 e, "%s", prog);
	case SPAWN_STAGE_CWD:
		return error_set(err, CORRAL_ERR_USAGE, e, "exec %s: working directory %s", prog,
		                 req->cwd ? req->cwd : "");
	case SPAWN_STAGE_BUSY:
		return error_set(err, CORRAL_ERR_USAGE, e, "exec %s: %d processes already run", prog,
		                 SPAWN_SLOTS);
	case SPAWN_STAGE_STDIO:
		return error_set(err, CORRAL_ERR_SETUP, e, "exec %s: stdio", prog);
	case SPAWN_STAGE_FORK:
		return error_set(err, CORRAL_ERR_SETUP, e, "exec %s: fork", prog);
	default:
		return error_set(err, CORRAL_ERR_INTERNAL, e, "exec %s: request refused", prog);
	}
}

static int ended_error(const char *prog, corral_error *err)
{
	return error_set(err, CORRAL_ERR_USAGE, ESRCH, "exec %s: the sandbox has ended", prog);
}

int corral_sandbox_exec(corral_sandbox *sb, const corral_exec_request *req,
                        corral_process **out, corral_error *err)
{
	int status_pipe[2] = {-1, -1};
	struct spawn_request *msg = NULL;
	corral_process *proc = NULL;
	int rc = -1;

	*out = NULL;
	if (!req || !req->argv || !req->argv[0] || !req->argv[0][0])
		return error_set(err, CORRAL_ERR_USAGE, 0, "exec: no command given");
	if (!sb->idle)
		return error_set(err, CORRAL_ERR_USAGE, 0,
		                 "exec %s: the sandbox runs a command of its own (start it idle)",
		                 req->argv[0]);
	msg = malloc(sizeof *msg + SPAWN_STRINGS_BYTES);
	proc = calloc(1, sizeof *proc);
	if (!msg || !proc) {
		error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "exec %s", req->argv[0]);
		goto cleanup;
	}
	proc->status_fd = -1;
	if (build_request(sb, req, msg, (char *)(msg + 1), err) < 0)
		goto cleanup;
	/* The process's end is reported on a pipe of its own: nothing the
	 * sandbox says about one process can reach another's handle. */
	if (pipe2(status_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		error_errno(err, "exec %s: status pipe", req->argv[0]);
		goto cleanup;
	}
	int fds[SPAWN_FDS_MAX] = {status_pipe[1]};
	int n_fds = 1;
	const int stdio[3] = {req->stdin_fd, req->stdout_fd, req->stderr_fd};
	for (int i = 0; i < 3; i++) {
		if (stdio[i] >= 0) {
			msg->fd_mask |= 1u << i;
			fds[n_fds++] = stdio[i];
		}
	}

	pthread_mutex_lock(&sb->spawn_lock);
	if (sandbox_ended(sb)) {
		pthread_mutex_unlock(&sb->spawn_lock);
		ended_error(req->argv[0], err);
		goto cleanup;
	}
	msg->id = ++sb->next_request_id;
	proc->id = msg->id;
	int sent = spawn_send_request(sb->spawn_sock, msg, sizeof *msg + msg->strings_len, fds, n_fds);
	int send_errno = errno;
	struct spawn_reply r = {0};
	int got = -1, got_errno = 0;
	if (sent == 0) {
		close(status_pipe[1]);
		status_pipe[1] = -1;
		got = spawn_await_reply(sb->spawn_sock, sb->pidfd, proc->id, EXEC_REPLY_TIMEOUT_MS, &r);
		got_errno = errno;
	}
	pthread_mutex_unlock(&sb->spawn_lock);

	if (sent < 0) {
		if (send_errno == EPIPE || send_errno == ECONNRESET || send_errno == ECONNREFUSED)
			ended_error(req->argv[0], err);
		else if (send_errno == EBADF)
			error_set(err, CORRAL_ERR_USAGE, EBADF, "exec %s: stdio descriptor", req->argv[0]);
		else if (send_errno == EAGAIN)
			error_set(err, CORRAL_ERR_INTERNAL, 0,
			          "exec %s: the sandbox is not taking requests", req->argv[0]);
		else
			error_set(err, CORRAL_ERR_INTERNAL, send_errno, "exec %s: request", req->argv[0]);
		goto cleanup;
	}
	if (got < 0) {
		if (got_errno == ESRCH)
			ended_error(req->argv[0], err);
		else if (got_errno == ETIMEDOUT)
			error_set(err, CORRAL_ERR_INTERNAL, 0,
			          "exec %s: the sandbox did not answer within %d s", req->argv[0],
			          EXEC_REPLY_TIMEOUT_MS / 1000);
		else
			error_set(err, CORRAL_ERR_INTERNAL, got_errno, "exec %s: reply", req->argv[0]);
		goto cleanup;
	}
	if (r.type == SPAWN_REPLY_FAILED) {
		failed_exec(req, &r, err);
		goto cleanup;
	}
	if (r.type != SPAWN_REPLY_STARTED || r.pid <= 0) {
		error_set(err, CORRAL_ERR_INTERNAL, 0,
		          "exec %s: the sandbox's spawner sent an invalid reply", req->argv[0]);
		goto cleanup;
	}
	proc->sb = sb;
	proc->pid = r.pid;
	proc->status_fd = status_pipe[0];
	status_pipe[0] = -1;
	proc->status.state = CORRAL_PROCESS_RUNNING;
	*out = proc;
	proc = NULL;
	rc = 0;
cleanup:
	for (int i = 0; i < 2; i++)
		if (status_pipe[i] >= 0)
			close(status_pipe[i]);
	free(msg);
	free(proc);
	return rc;
}

pid_t corral_process_pid(const corral_process *proc)
{
	return proc->pid;
}

int corral_process_pollfd(const corral_process *proc)
{
	return proc->status_fd;
}

int corral_process_wait(corral_process *proc, int timeout_ms, corral_process_status *status,
                        corral_error *err)
{
	if (proc->status.state != CORRAL_PROCESS_RUNNING) {
		*status = proc->status;
		return 0;
	}
	int64_t deadline = timeout_ms < 0 ? INT64_MAX : spawn_now_ms() + timeout_ms;
	for (;;) {
		/* A deadline already past is a look (0), never "no limit" (-1):
		 * the clock may tick between setting the deadline and here (a
		 * preemption does it), and -1 would then wait for the process's
		 * end, however long it runs. */
		int poll_ms = -1;
		if (timeout_ms >= 0) {
			int64_t left = deadline - spawn_now_ms();
			poll_ms = left <= 0 ? 0 : left > INT32_MAX ? INT32_MAX : (int)left;
		}
		struct pollfd p = {.fd = proc->status_fd, .events = POLLIN};
		int ready = poll(&p, 1, poll_ms);
		if (ready < 0 && errno == EINTR)
			continue;
		if (ready < 0)
			return error_errno(err, "wait for process %d", (int)proc->pid);
		if (ready == 0) {
			if (timeout_ms >= 0 && spawn_now_ms() >= deadline)
				break;
			continue;
		}
		/* One byte more than a record: anything but exactly one record
		 * is not one. */
		char rec[sizeof(struct spawn_status) + 1];
		ssize_t n = read(proc->status_fd, rec, sizeof rec);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return error_errno(err, "wait for process %d", (int)proc->pid);
		if (!spawn_status_decode(rec, (size_t)n, &proc->status))
			proc->status = (corral_process_status){.state = CORRAL_PROCESS_LOST};
		break;
	}
	*status = proc->status;
	return 0;
}

static int request_signal(corral_process *proc, int sig)
{
	struct spawn_request msg = {.type = SPAWN_REQ_SIGNAL, .id = proc->id, .signal = sig};
	pthread_mutex_lock(&proc->sb->spawn_lock);
	int rc = spawn_send_request(proc->sb->spawn_sock, &msg, sizeof msg, NULL, 0);
	pthread_mutex_unlock(&proc->sb->spawn_lock);
	return rc;
}

int corral_process_signal(corral_process *proc, int sig, corral_error *err)
{
	corral_process_status st;
	if (corral_process_wait(proc, 0, &st, err) < 0)
		return -1;
	if (st.state != CORRAL_PROCESS_RUNNING)
		return error_set(err, CORRAL_ERR_USAGE, ESRCH, "signal process %d", (int)proc->pid);
	if (sig < 0 || sig > SIGRTMAX)
		return error_set(err, CORRAL_ERR_USAGE, EINVAL, "signal process %d", (int)proc->pid);
	if (request_signal(proc, sig) < 0) {
		if (errno == EPIPE || errno == ECONNRESET)
			return error_set(err, CORRAL_ERR_USAGE, ESRCH,
			                 "signal process %d: the sandbox has ended", (int)proc->pid);
		return error_errno(err, "signal process %d", (int)proc->pid);
	}
	return 0;
}

void corral_process_free(corral_process *proc)
{
	if (!proc)
		return;
	corral_process_status st = {.state = CORRAL_PROCESS_LOST};
	if (corral_process_wait(proc, 0, &st, NULL) == 0 && st.state == CORRAL_PROCESS_RUNNING)
		(void)request_signal(proc, SIGKILL);
	close(proc->status_fd);
	free(proc);
}
