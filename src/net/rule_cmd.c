#include "net/rule_cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define CACHE_MAX 1024
#define RUNS_MAX 32

struct cache_entry {
	char key[300];
	bool allow;
	uint64_t expires_ms;
};

struct rule_cmd {
	char *program;
	struct cache_entry cache[CACHE_MAX];
	size_t n_cache;
	struct rule_cmd_run *runs[RUNS_MAX];
	size_t n_runs;
};

struct rule_cmd *rule_cmd_new(const char *program)
{
	struct rule_cmd *rc = calloc(1, sizeof *rc);
	if (!rc || !(rc->program = strdup(program))) {
		free(rc);
		return NULL;
	}
	return rc;
}

static void drop_run(struct rule_cmd *rc, struct rule_cmd_run *run)
{
	for (size_t i = 0; i < rc->n_runs; i++) {
		if (rc->runs[i] == run) {
			rc->runs[i] = rc->runs[--rc->n_runs];
			break;
		}
	}
	if (run->pidfd >= 0)
		close(run->pidfd);
	free(run->watch);
	free(run);
}

void rule_cmd_free(struct rule_cmd *rc)
{
	if (!rc)
		return;
	while (rc->n_runs) {
		struct rule_cmd_run *run = rc->runs[0];
		kill(run->pid, SIGKILL);
		waitpid(run->pid, NULL, 0);
		drop_run(rc, run);
	}
	free(rc->program);
	free(rc);
}

static void remember(struct rule_cmd *rc, const char *key, bool allow, uint64_t now_ms)
{
	struct cache_entry *slot = NULL;
	for (size_t i = 0; i < rc->n_cache && !slot; i++)
		if (strcmp(rc->cache[i].key, key) == 0 || rc->cache[i].expires_ms <= now_ms)
			slot = &rc->cache[i];
	if (!slot && rc->n_cache < CACHE_MAX)
		slot = &rc->cache[rc->n_cache++];
	if (!slot)
		slot = &rc->cache[now_ms % CACHE_MAX]; /* full of live entries: evict one */
	snprintf(slot->key, sizeof slot->key, "%s", key);
	slot->allow = allow;
	slot->expires_ms = now_ms + RULE_CMD_CACHE_MS;
}

static struct rule_cmd_run *start(struct rule_cmd *rc, const char *key, const char *json,
                                  uint64_t now_ms)
{
	int in[2];
	if (rc->n_runs >= RUNS_MAX || pipe2(in, O_CLOEXEC) < 0)
		return NULL;
	posix_spawn_file_actions_t actions;
	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
	posix_spawnattr_t attr;
	posix_spawnattr_init(&attr);
	/* The proxy thread blocks every signal; PROG starts with none blocked. */
	sigset_t none;
	sigemptyset(&none);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
	char *argv[] = {rc->program, NULL};
	pid_t pid;
	int err = posix_spawn(&pid, rc->program, &actions, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&actions);
	posix_spawnattr_destroy(&attr);
	close(in[0]);
	if (err != 0) {
		close(in[1]);
		return NULL;
	}
	/* The request is small: it fits in the pipe at once. */
	ssize_t n = write(in[1], json, strlen(json));
	(void)n;
	close(in[1]);
	struct rule_cmd_run *run = calloc(1, sizeof *run);
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (!run || pidfd < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		if (pidfd >= 0)
			close(pidfd);
		free(run);
		return NULL;
	}
	snprintf(run->key, sizeof run->key, "%s", key);
	run->pid = pid;
	run->pidfd = pidfd;
	run->deadline_ms = now_ms + RULE_CMD_TIMEOUT_MS;
	rc->runs[rc->n_runs++] = run;
	return run;
}

enum rule_cmd_verdict rule_cmd_ask(struct rule_cmd *rc, const char *key, const char *request_json,
                                   uint64_t now_ms, struct rule_cmd_run **run, const char **why)
{
	*run = NULL;
	*why = NULL;
	for (size_t i = 0; i < rc->n_cache; i++) {
		if (rc->cache[i].expires_ms > now_ms && strcmp(rc->cache[i].key, key) == 0) {
			if (!rc->cache[i].allow)
				*why = "the rule command refused it";
			return rc->cache[i].allow ? RULE_CMD_ALLOW : RULE_CMD_DENY;
		}
	}
	for (size_t i = 0; i < rc->n_runs; i++) {
		if (strcmp(rc->runs[i]->key, key) == 0) {
			*run = rc->runs[i];
			return RULE_CMD_PENDING;
		}
	}
	*run = start(rc, key, request_json, now_ms);
	if (!*run) {
		*why = "the rule command could not be started";
		return RULE_CMD_DENY;
	}
	return RULE_CMD_PENDING;
}

enum rule_cmd_verdict rule_cmd_finish(struct rule_cmd *rc, struct rule_cmd_run *run,
                                      uint64_t now_ms, const char **why)
{
	int status = 0;
	pid_t got;
	while ((got = waitpid(run->pid, &status, 0)) < 0 && errno == EINTR)
		;
	bool allow = got == run->pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
	*why = allow ? NULL
	             : run->timed_out ? "the rule command timed out"
	                              : "the rule command refused it";
	/* A timeout is not an answer: do not cache it. */
	if (!run->timed_out)
		remember(rc, run->key, allow, now_ms);
	drop_run(rc, run);
	return allow ? RULE_CMD_ALLOW : RULE_CMD_DENY;
}

int rule_cmd_expire(struct rule_cmd *rc, uint64_t now_ms)
{
	uint64_t next = UINT64_MAX;
	for (size_t i = 0; i < rc->n_runs; i++) {
		struct rule_cmd_run *run = rc->runs[i];
		if (run->timed_out)
			continue;
		if (run->deadline_ms <= now_ms) {
			run->timed_out = true;
			kill(run->pid, SIGKILL);
		} else if (run->deadline_ms < next) {
			next = run->deadline_ms;
		}
	}
	return next == UINT64_MAX ? -1 : (int)(next - now_ms);
}
