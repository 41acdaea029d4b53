#include "cli/cli.h"

#include "util/fileutil.h"
#include "util/strings.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

/* Signals the CLI passes on to the sandboxed command rather than dying of. */
static const int forwarded_signals[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM,
                                        SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT};

/* --report FILE | - | fd:N, opened before the sandbox starts so a bad path
 * is reported as a usage error and nothing runs. */
static int open_report(const char *spec, corral_error *err)
{
	if (!spec)
		return -1;
	if (strcmp(spec, "-") == 0)
		return STDERR_FILENO;
	if (strncmp(spec, "fd:", 3) == 0) {
		unsigned long long fd;
		if (parse_uint(spec + 3, 1 << 20, &fd) < 0 || fcntl((int)fd, F_GETFD) < 0) {
			snprintf(err->message, sizeof err->message, "--report %s: not an open descriptor", spec);
			err->kind = CORRAL_ERR_USAGE;
			return -2;
		}
		return (int)fd;
	}
	int fd = open(spec, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		snprintf(err->message, sizeof err->message, "--report %s: %s", spec, strerror(errno));
		err->kind = CORRAL_ERR_USAGE;
		return -2;
	}
	return fd;
}

static void write_report(int fd, const corral_result *result, const corral_policy *policy,
                         const corral_error *err)
{
	char *json = corral_result_to_json(result, policy, err);
	if (!json)
		return;
	size_t len = strlen(json);
	json[len] = '\0';
	if (write_all(fd, json, len) < 0 || write_all(fd, "\n", 1) < 0)
		fprintf(stderr, "corral: --report: %s\n", strerror(errno));
	free(json);
}

static void explain_verbose(const corral_result *result)
{
	const corral_enforcement *e = &result->enforcement;
	fprintf(stderr,
	        "corral: limits enforced by: memory=%s pids=%s cpus=%s timeout=%s cpu_time=%s "
	        "output=%s disk=%s open_files=%s file_size=%s\n",
	        e->memory, e->pids, e->cpus, e->timeout, e->cpu_time, e->output, e->disk,
	        e->open_files, e->file_size);
	if (e->weaker[0])
		fprintf(stderr, "corral: weaker limits: %s\n", e->weaker);
	for (size_t i = 0; i < result->n_denials; i++) {
		const corral_denial *d = &result->denials[i];
		fprintf(stderr, "corral: denied %s %s%s%s (%llu time%s)\n", d->kind, d->name,
		        d->access[0] ? " " : "", d->access, (unsigned long long)d->count,
		        d->count == 1 ? "" : "s");
	}
	if (e->path_denials_why[0])
		fprintf(stderr, "corral: path denials %s: %s\n",
		        e->path_denials && strcmp(e->path_denials, "audit") == 0 ? "may be incomplete"
		                                                                 : "not reported",
		        e->path_denials_why);
	fprintf(stderr, "corral: %s after %llu ms\n", corral_status_name(result->status),
	        (unsigned long long)(result->wall_ns / 1000000));
}

int cmd_run(int argc, char **argv)
{
	struct run_options opts;
	corral_error err = {0};
	int exit_code = CORRAL_EXIT_FAILURE;
	int report_fd = -1;
	int sigfd = -1;
	bool blocked = false;
	sigset_t mask, saved;

	int parsed = run_options_parse(&opts, OPTIONS_RUN, argc, argv, &err);
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
	report_fd = open_report(opts.report_path, &err);
	if (report_fd == -2) {
		cli_print_error(&err);
		goto cleanup;
	}

	/* Block before starting so no forwarded signal is lost in between;
	 * the sandbox's processes get a clean mask from corral's init. */
	sigemptyset(&mask);
	for (size_t i = 0; i < sizeof forwarded_signals / sizeof forwarded_signals[0]; i++)
		sigaddset(&mask, forwarded_signals[i]);
	sigprocmask(SIG_BLOCK, &mask, &saved);
	blocked = true;
	sigfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sigfd < 0) {
		fprintf(stderr, "corral: signalfd: %s\n", strerror(errno));
		goto cleanup;
	}

	corral_io io = CORRAL_IO_INHERIT;
	io.signal_fd = sigfd;
	corral_result result;
	if (corral_run(opts.policy, opts.argv, &io, &result, &err) < 0) {
		cli_print_error(&err);
		exit_code = corral_error_exit_code(&err);
	} else {
		exit_code = corral_result_exit_code(&result);
		if (opts.verbose)
			explain_verbose(&result);
	}
	if (report_fd >= 0)
		write_report(report_fd, &result, opts.policy, &err);
cleanup:
	if (sigfd >= 0)
		close(sigfd);
	if (blocked)
		sigprocmask(SIG_SETMASK, &saved, NULL);
	if (report_fd > STDERR_FILENO && strncmp(opts.report_path, "fd:", 3) != 0)
		close(report_fd);
	run_options_free(&opts);
	return exit_code;
}
