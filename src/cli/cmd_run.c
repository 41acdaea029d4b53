#include "cli/cli.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <unistd.h>

/* Signals the CLI passes on to the sandboxed command rather than dying of. */
static const int forwarded_signals[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM,
                                        SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT};

static int wait_forwarding_signals(corral_sandbox *sb, corral_result *result, corral_error *err)
{
	sigset_t mask;
	sigemptyset(&mask);
	for (size_t i = 0; i < sizeof forwarded_signals / sizeof forwarded_signals[0]; i++)
		sigaddset(&mask, forwarded_signals[i]);
	int sigfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sigfd >= 0) {
		struct pollfd fds[2] = {
			{.fd = corral_sandbox_pollfd(sb), .events = POLLIN},
			{.fd = sigfd, .events = POLLIN},
		};
		for (;;) {
			if (poll(fds, 2, -1) < 0) {
				if (errno == EINTR)
					continue;
				break;
			}
			if (fds[0].revents)
				break;
			struct signalfd_siginfo si;
			if (fds[1].revents && read(sigfd, &si, sizeof si) == (ssize_t)sizeof si)
				corral_sandbox_signal(sb, (int)si.ssi_signo, NULL);
		}
		close(sigfd);
	}
	return corral_sandbox_wait(sb, result, err);
}

int cmd_run(int argc, char **argv)
{
	struct run_options opts;
	corral_error err = {0};
	int exit_code = CORRAL_EXIT_FAILURE;
	corral_sandbox *sb = NULL;

	int parsed = run_options_parse(&opts, argc, argv, &err);
	if (parsed < 0) {
		cli_print_error(&err);
		goto cleanup;
	}
	if (parsed == 1) {
		exit_code = 0;
		goto cleanup;
	}
	if (opts.print_policy) {
		char *json = corral_policy_to_json(opts.policy);
		if (!json) {
			fprintf(stderr, "corral: out of memory\n");
			goto cleanup;
		}
		printf("%s\n", json);
		free(json);
		exit_code = 0;
		goto cleanup;
	}

	/* Block before starting so no forwarded signal is lost in between;
	 * the sandbox's processes get a clean mask from corral's init. */
	sigset_t mask, saved;
	sigemptyset(&mask);
	for (size_t i = 0; i < sizeof forwarded_signals / sizeof forwarded_signals[0]; i++)
		sigaddset(&mask, forwarded_signals[i]);
	sigprocmask(SIG_BLOCK, &mask, &saved);

	corral_result result;
	if (corral_sandbox_start(opts.policy, opts.argv, NULL, &sb, &err) < 0 ||
	    wait_forwarding_signals(sb, &result, &err) < 0) {
		cli_print_error(&err);
		exit_code = corral_error_exit_code(&err);
	} else {
		exit_code = corral_result_exit_code(&result);
	}
	sigprocmask(SIG_SETMASK, &saved, NULL);
cleanup:
	corral_sandbox_free(sb);
	run_options_free(&opts);
	return exit_code;
}
