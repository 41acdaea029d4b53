/* Control groups against this host's real cgroup file system: limits read
 * back, an OOM kill and its notification, a fork bomb held by pids.max, CPU
 * accounting through a kept-open counter, kill of a process tree, removal,
 * rootless fallback. And, where a cgroup2 without controllers is mounted
 * next to v1 (the hybrid layout), the v2 backend's controller-free parts:
 * CLONE_INTO_CGROUP, attach, inotify on a cgroup file, cgroup.kill, the
 * freeze-and-kill fallback, removal. The OOM notification's wiring on both
 * backends is also checked against ordinary files standing in for the
 * cgroup's, so that the v2 side is exercised on a v1 host too. */
#include "cgroup/cgroup.h"
#include "cgroup/cgroup_internal.h"
#include "unit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MiB (1024ull * 1024ull)

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

struct test_clone_args {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls,
		set_tid, set_tid_size, cgroup;
};

static const struct cgroup_limits test_limits = {
	.memory_bytes = 64 * MiB,
	.pids = 16,
	.cpu_millis = 500,
};

static char prefix[64]; /* "test-<pid>-": every cgroup this run makes */

static void name_for(char *out, size_t size, const char *what)
{
	snprintf(out, size, "%s%s", prefix, what);
}

static void report(const char *what, const corral_error *err)
{
	fprintf(stderr, "# %s: %s\n", what, err->message);
}

/* The sandbox's directories (v2: one; v1: one per hierarchy). */
static size_t sandbox_dirs(const struct cgroup_sandbox *cg, char dirs[][PATH_MAX], size_t max)
{
	size_t n = 0;
	if (cg->backend == CGROUP_BACKEND_V2) {
		snprintf(dirs[n++], PATH_MAX, "%s", cg->v2_path);
	} else if (cg->backend == CGROUP_BACKEND_V1) {
		for (int c = 0; c < CGV1_N && n < max; c++)
			if (cg->v1[c].primary)
				snprintf(dirs[n++], PATH_MAX, "%s", cg->v1[c].path);
	}
	return n;
}

static bool gone(const char *path)
{
	struct stat st;
	return stat(path, &st) < 0 && errno == ENOENT;
}

static struct cgroup_sandbox *make(const char *what)
{
	char name[128];
	name_for(name, sizeof name, what);
	struct cgroup_sandbox *cg = NULL;
	corral_error err = {0};
	int rc = cgroup_sandbox_create(name, &test_limits, &cg, &err);
	CHECK(rc == 0);
	if (rc < 0) {
		report(name, &err);
		return NULL;
	}
	CHECK(cgroup_sandbox_backend(cg) != CGROUP_BACKEND_NONE);
	return cg;
}

static void destroy_checked(struct cgroup_sandbox *cg)
{
	char dirs[CGV1_N][PATH_MAX];
	size_t n = sandbox_dirs(cg, dirs, CGV1_N);
	corral_error err = {0};
	int rc = cgroup_sandbox_destroy(cg, &err);
	CHECK(rc == 0);
	if (rc < 0)
		report("destroy", &err);
	for (size_t i = 0; i < n; i++) {
		CHECK(gone(dirs[i]));
		if (!gone(dirs[i]))
			fprintf(stderr, "# left behind: %s\n", dirs[i]);
	}
}

/* Fork a child that runs body() once it has been attached to cg. */
static pid_t spawn_attached(struct cgroup_sandbox *cg, void (*body)(int), int arg)
{
	int go[2];
	if (pipe2(go, O_CLOEXEC) < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		close(go[1]);
		char c;
		if (read(go[0], &c, 1) != 1)
			_exit(99); /* not attached: do nothing */
		body(arg);
		_exit(0);
	}
	close(go[0]);
	corral_error err = {0};
	int rc = cgroup_sandbox_attach(cg, pid, &err);
	CHECK(rc == 0);
	if (rc < 0) {
		report("attach", &err);
		close(go[1]);
		waitpid(pid, NULL, 0);
		return -1;
	}
	if (write(go[1], "g", 1) != 1)
		CHECK(!"write go pipe");
	close(go[1]);
	return pid;
}

/* Reap everything reparented to us (we are a subreaper). */
static void reap_all(void)
{
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
}

static bool file_is(const char *dir, const char *file, const char *want)
{
	char buf[256];
	corral_error err = {0};
	if (cg_read(dir, file, false, buf, sizeof buf, &err) <= 0) {
		report(file, &err);
		return false;
	}
	buf[strcspn(buf, "\n")] = '\0';
	if (strcmp(buf, want) != 0) {
		fprintf(stderr, "# %s/%s: \"%s\", want \"%s\"\n", dir, file, buf, want);
		return false;
	}
	return true;
}

/* fd becomes readable within `ms` (a generous bound, not a timing check). */
static bool readable_within(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int r;
	while ((r = poll(&p, 1, ms)) < 0 && errno == EINTR)
		;
	return r == 1 && (p.revents & POLLIN);
}

/* ---- limits written --------------------------------------------------- */

static void test_limits_readback(void)
{
	struct cgroup_sandbox *cg = make("limits");
	if (!cg)
		return;
	if (cgroup_sandbox_backend(cg) == CGROUP_BACKEND_V1) {
		const char *mem = cg->v1[CGV1_MEMORY].path;
		CHECK(file_is(mem, "memory.limit_in_bytes", "67108864"));
		if (cg_exists(mem, "memory.memsw.limit_in_bytes"))
			CHECK(file_is(mem, "memory.memsw.limit_in_bytes", "67108864"));
		else
			CHECK(file_is(mem, "memory.swappiness", "0"));
		char buf[256];
		CHECK(cg_read(mem, "memory.oom_control", false, buf, sizeof buf, NULL) > 0);
		CHECK(strstr(buf, "oom_kill_disable 0") != NULL);
		CHECK(file_is(cg->v1[CGV1_PIDS].path, "pids.max", "16"));
		CHECK(file_is(cg->v1[CGV1_CPU].path, "cpu.cfs_period_us", "100000"));
		CHECK(file_is(cg->v1[CGV1_CPU].path, "cpu.cfs_quota_us", "50000"));
		CHECK(cgroup_sandbox_clone_fd(cg) == -1);
		CHECK(strcmp(cgroup_backend_name(cgroup_sandbox_backend(cg)), "cgroup1") == 0);
	} else {
		const char *p = cg->v2_path;
		CHECK(file_is(p, "memory.max", "67108864"));
		if (cg_exists(p, "memory.swap.max"))
			CHECK(file_is(p, "memory.swap.max", "0"));
		CHECK(file_is(p, "pids.max", "16"));
		CHECK(file_is(p, "cpu.max", "50000 100000"));
		CHECK(cgroup_sandbox_clone_fd(cg) >= 0);
		CHECK(strcmp(cgroup_backend_name(cgroup_sandbox_backend(cg)), "cgroup2") == 0);
	}
	CHECK(cgroup_sandbox_why_not(cg) == NULL);
	/* the OOM notification: one descriptor, made once (v2 without
	 * memory.peak has none: it must be sampled) */
	int efd = cgroup_sandbox_event_fd(cg);
	if (cgroup_sandbox_backend(cg) == CGROUP_BACKEND_V1 || cg_exists(cg->v2_path, "memory.peak"))
		CHECK(efd >= 0);
	else
		CHECK(efd == -1);
	CHECK(cgroup_sandbox_event_fd(cg) == efd);
	if (efd >= 0)
		CHECK(!readable_within(efd, 0));
	destroy_checked(cg);
}

/* ---- memory ------------------------------------------------------------- */

static void eat_memory(int mib)
{
	for (int i = 0; i < mib; i++) {
		char *p = malloc(MiB);
		if (!p)
			_exit(2);
		memset(p, 0x5a, MiB);
	}
	_exit(0); /* survived: the limit did not hold */
}

static void test_oom(void)
{
	struct cgroup_sandbox *cg = make("oom");
	if (!cg)
		return;
	int efd = cgroup_sandbox_event_fd(cg);
	uint64_t kills = 99;
	bool recheck = true;
	corral_error err = {0};
	CHECK(cgroup_sandbox_oom_check(cg, &kills, &recheck, &err) == 0);
	CHECK(kills == 0 && !recheck);
	pid_t pid = spawn_attached(cg, eat_memory, 200);
	CHECK(pid > 0);
	if (pid > 0) {
		int st = 0;
		CHECK(waitpid(pid, &st, 0) == pid);
		CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
		if (!WIFSIGNALED(st))
			fprintf(stderr, "# oom child: status 0x%x\n", st);
		if (efd >= 0) {
			/* the kill has happened: its notification is there */
			CHECK(readable_within(efd, 10000));
			CHECK(cgroup_sandbox_oom_check(cg, &kills, &recheck, &err) == 0);
			CHECK(kills >= 1);
			CHECK(!recheck);
			CHECK(!readable_within(efd, 0)); /* consumed */
		} else {
			fprintf(stderr, "# no OOM notification on this host: not tested\n");
		}
		struct cgroup_usage u;
		CHECK(cgroup_sandbox_usage(cg, &u, &err) == 0);
		CHECK(u.oom_kills >= 1);
		CHECK(u.memory_peak_bytes >= 32 * MiB && u.memory_peak_bytes <= 80 * MiB);
		fprintf(stderr, "# oom: oom_kills=%llu peak=%llu\n", (unsigned long long)u.oom_kills,
		        (unsigned long long)u.memory_peak_bytes);
	}
	destroy_checked(cg);
}

/* ---- pids ------------------------------------------------------------- */

static void fork_bomb(int report_fd)
{
	int forked = 0, fail_errno = 0;
	for (int i = 0; i < 1000; i++) {
		pid_t p = fork();
		if (p == 0) {
			for (;;)
				pause();
		}
		if (p < 0) {
			fail_errno = errno;
			break;
		}
		forked++;
	}
	int msg[2] = {forked, fail_errno};
	if (write(report_fd, msg, sizeof msg) != (ssize_t)sizeof msg)
		_exit(3);
	for (;;)
		pause(); /* killed by the test */
}

static void test_fork_bomb(void)
{
	struct cgroup_sandbox *cg = make("pids");
	if (!cg)
		return;
	int rep[2];
	CHECK(pipe2(rep, O_CLOEXEC) == 0);
	pid_t pid = spawn_attached(cg, fork_bomb, rep[1]);
	close(rep[1]);
	CHECK(pid > 0);
	if (pid > 0) {
		int msg[2] = {0, 0};
		CHECK(read(rep[0], msg, sizeof msg) == (ssize_t)sizeof msg);
		CHECK(msg[1] == EAGAIN);
		CHECK(msg[0] >= 1 && msg[0] <= 15);
		fprintf(stderr, "# fork bomb: %d forks, then %s\n", msg[0], strerror(msg[1]));
		struct cgroup_usage u;
		corral_error err = {0};
		CHECK(cgroup_sandbox_usage(cg, &u, &err) == 0);
		CHECK(u.pids_current >= 1 && u.pids_current <= 16);
		CHECK(u.pids_peak <= 16);
		CHECK(u.pids_max_hits >= 1);

		int rc = cgroup_sandbox_kill(cg, &err);
		CHECK(rc == 0);
		if (rc < 0)
			report("kill", &err);
		int st = 0;
		CHECK(waitpid(pid, &st, 0) == pid);
		CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
		reap_all();
		CHECK(cgroup_sandbox_usage(cg, &u, &err) == 0);
		CHECK(u.pids_current == 0);
	}
	close(rep[0]);
	destroy_checked(cg);
}

/* ---- cpu ---------------------------------------------------------------- */

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void spin(int ms)
{
	/* at least `ms` of wall and some user time of our own, within a
	 * generous cap so a starved machine cannot hang the test */
	uint64_t start = now_ms();
	volatile uint64_t x = 0;
	for (;;) {
		for (int i = 0; i < 1000000; i++)
			x = x + (uint64_t)i;
		struct rusage ru;
		getrusage(RUSAGE_SELF, &ru);
		uint64_t el = now_ms() - start;
		uint64_t user_ms = (uint64_t)ru.ru_utime.tv_sec * 1000u +
		                   (uint64_t)ru.ru_utime.tv_usec / 1000u;
		if ((el >= (uint64_t)ms && user_ms >= 50) || el > 10000)
			break;
	}
	_exit(0);
}

static void test_cpu(void)
{
	struct cgroup_sandbox *cg = make("cpu");
	if (!cg)
		return;
	uint64_t before = 99, after = 0;
	corral_error cerr = {0};
	CHECK(cgroup_sandbox_cpu_usec(cg, &before, &cerr) == 0);
	CHECK(before == 0);
	CHECK(cg->counters[CGC_CPU].open);
	int cpu_fd = cg->counters[CGC_CPU].fd;
	pid_t pid = spawn_attached(cg, spin, 300);
	CHECK(pid > 0);
	if (pid > 0) {
		int st = 0;
		struct rusage ru;
		CHECK(wait4(pid, &st, 0, &ru) == pid);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		struct cgroup_usage u;
		corral_error err = {0};
		CHECK(cgroup_sandbox_usage(cg, &u, &err) == 0);
		CHECK(u.cpu_usec > 0);
		CHECK(u.cpu_user_usec > 0);
		/* the same descriptor, read again from offset 0, sees the new value */
		CHECK(cgroup_sandbox_cpu_usec(cg, &after, &cerr) == 0);
		CHECK(cg->counters[CGC_CPU].fd == cpu_fd);
		CHECK(after == u.cpu_usec);
		fprintf(stderr, "# cpu: cgroup %llu us (user %llu, system %llu); child user %ld ms\n",
		        (unsigned long long)u.cpu_usec, (unsigned long long)u.cpu_user_usec,
		        (unsigned long long)u.cpu_system_usec,
		        (long)(ru.ru_utime.tv_sec * 1000 + ru.ru_utime.tv_usec / 1000));
	}
	destroy_checked(cg);
}

/* Without a CPU limit, v1 makes no directory in a cpu hierarchy of its own
 * (co-mounted with cpuacct it is the same directory); CPU time is still
 * accounted, through cpuacct. v2 leaves cpu.max at "max". */
static void test_cpu_unlimited(void)
{
	char name[128];
	name_for(name, sizeof name, "nocpu");
	struct cgroup_limits l = test_limits;
	l.cpu_millis = CGROUP_UNLIMITED;
	struct cgroup_sandbox *cg = NULL;
	corral_error err = {0};
	CHECK(cgroup_sandbox_create(name, &l, &cg, &err) == 0);
	if (!cg) {
		report(name, &err);
		return;
	}
	if (cgroup_sandbox_backend(cg) == CGROUP_BACKEND_V1) {
		const struct cgv1_dir *cpu = &cg->v1[CGV1_CPU];
		CHECK(cpu->path[0] == '\0' || strcmp(cpu->path, cg->v1[CGV1_CPUACCT].path) == 0);
		if (cpu->path[0] == '\0')
			CHECK(!cpu->primary && !cpu->created && cg->v1[CGV1_CPUACCT].primary);
	} else if (cgroup_sandbox_backend(cg) == CGROUP_BACKEND_V2) {
		CHECK(file_is(cg->v2_path, "cpu.max", "max 100000"));
	}
	pid_t pid = spawn_attached(cg, spin, 100);
	CHECK(pid > 0);
	if (pid > 0) {
		int st = 0;
		CHECK(waitpid(pid, &st, 0) == pid);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		struct cgroup_usage u;
		CHECK(cgroup_sandbox_usage(cg, &u, &err) == 0);
		CHECK(u.cpu_usec > 0);
	}
	destroy_checked(cg);
}

/* ---- kill ------------------------------------------------------------- */

static void stubborn(int report_fd)
{
	signal(SIGTERM, SIG_IGN);
	pid_t gc = fork(); /* inherits SIG_IGN */
	if (gc == 0) {
		for (;;)
			pause();
	}
	if (write(report_fd, &gc, sizeof gc) != (ssize_t)sizeof gc)
		_exit(3);
	for (;;)
		pause();
}

static void test_kill_tree(void)
{
	struct cgroup_sandbox *cg = make("kill");
	if (!cg)
		return;
	int rep[2];
	CHECK(pipe2(rep, O_CLOEXEC) == 0);
	pid_t pid = spawn_attached(cg, stubborn, rep[1]);
	close(rep[1]);
	CHECK(pid > 0);
	if (pid > 0) {
		pid_t gc = -1;
		CHECK(read(rep[0], &gc, sizeof gc) == (ssize_t)sizeof gc);
		CHECK(gc > 0);
		/* SIGTERM is ignored by both (set before they reported) */
		CHECK(kill(pid, SIGTERM) == 0);
		CHECK(gc > 0 && kill(gc, SIGTERM) == 0);
		corral_error err = {0};
		int rc = cgroup_sandbox_kill(cg, &err);
		CHECK(rc == 0);
		if (rc < 0)
			report("kill", &err);
		int st = 0;
		CHECK(waitpid(pid, &st, 0) == pid);
		CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
		/* the grandchild was reparented to us (subreaper) */
		st = 0;
		CHECK(gc > 0 && waitpid(gc, &st, 0) == gc);
		CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
		char dirs[CGV1_N][PATH_MAX];
		size_t n = sandbox_dirs(cg, dirs, CGV1_N);
		for (size_t i = 0; i < n; i++) {
			pid_t *pids = NULL;
			size_t k = 99;
			CHECK(cg_read_pids(dirs[i], &pids, &k, NULL) == 0);
			CHECK(k == 0);
			free(pids);
		}
		/* killing an empty cgroup is fine */
		CHECK(cgroup_sandbox_kill(cg, &err) == 0);
	}
	close(rep[0]);
	destroy_checked(cg);
}

static void sleeper(int unused)
{
	(void)unused;
	if (fork() == 0) {
		for (;;)
			pause();
	}
	for (;;)
		pause();
}

/* destroy with processes still inside: kills them first */
static void test_destroy_populated(void)
{
	struct cgroup_sandbox *cg = make("busy");
	if (!cg)
		return;
	pid_t pid = spawn_attached(cg, sleeper, 0);
	CHECK(pid > 0);
	destroy_checked(cg);
	if (pid > 0) {
		int st = 0;
		CHECK(waitpid(pid, &st, 0) == pid);
		CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	}
	reap_all();
}

/* ---- error paths ------------------------------------------------------ */

static void test_errors(void)
{
	struct cgroup_sandbox *cg = NULL;
	corral_error err = {0};
	CHECK(cgroup_sandbox_create("../escape", &test_limits, &cg, &err) < 0);
	CHECK(err.kind == CORRAL_ERR_USAGE);
	CHECK(cg == NULL);
	CHECK(cgroup_sandbox_create("", &test_limits, &cg, &err) < 0);
	struct cgroup_limits zero = test_limits;
	zero.memory_bytes = 0;
	CHECK(cgroup_sandbox_create("x", &zero, &cg, &err) < 0);
	CHECK(err.kind == CORRAL_ERR_USAGE);

	/* a limit the kernel refuses, after the directories were made: all
	 * of them are removed again, and the message names the file */
	char name[128];
	name_for(name, sizeof name, "badcpu");
	struct cgroup_limits bad = test_limits;
	bad.cpu_millis = UINT64_MAX / 1000;
	int rc = cgroup_sandbox_create(name, &bad, &cg, &err);
	CHECK(rc < 0);
	CHECK(cg == NULL);
	CHECK(strstr(err.message, "cpu.") != NULL);
	fprintf(stderr, "# refused limit: %s\n", err.message);
	if (rc == 0)
		cgroup_sandbox_destroy(cg, NULL);
}

/* The same name twice: the second create fails with EEXIST (before or
 * after some directories were made) and removes only what it made. */
static void test_name_clash(void)
{
	struct cgroup_sandbox *first = make("clash");
	if (!first)
		return;
	struct cgroup_sandbox *second = NULL;
	corral_error err = {0};
	char name[128];
	name_for(name, sizeof name, "clash");
	CHECK(cgroup_sandbox_create(name, &test_limits, &second, &err) < 0);
	CHECK(err.errnum == EEXIST);
	CHECK(strstr(err.message, name) != NULL);
	char dirs[CGV1_N][PATH_MAX];
	size_t n = sandbox_dirs(first, dirs, CGV1_N);
	for (size_t i = 0; i < n; i++)
		CHECK(!gone(dirs[i])); /* the first one's are intact */
	destroy_checked(first);

	/* v1: a clash in the last hierarchy only, so the others were made
	 * before the failure */
	struct cgroup_sandbox *probe = make("clash2");
	if (!probe)
		return;
	bool v1 = cgroup_sandbox_backend(probe) == CGROUP_BACKEND_V1;
	n = sandbox_dirs(probe, dirs, CGV1_N);
	destroy_checked(probe);
	if (!v1 || n < 2)
		return;
	CHECK(mkdir(dirs[n - 1], 0755) == 0);
	name_for(name, sizeof name, "clash2");
	CHECK(cgroup_sandbox_create(name, &test_limits, &second, &err) < 0);
	CHECK(err.errnum == EEXIST);
	CHECK(strstr(err.message, dirs[n - 1]) != NULL);
	for (size_t i = 0; i + 1 < n; i++)
		CHECK(gone(dirs[i]));
	CHECK(!gone(dirs[n - 1])); /* not ours: left alone */
	CHECK(rmdir(dirs[n - 1]) == 0);
}

/* Nothing named test-<pid>-* under any corral parent. */
static void test_nothing_left(const char *const parents[], size_t n)
{
	for (size_t i = 0; i < n; i++) {
		DIR *d = opendir(parents[i]);
		if (!d)
			continue;
		struct dirent *de;
		while ((de = readdir(d))) {
			bool ours = strncmp(de->d_name, prefix, strlen(prefix)) == 0 ||
			            (strncmp(de->d_name, "corral-", 7) == 0 &&
			             strncmp(de->d_name + 7, prefix, strlen(prefix)) == 0);
			CHECK(!ours);
			if (ours)
				fprintf(stderr, "# left behind: %s/%s\n", parents[i], de->d_name);
		}
		closedir(d);
	}
}

/* ---- rootless ------------------------------------------------------------ */

static void test_rootless(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
			_exit(90);
		char name[128];
		name_for(name, sizeof name, "rootless");
		struct cgroup_sandbox *cg = NULL;
		corral_error err = {0};
		if (cgroup_sandbox_create(name, &test_limits, &cg, &err) < 0) {
			fprintf(stderr, "# rootless create: %s\n", err.message);
			_exit(91);
		}
		int code = 0;
		const char *why = cgroup_sandbox_why_not(cg);
		if (cgroup_sandbox_backend(cg) != CGROUP_BACKEND_NONE)
			code = 92;
		else if (!why || !*why)
			code = 93;
		else if (cgroup_sandbox_clone_fd(cg) != -1)
			code = 94;
		else if (cgroup_sandbox_attach(cg, getpid(), &err) != 0)
			code = 95;
		else
			fprintf(stderr, "# rootless: none: %s\n", why);
		cgroup_sandbox_destroy(cg, NULL);
		_exit(code);
	}
	CHECK(pid > 0);
	int st = 0;
	CHECK(waitpid(pid, &st, 0) == pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	if (WIFEXITED(st) && WEXITSTATUS(st) != 0)
		fprintf(stderr, "# rootless child exit %d\n", WEXITSTATUS(st));
}

/* ---- v2 without controllers (hybrid hosts) -------------------------------- */

/* A writable cgroup2 mount lacking the memory controller. */
static bool find_bare_v2(char *out, size_t size)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return false;
	char line[4096];
	bool found = false;
	while (!found && fgets(line, sizeof line, f)) {
		char *sep = strstr(line, " - cgroup2 ");
		if (!sep)
			continue;
		char point[PATH_MAX];
		if (sscanf(line, "%*s %*s %*s %*s %4095s", point) != 1)
			continue;
		char ctl[512];
		if (cg_read(point, "cgroup.controllers", false, ctl, sizeof ctl, NULL) <= 0 ||
		    strstr(ctl, "memory") || access(point, W_OK) != 0)
			continue;
		snprintf(out, size, "%s", point);
		found = true;
	}
	fclose(f);
	return found;
}

static void test_v2_bare(void)
{
	char mnt[PATH_MAX];
	if (!find_bare_v2(mnt, sizeof mnt)) {
		fprintf(stderr, "# no controller-less cgroup2 mount: v2 core not tested\n");
		return;
	}
	struct cgroup_sandbox *cg = calloc(1, sizeof *cg);
	CHECK(cg != NULL);
	if (!cg)
		return;
	cg->backend = CGROUP_BACKEND_V2;
	cg->v2_fd = -1;
	char path[PATH_MAX];
	int w = snprintf(path, sizeof path, "%s/corral-%sv2", mnt, prefix);
	CHECK(w > 0 && (size_t)w < sizeof path);
	if (w <= 0 || (size_t)w >= sizeof path) {
		free(cg);
		return;
	}
	corral_error err = {0};
	int rc = cgv2_create_bare(cg, path, &err);
	CHECK(rc == 0);
	if (rc < 0) {
		report("v2 bare", &err);
		free(cg);
		return;
	}
	fprintf(stderr, "# v2 core on %s\n", path);
	CHECK(cgroup_sandbox_clone_fd(cg) >= 0);

	/* clone3 CLONE_INTO_CGROUP */
	struct test_clone_args args = {
		.flags = CLONE_INTO_CGROUP,
		.exit_signal = SIGCHLD,
		.cgroup = (uint64_t)cgroup_sandbox_clone_fd(cg),
	};
	long child = syscall(SYS_clone3, &args, sizeof args);
	if (child == 0) {
		char buf[PATH_MAX + 8] = "";
		FILE *f = fopen("/proc/self/cgroup", "re");
		bool in = false;
		while (f && fgets(buf, sizeof buf, f))
			if (strncmp(buf, "0::", 3) == 0 && strstr(buf, prefix))
				in = true;
		_exit(in ? 0 : 1);
	}
	/* ENOSYS: clone3 filtered (a container) or emulated (valgrind); corral
	 * falls back to clone + attach there, which the next part tests. */
	bool clone3_missing = child < 0 && errno == ENOSYS;
	CHECK(child > 0 || clone3_missing);
	if (child > 0) {
		int st = 0;
		CHECK(waitpid((pid_t)child, &st, 0) == child);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	} else {
		fprintf(stderr, "# clone3: %s\n", strerror(errno));
	}

	/* attach + cgroup.kill, then attach + freeze-and-kill; on the first
	 * round, the kernel's notification of a cgroup file's change reaches
	 * inotify (as memory.events' does for the v2 OOM watch): cgroup.events
	 * changes when the first process enters */
	for (int round = 0; round < 2; round++) {
		int rep[2];
		int ifd = round == 0 ? cg_inotify_watch(path, "cgroup.events", &err) : -1;
		if (round == 0)
			CHECK(ifd >= 0);
		if (ifd >= 0)
			CHECK(!readable_within(ifd, 0));
		CHECK(pipe2(rep, O_CLOEXEC) == 0);
		pid_t pid = spawn_attached(cg, stubborn, rep[1]);
		if (ifd >= 0) {
			CHECK(readable_within(ifd, 10000));
			CHECK(cg_drain(ifd));
			CHECK(file_is(path, "cgroup.events", "populated 1"));
			close(ifd);
		}
		close(rep[1]);
		CHECK(pid > 0);
		if (pid <= 0) {
			close(rep[0]);
			continue;
		}
		pid_t gc = -1;
		CHECK(read(rep[0], &gc, sizeof gc) == (ssize_t)sizeof gc);
		close(rep[0]);
		rc = round == 0 ? cgroup_sandbox_kill(cg, &err) : cgv2_kill_by_freezing(cg, &err);
		CHECK(rc == 0);
		if (rc < 0)
			report(round == 0 ? "cgroup.kill" : "freeze+kill", &err);
		int st = 0;
		CHECK(waitpid(pid, &st, 0) == pid);
		CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
		st = 0;
		CHECK(gc > 0 && waitpid(gc, &st, 0) == gc);
		CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
		CHECK(file_is(path, "cgroup.freeze", "0"));
	}

	/* destroy with a live process inside */
	pid_t pid = spawn_attached(cg, sleeper, 0);
	CHECK(pid > 0);
	rc = cgroup_sandbox_destroy(cg, &err);
	CHECK(rc == 0);
	if (rc < 0)
		report("v2 destroy", &err);
	CHECK(gone(path));
	if (pid > 0) {
		int st = 0;
		CHECK(waitpid(pid, &st, 0) == pid);
		CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	}
	reap_all();
}

/* ---- the OOM notification against stand-in files ------------------------- */

static bool put_file(const char *dir, const char *file, const char *text)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s", dir, file);
	/* rewritten in place, as the kernel's files are: same inode */
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return false;
	bool ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
	close(fd);
	return ok;
}

static void remove_files(const char *dir, const char *const files[], size_t n)
{
	char path[PATH_MAX];
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
}

static bool fd_closed(int fd)
{
	return fcntl(fd, F_GETFD) < 0 && errno == EBADF;
}

/* v2: inotify on memory.events; the count read through a kept-open file.
 * (The stand-in directories' names avoid "corral": the integration tests'
 * leak check flags such temp entries, and may run meanwhile.) */
static void test_v2_watch_files(void)
{
	char dir[] = "/tmp/cg-watch-test-v2-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	static const char *const files[] = {"memory.events", "memory.peak", "cpu.stat"};
	CHECK(put_file(dir, "memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n"));
	CHECK(put_file(dir, "cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n"));

	/* without memory.peak: no descriptor, the caller must sample */
	struct cgroup_sandbox *cg = calloc(1, sizeof *cg);
	CHECK(cg != NULL);
	if (!cg)
		return;
	cg->backend = CGROUP_BACKEND_V2;
	cg->v2_fd = -1;
	snprintf(cg->v2_path, sizeof cg->v2_path, "%s", dir);
	CHECK(cgroup_sandbox_event_fd(cg) == -1);
	CHECK(cgroup_sandbox_event_fd(cg) == -1);
	cg_close_files(cg);
	free(cg);

	CHECK(put_file(dir, "memory.peak", "4096\n"));
	cg = calloc(1, sizeof *cg);
	CHECK(cg != NULL);
	if (!cg)
		return;
	cg->backend = CGROUP_BACKEND_V2;
	cg->v2_fd = -1;
	snprintf(cg->v2_path, sizeof cg->v2_path, "%s", dir);
	int efd = cgroup_sandbox_event_fd(cg);
	CHECK(efd >= 0);
	CHECK(cgroup_sandbox_event_fd(cg) == efd);
	uint64_t kills = 99, usec = 0;
	bool recheck = true;
	corral_error err = {0};
	CHECK(cgroup_sandbox_oom_check(cg, &kills, &recheck, &err) == 0);
	CHECK(kills == 0 && !recheck);
	CHECK(efd >= 0 && !readable_within(efd, 0));

	/* a change: the descriptor becomes readable, the new count is read */
	CHECK(put_file(dir, "memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n"));
	CHECK(efd >= 0 && readable_within(efd, 10000));
	CHECK(cgroup_sandbox_oom_check(cg, &kills, &recheck, &err) == 0);
	CHECK(kills == 1 && !recheck);
	CHECK(efd >= 0 && !readable_within(efd, 0)); /* consumed */
	int oom_fd = cg->counters[CGC_OOM].fd;
	CHECK(cg->counters[CGC_OOM].open);

	/* CPU time, twice through one descriptor */
	CHECK(cgroup_sandbox_cpu_usec(cg, &usec, &err) == 0);
	CHECK(usec == 1500);
	int cpu_fd = cg->counters[CGC_CPU].fd;
	CHECK(put_file(dir, "cpu.stat", "usage_usec 2000000\nuser_usec 1\nsystem_usec 2\n"));
	CHECK(cgroup_sandbox_cpu_usec(cg, &usec, &err) == 0);
	CHECK(usec == 2000000);
	CHECK(cg->counters[CGC_CPU].fd == cpu_fd);

	/* everything the handle opened goes with it */
	cg_close_files(cg);
	CHECK(fd_closed(oom_fd) && fd_closed(cpu_fd) && (efd < 0 || fd_closed(efd)));
	CHECK(cgroup_sandbox_event_fd(cg) == -1); /* not made again */
	free(cg);
	remove_files(dir, files, sizeof files / sizeof files[0]);
}

/* v1: an OOM notification comes before its kill is counted (look again),
 * and kernels before 4.13 do not count kills at all (memory.failcnt). The
 * eventfd stands for the one the kernel would signal. */
static void test_v1_oom_logic(void)
{
	char dir[] = "/tmp/cg-watch-test-v1-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	static const char *const files[] = {"memory.oom_control", "memory.failcnt"};
	struct cgroup_sandbox *cg = calloc(1, sizeof *cg);
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	CHECK(cg != NULL && efd >= 0);
	if (!cg || efd < 0) {
		free(cg);
		return;
	}
	cg->backend = CGROUP_BACKEND_V1;
	snprintf(cg->v1[CGV1_MEMORY].path, PATH_MAX, "%s", dir);
	cg->watch_tried = cg->watch_ok = true;
	cg->event_fd = efd;
	CHECK(cgroup_sandbox_event_fd(cg) == efd);
	const uint64_t one = 1;
	uint64_t kills = 99;
	bool recheck = true;
	corral_error err = {0};

	CHECK(put_file(dir, "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n"));
	CHECK(cgroup_sandbox_oom_check(cg, &kills, &recheck, &err) == 0);
	CHECK(kills == 0 && !recheck);
	/* notified, not counted yet */
	CHECK(write(efd, &one, sizeof one) == (ssize_t)sizeof one);
	CHECK(cgroup_sandbox_oom_check(cg, &kills, &recheck, &err) == 0);
	CHECK(kills == 0 && recheck);
	CHECK(!readable_within(efd, 0));
	/* looked at again: counted */
	CHECK(put_file(dir, "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n"));
	CHECK(cgroup_sandbox_oom_check(cg, &kills, &recheck, &err) == 0);
	CHECK(kills == 1 && !recheck);

	/* a kernel without the count: a notification with the limit hit */
	cg_close_files(cg); /* the next file is read afresh */
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	CHECK(efd >= 0);
	cg->watch_ok = efd >= 0;
	cg->event_fd = efd;
	cg->oom_kills_seen = 0;
	cg->v1_oom_events = 0;
	CHECK(put_file(dir, "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\n"));
	CHECK(put_file(dir, "memory.failcnt", "0\n"));
	CHECK(cgroup_sandbox_oom_check(cg, &kills, &recheck, &err) == 0);
	CHECK(kills == 0 && !recheck);
	CHECK(put_file(dir, "memory.failcnt", "12\n"));
	CHECK(cgroup_sandbox_oom_check(cg, &kills, &recheck, &err) == 0);
	CHECK(kills == 0); /* the limit was hit, no OOM was signalled */
	CHECK(efd >= 0 && write(efd, &one, sizeof one) == (ssize_t)sizeof one);
	CHECK(cgroup_sandbox_oom_check(cg, &kills, &recheck, &err) == 0);
	CHECK(kills == 1 && !recheck);
	cg_close_files(cg);
	CHECK(efd < 0 || fd_closed(efd));
	free(cg);
	remove_files(dir, files, sizeof files / sizeof files[0]);
}

int main(void)
{
	snprintf(prefix, sizeof prefix, "test-%d-", (int)getpid());
	prctl(PR_SET_CHILD_SUBREAPER, 1);

	test_v2_watch_files();
	test_v1_oom_logic();
	if (geteuid() == 0)
		test_rootless();

	/* Which backend does this host give us? */
	char name[128];
	name_for(name, sizeof name, "probe");
	struct cgroup_sandbox *probe = NULL;
	corral_error err = {0};
	if (cgroup_sandbox_create(name, &test_limits, &probe, &err) < 0) {
		fprintf(stderr, "# create: %s\n", err.message);
		CHECK(!"create");
		return unit_done();
	}
	enum cgroup_backend backend = cgroup_sandbox_backend(probe);
	static char why[CG_WHY_NOT_MAX + 64];
	if (backend == CGROUP_BACKEND_NONE) {
		CHECK(cgroup_sandbox_why_not(probe) && *cgroup_sandbox_why_not(probe));
		CHECK(cgroup_sandbox_clone_fd(probe) == -1);
		snprintf(why, sizeof why, "no writable cgroup hierarchy: %s",
		         cgroup_sandbox_why_not(probe));
		CHECK(cgroup_sandbox_destroy(probe, NULL) == 0);
		if (unit_failures)
			return unit_done();
		SKIP_ALL(why);
	}
	printf("# backend %s\n", cgroup_backend_name(backend));

	char parents[CGV1_N][PATH_MAX];
	size_t n_parents = 0;
	{
		char dirs[CGV1_N][PATH_MAX];
		size_t n = sandbox_dirs(probe, dirs, CGV1_N);
		for (size_t i = 0; i < n; i++) {
			int w = snprintf(parents[n_parents], PATH_MAX, "%s", dirs[i]);
			char *slash = strrchr(parents[n_parents], '/');
			if (w > 0 && w < PATH_MAX && slash) {
				*slash = '\0';
				n_parents++;
			}
		}
	}
	destroy_checked(probe);

	test_limits_readback();
	test_oom();
	test_fork_bomb();
	test_cpu();
	test_cpu_unlimited();
	test_kill_tree();
	test_destroy_populated();
	test_errors();
	test_name_clash();
	if (geteuid() == 0)
		test_v2_bare();

	const char *pp[CGV1_N];
	for (size_t i = 0; i < n_parents; i++)
		pp[i] = parents[i];
	test_nothing_left(pp, n_parents);
	return unit_done();
}
