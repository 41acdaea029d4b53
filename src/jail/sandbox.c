/*
 * The supervisor side of a sandbox: prepare everything, create its cgroup,
 * clone init into its namespaces (and straight into the cgroup on v2),
 * write its id maps, and release it. Waiting is in monitor.c; the context
 * is prepared in sandbox_context.c, the cgroup made in sandbox_limits.c.
 */
#include "jail/jail.h"
#include "jail/spawner.h"

#include "corral_config.h"
#include "cgroup/cgroup.h"
#include "check/host_check.h"
#include "policy/parse.h"
#include "policy/policy.h"
#include "seccomp/seccomp_filter.h"
#include "store/store.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/fileutil.h"
#include "util/strings.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

/* The cgroup namespace is not among them: init unshares it once it sits in
 * the sandbox's cgroup (on v1 it is attached only after the clone), so its
 * root is the sandbox's cgroup and no host cgroup path shows inside. */
#define SANDBOX_NAMESPACES                                                                \
	(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS)

/* clone3 places init straight into its cgroup; where clone3 is filtered
 * (container runtimes' seccomp profiles answer ENOSYS) plain clone does,
 * and *placed tells the caller to attach init to the cgroup itself. */
static pid_t clone_init(int *pidfd, int cgroup_fd, bool *placed, corral_error *err)
{
	struct clone_args args = {
		.flags = SANDBOX_NAMESPACES | CLONE_PIDFD,
		.pidfd = (uint64_t)(uintptr_t)pidfd,
		.exit_signal = SIGCHLD,
	};
	if (cgroup_fd >= 0) {
		args.flags |= CLONE_INTO_CGROUP;
		args.cgroup = (uint64_t)cgroup_fd;
	}
	pid_t pid = (pid_t)syscall(SYS_clone3, &args, sizeof args);
	*placed = cgroup_fd >= 0;
	if (pid < 0 && errno == ENOSYS) {
		*placed = false;
		pid = (pid_t)syscall(SYS_clone, SANDBOX_NAMESPACES | CLONE_PIDFD | SIGCHLD, NULL, pidfd,
		                     NULL, NULL);
	}
	if (pid < 0) {
		int e = errno;
		char why[256];
		host_explain_namespace_failure(e, why, sizeof why);
		error_set(err, CORRAL_ERR_HOST, 0, "create namespaces: %s: %s", strerror(e), why);
	}
	return pid;
}

/* What corral_sandbox_snapshot needs of a sandbox on an image: its base,
 * its store and its upper directory (root mode: mounted by us, kept now;
 * rootless: init sends it with the root). Not in init: the clone's copy
 * of ctx has upper_fd -1. */
static int keep_upper(corral_sandbox *sb, struct jail_context *ctx, corral_error *err)
{
	if (!ctx->image.on)
		return 0;
	sb->snap_base = strdup(ctx->image.base);
	sb->store_path = strdup(ctx->image.store_path);
	if (!sb->snap_base || !sb->store_path)
		return error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "sandbox");
	/* The leases last the sandbox's life, not the setup's. */
	sb->lease_fds = steal_pointer(&ctx->image.lease_fds);
	sb->n_leases = ctx->image.n_layers;
	sb->upper_fd = steal_fd(&ctx->plan.overlay.upper_fd);
	sb->upper_id_shift = ctx->plan.overlay.upper_id_shift;
	sb->upper_expected = sb->upper_fd < 0;
	return 0;
}

/* Output passes through corral's own pipes when it is capped, so a flood
 * can never reach the caller beyond the cap. */
static int setup_output(corral_sandbox *sb, struct jail_context *ctx, const corral_io *io,
                        int child_ends[2], corral_error *err)
{
	const int caller[2] = {io && io->stdout_fd >= 0 ? io->stdout_fd : STDOUT_FILENO,
	                 io && io->stderr_fd >= 0 ? io->stderr_fd : STDERR_FILENO};
	ctx->io_fds[0] = io ? io->stdin_fd : -1;
	if (sb->limits.output_bytes != LIMIT_UNLIMITED && !(sb->pump_buf = malloc(PUMP_BUF_SIZE)))
		return error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "output buffer");
	for (int i = 0; i < 2; i++) {
		sb->dest_fds[i] = caller[i];
		if (sb->limits.output_bytes == LIMIT_UNLIMITED) {
			ctx->io_fds[1 + i] = caller[i];
			continue;
		}
		int p[2];
		if (pipe2(p, O_CLOEXEC) < 0)
			return error_errno(err, "output pipe");
		sb->pump_fds[i] = p[0];
		child_ends[i] = p[1];
		ctx->io_fds[1 + i] = p[1];
	}
	return 0;
}

/* `idle`: no command; init runs the spawner, and the sandbox waits for
 * corral_sandbox_exec (exec.c). */
static int sandbox_start(const corral_policy *policy, char *const argv[], bool idle,
                         const corral_io *io, corral_sandbox **out, corral_error *err)
{
	struct jail_context ctx;
	int sync_pipe[2] = {-1, -1}, status_pipe[2] = {-1, -1}, child_out[2] = {-1, -1};
	int listener_pair[2] = {-1, -1}, root_pair[2] = {-1, -1}, net_pair[2] = {-1, -1};
	int spawn_pair[2] = {-1, -1};
	int pidfd = -1;
	corral_sandbox *sb = NULL;
	int rc = -1;

	*out = NULL;
	memset(&ctx, 0, sizeof ctx);
	sb = calloc(1, sizeof *sb);
	if (!sb) {
		error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "sandbox");
		goto cleanup;
	}
	sb->pidfd = sb->status_read_fd = sb->sync_write_fd = -1;
	sb->sentinel.fd = -1;
	sb->sentinel.area = NULL;
	sb->listener_sock = sb->listener_fd = -1;
	sb->root_sock = sb->root_fd = -1;
	sb->egress.log_fd = -1;
	sb->pump_fds[0] = sb->pump_fds[1] = -1;
	sb->signal_fd = io ? io->signal_fd : -1;
	sb->limits = policy->limits;
	sb->spawn_sock = -1;
	sb->state_lock_fd = -1;
	sb->audit.fd = -1;
	sb->upper_fd = -1;
	sb->idle = idle;
	pthread_mutex_init(&sb->spawn_lock, NULL);
	pthread_mutex_init(&sb->cgroup_lock, NULL);
	pthread_mutex_init(&sb->snapshot_lock, NULL);
	pthread_mutex_init(&sb->root_lock, NULL);
	if (!idle && (!argv || !argv[0] || !argv[0][0])) {
		error_set(err, CORRAL_ERR_USAGE, 0, "no command given");
		goto cleanup;
	}
	if (sandbox_create_cgroup(sb, err) < 0)
		goto cleanup;
	/* The caller reads an idle sandbox's processes' output itself. */
	if (idle)
		sb->enforcement.output = "none";
	if (egress_prepare(&sb->egress, policy, err) < 0)
		goto cleanup;
	if (sandbox_context_prepare(&ctx, policy, argv, idle,
	                            cgroup_sandbox_backend(sb->cgroup) != CGROUP_BACKEND_NONE,
	                            &sb->egress, err) < 0)
		goto cleanup;
	sandbox_describe_store_enforcement(sb, policy, &ctx.image);
	/* The state dir stays locked for the sandbox's life, not the setup's. */
	sb->state_lock_fd = steal_fd(&ctx.image.state_lock_fd);
	if (keep_upper(sb, &ctx, err) < 0)
		goto cleanup;
	/* Each exec's environment is the policy's (with egress's placeholders
	 * and CA paths) and the request's over it. */
	if (idle && environment_build(&sb->env, policy, sb->egress.env, sb->egress.n_env, err) < 0)
		goto cleanup;
	ctx.net_plan = sb->egress.plan;
	if (sb->egress.rules &&
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, net_pair) < 0) {
		error_errno(err, "network socket pair");
		goto cleanup;
	}
	ctx.net_sock = net_pair[1];
	rlimit_plan_build(&ctx.rlimits, &sb->limits,
	                  cgroup_sandbox_backend(sb->cgroup) != CGROUP_BACKEND_NONE);
	/* An idle sandbox's processes write to the caller's own pipes. */
	if (!idle && setup_output(sb, &ctx, io, child_out, err) < 0)
		goto cleanup;
	if (idle && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, spawn_pair) < 0) {
		error_errno(err, "spawner socket pair");
		goto cleanup;
	}
	ctx.spawn_sock = spawn_pair[1];
	if (pipe2(sync_pipe, O_CLOEXEC) < 0 || pipe2(status_pipe, O_CLOEXEC) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, listener_pair) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, root_pair) < 0) {
		error_errno(err, "pipe");
		goto cleanup;
	}
	ctx.listener_sock = listener_pair[1];
	ctx.root_sock = root_pair[1];
	sb->user_host_uid = jail_ids_command_host_uid(&ctx.ids);
	sb->user_host_gid = jail_ids_command_host_gid(&ctx.ids);
	ctx.sync_read_fd = sync_pipe[0];
	ctx.status_write_fd = status_pipe[1];
	/* The sandbox asks the kernel to log its Landlock denials after
	 * execve only when they are read: else they would only fill the
	 * host's log. */
	ctx.landlock_audit = landlock_audit_open(&sb->audit);
	sb->enforcement.path_denials = ctx.landlock_audit ? "audit" : "none";
	clock_gettime(CLOCK_MONOTONIC, &sb->started);

	bool placed = false;
	pid_t pid = clone_init(&pidfd, cgroup_sandbox_clone_fd(sb->cgroup), &placed, err);
	if (pid < 0)
		goto cleanup;
	if (pid == 0) {
		close(sync_pipe[1]);
		close(status_pipe[0]);
		close(listener_pair[0]);
		close(root_pair[0]);
		landlock_audit_close(&sb->audit); /* the host's records stay outside */
		if (net_pair[0] >= 0)
			close(net_pair[0]);
		if (spawn_pair[0] >= 0)
			close(spawn_pair[0]);
		if (sb->upper_fd >= 0)
			close(sb->upper_fd);
		for (size_t i = 0; i < sb->n_leases; i++)
			close(sb->lease_fds[i]);
		for (int i = 0; i < 2; i++)
			if (sb->pump_fds[i] >= 0)
				close(sb->pump_fds[i]);
		jail_init_main(&ctx);
	}
	sb->init_pid = pid;
	sb->audit.init_pid = pid;
	sb->pidfd = steal_fd(&pidfd);

	placed = placed || cgroup_sandbox_backend(sb->cgroup) == CGROUP_BACKEND_NONE;
	if ((!placed && cgroup_sandbox_attach(sb->cgroup, pid, err) < 0) ||
	    jail_ids_write_maps(&ctx.ids, pid, err) < 0 || write_all(sync_pipe[1], "g", 1) < 0) {
		if (err && err->kind == CORRAL_OK)
			error_errno(err, "start the sandbox");
		syscall(SYS_pidfd_send_signal, sb->pidfd, SIGKILL, NULL, 0);
		goto cleanup;
	}
	sb->status_read_fd = steal_fd(&status_pipe[0]);
	sb->sync_write_fd = steal_fd(&sync_pipe[1]);
	sb->listener_sock = steal_fd(&listener_pair[0]);
	sb->root_sock = steal_fd(&root_pair[0]);
	sb->spawn_sock = steal_fd(&spawn_pair[0]);
	/* The proxy serves the listeners init sends once they exist. */
	if (net_pair[0] >= 0 && egress_start(&sb->egress, policy, steal_fd(&net_pair[0]), err) < 0) {
		syscall(SYS_pidfd_send_signal, sb->pidfd, SIGKILL, NULL, 0);
		goto cleanup;
	}
	*out = steal_pointer(&sb);
	rc = 0;
cleanup:
	for (int i = 0; i < 2; i++) {
		if (sync_pipe[i] >= 0)
			close(sync_pipe[i]);
		if (status_pipe[i] >= 0)
			close(status_pipe[i]);
		if (child_out[i] >= 0)
			close(child_out[i]);
		if (listener_pair[i] >= 0)
			close(listener_pair[i]);
		if (root_pair[i] >= 0)
			close(root_pair[i]);
		if (net_pair[i] >= 0)
			close(net_pair[i]);
		if (spawn_pair[i] >= 0)
			close(spawn_pair[i]);
	}
	if (pidfd >= 0)
		close(pidfd);
	corral_sandbox_free(sb);
	sandbox_context_free(&ctx);
	return rc;
}

int corral_sandbox_start(const corral_policy *policy, char *const argv[], const corral_io *io,
                         corral_sandbox **out, corral_error *err)
{
	return sandbox_start(policy, argv, false, io, out, err);
}

int corral_sandbox_start_idle(const corral_policy *policy, corral_sandbox **out,
                              corral_error *err)
{
	corral_sandbox *sb = NULL;
	*out = NULL;
	if (sandbox_start(policy, NULL, true, NULL, &sb, err) < 0)
		return -1;
	corral_error ready_err = {0};
	if (exec_await_ready(sb, &ready_err) == 0) {
		*out = sb;
		return 0;
	}
	/* Not ready: init's own report says why, when it made one. */
	corral_error why = {0};
	corral_result result;
	bool timed_out = ready_err.errnum == ETIMEDOUT;
	monitor_kill(sb);
	if (corral_sandbox_wait(sb, &result, &why) < 0 && why.kind != CORRAL_OK && !timed_out)
		ready_err = why;
	if (err)
		*err = ready_err;
	corral_sandbox_free(sb);
	return -1;
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

int corral_sandbox_wait(corral_sandbox *sb, corral_result *result, corral_error *err)
{
	int rc = monitor_run(sb, result, err);
	egress_finish(&sb->egress, result);
	return rc;
}

void corral_sandbox_free(corral_sandbox *sb)
{
	if (!sb)
		return;
	if (sb->pidfd >= 0 && !sb->reaped) {
		syscall(SYS_pidfd_send_signal, sb->pidfd, SIGKILL, NULL, 0);
		while (wait4(sb->init_pid, NULL, 0, NULL) < 0 && errno == EINTR)
			;
	}
	if (sb->cgroup)
		cgroup_sandbox_destroy(sb->cgroup, NULL);
	sentinel_dismiss(&sb->sentinel);
	for (int i = 0; i < 2; i++)
		if (sb->pump_fds[i] >= 0)
			close(sb->pump_fds[i]);
	if (sb->pidfd >= 0)
		close(sb->pidfd);
	if (sb->status_read_fd >= 0)
		close(sb->status_read_fd);
	if (sb->sync_write_fd >= 0)
		close(sb->sync_write_fd);
	if (sb->listener_sock >= 0)
		close(sb->listener_sock);
	if (sb->listener_fd >= 0)
		close(sb->listener_fd);
	if (sb->root_sock >= 0)
		close(sb->root_sock);
	if (sb->root_fd >= 0)
		close(sb->root_fd);
	if (sb->spawn_sock >= 0)
		close(sb->spawn_sock);
	landlock_audit_close(&sb->audit);
	if (sb->state_lock_fd >= 0) {
		/* overlayfs leaves its scratch DIR/work/work mode 000: make it the
		 * owner's again, so that a rootless caller can remove DIR. Best
		 * effort (there is none before a first mount). */
		if (fchmodat(sb->state_lock_fd, "work/work", 0700, 0) < 0 && errno != ENOENT)
			errno = 0;
		close(sb->state_lock_fd);
	}
	if (sb->upper_fd >= 0)
		close(sb->upper_fd);
	store_lease_release(sb->lease_fds, sb->n_leases);
	free(sb->snap_base);
	free(sb->store_path);
	free(sb->pump_buf);
	environment_free(&sb->env);
	pthread_mutex_destroy(&sb->spawn_lock);
	pthread_mutex_destroy(&sb->cgroup_lock);
	pthread_mutex_destroy(&sb->snapshot_lock);
	pthread_mutex_destroy(&sb->root_lock);
	egress_free(&sb->egress);
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

const char *corral_version(void)
{
	return CORRAL_VERSION;
}
