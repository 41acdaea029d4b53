/*
 * Test driver for corral_sandbox_set_net_rules: runs CMD in a sandbox with
 * the given rules, and replaces them whenever a line of rules (separated by
 * tabs; an empty line: no rules) arrives on the control socket FD,
 * answering "ok" or "error: MESSAGE" on it.
 *
 *   live_rules --control FD [--allow-net R]... [--net-host N=IP]...
 *              [--net-ca F] [--intercept] [--net-log F] -- CMD...
 */
#include "corral.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int fail(const corral_error *err)
{
	fprintf(stderr, "live_rules: %s\n", err->message);
	return 125;
}

static void apply(corral_sandbox *sb, int control, char *line)
{
	const char *rules[64];
	size_t n = 0;
	for (char *save = NULL, *r = strtok_r(line, "\t", &save); r && n < 64;
	     r = strtok_r(NULL, "\t", &save))
		rules[n++] = r;
	corral_error err = {0};
	char reply[sizeof err.message + 16];
	if (corral_sandbox_set_net_rules(sb, rules, n, &err) < 0)
		snprintf(reply, sizeof reply, "error: %s\n", err.message);
	else
		snprintf(reply, sizeof reply, "ok\n");
	if (write(control, reply, strlen(reply)) < 0)
		perror("live_rules: reply");
}

struct control {
	corral_sandbox *sb;
	int fd;
};

static void *control_main(void *arg)
{
	struct control *c = arg;
	char line[8192];
	size_t len = 0;
	for (;;) {
		ssize_t n = read(c->fd, line + len, sizeof line - 1 - len);
		if (n <= 0)
			return NULL;
		len += (size_t)n;
		char *nl;
		while ((nl = memchr(line, '\n', len))) {
			*nl = '\0';
			apply(c->sb, c->fd, line);
			len -= (size_t)(nl + 1 - line);
			memmove(line, nl + 1, len);
		}
	}
}

int main(int argc, char **argv)
{
	corral_error err = {0};
	corral_policy *policy = corral_policy_new();
	int control = -1;
	int i = 1;
	for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
		int rc = 0;
		if (strcmp(argv[i], "--intercept") == 0)
			rc = corral_policy_set_intercept(policy, true);
		else if (i + 1 >= argc)
			return fprintf(stderr, "live_rules: %s needs a value\n", argv[i]), 2;
		else if (strcmp(argv[i], "--control") == 0)
			control = atoi(argv[++i]);
		else if (strcmp(argv[i], "--allow-net") == 0)
			rc = corral_policy_allow_net(policy, argv[++i], &err);
		else if (strcmp(argv[i], "--net-host") == 0)
			rc = corral_policy_net_host(policy, argv[++i], &err);
		else if (strcmp(argv[i], "--net-ca") == 0)
			rc = corral_policy_set_net_ca(policy, argv[++i], &err);
		else if (strcmp(argv[i], "--net-log") == 0)
			rc = corral_policy_set_net_log(policy, argv[++i], &err);
		else
			return fprintf(stderr, "live_rules: unknown option %s\n", argv[i]), 2;
		if (rc < 0)
			return fail(&err);
	}
	if (i + 1 >= argc || control < 0)
		return fprintf(stderr, "live_rules: need --control FD and a command\n"), 2;
	corral_sandbox *sb = NULL;
	corral_io io = CORRAL_IO_INHERIT;
	if (corral_sandbox_start(policy, argv + i + 1, &io, &sb, &err) < 0)
		return fail(&err);
	/* corral_sandbox_wait supervises the sandbox (its monitor answers the
	 * seccomp notifications too): rules change from another thread. */
	struct control c = {sb, control};
	pthread_t thread;
	if (pthread_create(&thread, NULL, control_main, &c) != 0)
		return fprintf(stderr, "live_rules: thread\n"), 125;
	corral_result result;
	int code = corral_sandbox_wait(sb, &result, &err) < 0 ? fail(&err)
	                                                      : corral_result_exit_code(&result);
	/* End the control thread before the sandbox is freed. */
	shutdown(control, SHUT_RDWR);
	pthread_join(thread, NULL);
	corral_sandbox_free(sb);
	corral_policy_free(policy);
	return code;
}
