#include "jail/jail.h"

#include "jail/privileges.h"
#include "jail/rootfs.h"
#include "landlock/landlock_fs.h"
#include "policy/policy.h"
#include "seccomp/seccomp_filter.h"
#include "util/error.h"
#include "util/fdpass.h"
#include "util/fileutil.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* Signals init passes on to the command. */
static const int forwarded_signals[] = {SIGHUP,  SIGINT,  SIGQUIT, SIGTERM, SIGUSR1,
                                        SIGUSR2, SIGWINCH, SIGCONT, SIGALRM};

static void send_message(int fd, uint32_t type, int wait_status, const corral_error *err)
{
	struct jail_message msg = {.type = type, .wait_status = wait_status};
	if (err)
		msg.error = *err;
	(void)write_all(fd, &msg, sizeof msg);
}

void jail_fail_setup(struct jail_context *ctx, corral_error *err)
{
	send_message(ctx->status_write_fd, JAIL_MSG_SETUP_ERROR, 0, err);
	_exit(CORRAL_EXIT_FAILURE);
}

static void noop_handler(int sig)
{
	(void)sig;
}

static int loopback_up(corral_error *err)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return error_errno(err, "socket for loopback");
	struct ifreq ifr = {0};
	memcpy(ifr.ifr_name, "lo", 3);
	int rc = 0;
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
		rc = error_errno(err, "get flags of lo");
	} else {
		ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
			rc = error_errno(err, "bring lo up");
	}
	close(fd);
	return rc;
}

/* SysV shared memory lives in the sandbox's IPC namespace: cap it at the
 * memory limit there, so that even without a cgroup (rootless) segments
 * cannot hold more than --memory. */
static int limit_sysv_shm(uint64_t memory_bytes, corral_error *err)
{
	if (memory_bytes == UINT64_MAX)
		return 0;
	long page = sysconf(_SC_PAGESIZE);
	char value[32];
	snprintf(value, sizeof value, "%llu", (unsigned long long)memory_bytes);
	if (write_file("/proc/sys/kernel/shmmax", value, 0) < 0)
		return error_errno(err, "limit SysV shared memory (kernel.shmmax)");
	snprintf(value, sizeof value, "%llu",
	         (unsigned long long)(memory_bytes / (uint64_t)(page > 0 ? page : 4096)));
	if (write_file("/proc/sys/kernel/shmall", value, 0) < 0)
		return error_errno(err, "limit SysV shared memory (kernel.shmall)");
	return 0;
}

/* Close every descriptor above stdio except two (init's status pipe and
 * signalfd; the spawner's socket and signalfd). */
void jail_close_fds_except(int a, int b)
{
	int lo = a < b ? a : b, hi = a < b ? b : a;
	if (lo > 3)
		syscall(SYS_close_range, 3, lo - 1, 0);
	if (hi > lo + 1)
		syscall(SYS_close_range, lo + 1, hi - 1, 0);
	syscall(SYS_close_range, hi + 1, ~0U, 0);
}

static int setup_io(struct jail_context *ctx, corral_error *err)
{
	for (int i = 0; i < 3; i++) {
		if (ctx->io_fds[i] < 0 || ctx->io_fds[i] == i)
			continue;
		if (dup2(ctx->io_fds[i], i) < 0)
			return error_errno(err, "dup2 stdio %d", i);
	}
	return 0;
}

int jail_restrict(struct jail_context *ctx, corral_error *err)
{
	/* Ignored signals survive execve: the caller may ignore SIGPIPE (a
	 * server does), the command must not inherit that. */
	for (int sig = 1; sig < SIGRTMIN; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	sigset_t empty;
	sigemptyset(&empty);
	sigprocmask(SIG_SETMASK, &empty, NULL);

	/* A new session: the command has no controlling terminal, so it can
	 * never push keystrokes into the caller's. */
	if (setsid() < 0)
		return error_errno(err, "setsid");
	/* Landlock before the privileges go: restricting itself needs either
	 * no_new_privs or CAP_SYS_ADMIN in the sandbox's user namespace, which
	 * this process still has; its domain then covers all that follows. */
	int abi = 0;
	if (landlock_restrict(ctx->plan.grants, ctx->plan.n_grants, ctx->landlock_audit, &abi, err) < 0)
		return -1;
	/* The probe: init (pid 1) is outside the new domain's signal scope, so
	 * the kernel refuses this and logs the refusal with the domain's id
	 * and init's host pid, which tells the supervisor which domain is the
	 * sandbox's (landlock_audit.h). The refusal is expected. It must come
	 * before the ids change: from another uid, the kernel's own
	 * permission check refuses first, and Landlock never sees it. */
	if (ctx->landlock_audit && abi >= 7)
		(void)kill(1, 0);
	if (privileges_drop_to(ctx->ids.inside_uid, ctx->ids.inside_gid, ctx->ids.root_mode, err) < 0)
		return -1;
	if (chdir(ctx->cwd) < 0)
		return error_set(err, CORRAL_ERR_SETUP, errno, "working directory %s", ctx->cwd);
	if (rlimit_plan_apply(&ctx->rlimits, err) < 0)
		return -1;
	int listener = -1;
	if (seccomp_program_install(ctx->seccomp, &listener, err) < 0)
		return -1;
	/* From here on a denied call waits for the supervisor's answer, so
	 * hand it the listener first (sendmsg and close are allowed). */
	if (listener >= 0) {
		if (denials_send_listener(ctx->listener_sock, listener, err) < 0)
			return -1;
		close(listener);
	}
	return 0;
}

__attribute__((noreturn)) static void command_main(struct jail_context *ctx)
{
	corral_error err = {0};
	int status_fd = ctx->status_write_fd;

	if (jail_restrict(ctx, &err) < 0)
		goto fail;
	/* Whatever the caller leaked to us stops at the sandbox's door. */
	if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
		error_errno(&err, "close_range");
		goto fail;
	}
	environ = ctx->env.vars;
	execvp(ctx->argv[0], ctx->argv);

	int e = errno;
	if (e == ENOENT && !strchr(ctx->argv[0], '/'))
		error_set(&err, CORRAL_ERR_EXEC_NOT_FOUND, 0, "%s: command not found", ctx->argv[0]);
	else
		error_set(&err, e == ENOENT ? CORRAL_ERR_EXEC_NOT_FOUND : CORRAL_ERR_EXEC_DENIED, e,
		          "%s", ctx->argv[0]);
	send_message(status_fd, JAIL_MSG_EXEC_ERROR, 0, &err);
	_exit(e == ENOENT ? CORRAL_EXIT_NOT_FOUND : CORRAL_EXIT_NOT_EXECUTABLE);
fail:
	send_message(status_fd, JAIL_MSG_SETUP_ERROR, 0, &err);
	_exit(CORRAL_EXIT_FAILURE);
}

/* An idle sandbox runs the spawner where a command would run: init treats
 * it exactly as the command (its end is the sandbox's). The spawner lives
 * on beside init, so it gets a copy of init's memory: a raw clone, not
 * fork(), since init is a raw clone of a possibly multi-threaded caller, so
 * a malloc lock another thread held then is held forever here, and glibc's
 * fork() takes malloc's locks (its at-fork handlers) -- it would hang. The
 * spawner does not allocate. */
static pid_t start_spawner(struct jail_context *ctx, int sigfd)
{
	pid_t pid = (pid_t)syscall(SYS_clone, SIGCHLD, NULL, NULL, NULL, NULL);
	if (pid == 0) {
		close(sigfd);
		spawner_main(ctx);
	}
	return pid;
}

/* The command starts with vfork, as posix_spawn does: copying init's
 * address space (the supervisor's, however large the caller is) and then
 * taking a copy-on-write fault for every page either process touches cost
 * more than the rest of the launch. init is single-threaded and suspended
 * until the child's execve or _exit; the child makes only system calls on
 * its own stack frames (no allocation, no locks) and writes no memory init
 * reads afterwards (environ is init's, unused by it). vfork in a function
 * of its own, so the child can clobber none of the caller's locals. */
__attribute__((noinline)) static pid_t start_command(struct jail_context *ctx)
{
	pid_t pid = vfork(); // NOLINT(clang-analyzer-security.insecureAPI.vfork)
	if (pid == 0)
		// NOLINTNEXTLINE(clang-analyzer-unix.Vfork): see above
		command_main(ctx);
	return pid;
}

/* PID 1's loop: forward signals, reap everything, finish with the command. */
__attribute__((noreturn)) static void supervise(struct jail_context *ctx, pid_t command,
                                                int sigfd)
{
	for (;;) {
		struct signalfd_siginfo si;
		ssize_t n = read(sigfd, &si, sizeof si);
		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof si) {
			/* Cannot happen short of a kernel bug; do not leave
			 * the sandbox behind. */
			kill(-1, SIGKILL);
			_exit(CORRAL_EXIT_FAILURE);
		}
		if (si.ssi_signo != SIGCHLD) {
			kill(command, (int)si.ssi_signo);
			continue;
		}
		int status;
		pid_t pid;
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			if (pid != command)
				continue;
			/* Nothing outlives the command: daemons, stragglers and
			 * processes that ignore signals all go now. */
			kill(-1, SIGKILL);
			send_message(ctx->status_write_fd, JAIL_MSG_EXITED, status, NULL);
			_exit(0);
		}
	}
}

void jail_init_main(struct jail_context *ctx)
{
	corral_error err = {0};

	/* If the supervisor dies, so does the whole sandbox (init's death
	 * tears down the pid namespace). Checked against the sync pipe, so a
	 * supervisor that died before this line is noticed too. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) {
		error_errno(&err, "set parent-death signal");
		jail_fail_setup(ctx, &err);
	}
	char go;
	if (read_full(ctx->sync_read_fd, &go, 1) != 1)
		_exit(CORRAL_EXIT_FAILURE);
	/* Now in the sandbox's cgroup (the supervisor attached us before the
	 * sync byte): make it the root of our cgroup view. */
	if (unshare(CLONE_NEWCGROUP) < 0) {
		error_errno(&err, "unshare the cgroup namespace");
		jail_fail_setup(ctx, &err);
	}

	if (privileges_set_ids(ctx->ids.setup_uid, ctx->ids.setup_gid, ctx->ids.root_mode, &err) < 0)
		jail_fail_setup(ctx, &err);
	/* Changing the host euid (root mode) cleared the parent-death signal:
	 * set it again, then make sure the supervisor did not die in between
	 * (it holds the sync pipe's write end open for the sandbox's life). */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) {
		error_errno(&err, "set parent-death signal");
		jail_fail_setup(ctx, &err);
	}
	struct pollfd alive = {.fd = ctx->sync_read_fd, .events = POLLIN};
	if (poll(&alive, 1, 0) != 0)
		_exit(CORRAL_EXIT_FAILURE);
	close(ctx->sync_read_fd);
	/* No nested user namespaces, whatever seccomp allows. */
	(void)write_file("/proc/sys/user/max_user_namespaces", "0", 0);
	/* Rootless, the IPC sysctls belong to an unmapped root and stay at the
	 * kernel's defaults (documented in docs/limits.md). */
	if (limit_sysv_shm(ctx->policy->limits.memory_bytes, &err) < 0 &&
	    !(!ctx->ids.root_mode && (err.errnum == EACCES || err.errnum == EPERM)))
		jail_fail_setup(ctx, &err);

	if (!ctx->ids.root_mode && mount_plan_open_trees(&ctx->plan, &err) < 0)
		jail_fail_setup(ctx, &err);
	if (rootfs_build(&ctx->plan, &err) < 0)
		jail_fail_setup(ctx, &err);
	/* The supervisor reaches files inside the sandbox through this root
	 * (corral_sandbox_read_file and friends), never through host paths. */
	int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0 || fdpass_send(ctx->root_sock, root, "hand the root to the supervisor", &err) < 0) {
		if (root < 0)
			error_errno(&err, "open the sandbox's root");
		jail_fail_setup(ctx, &err);
	}
	close(root);
	/* Rootless, the overlay was mounted here: its upper directory goes to
	 * the supervisor too, which snapshots it from outside (root mode, the
	 * supervisor mounted it and kept it). */
	struct overlay_root *o = &ctx->plan.overlay;
	if (o->on && o->upper_fd >= 0) {
		if (fdpass_send(ctx->root_sock, o->upper_fd, "hand the upper layer to the supervisor",
		                &err) < 0)
			jail_fail_setup(ctx, &err);
		close(o->upper_fd);
		o->upper_fd = -1;
	}
	close(ctx->root_sock);
	const char *hostname = ctx->policy->hostname;
	if (sethostname(hostname, strlen(hostname)) < 0) {
		error_errno(&err, "sethostname %s", hostname);
		jail_fail_setup(ctx, &err);
	}
	if (loopback_up(&err) < 0)
		jail_fail_setup(ctx, &err);
	if (ctx->net_sock >= 0) {
		if (net_capture_setup(&ctx->net_plan, ctx->net_sock, &err) < 0)
			jail_fail_setup(ctx, &err);
		close(ctx->net_sock);
	}
	if (setup_io(ctx, &err) < 0)
		jail_fail_setup(ctx, &err);

	sigset_t mask;
	sigemptyset(&mask);
	struct sigaction sa = {.sa_handler = noop_handler};
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof forwarded_signals / sizeof forwarded_signals[0]; i++) {
		sigaddset(&mask, forwarded_signals[i]);
		/* PID 1 only receives signals it handles. */
		sigaction(forwarded_signals[i], &sa, NULL);
	}
	sigaddset(&mask, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0) {
		error_errno(&err, "block signals");
		jail_fail_setup(ctx, &err);
	}
	int sigfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sigfd < 0) {
		error_errno(&err, "signalfd");
		jail_fail_setup(ctx, &err);
	}

	/* The signalfd is close-on-exec: the command never holds it. */
	pid_t command = ctx->idle ? start_spawner(ctx, sigfd) : start_command(ctx);
	if (command < 0) {
		error_errno(&err, ctx->idle ? "fork the spawner" : "fork the command");
		jail_fail_setup(ctx, &err);
	}

	/* init keeps only what it needs: CAP_KILL, the status pipe, the
	 * signalfd. The caller's stdio is the command's alone. */
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	for (int fd = 0; fd < 3 && devnull >= 0; fd++)
		dup2(devnull, fd);
	if (devnull > 2)
		close(devnull);
	jail_close_fds_except(ctx->status_write_fd, sigfd);
	if (privileges_reduce_to_kill(&err) < 0) {
		kill(command, SIGKILL);
		jail_fail_setup(ctx, &err);
	}
	supervise(ctx, command, sigfd);
}
