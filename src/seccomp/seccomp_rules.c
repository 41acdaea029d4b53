/*
 * The default policy's rules: the system call tables and the libseccomp
 * rules built from them (the allowlist and the ioctl denylist). Separate
 * from seccomp_filter.c, which compiles, exports and installs the result, so
 * that the policy -- what docs/seccomp.md documents -- reads on its own.
 */
#include "seccomp/seccomp_internal.h"

#include "util/error.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <sched.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif
/* The kernel's SOCK_TYPE_MASK: socket()'s type without SOCK_NONBLOCK and
 * SOCK_CLOEXEC. Not exported to user space. */
#define SOCK_TYPE_MASK_ 0xf

/* Every namespace flag clone(2) accepts: CLONE_NEWNS, CLONE_NEWCGROUP,
 * CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET
 * (0x7e020000, the value of Docker's profile). CLONE_NEWTIME (0x80) only
 * exists for clone3 and unshare; in clone's flags that bit is part of the
 * exit signal. */
#define CLONE_NAMESPACE_FLAGS                                                       \
	((uint64_t)(CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC |   \
	            CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET))

/* The kernel reads ioctl's request and personality's persona as 32-bit
 * values, so compare only their low half. */
#define LOW32 0xffffffffULL

/* Allowed unconditionally. Names that do not exist on the build's
 * architecture (open on aarch64, arch_prctl off x86, ...) are skipped.
 * clone, socket, socketpair and personality are allowed with argument
 * conditions below and must not appear here: libseccomp would turn their
 * conditional rules into a plain allow. */
static const char *const allowed_syscalls[] = {
	/* files and directories */
	"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "preadv2",
	"pwritev", "pwritev2", "open", "openat", "openat2", "creat", "close", "close_range",
	"dup", "dup2", "dup3", "lseek", "stat", "fstat", "lstat", "newfstatat", "statx",
	"statfs", "fstatfs", "access", "faccessat", "faccessat2", "readlink", "readlinkat",
	"getdents", "getdents64", "getcwd", "chdir", "fchdir", "mkdir", "mkdirat", "rmdir",
	"rename", "renameat", "renameat2", "link", "linkat", "unlink", "unlinkat", "symlink",
	"symlinkat", "chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "fchown", "lchown",
	"fchownat", "umask", "truncate", "ftruncate", "fallocate", "fadvise64", "readahead",
	"fsync", "fdatasync", "sync", "syncfs", "sync_file_range", "utime", "utimes",
	"utimensat", "futimesat", "flock", "fcntl", "mknod", "mknodat", "getxattr",
	"lgetxattr", "fgetxattr", "setxattr", "lsetxattr", "fsetxattr", "listxattr",
	"llistxattr", "flistxattr", "removexattr", "lremovexattr", "fremovexattr",
	"inotify_init", "inotify_init1", "inotify_add_watch", "inotify_rm_watch",
	"copy_file_range", "sendfile", "splice", "tee", "vmsplice", "memfd_create", "pipe",
	"pipe2",
	/* memory */
	"brk", "mmap", "munmap", "mprotect", "mremap", "madvise", "msync", "mincore", "mlock",
	"mlock2", "mlockall", "munlock", "munlockall", "pkey_alloc", "pkey_free",
	"pkey_mprotect", "membarrier", "map_shadow_stack", "mseal",
	/* processes and threads (clone: see below) */
	"fork", "vfork", "execve", "execveat", "exit", "exit_group", "wait4", "waitid",
	"getpid", "getppid", "gettid", "getpgid", "setpgid", "getpgrp", "getsid", "setsid",
	"getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid", "getgroups",
	"setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setfsuid",
	"setfsgid", "setgroups", "capget", "capset", "prctl", "arch_prctl", "set_tid_address",
	"set_robust_list", "get_robust_list", "rseq", "futex", "futex_waitv", "futex_wake",
	"futex_wait", "futex_requeue", "sched_yield", "sched_getaffinity",
	"sched_setaffinity", "sched_getparam", "sched_setparam", "sched_getscheduler",
	"sched_setscheduler", "sched_getattr", "sched_setattr", "sched_get_priority_max",
	"sched_get_priority_min", "sched_rr_get_interval", "getpriority", "setpriority",
	"ioprio_get", "ioprio_set", "getrlimit", "setrlimit", "prlimit64", "getrusage",
	"uname", "sysinfo", "getcpu", "getrandom", "pidfd_open", "pidfd_send_signal",
	"process_mrelease", "seccomp", "landlock_create_ruleset", "landlock_add_rule",
	"landlock_restrict_self",
	/* signals */
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending", "rt_sigsuspend",
	"rt_sigtimedwait", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "sigaltstack", "kill",
	"tkill", "tgkill", "signalfd", "signalfd4", "restart_syscall", "pause",
	/* time and timers (setting the clock is denied) */
	"clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep", "gettimeofday",
	"time", "times", "alarm", "getitimer", "setitimer", "timer_create", "timer_settime",
	"timer_gettime", "timer_getoverrun", "timer_delete", "timerfd_create",
	"timerfd_settime", "timerfd_gettime",
	/* waiting for events */
	"select", "pselect6", "poll", "ppoll", "epoll_create", "epoll_create1", "epoll_ctl",
	"epoll_wait", "epoll_pwait", "epoll_pwait2", "eventfd", "eventfd2",
	/* sockets (socket and socketpair: see below) */
	"bind", "connect", "listen", "accept", "accept4", "getsockname", "getpeername",
	"sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg", "shutdown",
	"setsockopt", "getsockopt",
	/* System V and POSIX IPC (the sandbox has its own IPC namespace) */
	"shmget", "shmat", "shmdt", "shmctl", "semget", "semop", "semtimedop", "semctl",
	"msgget", "msgsnd", "msgrcv", "msgctl", "mq_open", "mq_unlink", "mq_timedsend",
	"mq_timedreceive", "mq_notify", "mq_getsetattr",
	/* asynchronous I/O (io_uring is denied) */
	"io_setup", "io_destroy", "io_submit", "io_cancel", "io_getevents", "io_pgetevents",
	/* the ioctl requests TIOCSTI and TIOCLINUX are refused by the second filter */
	"ioctl",
};

/* Denied with ENOSYS rather than EPERM: glibc falls back from clone3 to
 * clone (whose flags the filter can inspect; clone3's live in memory), and
 * programs that probe io_uring (libuv, liburing) treat ENOSYS as "absent". */
static const char *const enosys_syscalls[] = {
	"clone3",
	"io_uring_setup",
	"io_uring_enter",
	"io_uring_register",
};

/* Allowed by conditional rules only; see the comment on allowed_syscalls.
 * (ioctl is allowed outright here; the second filter restricts it.) */
static const char *const conditional_syscalls[] = {
	"clone", "socket", "socketpair", "personality",
};

/*
 * Since Linux 5.1 (pidfd_send_signal, 424) every architecture but alpha
 * numbers new system calls alike. Used when the installed libseccomp is older
 * than a call the policy names, so the policy does not depend on its
 * version.
 */
struct unified_syscall {
	const char *name;
	int nr;
};
static const struct unified_syscall unified_syscalls[] = {
	{"pidfd_send_signal", 424},
	{"io_uring_setup", 425},
	{"io_uring_enter", 426},
	{"io_uring_register", 427},
	{"pidfd_open", 434},
	{"clone3", 435},
	{"close_range", 436},
	{"openat2", 437},
	{"faccessat2", 439},
	{"epoll_pwait2", 441},
	{"landlock_create_ruleset", 444},
	{"landlock_add_rule", 445},
	{"landlock_restrict_self", 446},
	{"process_mrelease", 448},
	{"futex_waitv", 449},
	{"fchmodat2", 452},
	{"map_shadow_stack", 453},
	{"futex_wake", 454},
	{"futex_wait", 455},
	{"futex_requeue", 456},
	{"mseal", 462},
};

/*
 * System calls numbered from 451 (cachestat, Linux 6.5) up to the x32 range
 * (512) that the policy does not allow fail with ENOSYS, whether or not
 * libseccomp knows their names: "this kernel lacks it" is what libc and
 * programs expect of a call newer than the policy, and they fall back
 * (glibc does so for fchmodat2 only on ENOSYS). Calls below 451 that are not
 * allowed get the default EPERM.
 */
#define ENOSYS_RANGE_FIRST 451
#define ENOSYS_RANGE_LAST 511

static bool unified_numbering(void)
{
	uint32_t arch = seccomp_arch_native();
	return arch == SCMP_ARCH_X86_64 || arch == SCMP_ARCH_AARCH64;
}

/* The native number of `name`, or -1 when it does not exist here. */
static int syscall_number(const char *name)
{
	int nr = seccomp_syscall_resolve_name(name);
	/* __NR_SCMP_ERROR, or a negative pseudo number for a call that this
	 * architecture lacks (socketcall on x86_64, open on aarch64). */
	if (nr >= 0)
		return nr;
	if (!unified_numbering())
		return -1;
	for (size_t i = 0; i < sizeof unified_syscalls / sizeof unified_syscalls[0]; i++)
		if (strcmp(unified_syscalls[i].name, name) == 0)
			return unified_syscalls[i].nr;
	return -1;
}

static int rule_add(scmp_filter_ctx ctx, uint32_t action, int nr, const char *what,
                    unsigned int n_args, const struct scmp_arg_cmp *args, corral_error *err)
{
	int rc = seccomp_rule_add_array(ctx, action, nr, n_args, args);
	if (rc < 0)
		return error_set(err, CORRAL_ERR_SETUP, -rc, "seccomp_rule_add %s", what);
	return 0;
}

/* Allow `name` when all of `args` hold; skipped where `name` does not
 * exist. */
static int allow_if(scmp_filter_ctx ctx, const char *name, const char *what, unsigned int n_args,
                    const struct scmp_arg_cmp *args, corral_error *err)
{
	int nr = syscall_number(name);
	if (nr < 0)
		return 0;
	return rule_add(ctx, SCMP_ACT_ALLOW, nr, what, n_args, args, err);
}

static int add_socket_rules(scmp_filter_ctx ctx, corral_error *err)
{
	/* AF_UNIX: any type (the kernel knows only stream, datagram and
	 * seqpacket there). */
	const struct scmp_arg_cmp unix_any[] = {SCMP_A0(SCMP_CMP_EQ, AF_UNIX, 0)};
	if (allow_if(ctx, "socket", "socket(AF_UNIX)", 1, unix_any, err) < 0)
		return -1;
	if (allow_if(ctx, "socketpair", "socketpair(AF_UNIX)", 1, unix_any, err) < 0)
		return -1;

	/* AF_NETLINK with NETLINK_ROUTE only: getaddrinfo(AI_ADDRCONFIG),
	 * getifaddrs and if_nameindex read addresses and links through it.
	 * Raw is netlink's ordinary socket type, not a raw IP socket. */
	const struct scmp_arg_cmp netlink_route[] = {
		SCMP_A0(SCMP_CMP_EQ, AF_NETLINK, 0),
		SCMP_A2(SCMP_CMP_EQ, NETLINK_ROUTE, 0),
	};
	if (allow_if(ctx, "socket", "socket(AF_NETLINK, NETLINK_ROUTE)", 2, netlink_route, err) < 0)
		return -1;

	/* AF_INET and AF_INET6: TCP and UDP (and ICMP echo "ping" datagram
	 * sockets, which the kernel further limits by
	 * net.ipv4.ping_group_range). No raw or packet sockets, no MPTCP,
	 * SCTP, DCCP, UDP-Lite or L2TP: anything else fails with EPERM. The
	 * type is compared without SOCK_NONBLOCK and SOCK_CLOEXEC. */
	static const struct {
		int family;
		int type;
		int protocol;
		const char *what;
	} inet[] = {
		{AF_INET, SOCK_STREAM, 0, "socket(AF_INET, SOCK_STREAM, 0)"},
		{AF_INET, SOCK_STREAM, IPPROTO_TCP, "socket(AF_INET, SOCK_STREAM, IPPROTO_TCP)"},
		{AF_INET, SOCK_DGRAM, 0, "socket(AF_INET, SOCK_DGRAM, 0)"},
		{AF_INET, SOCK_DGRAM, IPPROTO_UDP, "socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP)"},
		{AF_INET, SOCK_DGRAM, IPPROTO_ICMP, "socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP)"},
		{AF_INET6, SOCK_STREAM, 0, "socket(AF_INET6, SOCK_STREAM, 0)"},
		{AF_INET6, SOCK_STREAM, IPPROTO_TCP, "socket(AF_INET6, SOCK_STREAM, IPPROTO_TCP)"},
		{AF_INET6, SOCK_DGRAM, 0, "socket(AF_INET6, SOCK_DGRAM, 0)"},
		{AF_INET6, SOCK_DGRAM, IPPROTO_UDP, "socket(AF_INET6, SOCK_DGRAM, IPPROTO_UDP)"},
		{AF_INET6, SOCK_DGRAM, IPPROTO_ICMPV6,
		 "socket(AF_INET6, SOCK_DGRAM, IPPROTO_ICMPV6)"},
	};
	for (size_t i = 0; i < sizeof inet / sizeof inet[0]; i++) {
		const struct scmp_arg_cmp args[] = {
			SCMP_A0(SCMP_CMP_EQ, (uint64_t)inet[i].family, 0),
			SCMP_A1(SCMP_CMP_MASKED_EQ, SOCK_TYPE_MASK_, (uint64_t)inet[i].type),
			SCMP_A2(SCMP_CMP_EQ, (uint64_t)inet[i].protocol, 0),
		};
		if (allow_if(ctx, "socket", inet[i].what, 3, args, err) < 0)
			return -1;
	}
	return 0;
}

static int add_process_rules(scmp_filter_ctx ctx, corral_error *err)
{
	/* clone without any namespace flag: fork, vfork, threads and
	 * posix_spawn. (The flags are the first argument on x86_64 and
	 * aarch64; s390 differs and is not supported.) The kernel only reads
	 * the low 32 bits, and the mask's high half is 0, so high garbage
	 * neither hides a flag nor causes a refusal. */
	const struct scmp_arg_cmp no_namespaces[] = {
		SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NAMESPACE_FLAGS, 0),
	};
	if (allow_if(ctx, "clone", "clone(no CLONE_NEW* flag)", 1, no_namespaces, err) < 0)
		return -1;

	/* personality: the values Docker allows, all harmless: PER_LINUX (0),
	 * PER_LINUX32 (8, uname says i686), UNAME26 (0x20000), both
	 * (0x20008), and 0xffffffff, which only queries. Others, such as
	 * ADDR_NO_RANDOMIZE or READ_IMPLIES_EXEC, weaken the next program's
	 * memory protections and are refused. */
	static const uint64_t personas[] = {0x0, 0x8, 0x20000, 0x20008, 0xffffffff};
	for (size_t i = 0; i < sizeof personas / sizeof personas[0]; i++) {
		const struct scmp_arg_cmp args[] = {
			SCMP_A0(SCMP_CMP_MASKED_EQ, LOW32, personas[i]),
		};
		if (allow_if(ctx, "personality", "personality", 1, args, err) < 0)
			return -1;
	}
	return 0;
}

static int set_common_attributes(scmp_filter_ctx ctx, corral_error *err)
{
	int rc;
	/* A foreign ABI is an attempt to reach code the policy never
	 * reviewed: kill the whole process. libseccomp also sends x32
	 * (x86_64 numbers with bit 30 set) to this action when the filter has
	 * no x32 architecture, which it does not. */
	if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS)) < 0)
		return error_set(err, CORRAL_ERR_SETUP, -rc, "seccomp_attr_set ACT_BADARCH");
	/* corral sets no_new_privs itself, and installs the program without
	 * libseccomp. */
	if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0)) < 0)
		return error_set(err, CORRAL_ERR_SETUP, -rc, "seccomp_attr_set CTL_NNP");
	return 0;
}

int seccomp_build_allowlist(scmp_filter_ctx ctx, corral_error *err)
{
	int rc;
	if (set_common_attributes(ctx, err) < 0)
		return -1;
	/* A binary tree of system call numbers instead of a linear scan. */
	if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2)) < 0)
		return error_set(err, CORRAL_ERR_SETUP, -rc, "seccomp_attr_set CTL_OPTIMIZE");

	/* Numbers in the ENOSYS range that get another rule. */
	bool range_taken[ENOSYS_RANGE_LAST - ENOSYS_RANGE_FIRST + 1] = {false};

	for (size_t i = 0; i < sizeof allowed_syscalls / sizeof allowed_syscalls[0]; i++) {
		const char *name = allowed_syscalls[i];
		size_t n_conditional = sizeof conditional_syscalls / sizeof conditional_syscalls[0];
		for (size_t j = 0; j < n_conditional; j++)
			if (strcmp(name, conditional_syscalls[j]) == 0)
				return error_set(err, CORRAL_ERR_INTERNAL, 0,
				                 "seccomp policy: %s is both conditional and "
				                 "unconditional",
				                 name);
		int nr = syscall_number(name);
		if (nr < 0)
			continue;
		if (rule_add(ctx, SCMP_ACT_ALLOW, nr, name, 0, NULL, err) < 0)
			return -1;
		if (nr >= ENOSYS_RANGE_FIRST && nr <= ENOSYS_RANGE_LAST)
			range_taken[nr - ENOSYS_RANGE_FIRST] = true;
	}
	for (size_t i = 0; i < sizeof enosys_syscalls / sizeof enosys_syscalls[0]; i++) {
		const char *name = enosys_syscalls[i];
		int nr = syscall_number(name);
		if (nr < 0)
			continue;
		if (rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, name, 0, NULL, err) < 0)
			return -1;
		if (nr >= ENOSYS_RANGE_FIRST && nr <= ENOSYS_RANGE_LAST)
			range_taken[nr - ENOSYS_RANGE_FIRST] = true;
	}
	if (add_socket_rules(ctx, err) < 0 || add_process_rules(ctx, err) < 0)
		return -1;

	if (unified_numbering()) {
		for (int nr = ENOSYS_RANGE_FIRST; nr <= ENOSYS_RANGE_LAST; nr++) {
			if (range_taken[nr - ENOSYS_RANGE_FIRST])
				continue;
			char what[32];
			snprintf(what, sizeof what, "syscall %d", nr);
			if (rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, what, 0, NULL, err) < 0)
				return -1;
		}
	}
	return 0;
}

int seccomp_build_ioctl_denylist(scmp_filter_ctx ctx, corral_error *err)
{
	if (set_common_attributes(ctx, err) < 0)
		return -1;
	/* TIOCSTI pushes bytes into a terminal's input queue, as if typed;
	 * TIOCLINUX can paste the console selection, likewise. Only the low
	 * 32 bits are compared, as the kernel reads only those: a request
	 * with garbage in the high half cannot slip past. */
	static const struct {
		unsigned long request;
		const char *what;
	} denied[] = {
		{TIOCSTI, "ioctl TIOCSTI"},
		{TIOCLINUX, "ioctl TIOCLINUX"},
	};
	for (size_t i = 0; i < sizeof denied / sizeof denied[0]; i++) {
		const struct scmp_arg_cmp args[] = {
			SCMP_A1(SCMP_CMP_MASKED_EQ, LOW32, denied[i].request),
		};
		if (rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), denied[i].what, 1, args,
		             err) < 0)
			return -1;
	}
	return 0;
}
