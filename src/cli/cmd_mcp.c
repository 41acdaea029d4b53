/* corral mcp: the MCP server over stdio (src/mcp). The sandbox options are
 * corral run's; --timeout and --output-limit apply to each call. */
#include "cli/cli.h"

#include "mcp/mcp_http.h"
#include "mcp/mcp_server.h"
#include "policy/parse.h"
#include "policy/policy.h"
#include "util/error.h"

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MCP_DEFAULT_CALL_TIMEOUT_MS 60000u
#define MCP_DEFAULT_OUTPUT_CAP (256u << 10)

void cli_print_mcp_help(void)
{
	printf("Usage: corral mcp [OPTIONS]\n"
	       "\n"
	       "Serve the Model Context Protocol on stdin/stdout (JSON-RPC, one message per\n"
	       "line) for an LLM agent: one sandboxed session with a persistent Python\n"
	       "namespace, a shell, Node.js and file tools (run_python, run_shell,\n"
	       "run_javascript, write_file, read_file, list_files, reset). See docs/mcp.md.\n"
	       "\n"
	       "Every option of corral run applies to the session's sandbox, except:\n"
	       "  --timeout DURATION    limit of each call (default 60s; a call may ask less)\n"
	       "  --output-limit SIZE   stdout+stderr returned per call (default 256K)\n"
	       "  --workspace DIR       share host folder DIR as /workspace (default: a\n"
	       "                        private tmpfs of --disk size, emptied by reset)\n"
	       "  --python PROGRAM      the interpreter inside the sandbox (default python3)\n"
	       "  -v, --verbose         log sessions and calls on stderr\n"
	       "  --listen HOST:PORT    serve the Streamable HTTP transport at /mcp instead of\n"
	       "                        stdio; every request needs the token (--token-file)\n"
	       "  --token-file FILE     the bearer token (first line; at least 16 characters)\n"
	       "\n"
	       "--memory, --pids, --cpu-time and --disk bound the whole session: a call that\n"
	       "exceeds one ends the session, and the next call starts a fresh one.\n"
	       "\n"
	       "Exit status: 0 when the client closes stdin or on SIGTERM/SIGINT; 125 on bad\n"
	       "options.\n");
}

/* The per-call value of a limit given on the command line, or the default;
 * a call must always be bounded. */
static int per_call_limit(bool set, uint64_t value, uint64_t fallback, const char *flag,
                          uint64_t *out, corral_error *err)
{
	if (!set) {
		*out = fallback;
		return 0;
	}
	if (value == LIMIT_UNLIMITED || value == 0)
		return error_set(err, CORRAL_ERR_USAGE, 0,
		                 "mcp: %s must be a finite, non-zero value: every call is bounded", flag);
	*out = value;
	return 0;
}

/* The first line of FILE, which must be at least 16 bytes and not
 * readable by others. */
static int read_token(const char *path, char *buf, size_t size, corral_error *err)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return error_set(err, CORRAL_ERR_USAGE, errno, "--token-file %s", path);
	struct stat st;
	bool shared = fstat(fileno(f), &st) == 0 && (st.st_mode & 0004);
	char *line = fgets(buf, (int)size, f);
	fclose(f);
	if (shared)
		return error_set(err, CORRAL_ERR_USAGE, 0,
		                 "--token-file %s: readable by every user; chmod o-r it", path);
	if (!line)
		return error_set(err, CORRAL_ERR_USAGE, 0, "--token-file %s: empty", path);
	buf[strcspn(buf, "\r\n")] = '\0';
	if (strlen(buf) < 16)
		return error_set(err, CORRAL_ERR_USAGE, 0,
		                 "--token-file %s: the token must be at least 16 characters", path);
	return 0;
}

int cmd_mcp(int argc, char **argv)
{
	struct run_options opts;
	corral_error err = {0};
	int code = CORRAL_EXIT_FAILURE;

	int parsed = run_options_parse(&opts, OPTIONS_MCP, argc, argv, &err);
	if (parsed == 1) {
		code = 0;
		goto cleanup;
	}
	if (parsed < 0)
		goto fail;

	corral_policy *p = opts.policy;
	struct mcp_options mcp = {.policy = p, .python = opts.python ? opts.python : "python3"};
	if (per_call_limit(opts.timeout_set, p->limits.timeout_ms, MCP_DEFAULT_CALL_TIMEOUT_MS,
	                   "--timeout", &mcp.call_timeout_ms, &err) < 0 ||
	    per_call_limit(opts.output_limit_set, p->limits.output_bytes, MCP_DEFAULT_OUTPUT_CAP,
	                   "--output-limit", &mcp.output_cap, &err) < 0)
		goto fail;
	/* The session itself lives as long as the client; its output flows
	 * through the driver, which caps each call. */
	if (policy_set_limit(p, POLICY_LIMIT_TIMEOUT, "unlimited", &err) < 0 ||
	    policy_set_limit(p, POLICY_LIMIT_OUTPUT, "unlimited", &err) < 0)
		goto fail;
	mcp.shared_workspace = p->workspace != NULL;
	mcp.verbose = opts.verbose;
	if (!mcp.shared_workspace &&
	    corral_policy_add_mount(p, CORRAL_MOUNT_TMPFS, NULL, POLICY_WORKSPACE_PATH, &err) < 0)
		goto fail;
	if (!p->cwd && corral_policy_set_cwd(p, POLICY_WORKSPACE_PATH, &err) < 0)
		goto fail;
	/* Plots render to PNG without a display. */
	if (corral_policy_set_env(p, "MPLBACKEND=Agg", &err) < 0)
		goto fail;
	mcp.memory_limit = p->limits.memory_bytes;
	mcp.cpu_time_limit_ms = p->limits.cpu_time_ms;

	if (opts.print_policy) {
		char *json = corral_policy_to_json(p);
		if (!json) {
			error_set(&err, CORRAL_ERR_INTERNAL, 0, "out of memory");
			goto fail;
		}
		printf("%s\n", json);
		free(json);
		code = 0;
		goto cleanup;
	}
	if (opts.listen || opts.token_file) {
		if (!opts.listen || !opts.token_file) {
			error_set(&err, CORRAL_ERR_USAGE, 0,
			          "mcp: --listen and --token-file go together (HTTP needs a token)");
			goto fail;
		}
		char token[512];
		if (read_token(opts.token_file, token, sizeof token, &err) < 0)
			goto fail;
		code = mcp_http_serve(&mcp, opts.listen, token);
		explicit_bzero(token, sizeof token);
		goto cleanup;
	}
	if (isatty(STDIN_FILENO))
		fprintf(stderr, "corral mcp: speaking MCP (JSON-RPC, one message per line) on "
		                "stdin/stdout; see docs/mcp.md\n");
	code = mcp_server_run(&mcp, STDIN_FILENO, STDOUT_FILENO);
	goto cleanup;
fail:
	cli_print_error(&err);
	code = corral_error_exit_code(&err);
cleanup:
	run_options_free(&opts);
	return code;
}
