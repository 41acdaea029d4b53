#include "jail/freeze.h"

#include "cgroup/cgroup.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/fileutil.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* How long every process may take to stop (one in uninterruptible sleep
 * stops when its system call ends). */
#define STOP_WAIT_MS 2000
/* Rounds of "find new processes, stop them": a process can fork only until
 * it is stopped, so a round that finds nothing new ends it. */
#define STOP_ROUNDS 64

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The parent of `pid` from /proc/PID/stat (readable by anyone, unlike
 * /proc/PID/ns of a non-dumpable process); -1 if it is gone. */
static pid_t parent_of(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* "pid (comm) S ppid ...": comm may hold anything; the rest follows
	 * its last ')'. */
	const char *paren = strrchr(buf, ')');
	int ppid;
	char state;
	if (!paren || sscanf(paren + 1, " %c %d", &state, &ppid) != 2)
		return -1;
	return (pid_t)ppid;
}

/* In the sandbox's pid namespace: a descendant of its init, which reaps
 * every orphan there. */
static bool in_sandbox(pid_t pid, pid_t init_pid)
{
	for (int depth = 0; depth < 4096 && pid > 1; depth++) {
		pid = parent_of(pid);
		if (pid == init_pid)
			return true;
	}
	return false;
}

static bool held(const struct freeze *f, pid_t pid)
{
	for (size_t i = 0; i < f->n_pidfds; i++)
		if (f->pids[i] == pid)
			return true;
	return false;
}

static int hold(struct freeze *f, pid_t pid, int pidfd, corral_error *err)
{
	if (f->n_pidfds == f->cap_pidfds) {
		size_t cap = f->cap_pidfds ? 2 * f->cap_pidfds : 16;
		int *fds = realloc(f->pidfds, cap * sizeof *fds);
		if (fds)
			f->pidfds = fds;
		pid_t *pids = fds ? realloc(f->pids, cap * sizeof *pids) : NULL;
		if (!pids)
			return error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "freeze the sandbox");
		f->pids = pids;
		f->cap_pidfds = cap;
	}
	f->pidfds[f->n_pidfds] = pidfd;
	f->pids[f->n_pidfds++] = pid;
	return 0;
}

/* Stop every process of the pid namespace `ns` not stopped yet; *found
 * counts them. */
static int stop_new(struct freeze *f, pid_t init_pid, size_t *found, corral_error *err)
{
	*found = 0;
	DIR *proc = opendir("/proc");
	if (!proc)
		return error_errno(err, "freeze the sandbox: open /proc");
	int rc = 0;
	const struct dirent *de;
	while (rc == 0 && (de = readdir(proc)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid_t pid = (pid_t)strtol(de->d_name, NULL, 10);
		if (pid == init_pid || held(f, pid) || !in_sandbox(pid, init_pid))
			continue;
		int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
		if (pidfd < 0)
			continue; /* gone already */
		/* The pid may have been reused between the look and the open:
		 * look again, now that the process is pinned. */
		if (!in_sandbox(pid, init_pid) ||
		    syscall(SYS_pidfd_send_signal, pidfd, SIGSTOP, NULL, 0) < 0) {
			close(pidfd);
			continue;
		}
		rc = hold(f, pid, pidfd, err);
		if (rc < 0)
			close(pidfd);
		(*found)++;
	}
	closedir(proc);
	return rc;
}

/* Every thread of `pid` is stopped (or gone). */
static bool stopped(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
	DIR *tasks = opendir(path);
	if (!tasks)
		return true;
	bool all = true;
	const struct dirent *de;
	while (all && (de = readdir(tasks)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		char stat_path[384], buf[512];
		snprintf(stat_path, sizeof stat_path, "/proc/%d/task/%s/stat", (int)pid, de->d_name);
		_cleanup_close_ int fd = open(stat_path, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		/* "pid (comm) S ...": comm may hold anything, the state
		 * follows its last ')'. */
		const char *paren = strrchr(buf, ')');
		char state = '?';
		if (paren && paren[1] == ' ')
			state = paren[2];
		all = state == 'T' || state == 't' || state == 'Z' || state == 'X';
	}
	closedir(tasks);
	return all;
}

static int wait_stopped(const struct freeze *f, corral_error *err)
{
	uint64_t deadline = now_ms() + STOP_WAIT_MS;
	for (size_t i = 0; i < f->n_pidfds;) {
		if (stopped(f->pids[i])) {
			i++;
			continue;
		}
		if (now_ms() >= deadline)
			return error_set(err, CORRAL_ERR_SETUP, 0,
			                 "freeze the sandbox: process %d not stopped after %d ms",
			                 (int)f->pids[i], STOP_WAIT_MS);
		struct timespec pause = {.tv_nsec = 1000000};
		nanosleep(&pause, NULL);
	}
	return 0;
}

static int stop_all(struct freeze *f, pid_t init_pid, corral_error *err)
{
	if (parent_of(init_pid) < 0)
		return error_set(err, CORRAL_ERR_USAGE, ESRCH, "freeze the sandbox: it has ended");
	for (int round = 0; round < STOP_ROUNDS; round++) {
		size_t found = 0;
		if (stop_new(f, init_pid, &found, err) < 0 || wait_stopped(f, err) < 0)
			return -1;
		if (found == 0)
			return 0;
	}
	return error_set(err, CORRAL_ERR_SETUP, 0,
	                 "freeze the sandbox: new processes kept appearing");
}

int freeze_sandbox(struct freeze *f, struct cgroup_sandbox *cg, pid_t init_pid,
                   corral_error *err)
{
	memset(f, 0, sizeof *f);
	corral_error cg_err = {0};
	if (cg && cgroup_sandbox_freeze(cg, true, &cg_err) == 0) {
		f->cgroup = cg;
		f->frozen = true;
		return 0;
	}
	if (cg_err.kind != CORRAL_OK && cg_err.errnum != ENOTSUP) {
		/* A freeze that started but did not finish: undo it. */
		cgroup_sandbox_freeze(cg, false, NULL);
		if (err)
			*err = cg_err;
		return -1;
	}
	f->frozen = true;
	if (stop_all(f, init_pid, err) < 0) {
		freeze_thaw(f);
		return -1;
	}
	return 0;
}

void freeze_thaw(struct freeze *f)
{
	if (!f->frozen)
		return;
	if (f->cgroup)
		(void)cgroup_sandbox_freeze(f->cgroup, false, NULL);
	for (size_t i = 0; i < f->n_pidfds; i++) {
		(void)syscall(SYS_pidfd_send_signal, f->pidfds[i], SIGCONT, NULL, 0);
		close(f->pidfds[i]);
	}
	free(f->pidfds);
	free(f->pids);
	memset(f, 0, sizeof *f);
}
