/*
 * The sentinel shares the supervisor's memory (CLONE_VM) instead of getting
 * a copy: a fork of the supervisor cost a page-table copy, ~15 page faults
 * in the child and copy-on-write faults in the supervisor for every page it
 * wrote afterwards -- about a millisecond per sandbox on the reference
 * hypervisor, where a page fault costs 12-18 us.
 *
 * Sharing memory with a running process is only sound for code that never
 * writes memory the supervisor uses. So the sentinel runs on a mapping of
 * its own (its stack and, written before the clone and never again, the
 * directories to remove) and calls only the kernel and pure functions (no
 * allocation, no locks, no stdio). It must not touch thread-local storage
 * either: its thread pointer is the calling thread's, whose block may be
 * reused or unmapped once that thread exits. So its system calls are made
 * without libc's wrappers (which set errno) and its functions carry no
 * stack protector (which reads the canary there). Cleaning up by itself,
 * rather than through the cgroup module, is deliberate too: a supervisor
 * killed inside malloc leaves its lock held forever.
 */
#include "jail/sentinel.h"

#include "cgroup/cgroup.h"
#include "util/error.h"
#include "util/fileutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__has_attribute)
#if __has_attribute(no_stack_protector)
#define NO_TLS __attribute__((no_stack_protector))
#endif
#endif
#ifndef NO_TLS
#define NO_TLS
#endif

/* A system call's result, or -errno: no libc wrapper, no errno. Where
 * there is no inline version, libc's syscall(2) (which writes errno only
 * when a call fails: while the supervisor lives, none of ours can). */
#if defined(__x86_64__)
NO_TLS static long sys6(long nr, long a, long b, long c, long d, long e)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	long ret;
	__asm__ volatile("syscall"
	                 : "=a"(ret)
	                 : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8)
	                 : "rcx", "r11", "memory");
	return ret;
}
#elif defined(__aarch64__)
NO_TLS static long sys6(long nr, long a, long b, long c, long d, long e)
{
	register long x8 __asm__("x8") = nr;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d;
	register long x4 __asm__("x4") = e;
	__asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4) : "memory");
	return x0;
}
#else
static long sys6(long nr, long a, long b, long c, long d, long e)
{
	long r = syscall(nr, a, b, c, d, e);
	return r < 0 ? -errno : r;
}
#endif
#define SYS(nr, a, b, c) sys6((nr), (long)(a), (long)(b), (long)(c), 0, 0)

#define SENTINEL_STACK (64 * 1024)
/* Retries of a directory's removal: ~4 s of 10 ms pauses, as long as the
 * kernel can take to tear down the processes of a killed sandbox. */
#define REMOVE_TRIES 400

struct sentinel_area {
	int fd;                                       /* the pipe's read end */
	int n;                                        /* directories in paths */
	char paths[CGROUP_MAX_DIRS * PATH_MAX];       /* NUL-separated */
};

/* Whole pages: the stack's top (the mapping's end) is then 16-byte aligned. */
#define AREA_SIZE ((sizeof(struct sentinel_area) + SENTINEL_STACK + 4095) & ~(size_t)4095)

/* dir + "/" + file into out (PATH_MAX + 32); false if it does not fit. */
NO_TLS static bool join(char *out, const char *dir, const char *file)
{
	size_t ld = strlen(dir), lf = strlen(file);
	if (ld + 1 + lf + 1 > PATH_MAX + 32)
		return false;
	memcpy(out, dir, ld + 1);
	out[ld] = '/';
	memcpy(out + ld + 1, file, lf + 1);
	return true;
}

/* SIGKILL every pid listed in dir/cgroup.procs. */
NO_TLS static void kill_listed(const char *dir)
{
	char path[PATH_MAX + 32];
	if (!join(path, dir, "cgroup.procs"))
		return;
	long fd = SYS(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	char buf[4096] = {0}; /* filled by read(2), which the analyzer cannot see */
	long pid = 0;
	bool digits = false;
	long n;
	while ((n = SYS(SYS_read, fd, buf, sizeof buf)) > 0) {
		for (long i = 0; i < n; i++) {
			if (buf[i] >= '0' && buf[i] <= '9') {
				pid = pid * 10 + (buf[i] - '0');
				digits = true;
				continue;
			}
			if (digits && pid > 0)
				SYS(SYS_kill, pid, SIGKILL, 0);
			pid = 0;
			digits = false;
		}
	}
	if (digits && pid > 0)
		SYS(SYS_kill, pid, SIGKILL, 0);
	SYS(SYS_close, fd, 0, 0);
}

/* The supervisor is gone: kill what is left in each directory and remove
 * it. A cgroup goes once empty; v2's cgroup.kill (5.14+) empties it in one
 * write, elsewhere the listed processes are killed until none is left
 * (the sandbox's init dies with the supervisor anyway, and its pid
 * namespace with it). */
NO_TLS static void remove_dirs(const struct sentinel_area *a)
{
	const char *dir = a->paths;
	for (int i = 0; i < a->n; i++, dir += strlen(dir) + 1) {
		char kill_file[PATH_MAX + 32];
		if (join(kill_file, dir, "cgroup.kill")) {
			long fd = SYS(SYS_openat, AT_FDCWD, kill_file, O_WRONLY | O_CLOEXEC);
			if (fd >= 0) {
				SYS(SYS_write, fd, "1", 1);
				SYS(SYS_close, fd, 0, 0);
			}
		}
		for (int t = 0; t < REMOVE_TRIES; t++) {
			long r = SYS(SYS_unlinkat, AT_FDCWD, dir, AT_REMOVEDIR);
			if (r == 0 || r == -ENOENT)
				break;
			kill_listed(dir);
			struct timespec pause = {.tv_nsec = 10 * 1000 * 1000};
			sys6(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, (long)&pause, 0, 0);
		}
	}
}

NO_TLS static int sentinel_main(void *arg)
{
	const struct sentinel_area *a = arg;
	/* Blocked, no signal runs a handler (the supervisor's, on our stack)
	 * or interrupts the read: nothing here can fail while it lives. */
	uint64_t all = ~(uint64_t)0; /* the kernel's sigset: 64 bits */
	sys6(SYS_rt_sigprocmask, SIG_BLOCK, (long)&all, 0, sizeof all, 0);
	/* Out of the caller's session: terminal signals are not for us, and
	 * the caller's descriptors (our copy of its table) must not be held
	 * open by us. */
	SYS(SYS_setsid, 0, 0, 0);
	if (a->fd != 3)
		SYS(SYS_dup3, a->fd, 3, 0);
	SYS(SYS_close_range, 0, 2, 0);
	SYS(SYS_close_range, 4, ~0U, 0);
	SYS(SYS_prctl, PR_SET_NAME, "corral-sentinel", 0);

	char done = 0;
	long n;
	while ((n = SYS(SYS_read, 3, &done, 1)) == -EINTR)
		;
	if (n != 1)
		remove_dirs(a);
	return 0;
}

int sentinel_start(struct sentinel *s, struct cgroup_sandbox *cg, corral_error *err)
{
	s->pid = 0;
	s->fd = -1;
	s->area = NULL;
	const char *dirs[CGROUP_MAX_DIRS];
	size_t n = cgroup_sandbox_dirs(cg, dirs);
	struct sentinel_area *a = mmap(NULL, AREA_SIZE, PROT_READ | PROT_WRITE,
	                               MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (a == MAP_FAILED)
		return error_errno(err, "map the cgroup sentinel's stack");
	a->n = (int)n;
	char *w = a->paths;
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(dirs[i]) + 1; /* each fits: a PATH_MAX buffer */
		memcpy(w, dirs[i], len);
		w += len;
	}
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		int e = errno;
		munmap(a, AREA_SIZE);
		return error_set(err, CORRAL_ERR_SETUP, e, "sentinel pipe");
	}
	a->fd = p[0];
	/* The stack grows down from the end of the mapping (every Linux
	 * architecture corral builds on). */
	pid_t pid = clone(sentinel_main, (char *)a + AREA_SIZE, CLONE_VM | SIGCHLD, a);
	int e = errno;
	close(p[0]);
	if (pid < 0) {
		close(p[1]);
		munmap(a, AREA_SIZE);
		return error_set(err, CORRAL_ERR_SETUP, e, "start the cgroup sentinel");
	}
	s->pid = pid;
	s->fd = p[1];
	s->area = a;
	return 0;
}

void sentinel_dismiss(struct sentinel *s)
{
	if (s->fd >= 0) {
		(void)write_all(s->fd, "d", 1);
		close(s->fd);
		s->fd = -1;
	}
	if (s->pid > 0) {
		while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR)
			;
		s->pid = 0;
	}
	/* Only now: the sentinel ran on this mapping until it exited. */
	if (s->area) {
		munmap(s->area, AREA_SIZE);
		s->area = NULL;
	}
}
