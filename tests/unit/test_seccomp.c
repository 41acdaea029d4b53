/* The default seccomp policy, observed from the kernel's side.
 *
 * Every probe runs twice, each time in a fresh forked child: once without the
 * filter (the host's answer) and once under it (after no_new_privs). A probe
 * the policy denies must fail under the filter with the documented errno,
 * and the host's answer must differ, or the check proves nothing; a probe
 * the policy allows must behave as on the host. Where the host itself may
 * refuse a call (a kernel built without it, lockdown, a sysctl), a baseline
 * that already matches is reported, not counted, and so is every baseline
 * when the test is not root or already runs under a seccomp filter (inside a
 * container, say).
 *
 * Every probe is harmless on the host: invalid arguments where a valid call
 * would change the system (reboot, kexec_load, sethostname, ...).
 */
#include "seccomp/seccomp_filter.h"

#include "unit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timex.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif
#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#ifndef AF_ALG
#define AF_ALG 38
#endif
/* Numbered alike on x86_64 and aarch64; may postdate the headers. */
#define NR_cachestat 451
#define NR_fchmodat2 452
#define NR_listmount 458
#define NONEXISTENT "/nonexistent-corral-seccomp-test"

static struct seccomp_program *program;
/* Baselines that coincide with the filter's answer count as failures. */
static bool strict_baseline;

/* ---- running a probe --------------------------------------------------- */

typedef long (*probe_fn)(void);

struct outcome {
	bool returned;  /* the probe returned (else: killed, or setup failed) */
	long ret;
	int err;        /* errno when ret == -1 */
	int signal;     /* the signal that killed the child, or 0 */
	int exit_code;  /* when !returned and !signal */
};

static struct outcome run_probe(probe_fn fn, bool filtered)
{
	struct outcome o = {0};
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) < 0) {
		perror("pipe2");
		exit(1);
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(1);
	}
	if (pid == 0) {
		close(fds[0]);
		/* Killed probes must not leave core dumps around. */
		struct rlimit no_core = {0, 0};
		setrlimit(RLIMIT_CORE, &no_core);
		if (filtered) {
			corral_error err = {0};
			if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
				_exit(100);
			if (seccomp_program_install(program, NULL, &err) < 0) {
				fprintf(stderr, "# %s\n", err.message);
				_exit(101);
			}
		}
		errno = 0;
		long ret = fn();
		long result[2] = {ret, ret == -1 ? errno : 0};
		if (write(fds[1], result, sizeof result) != (ssize_t)sizeof result)
			_exit(102);
		_exit(0);
	}
	close(fds[1]);
	long result[2];
	ssize_t n = read(fds[0], result, sizeof result);
	close(fds[0]);
	int status;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			perror("waitpid");
			exit(1);
		}
	}
	if (n == (ssize_t)sizeof result && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		o.returned = true;
		o.ret = result[0];
		o.err = (int)result[1];
	} else if (WIFSIGNALED(status)) {
		o.signal = WTERMSIG(status);
	} else {
		o.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	}
	return o;
}

static const char *describe(const struct outcome *o)
{
	static char bufs[2][96];
	static int next;
	char *b = bufs[next++ % 2];
	if (o->signal)
		snprintf(b, sizeof bufs[0], "killed by %s", strsignal(o->signal));
	else if (!o->returned)
		snprintf(b, sizeof bufs[0], "child failed (exit %d)", o->exit_code);
	else if (o->ret == -1)
		snprintf(b, sizeof bufs[0], "-1 %s",
		         strerrorname_np(o->err) ? strerrorname_np(o->err) : "?");
	else
		snprintf(b, sizeof bufs[0], "%ld", o->ret);
	return b;
}

static bool fails_with(const struct outcome *o, int err)
{
	return o->returned && o->ret == -1 && o->err == err;
}

static bool same_result(const struct outcome *a, const struct outcome *b)
{
	if (!a->returned || !b->returned)
		return false;
	if (a->ret == -1 || b->ret == -1)
		return a->ret == b->ret && a->err == b->err;
	return true; /* both succeeded */
}

/* host_may_refuse: a host may legitimately give the filter's answer itself
 * (call compiled out, sysctl, lockdown), so a matching baseline is only
 * reported. */
static void baseline_differs(const char *name, bool differs, bool host_may_refuse,
                             const struct outcome *host)
{
	if (differs)
		return;
	if (strict_baseline && !host_may_refuse) {
		fprintf(stderr, "not ok: %s: the host already gives %s; the check proves nothing\n",
		        name, describe(host));
		CHECK(differs);
	} else {
		printf("# %s: the host already gives %s; not discriminating here\n", name,
		       describe(host));
	}
}

static void expect_denied(const char *name, probe_fn fn, int err, bool host_may_refuse)
{
	struct outcome f = run_probe(fn, true);
	struct outcome h = run_probe(fn, false);
	bool ok = fails_with(&f, err);
	printf("# %-44s filtered: %-22s host: %s\n", name, describe(&f), describe(&h));
	if (!ok)
		fprintf(stderr, "not ok: %s: expected -1 %s under the filter, got %s\n", name,
		        strerrorname_np(err), describe(&f));
	CHECK(ok);
	baseline_differs(name, !fails_with(&h, err), host_may_refuse, &h);
}

/* The filter must not change the call's result; must_succeed: and the call
 * must succeed. */
static void expect_allowed(const char *name, probe_fn fn, bool must_succeed)
{
	struct outcome f = run_probe(fn, true);
	struct outcome h = run_probe(fn, false);
	printf("# %-44s filtered: %-22s host: %s\n", name, describe(&f), describe(&h));
	bool ok = same_result(&f, &h) && (!must_succeed || f.ret >= 0);
	if (!ok)
		fprintf(stderr, "not ok: %s: filtered %s, host %s\n", name, describe(&f),
		        describe(&h));
	CHECK(ok);
}

/* `unavailable_signal`: the signal with which the host itself kills the
 * probe when the ABI is missing altogether (0: none). */
static void expect_killed(const char *name, probe_fn fn, int unavailable_signal)
{
	struct outcome h = run_probe(fn, false);
	if (unavailable_signal && h.signal == unavailable_signal) {
		printf("# %s: the host kills it with %s already (ABI disabled); skipped\n", name,
		       strsignal(h.signal));
		return;
	}
	struct outcome f = run_probe(fn, true);
	printf("# %-44s filtered: %-22s host: %s\n", name, describe(&f), describe(&h));
	bool ok = !f.returned && f.signal == SIGSYS;
	if (!ok)
		fprintf(stderr, "not ok: %s: expected death by SIGSYS, got %s\n", name,
		        describe(&f));
	CHECK(ok);
	CHECK(h.signal != SIGSYS);
}

/* ---- probes ------------------------------------------------------------ */

/* keyrings */
static long p_keyctl(void)
{
	return syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* session */, 0);
}
static long p_add_key(void)
{
	return syscall(SYS_add_key, "user", "corral-test", "x", 1, -2 /* process keyring */);
}
static long p_request_key(void)
{
	return syscall(SYS_request_key, "user", "corral-test-missing", NULL, 0);
}

/* kernel attack surface */
static long p_bpf(void)
{
	char attr[128] = {0};
	return syscall(SYS_bpf, 5 /* BPF_PROG_LOAD */, attr, sizeof attr);
}
static long p_perf_event_open(void)
{
	return syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0);
}
static long p_userfaultfd(void)
{
	return syscall(SYS_userfaultfd, O_CLOEXEC);
}
static long p_io_uring_setup(void)
{
	return syscall(SYS_io_uring_setup, 0, NULL);
}
static long p_io_uring_enter(void)
{
	return syscall(SYS_io_uring_enter, -1, 0, 0, 0, NULL, 0);
}
static long p_fanotify_init(void)
{
	return syscall(SYS_fanotify_init, 0, 0);
}
static long p_memfd_secret(void)
{
	return syscall(SYS_memfd_secret, 0);
}
static long p_get_mempolicy(void)
{
	return syscall(SYS_get_mempolicy, NULL, NULL, 0, NULL, 0);
}

/* other processes */
static long p_ptrace_traceme(void)
{
	return syscall(SYS_ptrace, 0 /* PTRACE_TRACEME */, 0, NULL, NULL);
}
static long p_process_vm_readv(void)
{
	char src[8] = "corral", dst[8];
	struct iovec local = {dst, sizeof dst}, remote = {src, sizeof src};
	return syscall(SYS_process_vm_readv, getpid(), &local, 1, &remote, 1, 0);
}
static long p_pidfd_getfd(void)
{
	int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	if (pidfd < 0)
		return -1;
	return syscall(SYS_pidfd_getfd, pidfd, 0, 0);
}
static long p_kcmp(void)
{
	return syscall(SYS_kcmp, getpid(), getpid(), 0 /* KCMP_FILE */, 0, 0);
}

/* mounts and namespaces */
static long p_mount(void)
{
	return mount("none", NONEXISTENT, "tmpfs", 0, NULL);
}
static long p_umount2(void)
{
	return umount2(NONEXISTENT, 0);
}
static long p_pivot_root(void)
{
	return syscall(SYS_pivot_root, NONEXISTENT, NONEXISTENT);
}
static long p_chroot(void)
{
	return chroot("/");
}
static long p_setns(void)
{
	return setns(-1, 0);
}
static long p_unshare_user(void)
{
	return unshare(CLONE_NEWUSER);
}
static long p_unshare_ns(void)
{
	return unshare(CLONE_NEWNS);
}
static long p_fsopen(void)
{
	return syscall(SYS_fsopen, "tmpfs", 0);
}
static long p_open_tree(void)
{
	return syscall(SYS_open_tree, AT_FDCWD, "/", 0);
}
static long p_move_mount(void)
{
	return syscall(SYS_move_mount, -1, "", -1, "", 0);
}
static long p_open_by_handle_at(void)
{
	return syscall(SYS_open_by_handle_at, AT_FDCWD, NULL, O_RDONLY);
}
static long p_name_to_handle_at(void)
{
	int mount_id;
	return syscall(SYS_name_to_handle_at, AT_FDCWD, "/", NULL, &mount_id, 0);
}

/* clone(2) with raw flags, fork-like (no new stack). The child exits at
 * once; the parent reaps it. */
static long raw_clone(uint64_t flags)
{
	long ret = syscall(SYS_clone, flags, 0, NULL, NULL, 0);
	if (ret == 0)
		_exit(0);
	if (ret > 0) {
		int saved = errno;
		waitpid((pid_t)ret, NULL, 0);
		errno = saved;
	}
	return ret;
}
static long p_clone_newns(void)
{
	return raw_clone(CLONE_NEWNS | SIGCHLD);
}
static long p_clone_newuser(void)
{
	return raw_clone(CLONE_NEWUSER | SIGCHLD);
}
static long p_clone_newnet(void)
{
	return raw_clone(CLONE_NEWNET | SIGCHLD);
}
static long p_clone_newuser_high(void)
{
	return raw_clone((1ULL << 32) | CLONE_NEWUSER | SIGCHLD);
}
static long p_clone_fork(void)
{
	return raw_clone(SIGCHLD);
}
static long p_clone_fork_high(void)
{
	/* The kernel ignores clone's high 32 bits. */
	return raw_clone((1ULL << 32) | SIGCHLD);
}
static long p_clone3(void)
{
	return syscall(SYS_clone3, NULL, 0);
}

/* host administration (all with arguments that change nothing) */
static long p_init_module(void)
{
	return syscall(SYS_init_module, NULL, 0, "");
}
static long p_delete_module(void)
{
	return syscall(SYS_delete_module, "corral_no_such_module", O_NONBLOCK);
}
static long p_reboot(void)
{
	return syscall(SYS_reboot, 0, 0, 0, NULL); /* bad magic: EINVAL */
}
static long p_kexec_load(void)
{
	/* An unknown architecture in the flags: EINVAL before anything. */
	return syscall(SYS_kexec_load, 0, 0, NULL, 0x12340000UL);
}
static long p_swapoff(void)
{
	return syscall(SYS_swapoff, NONEXISTENT);
}
static long p_acct(void)
{
	return syscall(SYS_acct, NONEXISTENT "/x");
}
static long p_syslog(void)
{
	return syscall(SYS_syslog, 10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);
}
static long p_sethostname(void)
{
	return syscall(SYS_sethostname, "x", 1000); /* too long: EINVAL */
}
static long p_settimeofday(void)
{
	return syscall(SYS_settimeofday, NULL, NULL); /* sets nothing */
}
static long p_clock_settime(void)
{
	return syscall(SYS_clock_settime, CLOCK_REALTIME, NULL);
}
static long p_adjtimex(void)
{
	struct timex tx = {0}; /* modes 0: read only */
	return syscall(SYS_adjtimex, &tx);
}
static long p_clock_adjtime(void)
{
	struct timex tx = {0};
	return syscall(SYS_clock_adjtime, CLOCK_REALTIME, &tx);
}
static long p_quotactl(void)
{
	return syscall(SYS_quotactl, 0, NULL, 0, NULL);
}
static long p_lookup_dcookie(void)
{
	return syscall(SYS_lookup_dcookie, 0, NULL, 0);
}
#if defined(__x86_64__)
static long p_iopl(void)
{
	return syscall(SYS_iopl, 0); /* level 0: no change */
}
static long p_modify_ldt(void)
{
	char buf[16];
	return syscall(SYS_modify_ldt, 0, buf, sizeof buf); /* read */
}
static long p_uselib(void)
{
	return syscall(SYS_uselib, NULL);
}
#endif

/* personality */
static long p_persona_no_aslr(void)
{
	return personality(ADDR_NO_RANDOMIZE);
}
static long p_persona_read_implies_exec(void)
{
	return personality(READ_IMPLIES_EXEC);
}
static long p_persona_linux32(void)
{
	long ret = personality(PER_LINUX32);
	if (ret != -1 && personality(PER_LINUX) == -1)
		return -1;
	return ret;
}
static long p_persona_query(void)
{
	return personality(0xffffffff);
}

/* sockets */
static long socket_probe(int family, int type, int protocol)
{
	return socket(family, type | SOCK_CLOEXEC, protocol);
}
static long p_sock_packet(void)
{
	return socket_probe(AF_PACKET, SOCK_RAW, 0);
}
static long p_sock_inet_raw(void)
{
	return socket_probe(AF_INET, SOCK_RAW, IPPROTO_ICMP);
}
static long p_sock_inet6_raw(void)
{
	return socket_probe(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6);
}
static long p_sock_inet_sock_packet(void)
{
	return socket_probe(AF_INET, SOCK_PACKET, 0);
}
static long p_sock_mptcp(void)
{
	return socket_probe(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
}
static long p_sock_sctp(void)
{
	return socket_probe(AF_INET, SOCK_SEQPACKET, IPPROTO_SCTP);
}
static long p_sock_netlink_uevent(void)
{
	return socket_probe(AF_NETLINK, SOCK_RAW, NETLINK_KOBJECT_UEVENT);
}
static long p_sock_netlink_audit(void)
{
	return socket_probe(AF_NETLINK, SOCK_RAW, NETLINK_AUDIT);
}
static long p_sock_vsock(void)
{
	return socket_probe(AF_VSOCK, SOCK_STREAM, 0);
}
static long p_sock_alg(void)
{
	return socket_probe(AF_ALG, SOCK_SEQPACKET, 0);
}
static long p_socketpair_inet(void)
{
	int sv[2];
	return socketpair(AF_INET, SOCK_STREAM, 0, sv);
}
static long p_sock_inet_stream(void)
{
	return socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}
static long p_sock_inet_tcp(void)
{
	return socket_probe(AF_INET, SOCK_STREAM, IPPROTO_TCP);
}
static long p_sock_inet_udp(void)
{
	return socket_probe(AF_INET, SOCK_DGRAM, 0);
}
static long p_sock_inet6_stream(void)
{
	return socket_probe(AF_INET6, SOCK_STREAM, 0);
}
static long p_sock_inet_ping(void)
{
	return socket_probe(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
}
static long p_sock_unix(void)
{
	return socket_probe(AF_UNIX, SOCK_SEQPACKET, 0);
}
static long p_sock_netlink_route(void)
{
	return socket_probe(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
}
static long p_if_nametoindex(void)
{
	unsigned idx = if_nametoindex("lo");
	return idx ? (long)idx : -1;
}
static long p_socketpair_unix(void)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	char c = 'x';
	if (write(sv[0], &c, 1) != 1 || read(sv[1], &c, 1) != 1)
		return -1;
	return 0;
}
/* A TCP server on loopback talking to a client in the same process. */
static long p_loopback_tcp(void)
{
	int srv = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (srv < 0)
		return -1;
	struct sockaddr_in addr = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	socklen_t len = sizeof addr;
	int one = 1;
	if (setsockopt(srv, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(srv, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(srv, 1) < 0 ||
	    getsockname(srv, (struct sockaddr *)&addr, &len) < 0)
		return -1;
	int cli = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
	if (cli < 0 || connect(cli, (struct sockaddr *)&addr, sizeof addr) < 0)
		return -1;
	int conn = accept4(srv, NULL, NULL, SOCK_CLOEXEC);
	if (conn < 0)
		return -1;
	char buf[4];
	if (send(cli, "ping", 4, 0) != 4 || recv(conn, buf, 4, MSG_WAITALL) != 4)
		return -1;
	return memcmp(buf, "ping", 4) == 0 ? 0 : -1;
}

/* terminals */
static int open_pty_slave(void)
{
	int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0)
		return -1;
	const char *name = ptsname(master);
	if (!name)
		return -1;
	return open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
}
static long tty_ioctl(unsigned long request)
{
	int fd = open_pty_slave();
	if (fd < 0)
		return -2; /* distinguishable from the ioctl's own -1 */
	char c = '\n';
	return ioctl(fd, request, &c);
}
static long p_tiocsti(void)
{
	return tty_ioctl(TIOCSTI);
}
static long p_tiocsti_high_bit(void)
{
	return tty_ioctl((1UL << 32) | TIOCSTI);
}
static long p_tiocsti_high_ones(void)
{
	return tty_ioctl(0xffffffff00000000UL | TIOCSTI);
}
static long p_tioclinux(void)
{
	return tty_ioctl(TIOCLINUX);
}
static long p_tiocgwinsz(void)
{
	int fd = open_pty_slave();
	struct winsize ws;
	if (fd < 0)
		return -2;
	return ioctl(fd, TIOCGWINSZ, &ws);
}

/* processes and threads */
static long p_getpid(void)
{
	return getpid();
}
static long p_fork_wait(void)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0)
		_exit(7);
	int status;
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 7 ? 0 : -1;
}
static void *thread_main(void *arg)
{
	return (char *)arg + 1;
}
static long p_pthread(void)
{
	/* glibc tries clone3 first and falls back to clone on ENOSYS. */
	static char token[2];
	pthread_t t;
	void *res;
	int rc = pthread_create(&t, NULL, thread_main, token);
	if (rc != 0) {
		errno = rc;
		return -1;
	}
	pthread_join(t, &res);
	return res == token + 1 ? 0 : -1;
}
static long p_posix_spawn(void)
{
	/* clone3 fallback, execve, and the dynamic loader under the filter. */
	pid_t pid;
	char *argv[] = {"/bin/sh", "-c", "exit 3", NULL};
	int rc = posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, environ);
	if (rc != 0) {
		errno = rc;
		return -1;
	}
	int status;
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 3 ? 0 : -1;
}
static long p_memfd_create(void)
{
	return memfd_create("corral-test", MFD_CLOEXEC);
}
static long p_copy_file_range(void)
{
	int a = memfd_create("a", MFD_CLOEXEC), b = memfd_create("b", MFD_CLOEXEC);
	if (a < 0 || b < 0 || write(a, "data", 4) != 4 || lseek(a, 0, SEEK_SET) < 0)
		return -1;
	return copy_file_range(a, NULL, b, NULL, 4, 0);
}
static long p_pidfd_signal(void)
{
	int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	if (pidfd < 0)
		return -1;
	return syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0);
}
static long p_close_range(void)
{
	return syscall(SYS_close_range, 1000, 2000, 0);
}
static long p_statx(void)
{
	struct statx stx;
	return statx(AT_FDCWD, "/", 0, STATX_BASIC_STATS, &stx);
}
static long p_faccessat2(void)
{
	return syscall(SYS_faccessat2, AT_FDCWD, "/", R_OK, AT_EACCESS);
}
static long p_fchmodat2(void)
{
	return syscall(NR_fchmodat2, AT_FDCWD, NONEXISTENT, 0644, 0);
}
static long p_getrandom(void)
{
	char buf[16];
	return getrandom(buf, sizeof buf, 0);
}
static long p_membarrier(void)
{
	return syscall(SYS_membarrier, 0 /* MEMBARRIER_CMD_QUERY */, 0, 0);
}
static long p_landlock_abi(void)
{
	return syscall(SYS_landlock_create_ruleset, NULL, 0, 1 /* VERSION */);
}
static long p_seccomp_query(void)
{
	uint32_t action = SECCOMP_RET_ALLOW;
	return syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action);
}
static long p_prctl(void)
{
	return prctl(PR_SET_NAME, "corral-test", 0, 0, 0);
}
static long p_shm(void)
{
	/* POSIX shared memory, as multiprocessing uses it. */
	char name[64];
	snprintf(name, sizeof name, "/corral-test-%d", (int)getpid());
	int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		return -1;
	shm_unlink(name);
	if (ftruncate(fd, 4096) < 0)
		return -1;
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	return p == MAP_FAILED ? -1 : 0;
}

/* system calls newer than the policy */
static long p_cachestat(void)
{
	return syscall(NR_cachestat, -1, NULL, NULL, 0);
}
static long p_listmount(void)
{
	return syscall(NR_listmount, NULL, NULL, 0, 0);
}

/* foreign ABIs */
#if defined(__x86_64__)
#define X32_SYSCALL_BIT 0x40000000L
static long p_x32_getpid(void)
{
	return syscall(X32_SYSCALL_BIT | SYS_getpid);
}
static long p_x32_only_number(void)
{
	/* 512: x32's rt_sigaction; NULL arguments only query. */
	return syscall(X32_SYSCALL_BIT | 512L, SIGUSR1, NULL, NULL, 8);
}
static long p_int80_getpid(void)
{
	long ret;
	/* A host without the i386 ABI answers with SIGSEGV; let it kill us
	 * (sanitizers would otherwise catch it and exit 1). */
	signal(SIGSEGV, SIG_DFL);
	/* i386 getpid is 20. */
	__asm__ volatile("int $0x80"
	                 : "=a"(ret)
	                 : "a"(20L)
	                 : "rcx", "r8", "r9", "r10", "r11", "memory");
	if (ret < 0 && ret > -4096) {
		errno = (int)-ret;
		return -1;
	}
	return ret;
}
#endif

/* ---- main ---------------------------------------------------------------- */

static int seccomp_mode_of_self(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	if (!f)
		return -1;
	char line[256];
	int mode = -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "Seccomp: %d", &mode) == 1)
			break;
	fclose(f);
	return mode;
}

static void test_api(void)
{
	corral_error err = {0};
	struct seccomp_program *p = NULL;
	struct seccomp_options nested = {.allow_nested_userns = true};
	CHECK(seccomp_program_build(&nested, &p, &err) == -1);
	CHECK(p == NULL);
	CHECK(err.kind == CORRAL_ERR_USAGE);
	CHECK(strstr(err.message, "seccomp") != NULL);

	CHECK(seccomp_program_install(NULL, NULL, &err) == -1);
	CHECK(seccomp_program_length(NULL) == 0);
	seccomp_program_free(NULL);

	size_t n = seccomp_program_length(program);
	printf("# program: %zu BPF instructions\n", n);
	CHECK(n > 100);
	CHECK(n <= 2 * 4096);
}

/* The program embedded at build time is exactly what libseccomp compiles
 * now from the same policy. */
static void test_prebuilt_matches_compiled(void)
{
	corral_error err = {0};
	struct seccomp_options opts = {.notify_denials = true};
	struct seccomp_program *prebuilt = NULL, *compiled = NULL;
	CHECK(seccomp_program_build(&opts, &prebuilt, &err) == 0);
	CHECK(seccomp_program_compile(&opts, &compiled, &err) == 0);
	CHECK(seccomp_program_equal(prebuilt, compiled));
	struct seccomp_options plain = {0};
	struct seccomp_program *eperm = NULL;
	CHECK(seccomp_program_compile(&plain, &eperm, &err) == 0);
	CHECK(!seccomp_program_equal(prebuilt, eperm));
	seccomp_program_free(prebuilt);
	seccomp_program_free(compiled);
	seccomp_program_free(eperm);
}

int main(void)
{
	if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) < 0 && errno == EINVAL)
		SKIP_ALL("kernel without seccomp");
	test_prebuilt_matches_compiled();

	corral_error err = {0};
	struct seccomp_options opts = {0};
	if (seccomp_program_build(&opts, &program, &err) < 0) {
		fprintf(stderr, "seccomp_program_build: %s\n", err.message);
		CHECK(!"seccomp_program_build failed");
		return unit_done();
	}
	int mode = seccomp_mode_of_self();
	strict_baseline = geteuid() == 0 && mode == 0;
	if (!strict_baseline)
		printf("# not root, or already under seccomp (mode %d): "
		       "baselines are only reported\n",
		       mode);

	test_api();

	/* keyrings, kernel attack surface */
	expect_denied("keyctl", p_keyctl, EPERM, false);
	expect_denied("add_key", p_add_key, EPERM, false);
	expect_denied("request_key", p_request_key, EPERM, false);
	expect_denied("bpf", p_bpf, EPERM, false);
	expect_denied("perf_event_open", p_perf_event_open, EPERM, false);
	expect_denied("userfaultfd", p_userfaultfd, EPERM, true);
	expect_denied("io_uring_setup", p_io_uring_setup, ENOSYS, true);
	expect_denied("io_uring_enter", p_io_uring_enter, ENOSYS, true);
	expect_denied("fanotify_init", p_fanotify_init, EPERM, false);
	expect_denied("memfd_secret", p_memfd_secret, EPERM, true);
	expect_denied("get_mempolicy", p_get_mempolicy, EPERM, true);

	/* other processes */
	expect_denied("ptrace(PTRACE_TRACEME)", p_ptrace_traceme, EPERM, true);
	expect_denied("process_vm_readv(self)", p_process_vm_readv, EPERM, false);
	expect_denied("pidfd_getfd(self)", p_pidfd_getfd, EPERM, false);
	expect_denied("kcmp", p_kcmp, EPERM, true);

	/* mounts and namespaces */
	expect_denied("mount", p_mount, EPERM, false);
	expect_denied("umount2", p_umount2, EPERM, false);
	expect_denied("pivot_root", p_pivot_root, EPERM, false);
	expect_denied("chroot", p_chroot, EPERM, false);
	expect_denied("setns", p_setns, EPERM, false);
	expect_denied("unshare(CLONE_NEWUSER)", p_unshare_user, EPERM, true);
	expect_denied("unshare(CLONE_NEWNS)", p_unshare_ns, EPERM, false);
	expect_denied("fsopen", p_fsopen, EPERM, false);
	expect_denied("open_tree", p_open_tree, EPERM, false);
	expect_denied("move_mount", p_move_mount, EPERM, false);
	expect_denied("open_by_handle_at", p_open_by_handle_at, EPERM, false);
	expect_denied("name_to_handle_at", p_name_to_handle_at, EPERM, false);
	expect_denied("clone(CLONE_NEWNS)", p_clone_newns, EPERM, false);
	expect_denied("clone(CLONE_NEWUSER)", p_clone_newuser, EPERM, true);
	expect_denied("clone(CLONE_NEWNET)", p_clone_newnet, EPERM, false);
	expect_denied("clone(1<<32 | CLONE_NEWUSER)", p_clone_newuser_high, EPERM, true);
	expect_denied("clone3", p_clone3, ENOSYS, false);

	/* host administration */
	expect_denied("init_module", p_init_module, EPERM, true);
	expect_denied("delete_module", p_delete_module, EPERM, true);
	expect_denied("reboot", p_reboot, EPERM, false);
	expect_denied("kexec_load", p_kexec_load, EPERM, true);
	expect_denied("swapoff", p_swapoff, EPERM, false);
	expect_denied("acct", p_acct, EPERM, false);
	expect_denied("syslog", p_syslog, EPERM, false);
	expect_denied("sethostname", p_sethostname, EPERM, false);
	expect_denied("settimeofday", p_settimeofday, EPERM, false);
	expect_denied("clock_settime", p_clock_settime, EPERM, false);
	expect_denied("adjtimex", p_adjtimex, EPERM, false);
	expect_denied("clock_adjtime", p_clock_adjtime, EPERM, false);
	expect_denied("quotactl", p_quotactl, EPERM, false);
	expect_denied("lookup_dcookie", p_lookup_dcookie, EPERM, false);
#if defined(__x86_64__)
	expect_denied("iopl", p_iopl, EPERM, true);
	expect_denied("modify_ldt", p_modify_ldt, EPERM, false);
	expect_denied("uselib", p_uselib, EPERM, false);
#endif

	/* personality */
	expect_denied("personality(ADDR_NO_RANDOMIZE)", p_persona_no_aslr, EPERM, false);
	expect_denied("personality(READ_IMPLIES_EXEC)", p_persona_read_implies_exec, EPERM, false);
	expect_allowed("personality(PER_LINUX32)", p_persona_linux32, true);
	expect_allowed("personality(0xffffffff)", p_persona_query, true);

	/* sockets */
	expect_denied("socket(AF_PACKET, SOCK_RAW)", p_sock_packet, EPERM, false);
	expect_denied("socket(AF_INET, SOCK_RAW)", p_sock_inet_raw, EPERM, false);
	expect_denied("socket(AF_INET6, SOCK_RAW)", p_sock_inet6_raw, EPERM, true);
	expect_denied("socket(AF_INET, SOCK_PACKET)", p_sock_inet_sock_packet, EPERM, false);
	expect_denied("socket(AF_INET, IPPROTO_MPTCP)", p_sock_mptcp, EPERM, false);
	expect_denied("socket(AF_INET, IPPROTO_SCTP)", p_sock_sctp, EPERM, false);
	expect_denied("socket(AF_NETLINK, KOBJECT_UEVENT)", p_sock_netlink_uevent, EPERM, false);
	expect_denied("socket(AF_NETLINK, NETLINK_AUDIT)", p_sock_netlink_audit, EPERM, false);
	expect_denied("socket(AF_VSOCK)", p_sock_vsock, EPERM, false);
	expect_denied("socket(AF_ALG)", p_sock_alg, EPERM, false);
	expect_denied("socketpair(AF_INET)", p_socketpair_inet, EPERM, false);
	expect_allowed("socket(AF_INET, STREAM|NONBLOCK|CLOEXEC)", p_sock_inet_stream, true);
	expect_allowed("socket(AF_INET, SOCK_STREAM, IPPROTO_TCP)", p_sock_inet_tcp, true);
	expect_allowed("socket(AF_INET, SOCK_DGRAM)", p_sock_inet_udp, true);
	expect_allowed("socket(AF_INET6, SOCK_STREAM)", p_sock_inet6_stream, false);
	expect_allowed("socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP)", p_sock_inet_ping, false);
	expect_allowed("socket(AF_UNIX, SOCK_SEQPACKET)", p_sock_unix, true);
	expect_allowed("socket(AF_NETLINK, NETLINK_ROUTE)", p_sock_netlink_route, true);
	expect_allowed("if_nametoindex(lo)", p_if_nametoindex, true);
	expect_allowed("socketpair(AF_UNIX)", p_socketpair_unix, true);
	expect_allowed("TCP over loopback", p_loopback_tcp, true);

	/* terminals */
	expect_denied("ioctl(TIOCSTI)", p_tiocsti, EPERM, false);
	expect_denied("ioctl(1<<32 | TIOCSTI)", p_tiocsti_high_bit, EPERM, false);
	expect_denied("ioctl(0xffffffff<<32 | TIOCSTI)", p_tiocsti_high_ones, EPERM, false);
	expect_denied("ioctl(TIOCLINUX)", p_tioclinux, EPERM, false);
	expect_allowed("ioctl(TIOCGWINSZ)", p_tiocgwinsz, true);

	/* what programs need */
	expect_allowed("getpid", p_getpid, true);
	expect_allowed("fork + waitpid", p_fork_wait, true);
	expect_allowed("clone(SIGCHLD)", p_clone_fork, true);
	expect_allowed("clone(1<<32 | SIGCHLD)", p_clone_fork_high, true);
	expect_allowed("pthread_create", p_pthread, true);
	expect_allowed("posix_spawn /bin/sh", p_posix_spawn, true);
	expect_allowed("memfd_create", p_memfd_create, true);
	expect_allowed("copy_file_range", p_copy_file_range, true);
	expect_allowed("pidfd_open + pidfd_send_signal", p_pidfd_signal, true);
	expect_allowed("close_range", p_close_range, true);
	expect_allowed("statx", p_statx, true);
	expect_allowed("faccessat2", p_faccessat2, true);
	expect_allowed("fchmodat2", p_fchmodat2, false);
	expect_allowed("getrandom", p_getrandom, true);
	expect_allowed("membarrier", p_membarrier, true);
	expect_allowed("landlock_create_ruleset(VERSION)", p_landlock_abi, false);
	expect_allowed("seccomp(GET_ACTION_AVAIL)", p_seccomp_query, true);
	expect_allowed("prctl(PR_SET_NAME)", p_prctl, true);
	expect_allowed("shm_open + mmap", p_shm, false);

	/* newer than the policy: ENOSYS */
	expect_denied("cachestat (451)", p_cachestat, ENOSYS, true);
	expect_denied("listmount (458)", p_listmount, ENOSYS, true);

#if defined(__x86_64__)
	/* foreign ABIs */
	expect_killed("x32 getpid", p_x32_getpid, 0);
	expect_killed("x32 rt_sigaction (512)", p_x32_only_number, 0);
	expect_killed("i386 getpid (int 0x80)", p_int80_getpid, SIGSEGV);
#endif

	seccomp_program_free(program);
	return unit_done();
}
