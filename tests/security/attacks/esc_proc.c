/* Reaching other processes: corral's init (pid 1 inside) and a host process
 * whose host pid number the test passes in.
 *
 *   esc_proc ptrace TARGET...     PTRACE_ATTACH / PTRACE_SEIZE
 *   esc_proc vmread TARGET...     process_vm_readv (and process_vm_writev of
 *                                 the same bytes back)
 *   esc_proc getfd TARGET...      pidfd_open + pidfd_getfd of fds 0..9
 *   esc_proc kill TOKEN TARGET... kill(pid, 0), then SIGKILL and pidfd_send_signal
 *   esc_proc killall TOKEN TARGET...  kill(-1, SIGKILL) first, then as kill
 *   esc_proc sleep TOKEN          a victim: sleeps until killed
 *
 * TARGET is a pid number or "all" (every pid visible here except self;
 * only used inside the sandbox, never on the host). A success against a
 * process counts as an escape only for processes that are not our own
 * descendants. For kill, the target's identity is checked through TOKEN in
 * its command line when /proc shows it; a pid number that merely collides
 * with one of the sandbox's own processes is not an escape (the test checks
 * the host process separately). */
#include "esc_common.h"

#include <sys/ptrace.h>
#include <sys/uio.h>

static pid_t targets[512];
static int n_targets;

static void add_targets(char **argv, int argc)
{
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "all")) {
			n_targets += visible_pids(targets + n_targets, 512 - n_targets);
		} else {
			pid_t p = (pid_t)atoi(argv[i]);
			if (p > 0 && p != getpid() && n_targets < 512)
				targets[n_targets++] = p;
		}
	}
}

static void do_ptrace(pid_t pid)
{
	if (ptrace(PTRACE_ATTACH, pid, 0, 0) == 0) {
		int st;
		waitpid(pid, &st, __WALL);
		long word = ptrace(PTRACE_PEEKDATA, pid, (void *)0x400000, 0);
		(void)word;
		ptrace(PTRACE_DETACH, pid, 0, 0);
		escaped("ptrace(PTRACE_ATTACH, %d) succeeded", (int)pid);
	} else {
		note("ptrace(PTRACE_ATTACH, %d): %s", (int)pid, errname(errno));
	}
	if (ptrace(PTRACE_SEIZE, pid, 0, 0) == 0) {
		ptrace(PTRACE_DETACH, pid, 0, 0);
		escaped("ptrace(PTRACE_SEIZE, %d) succeeded", (int)pid);
	} else {
		note("ptrace(PTRACE_SEIZE, %d): %s", (int)pid, errname(errno));
	}
}

/* First mapped address of pid, from its maps when readable, else ours (a
 * guess: with ASLR it is wrong, but the answer EFAULT still proves the
 * kernel let us into the other address space). */
static unsigned long first_address(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f) {
		note("read %s: %s", path, errname(errno));
		f = fopen("/proc/self/maps", "r");
	}
	unsigned long a = 0x400000;
	if (f) {
		if (fscanf(f, "%lx", &a) != 1)
			a = 0x400000;
		fclose(f);
	}
	return a;
}

static void do_vmread(pid_t pid)
{
	unsigned long addr = first_address(pid);
	char buf[16];
	struct iovec local = {buf, sizeof buf}, remote = {(void *)addr, sizeof buf};
	ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
	if (n > 0) {
		escaped("process_vm_readv(%d) read %zd bytes at 0x%lx%s", (int)pid, n, addr,
		        memcmp(buf, "\177ELF", 4) ? "" : " (an ELF header)");
		/* Write the same bytes back: proves writev, changes nothing. */
		struct iovec back = {buf, (size_t)n};
		remote.iov_len = (size_t)n;
		ssize_t w = process_vm_writev(pid, &back, 1, &remote, 1, 0);
		note("process_vm_writev(%d): %s", (int)pid, w >= 0 ? "ok" : errname(errno));
	} else if (n < 0 && (errno == EFAULT || errno == EIO)) {
		escaped("process_vm_readv(%d) got into its address space (%s at a guessed address)",
		        (int)pid, errname(errno));
	} else {
		note("process_vm_readv(%d): %s", (int)pid, n < 0 ? errname(errno) : "0 bytes");
	}
}

static void do_getfd(pid_t pid)
{
	long pidfd = syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		note("pidfd_open(%d): %s", (int)pid, errname(errno));
		return;
	}
	int got = 0, last = 0;
	for (int fd = 0; fd < 10; fd++) {
		long r = syscall(SYS_pidfd_getfd, pidfd, fd, 0);
		if (r >= 0) {
			got++;
			close((int)r);
		} else {
			last = errno;
		}
	}
	if (got)
		escaped("pidfd_getfd stole %d descriptors of %d", got, (int)pid);
	else
		note("pidfd_getfd(%d): %s", (int)pid, errname(last));
	close((int)pidfd);
}

static void do_kill(pid_t pid, const char *token)
{
	int visible = cmdline_has(pid, token);
	if (kill(pid, 0) == 0) {
		if (visible)
			escaped("kill(%d, 0) reached the target process", (int)pid);
		else
			note("kill(%d, 0) succeeded, but that pid here is not the target (number collision)",
			     (int)pid);
	} else {
		note("kill(%d, 0): %s", (int)pid, errname(errno));
	}
	long pidfd = syscall(SYS_pidfd_open, pid, 0);
	if (pidfd >= 0) {
		note("pidfd_open(%d) succeeded", (int)pid);
		if (visible && syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0) == 0)
			escaped("pidfd_send_signal(%d, SIGKILL) succeeded", (int)pid);
		close((int)pidfd);
	} else {
		note("pidfd_open(%d): %s", (int)pid, errname(errno));
	}
	if (kill(pid, SIGKILL) == 0) {
		if (visible)
			escaped("kill(%d, SIGKILL) succeeded", (int)pid);
	} else {
		note("kill(%d, SIGKILL): %s", (int)pid, errname(errno));
	}
}

int main(int argc, char **argv)
{
	esc_init();
	if (argc < 2)
		return 2;
	const char *m = argv[1];
	if (!strcmp(m, "sleep")) {
		/* The victim. Its token is in argv for identification. */
		for (;;)
			pause();
	}
	if (!strcmp(m, "kill") || !strcmp(m, "killall")) {
		if (argc < 4)
			return 2;
		const char *token = argv[2];
		if (!strcmp(m, "killall")) {
			/* Everything this process may signal, except itself. */
			signal(SIGTERM, SIG_IGN);
			int r = kill(-1, SIGKILL);
			note("kill(-1, SIGKILL): %s", r == 0 ? "ok" : errname(errno));
			struct timespec ts = {0, 200 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
		add_targets(argv + 3, argc - 3);
		for (int i = 0; i < n_targets; i++)
			do_kill(targets[i], token);
		return finish("no target process could be signalled");
	}
	add_targets(argv + 2, argc - 2);
	for (int i = 0; i < n_targets; i++) {
		if (!strcmp(m, "ptrace"))
			do_ptrace(targets[i]);
		else if (!strcmp(m, "vmread"))
			do_vmread(targets[i]);
		else if (!strcmp(m, "getfd"))
			do_getfd(targets[i]);
		else
			return 2;
	}
	if (!n_targets)
		note("no target pid given or visible");
	char summary[128];
	snprintf(summary, sizeof summary, "%s refused against %d target(s)", m, n_targets);
	return finish(summary);
}
