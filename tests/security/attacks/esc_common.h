/* Shared by the esc_*.c attacks: verdict reporting and small helpers.
 *
 * An attack calls escaped() for every primitive that worked and note() for
 * everything else worth knowing (errno of each refused step), then returns
 * finish("what stopped it"), which prints the verdict line the harness reads:
 *   ESCAPED: <first success>  exit 0
 *   BLOCKED: <summary>        exit 1
 * NOTE lines carry errno names (EPERM, ENOSYS...) so a test can tell a
 * kernel that lacks a feature from a sandbox that refused it. */
#ifndef ESC_COMMON_H
#define ESC_COMMON_H

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int esc_hits;
static char esc_first[768];

static void esc_init(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	setvbuf(stderr, NULL, _IONBF, 0);
}

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	printf("NOTE: %s\n", buf);
}

static void escaped(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void escaped(const char *fmt, ...)
{
	char buf[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	printf("NOTE: ESCAPE-STEP %s\n", buf);
	if (!esc_hits++)
		snprintf(esc_first, sizeof esc_first, "%s", buf);
}

static int finish(const char *blocked_summary)
{
	if (esc_hits) {
		printf("ESCAPED: %s%s\n", esc_first, esc_hits > 1 ? " (and more, see NOTE lines)" : "");
		return 0;
	}
	printf("BLOCKED: %s\n", blocked_summary);
	return 1;
}

/* "EPERM" rather than strerror's prose, so tests can match it. */
static const char *errname(int e)
{
	switch (e) {
#define E(x) case x: return #x;
	E(EPERM) E(ENOENT) E(ESRCH) E(EINTR) E(EIO) E(ENXIO) E(E2BIG) E(ENOEXEC) E(EBADF)
	E(ECHILD) E(EAGAIN) E(ENOMEM) E(EACCES) E(EFAULT) E(EBUSY) E(EEXIST) E(EXDEV)
	E(ENODEV) E(ENOTDIR) E(EISDIR) E(EINVAL) E(ENFILE) E(EMFILE) E(ENOTTY) E(ETXTBSY)
	E(EFBIG) E(ENOSPC) E(ESPIPE) E(EROFS) E(EMLINK) E(EPIPE) E(ERANGE) E(ENOSYS)
	E(ENOTEMPTY) E(ELOOP) E(ENODATA) E(EOPNOTSUPP) E(EOVERFLOW) E(ENOKEY) E(EKEYREVOKED)
	E(EDQUOT) E(ESTALE) E(EBADR)
#undef E
	default: {
		static char buf[32];
		snprintf(buf, sizeof buf, "errno%d", e);
		return buf;
	}
	}
}

/* Run fn(arg) in a child; returns its wait status (or -1). The child's
 * exit code is fn's return value. Killed children are reported by the
 * caller (SIGSYS from seccomp, for example). */
__attribute__((unused)) static int in_child(int (*fn)(void *), void *arg, int timeout_s)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		alarm(timeout_s > 0 ? timeout_s : 20);
		_exit(fn(arg) & 0xff);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return status;
}

__attribute__((unused)) static const char *describe_status(int status)
{
	static char buf[96];
	if (status == -1)
		snprintf(buf, sizeof buf, "could not fork");
	else if (WIFSIGNALED(status))
		snprintf(buf, sizeof buf, "killed by signal %d (%s)", WTERMSIG(status),
		         WTERMSIG(status) == SIGSYS ? "SIGSYS" : strsignal(WTERMSIG(status)));
	else
		snprintf(buf, sizeof buf, "exited %d", WEXITSTATUS(status));
	return buf;
}

/* Are we uid 0 of the initial user namespace, i.e. real host root? Used
 * to refuse steps that would change the host itself (mounts, pivot_root)
 * if they were ever reached without a private namespace. */
__attribute__((unused)) static int is_host_root(void)
{
	if (geteuid() != 0)
		return 0;
	FILE *f = fopen("/proc/self/uid_map", "r");
	if (!f)
		return 1; /* be careful */
	unsigned a = 1, b = 1, c = 0;
	int n = fscanf(f, "%u %u %u", &a, &b, &c);
	fclose(f);
	return n == 3 && a == 0 && b == 0 && c == 4294967295u;
}

/* Pids this process can see (in its own pid namespace), self excluded. */
__attribute__((unused)) static int visible_pids(pid_t *out, int max)
{
	DIR *d = opendir("/proc");
	if (!d)
		return 0;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < max) {
		char *end;
		long v = strtol(e->d_name, &end, 10);
		if (*end || v <= 0 || v == getpid())
			continue;
		out[n++] = (pid_t)v;
	}
	closedir(d);
	return n;
}

/* Does /proc/<pid>/cmdline contain token? (identity of a target) */
__attribute__((unused)) static int cmdline_has(pid_t pid, const char *token)
{
	char path[64], buf[4096];
	snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	for (ssize_t i = 0; i < n; i++)
		if (!buf[i])
			buf[i] = ' ';
	buf[n] = 0;
	return strstr(buf, token) != NULL;
}

#endif
