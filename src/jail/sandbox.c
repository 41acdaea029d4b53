/*
 * The supervisor side of a sandbox: prepare everything, clone init into its
 * namespaces, write its id maps, then wait for its report.
 */
#include "jail/jail.h"

#include "corral_config.h"
#include "check/host_check.h"
#include "policy/policy.h"
#include "seccomp/seccomp_filter.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/fileutil.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SANDBOX_NAMESPACES                                                                \
	(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC |       \
	 CLONE_NEWUTS | CLONE_NEWCGROUP)

struct corral_sandbox {
	pid_t init_pid;
	int pidfd;
	int status_read_fd;
	struct timespec started;
	bool reaped;
};

static uint64_t elapsed_ns(const struct timespec *since)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)(now.tv_sec - since->tv_sec) * 1000000000u +
	       (uint64_t)(now.tv_nsec - since->tv_nsec);
}

static void context_free(struct jail_context *ctx)
{
	mount_plan_free(&ctx->plan);
	environment_free(&ctx->env);
	seccomp_program_free(ctx->seccomp);
	ctx->seccomp = NULL;
}

/* Root mode: writable binds are idmapped from their owner on disk to the
 * sandbox user's host ids. One user namespace per distinct owner. */
static int attach_idmaps(struct jail_context *ctx, corral_error *err)
{
	uid_t to_uid = jail_ids_command_host_uid(&ctx->ids);
	gid_t to_gid = jail_ids_command_host_gid(&ctx->ids);
	for (size_t i = 0; i < ctx->plan.n_ops; i++) {
		struct mount_op *op = &ctx->plan.ops[i];
		if (op->kind != MOUNT_OP_BIND || !(op->flags & MOUNT_OP_F_IDMAP))
			continue;
		struct stat st;
		if (stat(op->source, &st) < 0)
			return error_set(err, CORRAL_ERR_USAGE, errno, "%s", op->label);
		op->idmap_userns_fd = idmap_userns_open(st.st_uid, st.st_gid, to_uid, to_gid, err);
		if (op->idmap_userns_fd < 0)
			return error_prefix(err, "%s", op->label);
	}
	return 0;
}

static int context_prepare(struct jail_context *ctx, const corral_policy *policy,
                           char *const argv[], const corral_io *io, corral_error *err)
{
	memset(ctx, 0, sizeof *ctx);
	ctx->policy = policy;
	ctx->argv = argv;
	ctx->cwd = policy_effective_cwd(policy);
	ctx->io_fds[0] = io ? io->stdin_fd : -1;
	ctx->io_fds[1] = io ? io->stdout_fd : -1;
	ctx->io_fds[2] = io ? io->stderr_fd : -1;
	ctx->sync_read_fd = -1;
	ctx->status_write_fd = -1;
	if (!argv || !argv[0] || !argv[0][0])
		return error_set(err, CORRAL_ERR_USAGE, 0, "no command given");
	if (jail_ids_init(&ctx->ids, policy, err) < 0)
		return -1;
	if (mount_plan_build(&ctx->plan, policy, &ctx->ids, err) < 0)
		return -1;
	if (environment_build(&ctx->env, policy, err) < 0)
		goto fail;
	struct seccomp_options opts = {0};
	if (seccomp_program_build(&opts, &ctx->seccomp, err) < 0)
		goto fail;
	if (ctx->ids.root_mode) {
		if (attach_idmaps(ctx, err) < 0)
			goto fail;
		/* Real root opens the sources, so host directory permissions
		 * never block a bind the caller asked for. */
		if (mount_plan_open_trees(&ctx->plan, err) < 0)
			goto fail;
	}
	return 0;
fail:
	context_free(ctx);
	return -1;
}

static pid_t clone_init(int *pidfd, corral_error *err)
{
	struct clone_args args = {
		.flags = SANDBOX_NAMESPACES | CLONE_PIDFD,
		.pidfd = (uint64_t)(uintptr_t)pidfd,
		.exit_signal = SIGCHLD,
	};
	pid_t pid = (pid_t)syscall(SYS_clone3, &args, sizeof args);
	if (pid < 0) {
		int e = errno;
		char why[256];
		host_explain_namespace_failure(e, why, sizeof why);
		error_set(err, CORRAL_ERR_HOST, 0, "create namespaces: %s: %s", strerror(e), why);
	}
	return pid;
}

int corral_sandbox_start(const corral_policy *policy, char *const argv[], const corral_io *io,
                         corral_sandbox **out, corral_error *err)
{
	struct jail_context ctx;
	int sync_pipe[2] = {-1, -1}, status_pipe[2] = {-1, -1};
	int pidfd = -1;
	corral_sandbox *sb = NULL;
	int rc = -1;

	*out = NULL;
	if (context_prepare(&ctx, policy, argv, io, err) < 0)
		return -1;
	sb = calloc(1, sizeof *sb);
	if (!sb) {
		error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "sandbox");
		goto cleanup;
	}
	if (pipe2(sync_pipe, O_CLOEXEC) < 0 || pipe2(status_pipe, O_CLOEXEC) < 0) {
		error_errno(err, "pipe");
		goto cleanup;
	}
	ctx.sync_read_fd = sync_pipe[0];
	ctx.status_write_fd = status_pipe[1];
	clock_gettime(CLOCK_MONOTONIC, &sb->started);

	pid_t pid = clone_init(&pidfd, err);
	if (pid < 0)
		goto cleanup;
	if (pid == 0) {
		close(sync_pipe[1]);
		close(status_pipe[0]);
		jail_init_main(&ctx);
	}
	close(sync_pipe[0]);
	sync_pipe[0] = -1;
	close(status_pipe[1]);
	status_pipe[1] = -1;

	if (jail_ids_write_maps(&ctx.ids, pid, err) < 0 || write_all(sync_pipe[1], "g", 1) < 0) {
		if (err && err->kind == CORRAL_OK)
			error_errno(err, "start the sandbox");
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		goto cleanup;
	}
	sb->init_pid = pid;
	sb->pidfd = steal_fd(&pidfd);
	sb->status_read_fd = steal_fd(&status_pipe[0]);
	*out = steal_pointer(&sb);
	rc = 0;
cleanup:
	for (int i = 0; i < 2; i++) {
		if (sync_pipe[i] >= 0)
			close(sync_pipe[i]);
		if (status_pipe[i] >= 0)
			close(status_pipe[i]);
	}
	if (pidfd >= 0)
		close(pidfd);
	free(sb);
	context_free(&ctx);
	return rc;
}

int corral_sandbox_pollfd(const corral_sandbox *sb)
{
	return sb->pidfd;
}

int corral_sandbox_signal(corral_sandbox *sb, int sig, corral_error *err)
{
	if (sb->reaped)
		return error_set(err, CORRAL_ERR_USAGE, ESRCH, "signal the sandbox");
	if (syscall(SYS_pidfd_send_signal, sb->pidfd, sig, NULL, 0) < 0)
		return error_errno(err, "signal the sandbox");
	return 0;
}

static void reap_init(corral_sandbox *sb)
{
	if (sb->reaped)
		return;
	siginfo_t info;
	while (waitid(P_PIDFD, (id_t)sb->pidfd, &info, WEXITED) < 0 && errno == EINTR)
		;
	sb->reaped = true;
}

int corral_sandbox_wait(corral_sandbox *sb, corral_result *result, corral_error *err)
{
	struct jail_message msg;
	bool have_exit = false, have_error = false;
	int wait_status = 0;
	memset(result, 0, sizeof *result);

	/* Messages arrive until init exits (closing the pipe). */
	for (;;) {
		ssize_t n = read_full(sb->status_read_fd, &msg, sizeof msg);
		if (n < 0) {
			error_errno(err, "read the sandbox's status");
			have_error = true;
			break;
		}
		if (n == 0)
			break;
		if (n != (ssize_t)sizeof msg)
			continue;
		if (msg.type == JAIL_MSG_EXITED) {
			have_exit = true;
			wait_status = msg.wait_status;
		} else if (!have_error) {
			have_error = true;
			if (err) {
				*err = msg.error;
				err->message[sizeof err->message - 1] = '\0';
			}
		}
	}
	reap_init(sb);
	result->wall_ns = elapsed_ns(&sb->started);

	if (have_error) {
		result->status = CORRAL_STATUS_SETUP_ERROR;
		return -1;
	}
	if (!have_exit) {
		result->status = CORRAL_STATUS_SETUP_ERROR;
		return error_set(err, CORRAL_ERR_SETUP, 0, "the sandbox's init died unexpectedly");
	}
	if (WIFSIGNALED(wait_status)) {
		result->status = CORRAL_STATUS_SIGNALED;
		result->signal = WTERMSIG(wait_status);
	} else {
		result->status = CORRAL_STATUS_EXITED;
		result->exit_code = WEXITSTATUS(wait_status);
	}
	return 0;
}

void corral_sandbox_free(corral_sandbox *sb)
{
	if (!sb)
		return;
	if (!sb->reaped) {
		syscall(SYS_pidfd_send_signal, sb->pidfd, SIGKILL, NULL, 0);
		reap_init(sb);
	}
	close(sb->pidfd);
	close(sb->status_read_fd);
	free(sb);
}

int corral_run(const corral_policy *policy, char *const argv[], const corral_io *io,
               corral_result *result, corral_error *err)
{
	corral_sandbox *sb = NULL;
	if (corral_sandbox_start(policy, argv, io, &sb, err) < 0) {
		memset(result, 0, sizeof *result);
		result->status = CORRAL_STATUS_SETUP_ERROR;
		return -1;
	}
	int rc = corral_sandbox_wait(sb, result, err);
	corral_sandbox_free(sb);
	return rc;
}

int corral_result_exit_code(const corral_result *result)
{
	switch (result->status) {
	case CORRAL_STATUS_EXITED:
		return result->exit_code;
	case CORRAL_STATUS_SIGNALED:
		return 128 + result->signal;
	default:
		return CORRAL_EXIT_FAILURE;
	}
}

const char *corral_version(void)
{
	return CORRAL_VERSION;
}
