/* The corral command line: thin subcommands over libcorral. Each returns
 * the process exit code. */
#ifndef CORRAL_CLI_H
#define CORRAL_CLI_H

#include "corral.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
int cmd_serve(int argc, char **argv);
int cmd_image(int argc, char **argv);
int cmd_snapshot(int argc, char **argv);
int cmd_volume(int argc, char **argv);
int cmd_gc(int argc, char **argv);

/* The store commands' options (store_cli.c). Exit codes: 0; 2 when the
 * caller's input was wrong (options, names, sources, unknown objects:
 * CORRAL_ERR_USAGE); corral_error_exit_code() otherwise. */
#define CLI_EXIT_USAGE 2
enum store_opt {
	STORE_OPT_JSON = 1 << 0,    /* --json */
	STORE_OPT_SIZE = 1 << 1,    /* --size SIZE */
	STORE_OPT_STATE = 1 << 2,   /* --state DIR */
	STORE_OPT_UPPER = 1 << 3,   /* --upper DIR */
	STORE_OPT_BASE = 1 << 4,    /* --base NAME */
};
struct store_args {
	const char *state_dir;      /* --state-dir, every command */
	bool json;
	const char *size;
	const char *state;
	const char *upper;
	const char *base;
	char **pos;                 /* the operands */
	int n_pos;
};
/* Parse the options of `corral CMD` (argv[0] is the last word of CMD),
 * allowing --state-dir, --help and those in `allowed`, then check there
 * are n_pos operands, named in `operands` for the message ("NAME").
 * Returns 0, 1 after printing `help` for --help, or -1 (usage error). */
int store_args_parse(const char *cmd, unsigned allowed, int n_pos, const char *operands,
                     const char *help, int argc, char **argv, struct store_args *args,
                     corral_error *err);
/* Print "corral: MESSAGE" and give the exit code. */
int store_cli_fail(const corral_error *err);
/* Run `fn` on the opened store; the exit code. */
int store_cli_run(const struct store_args *args,
                  int (*fn)(corral_store *store, const struct store_args *args, corral_error *err));
/* "912B", "1.5K", "23.4M" */
void store_cli_size(uint64_t bytes, char *buf, size_t size);
/* "2026-11-27T08:00:00Z" */
void store_cli_time(int64_t t, char *buf, size_t size);
/* Print a malloc'd JSON text (NULL: out of memory) and free it. */
int store_cli_print_json(char *json);

void cli_print_error(const corral_error *err);
void cli_print_run_help(void);
void cli_print_mcp_help(void);

#endif
