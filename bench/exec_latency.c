/* Latency of commands in a running sandbox, for docs/performance.md.
 *
 *   exec_latency [EXECS [STARTS]]     (defaults 1000 and 20)
 *
 * - start: corral_sandbox_start_idle until the sandbox is ready, then
 *   corral_sandbox_free (STARTS times);
 * - exec: in one idle sandbox, corral_sandbox_exec of /bin/true until
 *   corral_process_wait returns (EXECS times, after 20 warm-up runs);
 * - for reference, the host's own floor: posix_spawn of /bin/true and
 *   waitpid, no sandbox, interleaved with the execs; and corral_run of
 *   /bin/true (a fresh sandbox per command, STARTS times).
 * Prints the median, 90th percentile and maximum of each, in microseconds.
 * Built with the project (meson), never run by the tests.
 */
#include "corral.h"

#include <pthread.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void report(const char *what, uint64_t *ns, size_t n)
{
	qsort(ns, n, sizeof *ns, cmp_u64);
	printf("%-34s n=%-5zu median %8.1f us   p90 %8.1f us   max %8.1f us\n", what, n,
	       (double)ns[n / 2] / 1e3, (double)ns[n * 9 / 10] / 1e3, (double)ns[n - 1] / 1e3);
}

static void *waiter_main(void *arg)
{
	corral_result result;
	corral_error err;
	corral_sandbox_wait(arg, &result, &err);
	return NULL;
}

static void die(const char *what, const corral_error *err)
{
	fprintf(stderr, "exec_latency: %s: %s\n", what, err->message);
	exit(1);
}

int main(int argc, char **argv)
{
	size_t execs = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000;
	size_t starts = argc > 2 ? strtoul(argv[2], NULL, 10) : 20;
	if (execs == 0 || starts == 0) {
		fprintf(stderr, "usage: exec_latency [EXECS [STARTS]]\n");
		return 2;
	}
	corral_error err = {0};
	corral_policy *policy = corral_policy_new();
	/* A warm sandbox lives as long as it is wanted. */
	if (!policy || corral_policy_merge_json(policy, "{\"limits\": {\"timeout\": \"unlimited\"}}",
	                                        &err) < 0)
		die("policy", &err);
	uint64_t *ns = calloc(execs > starts ? execs : starts, sizeof *ns);
	if (!ns)
		return 1;

	for (size_t i = 0; i < starts; i++) {
		corral_sandbox *sb = NULL;
		uint64_t t0 = now_ns();
		if (corral_sandbox_start_idle(policy, &sb, &err) < 0)
			die("start", &err);
		ns[i] = now_ns() - t0;
		corral_sandbox_free(sb);
	}
	report("start an idle sandbox (ready)", ns, starts);

	corral_sandbox *sb = NULL;
	if (corral_sandbox_start_idle(policy, &sb, &err) < 0)
		die("start", &err);
	pthread_t waiter;
	if (pthread_create(&waiter, NULL, waiter_main, sb) != 0)
		return 1;
	char *true_argv[] = {"/bin/true", NULL};
	corral_exec_request req = {.argv = true_argv, .stdin_fd = -1, .stdout_fd = -1,
	                           .stderr_fd = -1};
	uint64_t *floor_ns = calloc(execs, sizeof *floor_ns);
	if (!floor_ns)
		return 1;
	/* Interleaved with the host's floor, so that load from elsewhere
	 * weighs on both alike. */
	for (size_t i = 0; i < execs + 20; i++) {
		pid_t pid;
		int wstatus;
		uint64_t f0 = now_ns();
		if (posix_spawn(&pid, true_argv[0], NULL, NULL, true_argv, environ) != 0 ||
		    waitpid(pid, &wstatus, 0) != pid)
			return 1;
		if (i >= 20)
			floor_ns[i - 20] = now_ns() - f0;

		corral_process *proc = NULL;
		corral_process_status st;
		uint64_t t0 = now_ns();
		if (corral_sandbox_exec(sb, &req, &proc, &err) < 0)
			die("exec", &err);
		if (corral_process_wait(proc, -1, &st, &err) < 0)
			die("wait", &err);
		uint64_t t = now_ns() - t0;
		if (st.state != CORRAL_PROCESS_EXITED || st.exit_code != 0) {
			fprintf(stderr, "exec_latency: /bin/true did not exit 0\n");
			return 1;
		}
		corral_process_free(proc);
		if (i >= 20)
			ns[i - 20] = t;
	}
	report("exec /bin/true in a running one", ns, execs);
	report("posix_spawn /bin/true, no sandbox", floor_ns, execs);
	free(floor_ns);
	corral_sandbox_signal(sb, 15, &err);
	pthread_join(waiter, NULL);
	corral_sandbox_free(sb);

	corral_io io = CORRAL_IO_INHERIT;
	for (size_t i = 0; i < starts; i++) {
		corral_result result;
		uint64_t t0 = now_ns();
		if (corral_run(policy, true_argv, &io, &result, &err) < 0)
			die("run", &err);
		ns[i] = now_ns() - t0;
	}
	report("corral_run /bin/true (reference)", ns, starts);
	free(ns);
	corral_policy_free(policy);
	return 0;
}
