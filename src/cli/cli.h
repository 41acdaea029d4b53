/* The corral command line: thin subcommands over libcorral. Each returns
 * the process exit code. */
#ifndef CORRAL_CLI_H
#define CORRAL_CLI_H

#include "corral.h"

#include <stdbool.h>

struct run_options {
	corral_policy *policy;
	char **argv;          /* the command, NULL-terminated, points into main's argv */
	bool verbose;
	bool print_policy;
	const char *report_path;  /* --report: FILE, "-" or "fd:N" */    /* --print-policy: show the effective policy JSON and exit */
};

/* Parse `corral run` options; on error fills err (kind USAGE) and returns -1.
 * Returns 1 when --help was handled. */
int run_options_parse(struct run_options *opts, int argc, char **argv, corral_error *err);
void run_options_free(struct run_options *opts);

int cmd_run(int argc, char **argv);
int cmd_check(int argc, char **argv);

void cli_print_error(const corral_error *err);
void cli_print_run_help(void);

#endif
