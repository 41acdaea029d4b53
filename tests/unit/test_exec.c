/* Commands in a running sandbox (corral_sandbox_start_idle and
 * corral_sandbox_exec) against the real kernel: outputs through pipes,
 * sequential and concurrent processes, env and cwd, exit codes and
 * signals, exec failures (127/126), the restrictions every process gets
 * (uid, capabilities, seccomp, no_new_privs, cgroup, pid namespace, no
 * host files, only stdio descriptors), the spawner out of the processes'
 * reach, limits and kills ending every process, exec after the end. And,
 * without a sandbox, the supervisor's reading of a hostile spawner's
 * replies and status records. Skips where sandboxes cannot run. */
#include "corral.h"
#include "jail/spawner.h"
#include "policy/policy.h"
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct waiter {
	corral_sandbox *sb;
	pthread_t thread;
	corral_result result;
	corral_error err;
	int rc;
};

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;
	w->rc = corral_sandbox_wait(w->sb, &w->result, &w->err);
	return NULL;
}

static void waiter_start(struct waiter *w, corral_sandbox *sb)
{
	memset(w, 0, sizeof *w);
	w->sb = sb;
	if (pthread_create(&w->thread, NULL, waiter_main, w) != 0) {
		perror("pthread_create");
		exit(1);
	}
}

static corral_policy *policy_with(const char *memory, const char *timeout)
{
	corral_policy *p = corral_policy_new();
	corral_error err = {0};
	if (!p || (memory && policy_set_limit(p, POLICY_LIMIT_MEMORY, memory, &err) < 0) ||
	    (timeout && policy_set_limit(p, POLICY_LIMIT_TIMEOUT, timeout, &err) < 0)) {
		fprintf(stderr, "policy: %s\n", err.message);
		exit(1);
	}
	return p;
}

static corral_sandbox *start_idle(const corral_policy *p)
{
	corral_sandbox *sb = NULL;
	corral_error err = {0};
	if (corral_sandbox_start_idle(p, &sb, &err) < 0) {
		if (err.kind == CORRAL_ERR_HOST)
			SKIP_ALL(err.message);
		fprintf(stderr, "start_idle: %s\n", err.message);
		CHECK(!"start_idle");
		return NULL;
	}
	return sb;
}

/* Read `fd` to EOF into out (NUL-terminated, truncated to size). */
static void read_all(int fd, char *out, size_t size)
{
	size_t len = 0;
	for (;;) {
		char buf[4096];
		ssize_t n = read(fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		size_t copy = (size_t)n < size - 1 - len ? (size_t)n : size - 1 - len;
		memcpy(out + len, buf, copy);
		len += copy;
	}
	out[len] = '\0';
}

/* Run argv with stdout and stderr on one pipe; collect output and status.
 * Returns corral_sandbox_exec's result (err filled on failure). */
static int run(corral_sandbox *sb, char *const argv[], char *const env[], const char *cwd,
               char *out, size_t size, corral_process_status *st, corral_error *err)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	corral_exec_request req = {.argv = argv, .env = env, .cwd = cwd, .stdin_fd = -1,
	                           .stdout_fd = p[1], .stderr_fd = p[1]};
	corral_process *proc = NULL;
	int rc = corral_sandbox_exec(sb, &req, &proc, err);
	close(p[1]);
	if (rc == 0) {
		read_all(p[0], out, size);
		CHECK(corral_process_wait(proc, -1, st, err) == 0);
		corral_process_free(proc);
	}
	close(p[0]);
	return rc;
}

static void test_basic(corral_sandbox *sb)
{
	char out[4096];
	corral_process_status st;
	corral_error err = {0};
	char *echo[] = {"echo", "hello", NULL};
	CHECK(run(sb, echo, NULL, NULL, out, sizeof out, &st, &err) == 0);
	CHECK(strcmp(out, "hello\n") == 0);
	CHECK(st.state == CORRAL_PROCESS_EXITED && st.exit_code == 0);

	/* sequential, with exit codes */
	for (int i = 0; i < 20; i++) {
		char code[16];
		snprintf(code, sizeof code, "exit %d", i);
		char *sh[] = {"sh", "-c", code, NULL};
		CHECK(run(sb, sh, NULL, NULL, out, sizeof out, &st, &err) == 0);
		CHECK(st.state == CORRAL_PROCESS_EXITED && st.exit_code == i);
	}

	/* env over the policy's, cwd */
	char *env[] = {"FOO=bar", "HOME=/tmp", "FOO=baz", NULL};
	char *show[] = {"sh", "-c", "echo \"$FOO $HOME $PATH\"; pwd", NULL};
	CHECK(run(sb, show, env, "/tmp", out, sizeof out, &st, &err) == 0);
	CHECK(strcmp(out, "baz /tmp /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
	                  "/tmp\n") == 0);
	char *pwd[] = {"pwd", NULL};
	CHECK(run(sb, pwd, NULL, NULL, out, sizeof out, &st, &err) == 0);
	CHECK(strcmp(out, "/home/sandbox\n") == 0);
	CHECK(run(sb, pwd, NULL, "..", out, sizeof out, &st, &err) == 0);
	CHECK(strcmp(out, "/home\n") == 0);

	/* files written from outside are there for the processes */
	CHECK(corral_sandbox_write_file(sb, "/tmp/note.txt", "from outside\n", 13, 0644, &err) == 0);
	char *cat_note[] = {"cat", "/tmp/note.txt", NULL};
	CHECK(run(sb, cat_note, NULL, NULL, out, sizeof out, &st, &err) == 0);
	CHECK(strcmp(out, "from outside\n") == 0);

	/* stdin from the caller */
	int in[2], op[2];
	CHECK(pipe2(in, O_CLOEXEC) == 0 && pipe2(op, O_CLOEXEC) == 0);
	char *cat[] = {"cat", NULL};
	corral_exec_request req = {.argv = cat, .stdin_fd = in[0], .stdout_fd = op[1],
	                           .stderr_fd = -1};
	corral_process *proc = NULL;
	CHECK(corral_sandbox_exec(sb, &req, &proc, &err) == 0);
	close(in[0]);
	close(op[1]);
	CHECK(write(in[1], "piped\n", 6) == 6);
	close(in[1]);
	read_all(op[0], out, sizeof out);
	close(op[0]);
	CHECK(strcmp(out, "piped\n") == 0);
	CHECK(corral_process_wait(proc, -1, &st, &err) == 0 && st.state == CORRAL_PROCESS_EXITED);
	corral_process_free(proc);
}

static void test_concurrent(corral_sandbox *sb)
{
	enum { N = 8 };
	corral_process *procs[N] = {0};
	int pipes[N][2], gates[N][2];
	corral_error err = {0};
	for (int i = 0; i < N; i++) {
		/* Each waits for its stdin's EOF, which comes when the test
		 * says, not after some time. */
		char script[64];
		snprintf(script, sizeof script, "read x; echo %d; exit %d", i, i);
		char *sh[] = {"sh", "-c", script, NULL};
		CHECK(pipe2(pipes[i], O_CLOEXEC) == 0);
		CHECK(pipe2(gates[i], O_CLOEXEC) == 0);
		corral_exec_request req = {.argv = sh, .stdin_fd = gates[i][0],
		                           .stdout_fd = pipes[i][1], .stderr_fd = -1};
		CHECK(corral_sandbox_exec(sb, &req, &procs[i], &err) == 0);
		close(pipes[i][1]);
		close(gates[i][0]);
	}
	/* All run at once: none has ended yet. */
	corral_process_status st;
	for (int i = 0; i < N; i++)
		CHECK(corral_process_wait(procs[i], 0, &st, &err) == 0 &&
		      st.state == CORRAL_PROCESS_RUNNING);
	for (int i = 0; i < N; i++)
		close(gates[i][1]);
	for (int i = N - 1; i >= 0; i--) {
		char out[64], want[16];
		struct pollfd p = {.fd = corral_process_pollfd(procs[i]), .events = POLLIN};
		CHECK(poll(&p, 1, 10000) == 1);
		read_all(pipes[i][0], out, sizeof out);
		close(pipes[i][0]);
		snprintf(want, sizeof want, "%d\n", i);
		CHECK(strcmp(out, want) == 0);
		CHECK(corral_process_wait(procs[i], -1, &st, &err) == 0);
		CHECK(st.state == CORRAL_PROCESS_EXITED && st.exit_code == i);
		corral_process_free(procs[i]);
	}
}

struct exec_thread {
	corral_sandbox *sb;
	pthread_t thread;
	int index;
	int good;
};

static void *exec_thread_main(void *arg)
{
	struct exec_thread *t = arg;
	for (int i = 0; i < 10; i++) {
		char word[32], out[64], want[40];
		snprintf(word, sizeof word, "t%d-%d", t->index, i);
		char *echo[] = {"echo", word, NULL};
		corral_process_status st;
		corral_error err = {0};
		snprintf(want, sizeof want, "%s\n", word);
		if (run(t->sb, echo, NULL, NULL, out, sizeof out, &st, &err) == 0 &&
		    strcmp(out, want) == 0 && st.state == CORRAL_PROCESS_EXITED && st.exit_code == 0)
			t->good++;
	}
	return NULL;
}

/* Several threads exec into one sandbox at once. */
static void test_threads(corral_sandbox *sb)
{
	enum { T = 4 };
	struct exec_thread threads[T];
	for (int i = 0; i < T; i++) {
		threads[i] = (struct exec_thread){.sb = sb, .index = i};
		CHECK(pthread_create(&threads[i].thread, NULL, exec_thread_main, &threads[i]) == 0);
	}
	for (int i = 0; i < T; i++) {
		pthread_join(threads[i].thread, NULL);
		CHECK(threads[i].good == 10);
	}
}

static void test_signal(corral_sandbox *sb)
{
	corral_error err = {0};
	char *sleeper[] = {"sleep", "100", NULL};
	corral_exec_request req = {.argv = sleeper, .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1};
	corral_process *proc = NULL;
	CHECK(corral_sandbox_exec(sb, &req, &proc, &err) == 0);
	if (!proc)
		return;
	CHECK(corral_process_pid(proc) > 1);
	corral_process_status st;
	CHECK(corral_process_wait(proc, 50, &st, &err) == 0 && st.state == CORRAL_PROCESS_RUNNING);
	/* more requests than the socket's buffer holds at once */
	int sent = 0;
	for (int i = 0; i < 2000; i++)
		sent += corral_process_signal(proc, 0, &err) == 0;
	CHECK(sent == 2000);
	/* A look (timeout 0) never blocks, whenever the clock ticks: enough
	 * looks that some straddle a millisecond boundary. */
	int running = 0;
	for (int i = 0; i < 100000; i++)
		running += corral_process_wait(proc, 0, &st, &err) == 0 &&
		           st.state == CORRAL_PROCESS_RUNNING;
	CHECK(running == 100000);
	CHECK(corral_process_signal(proc, SIGTERM, &err) == 0);
	CHECK(corral_process_wait(proc, -1, &st, &err) == 0);
	CHECK(st.state == CORRAL_PROCESS_SIGNALED && st.signal == SIGTERM);
	/* ended: a second wait gives the same, a signal is refused */
	CHECK(corral_process_wait(proc, -1, &st, &err) == 0 && st.signal == SIGTERM);
	CHECK(corral_process_signal(proc, SIGTERM, &err) < 0 && err.errnum == ESRCH);
	corral_process_free(proc);

	/* freeing a running process kills it */
	CHECK(corral_sandbox_exec(sb, &req, &proc, &err) == 0);
	corral_process_free(proc);
}

/* Orphans of exec'd processes go to init, which reaps them: no zombie
 * stays behind. */
static void test_orphans(corral_sandbox *sb)
{
	char out[256];
	corral_process_status st;
	corral_error err = {0};
	char *orphan[] = {"sh", "-c", "(sleep 0.2 & echo $! >/tmp/orphan); exit 0", NULL};
	CHECK(run(sb, orphan, NULL, NULL, out, sizeof out, &st, &err) == 0 && st.exit_code == 0);
	/* Once reaped, the orphan's /proc entry is gone; a zombie keeps it,
	 * so the count below finds one if init never reaps (waiting is
	 * bounded, load only makes it longer). */
	char *zombies[] = {"sh", "-c",
	                   "p=$(cat /tmp/orphan); i=0; while [ -e /proc/$p ] && [ $i -lt 200 ]; "
	                   "do sleep 0.05; i=$((i+1)); done; cat /proc/[0-9]*/stat | grep -c ') Z '",
	                   NULL};
	CHECK(run(sb, zombies, NULL, NULL, out, sizeof out, &st, &err) == 0);
	CHECK(strcmp(out, "0\n") == 0);
}

static void test_exec_errors(corral_sandbox *sb)
{
	corral_error err = {0};
	corral_process *proc = NULL;
	char *missing[] = {"/nonexistent/program", NULL};
	corral_exec_request req = {.argv = missing, .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1};
	CHECK(corral_sandbox_exec(sb, &req, &proc, &err) < 0 && proc == NULL);
	CHECK(err.kind == CORRAL_ERR_EXEC_NOT_FOUND && corral_error_exit_code(&err) == 127);

	char *unknown[] = {"no-such-command-here", NULL};
	req.argv = unknown;
	CHECK(corral_sandbox_exec(sb, &req, &proc, &err) < 0);
	CHECK(err.kind == CORRAL_ERR_EXEC_NOT_FOUND && strstr(err.message, "command not found"));

	char *noexec[] = {"/etc/passwd", NULL};
	req.argv = noexec;
	CHECK(corral_sandbox_exec(sb, &req, &proc, &err) < 0);
	CHECK(err.kind == CORRAL_ERR_EXEC_DENIED && corral_error_exit_code(&err) == 126);

	char *ok[] = {"true", NULL};
	req.argv = ok;
	req.cwd = "/no/such/dir";
	CHECK(corral_sandbox_exec(sb, &req, &proc, &err) < 0);
	CHECK(err.kind == CORRAL_ERR_USAGE && err.errnum == ENOENT);
	req.cwd = NULL;

	char *bad_env[] = {"NOEQUALS", NULL};
	req.env = bad_env;
	CHECK(corral_sandbox_exec(sb, &req, &proc, &err) < 0 && err.kind == CORRAL_ERR_USAGE);
	req.env = NULL;

	char *empty[] = {NULL};
	req.argv = empty;
	CHECK(corral_sandbox_exec(sb, &req, &proc, &err) < 0 && err.kind == CORRAL_ERR_USAGE);

	/* a too large request is refused before it reaches the sandbox */
	size_t big = CORRAL_EXEC_BYTES_MAX + 16;
	char *huge = malloc(big);
	CHECK(huge != NULL);
	if (huge) {
		memset(huge, 'x', big - 1);
		huge[big - 1] = '\0';
		char *long_argv[] = {"echo", huge, NULL};
		req.argv = long_argv;
		CHECK(corral_sandbox_exec(sb, &req, &proc, &err) < 0 && err.errnum == E2BIG);
		free(huge);
	}

	/* a large request still fits */
	huge = malloc(100001);
	CHECK(huge != NULL);
	if (huge) {
		memset(huge, 'x', 100000);
		huge[100000] = '\0';
		char *long_argv[] = {"sh", "-c", "echo ${#1}", "sh", huge, NULL};
		char out[64];
		corral_process_status lst;
		CHECK(run(sb, long_argv, NULL, NULL, out, sizeof out, &lst, &err) == 0);
		CHECK(strcmp(out, "100000\n") == 0 && lst.exit_code == 0);
		free(huge);
	}

	/* the sandbox still serves after all of that */
	req.argv = ok;
	CHECK(corral_sandbox_exec(sb, &req, &proc, &err) == 0);
	corral_process_status st;
	CHECK(corral_process_wait(proc, -1, &st, &err) == 0 && st.exit_code == 0);
	corral_process_free(proc);
}

static bool line_is(const char *text, const char *line)
{
	size_t n = strlen(line);
	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, line, n) == 0 && (p[n] == '\n' || p[n] == '\0'))
			return true;
	return false;
}

static void test_restrictions(corral_sandbox *sb)
{
	char out[8192];
	corral_process_status st;
	corral_error err = {0};
	char *probe[] = {"sh", "-c",
	                 "echo uid=$(id -u) gid=$(id -g); "
	                 "grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' "
	                 "/proc/self/status | tr -d ' \\t'; "
	                 "echo pid=$$; readlink /proc/self/ns/pid; "
	                 "sed 's/^[0-9]*:[^:]*:/cgroup:/' /proc/self/cgroup | sort -u",
	                 NULL};
	int p[2];
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	corral_exec_request req = {.argv = probe, .stdin_fd = -1, .stdout_fd = p[1], .stderr_fd = p[1]};
	corral_process *proc = NULL;
	CHECK(corral_sandbox_exec(sb, &req, &proc, &err) == 0);
	close(p[1]);
	read_all(p[0], out, sizeof out);
	close(p[0]);
	if (!proc)
		return;
	CHECK(corral_process_wait(proc, -1, &st, &err) == 0 && st.exit_code == 0);
	CHECK(line_is(out, "uid=1000 gid=1000"));
	CHECK(line_is(out, "CapInh:0000000000000000"));
	CHECK(line_is(out, "CapPrm:0000000000000000"));
	CHECK(line_is(out, "CapEff:0000000000000000"));
	CHECK(line_is(out, "CapBnd:0000000000000000"));
	CHECK(line_is(out, "CapAmb:0000000000000000"));
	CHECK(line_is(out, "NoNewPrivs:1"));
	CHECK(line_is(out, "Seccomp:2"));
	char pid_line[32];
	snprintf(pid_line, sizeof pid_line, "pid=%d", (int)corral_process_pid(proc));
	CHECK(line_is(out, pid_line));
	/* another pid namespace than ours */
	char own_ns[64] = "";
	ssize_t n = readlink("/proc/self/ns/pid", own_ns, sizeof own_ns - 1);
	CHECK(n > 0 && strstr(out, "pid:[") && !strstr(out, own_ns));
	/* the root of its cgroup namespace, which init set at the sandbox's
	 * cgroup: every hierarchy shows "/" */
	CHECK(line_is(out, "cgroup:/"));
	CHECK(!strstr(out, "cgroup:/."));
	corral_process_free(proc);
	if (unit_failures)
		fprintf(stderr, "# probe output:\n%s", out);

	/* a host file outside the policy (this test's own binary) */
	char self[4096];
	n = readlink("/proc/self/exe", self, sizeof self - 1);
	CHECK(n > 0);
	self[n > 0 ? n : 0] = '\0';
	char *look[] = {"test", "-e", self, NULL};
	CHECK(run(sb, look, NULL, NULL, out, sizeof out, &st, &err) == 0);
	CHECK(st.state == CORRAL_PROCESS_EXITED && st.exit_code == 1);
}

/* Only stdio reaches a process: not the spawner's request socket, not
 * another process's status pipe, nothing of the caller's. Then a hostile
 * process goes after the spawner itself. */
static void test_fds_and_spawner(corral_sandbox *sb)
{
	char out[4096];
	corral_process_status st;
	corral_error err = {0};
	/* A neighbour runs meanwhile, so its status pipe exists in the spawner. */
	char *sleeper[] = {"sleep", "100", NULL};
	corral_exec_request req = {.argv = sleeper, .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1};
	corral_process *neighbour = NULL;
	CHECK(corral_sandbox_exec(sb, &req, &neighbour, &err) == 0);
	/* and the caller holds a descriptor without close-on-exec */
	int leak = open("/dev/null", O_RDONLY);
	CHECK(leak >= 0);

	int in[2];
	CHECK(pipe2(in, O_CLOEXEC) == 0);
	/* ls lists its own descriptors: stdio and, as 3, the directory it
	 * is reading; nothing else. */
	char *list[] = {"ls", "-l", "/proc/self/fd", NULL};
	int p[2];
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	req = (corral_exec_request){.argv = list, .stdin_fd = in[0], .stdout_fd = p[1],
	                            .stderr_fd = p[1]};
	corral_process *proc = NULL;
	CHECK(corral_sandbox_exec(sb, &req, &proc, &err) == 0);
	close(p[1]);
	close(in[0]);
	close(in[1]);
	read_all(p[0], out, sizeof out);
	close(p[0]);
	CHECK(corral_process_wait(proc, -1, &st, &err) == 0 && st.exit_code == 0);
	corral_process_free(proc);
	int links = 0;
	for (const char *c = strstr(out, " -> "); c; c = strstr(c + 1, " -> "))
		links++;
	CHECK(links == 4);
	CHECK(strstr(out, " 0 -> pipe:") && strstr(out, " 1 -> pipe:") && strstr(out, " 2 -> pipe:"));
	CHECK(strstr(out, " 3 -> /proc/"));
	CHECK(!strstr(out, "socket:") && !strstr(out, "/dev/null"));
	if (links != 4)
		fprintf(stderr, "# descriptors:\n%s", out);
	close(leak);

	/* The spawner runs as the same user, but is not dumpable: its
	 * descriptors, memory and environment are out of reach, and so is
	 * ptrace. */
	char *peek[] = {"sh", "-c",
	                "for p in /proc/[0-9]*; do "
	                "  [ \"$(cat $p/comm 2>/dev/null)\" = sleep ] && continue; "
	                "  [ ${p#/proc/} = $$ ] && continue; "
	                "  ls $p/fd >/dev/null 2>&1 && echo \"fd-open $p\"; "
	                "  head -c1 $p/mem >/dev/null 2>&1 && echo \"mem-open $p\"; "
	                "  cat $p/environ >/dev/null 2>&1 && echo \"environ-open $p\"; "
	                "done; echo done",
	                NULL};
	CHECK(run(sb, peek, NULL, NULL, out, sizeof out, &st, &err) == 0);
	CHECK(strcmp(out, "done\n") == 0);
	if (strcmp(out, "done\n") != 0)
		fprintf(stderr, "# reachable:\n%s", out);
	corral_process_free(neighbour);
}

/* A process of the sandbox kills the spawner (it may: same user). The
 * sandbox ends; waits return; nothing hangs. */
static void test_spawner_killed(void)
{
	corral_policy *pol = policy_with(NULL, NULL);
	corral_sandbox *sb = start_idle(pol);
	if (!sb) {
		corral_policy_free(pol);
		return;
	}
	struct waiter w;
	waiter_start(&w, sb);
	corral_error err = {0};
	char *sleeper[] = {"sleep", "100", NULL};
	corral_exec_request req = {.argv = sleeper, .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1};
	corral_process *pending = NULL;
	CHECK(corral_sandbox_exec(sb, &req, &pending, &err) == 0);
	/* the spawner is the sleeper's parent */
	char pid[16];
	snprintf(pid, sizeof pid, "%d", pending ? (int)corral_process_pid(pending) : 0);
	char *argv[] = {"sh", "-c", "kill -9 $(cut -d' ' -f4 /proc/$1/stat)", "sh", pid, NULL};
	req.argv = argv;
	corral_process *k = NULL;
	CHECK(corral_sandbox_exec(sb, &req, &k, &err) == 0);
	pthread_join(w.thread, NULL);
	corral_process_status st;
	if (pending) {
		CHECK(corral_process_wait(pending, 5000, &st, &err) == 0);
		CHECK(st.state == CORRAL_PROCESS_LOST ||
		      (st.state == CORRAL_PROCESS_SIGNALED && st.signal == SIGKILL));
		corral_process_free(pending);
	}
	if (k) {
		CHECK(corral_process_wait(k, 5000, &st, &err) == 0 && st.state != CORRAL_PROCESS_RUNNING);
		corral_process_free(k);
	}
	CHECK(w.rc == 0 && w.result.status == CORRAL_STATUS_SIGNALED && w.result.signal == SIGKILL);
	char *t[] = {"true", NULL};
	req.argv = t;
	CHECK(corral_sandbox_exec(sb, &req, &k, &err) < 0 && err.errnum == ESRCH);
	corral_sandbox_free(sb);
	corral_policy_free(pol);
}

/* corral_sandbox_signal ends an idle sandbox and every process in it;
 * exec afterwards fails clearly. */
static void test_end(void)
{
	corral_policy *pol = policy_with(NULL, NULL);
	corral_sandbox *sb = start_idle(pol);
	if (!sb) {
		corral_policy_free(pol);
		return;
	}
	struct waiter w;
	waiter_start(&w, sb);
	corral_error err = {0};
	corral_process *procs[3] = {0};
	char *sleeper[] = {"sleep", "100", NULL};
	corral_exec_request req = {.argv = sleeper, .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1};
	for (int i = 0; i < 3; i++)
		CHECK(corral_sandbox_exec(sb, &req, &procs[i], &err) == 0);
	CHECK(corral_sandbox_signal(sb, SIGTERM, &err) == 0);
	pthread_join(w.thread, NULL);
	CHECK(w.rc == 0 && w.result.status == CORRAL_STATUS_SIGNALED && w.result.signal == SIGTERM);
	/* no output limit: the caller reads its processes' pipes */
	CHECK(strcmp(w.result.enforcement.output, "none") == 0);
	for (int i = 0; i < 3; i++) {
		corral_process_status st;
		if (!procs[i])
			continue;
		CHECK(corral_process_wait(procs[i], 5000, &st, &err) == 0);
		CHECK(st.state == CORRAL_PROCESS_LOST);
		corral_process_free(procs[i]);
	}
	corral_process *late = NULL;
	CHECK(corral_sandbox_exec(sb, &req, &late, &err) < 0);
	CHECK(err.kind == CORRAL_ERR_USAGE && err.errnum == ESRCH &&
	      strstr(err.message, "the sandbox has ended"));
	corral_sandbox_free(sb);
	corral_policy_free(pol);
}

/* One process over the memory limit: the whole sandbox goes, reported as
 * an OOM. */
static void test_oom(void)
{
	if (access("/usr/bin/python3", X_OK) != 0)
		return;
	corral_policy *pol = policy_with("64M", NULL);
	corral_sandbox *sb = start_idle(pol);
	if (!sb) {
		corral_policy_free(pol);
		return;
	}
	struct waiter w;
	waiter_start(&w, sb);
	corral_error err = {0};
	char *hog[] = {"python3", "-c", "x = b'a' * (512 << 20)", NULL};
	corral_exec_request req = {.argv = hog, .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1};
	corral_process *proc = NULL;
	CHECK(corral_sandbox_exec(sb, &req, &proc, &err) == 0);
	corral_process_status st = {.state = CORRAL_PROCESS_LOST};
	if (proc) {
		CHECK(corral_process_wait(proc, -1, &st, &err) == 0);
		corral_process_free(proc);
	}
	if (st.state == CORRAL_PROCESS_EXITED) {
		/* No cgroup (rootless): RLIMIT_DATA refused the allocation, the
		 * process failed and the sandbox goes on. */
		CHECK(st.exit_code != 0);
		CHECK(corral_sandbox_signal(sb, SIGTERM, &err) == 0);
		pthread_join(w.thread, NULL);
	} else {
		CHECK(st.state == CORRAL_PROCESS_LOST ||
		      (st.state == CORRAL_PROCESS_SIGNALED && st.signal == SIGKILL));
		pthread_join(w.thread, NULL);
		CHECK(w.rc == 0 && w.result.status == CORRAL_STATUS_OOM);
		if (w.result.status != CORRAL_STATUS_OOM)
			fprintf(stderr, "# oom: status %s\n", corral_status_name(w.result.status));
	}
	corral_sandbox_free(sb);
	corral_policy_free(pol);
}

/* The wall clock counts from the sandbox's start, idle time included. */
static void test_timeout(void)
{
	corral_policy *pol = policy_with(NULL, "500ms");
	corral_sandbox *sb = start_idle(pol);
	if (!sb) {
		corral_policy_free(pol);
		return;
	}
	corral_result result;
	corral_error err = {0};
	CHECK(corral_sandbox_wait(sb, &result, &err) == 0 && result.status == CORRAL_STATUS_TIMEOUT);
	corral_sandbox_free(sb);
	corral_policy_free(pol);
}

/* A sandbox started with a command has no spawner. */
static void test_command_sandbox(void)
{
	corral_policy *pol = policy_with(NULL, NULL);
	corral_sandbox *sb = NULL;
	corral_error err = {0};
	char *t[] = {"true", NULL};
	corral_io io = {-1, -1, -1, -1};
	CHECK(corral_sandbox_start(pol, t, &io, &sb, &err) == 0);
	if (sb) {
		corral_exec_request req = {.argv = t, .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1};
		corral_process *proc = NULL;
		CHECK(corral_sandbox_exec(sb, &req, &proc, &err) < 0 && err.kind == CORRAL_ERR_USAGE);
		corral_result result;
		CHECK(corral_sandbox_wait(sb, &result, &err) == 0 &&
		      result.status == CORRAL_STATUS_EXITED && result.exit_code == 0);
		corral_sandbox_free(sb);
	}
	corral_policy_free(pol);
}

static int count_fds(void)
{
	int n = 0;
	for (int fd = 0; fd < 1024; fd++)
		n += fcntl(fd, F_GETFD) >= 0;
	return n;
}

/* The supervisor's side against a spawner that lies, without a sandbox. */
static void test_hostile_replies(void)
{
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
	int before = count_fds();
	struct spawn_reply r = {.id = 7, .type = SPAWN_REPLY_STARTED, .pid = 42};
	struct spawn_reply got;
	/* short, long, wrong id, descriptors attached: all skipped */
	CHECK(send(sv[1], "x", 1, 0) == 1);
	char big[256] = {0};
	CHECK(send(sv[1], big, sizeof big, 0) == (ssize_t)sizeof big);
	struct spawn_reply wrong = r;
	wrong.id = 8;
	CHECK(send(sv[1], &wrong, sizeof wrong, 0) == (ssize_t)sizeof wrong);
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int fds[8];
	for (int i = 0; i < 8; i++)
		fds[i] = devnull;
	union {
		char b[CMSG_SPACE(sizeof fds)];
		struct cmsghdr align;
	} ctl;
	memset(&ctl, 0, sizeof ctl);
	struct iovec iov = {.iov_base = &wrong, .iov_len = sizeof wrong};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
	                     .msg_controllen = sizeof ctl.b};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof fds);
	memcpy(CMSG_DATA(c), fds, sizeof fds);
	CHECK(sendmsg(sv[1], &msg, 0) == (ssize_t)sizeof wrong);
	iov.iov_base = &r;
	CHECK(sendmsg(sv[1], &msg, 0) == (ssize_t)sizeof r);
	CHECK(spawn_await_reply(sv[0], -1, 7, 1000, &got) == 0);
	CHECK(got.id == 7 && got.pid == 42);
	close(devnull);
	/* every descriptor that came along was closed */
	CHECK(count_fds() == before);
	/* silence: bounded */
	CHECK(spawn_await_reply(sv[0], -1, 9, 100, &got) < 0 && errno == ETIMEDOUT);
	/* a flood of stale replies: still bounded */
	for (int i = 0; i < 50; i++)
		CHECK(send(sv[1], &wrong, sizeof wrong, 0) == (ssize_t)sizeof wrong);
	CHECK(spawn_await_reply(sv[0], -1, 9, 100, &got) < 0 && errno == ETIMEDOUT);
	/* gone */
	close(sv[1]);
	CHECK(spawn_await_reply(sv[0], -1, 9, 1000, &got) < 0 && errno == ESRCH);
	close(sv[0]);

	/* status records */
	corral_process_status st;
	struct spawn_status rec = {.type = SPAWN_STATUS_WAIT, .wait_status = 3 << 8};
	CHECK(spawn_status_decode(&rec, sizeof rec, &st) && st.state == CORRAL_PROCESS_EXITED &&
	      st.exit_code == 3);
	rec.wait_status = SIGTERM;
	CHECK(spawn_status_decode(&rec, sizeof rec, &st) && st.state == CORRAL_PROCESS_SIGNALED &&
	      st.signal == SIGTERM);
	rec.wait_status = 0x137f; /* stopped: not an end */
	CHECK(!spawn_status_decode(&rec, sizeof rec, &st));
	rec.wait_status = 0x7e; /* signal 126 */
	CHECK(!spawn_status_decode(&rec, sizeof rec, &st));
	rec.type = 0;
	rec.wait_status = 0;
	CHECK(!spawn_status_decode(&rec, sizeof rec, &st));
	CHECK(!spawn_status_decode(&rec, sizeof rec - 1, &st));
}

int main(void)
{
	/* Closed pipes of ended processes must not kill the test. */
	signal(SIGPIPE, SIG_IGN);
	test_hostile_replies();

	corral_policy *pol = policy_with(NULL, NULL);
	corral_sandbox *sb = start_idle(pol);
	if (sb) {
		struct waiter w;
		waiter_start(&w, sb);
		test_basic(sb);
		test_concurrent(sb);
		test_threads(sb);
		test_signal(sb);
		test_orphans(sb);
		test_exec_errors(sb);
		test_restrictions(sb);
		test_fds_and_spawner(sb);
		corral_error err = {0};
		CHECK(corral_sandbox_signal(sb, SIGTERM, &err) == 0);
		pthread_join(w.thread, NULL);
		CHECK(w.rc == 0);
		corral_sandbox_free(sb);
	}
	corral_policy_free(pol);
	test_spawner_killed();
	test_end();
	test_oom();
	test_timeout();
	test_command_sandbox();
	return unit_done();
}
