/* corral_sandbox_usage on a running sandbox (against the real kernel):
 * CPU time grows with a busy command, the processes are counted, memory is
 * reported, all while corral_sandbox_wait runs in another thread; after the
 * end it is ESRCH. And corral_cleanup_leftovers: nothing for a live
 * supervisor, a refusal for a bad pid. Skips where sandboxes cannot run. */
#include "corral.h"
#include "policy/policy.h"
#include "unit.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct waiter {
	corral_sandbox *sb;
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

static void test_running(void)
{
	corral_policy *p = corral_policy_new();
	corral_error err = {0};
	CHECK(p && policy_set_limit(p, POLICY_LIMIT_MEMORY, "256M", &err) == 0);
	corral_sandbox *sb = NULL;
	if (corral_sandbox_start_idle(p, &sb, &err) < 0) {
		corral_policy_free(p);
		if (err.kind == CORRAL_ERR_HOST)
			SKIP_ALL(err.message);
		fprintf(stderr, "start_idle: %s\n", err.message);
		CHECK(!"start_idle");
		return;
	}
	struct waiter w = {.sb = sb};
	pthread_t thread;
	CHECK(pthread_create(&thread, NULL, waiter_main, &w) == 0);

	corral_usage before;
	CHECK(corral_sandbox_usage(sb, &before, &err) == 0);
	char *const busy[] = {"sh", "-c", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done", NULL};
	corral_exec_request req = {.argv = busy, .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1};
	corral_process *proc = NULL;
	corral_process_status st;
	CHECK(corral_sandbox_exec(sb, &req, &proc, &err) == 0);
	CHECK(corral_process_wait(proc, -1, &st, &err) == 0 && st.state == CORRAL_PROCESS_EXITED);
	corral_process_free(proc);
	char *const sleeper[] = {"sleep", "600", NULL};
	req.argv = sleeper;
	CHECK(corral_sandbox_exec(sb, &req, &proc, &err) == 0);

	corral_usage u;
	CHECK(corral_sandbox_usage(sb, &u, &err) == 0);
	if (u.cpu_ns == CORRAL_USAGE_UNKNOWN) {
		/* No cgroup for this caller: nothing measurable, all said so. */
		CHECK(u.pids_current == CORRAL_USAGE_UNKNOWN &&
		      u.memory_current_bytes == CORRAL_USAGE_UNKNOWN);
	} else {
		CHECK(before.cpu_ns != CORRAL_USAGE_UNKNOWN);
		CHECK(u.cpu_ns > before.cpu_ns + 10 * 1000 * 1000); /* the busy loop's 10ms+ */
		CHECK(u.pids_current >= 2 && u.pids_current != CORRAL_USAGE_UNKNOWN);
		CHECK(u.memory_current_bytes > 0 && u.memory_current_bytes != CORRAL_USAGE_UNKNOWN);
		CHECK(u.memory_peak_bytes == CORRAL_USAGE_UNKNOWN ||
		      u.memory_peak_bytes >= u.memory_current_bytes);
	}
	corral_process_free(proc);
	CHECK(corral_sandbox_signal(sb, SIGTERM, &err) == 0);
	pthread_join(thread, NULL);
	CHECK(w.rc == 0);
	memset(&err, 0, sizeof err);
	CHECK(corral_sandbox_usage(sb, &u, &err) < 0 && err.kind == CORRAL_ERR_USAGE &&
	      err.errnum == ESRCH);
	corral_sandbox_free(sb);
	corral_policy_free(p);
}

static void test_leftovers(void)
{
	size_t n = 99;
	corral_error err = {0};
	CHECK(corral_cleanup_leftovers(getpid(), &n, &err) == 0 && n == 0);
	CHECK(corral_cleanup_leftovers(0, &n, &err) < 0 && err.kind == CORRAL_ERR_USAGE);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	test_leftovers();
	test_running();
	return unit_done();
}
