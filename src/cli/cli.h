/* The corral command line: thin subcommands over libcorral. Each returns
 * the process exit code. */
#ifndef CORRAL_CLI_H
#define CORRAL_CLI_H

#include "corral.h"

#include <stdbool.h>

/* The sandbox options `corral run` and `corral mcp` share. */
enum options_mode { OPTIONS_RUN, OPTIONS_MCP };

struct run_options {
	corral_policy *policy;
	char **argv;              /* run: the command, NULL-terminated, points into main's argv */
	bool verbose;
	bool print_policy;        /* --print-policy: show the effective policy JSON and exit */
	const char *report_path;  /* run --report: FILE, "-" or "fd:N" */
	const char *python;       /* mcp --python */
	const char *listen;       /* mcp --listen HOST:PORT */
	const char *token_file;   /* mcp --token-file FILE */
	bool timeout_set;         /* --timeout was given */
	bool output_limit_set;    /* --output-limit was given */
};

/* Parse `corral run` or `corral mcp` options; on error fills err (kind
 * USAGE) and returns -1. Returns 1 when --help was handled. */
int run_options_parse(struct run_options *opts, enum options_mode mode, int argc, char **argv,
                      corral_error *err);
void run_options_free(struct run_options *opts);

int cmd_run(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_mcp(int argc, char **argv);

void cli_print_error(const corral_error *err);
void cli_print_run_help(void);
void cli_print_mcp_help(void);

#endif
