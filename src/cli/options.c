#include "cli/cli.h"

#include "policy/policy.h"
#include "util/error.h"
#include "util/strings.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
	OPT_WORKSPACE = 1000,
	OPT_BIND,
	OPT_RO_BIND,
	OPT_TMPFS,
	OPT_CWD,
	OPT_ENV,
	OPT_PASS_ENV,
	OPT_UID,
	OPT_HOSTNAME,
	OPT_PROFILE,
	OPT_PRINT_POLICY,
	OPT_REPORT,
	OPT_PYTHON,
	OPT_LISTEN,
	OPT_TOKEN_FILE,
	OPT_ALLOW_NET,
	OPT_NET_HOST,
	OPT_NET_LOG,
	OPT_NET_RULE_CMD,
	OPT_INTERCEPT,
	OPT_NET_CA,
	OPT_SECRET,
	OPT_IMAGE,
	OPT_FROM,
	OPT_STATE,
	OPT_STATE_DIR,
	OPT_VOLUME,
	OPT_LIMIT_BASE = 2000, /* + enum policy_limit_id */
};

static const struct option run_long_options[] = {
	{"workspace", required_argument, NULL, OPT_WORKSPACE},
	{"bind", required_argument, NULL, OPT_BIND},
	{"ro-bind", required_argument, NULL, OPT_RO_BIND},
	{"tmpfs", required_argument, NULL, OPT_TMPFS},
	{"cwd", required_argument, NULL, OPT_CWD},
	{"env", required_argument, NULL, OPT_ENV},
	{"pass-env", required_argument, NULL, OPT_PASS_ENV},
	{"uid", required_argument, NULL, OPT_UID},
	{"hostname", required_argument, NULL, OPT_HOSTNAME},
	{"profile", required_argument, NULL, OPT_PROFILE},
	{"print-policy", no_argument, NULL, OPT_PRINT_POLICY},
	{"report", required_argument, NULL, OPT_REPORT},
	{"python", required_argument, NULL, OPT_PYTHON},
	{"listen", required_argument, NULL, OPT_LISTEN},
	{"token-file", required_argument, NULL, OPT_TOKEN_FILE},
	{"allow-net", required_argument, NULL, OPT_ALLOW_NET},
	{"net-host", required_argument, NULL, OPT_NET_HOST},
	{"net-log", required_argument, NULL, OPT_NET_LOG},
	{"net-rule-cmd", required_argument, NULL, OPT_NET_RULE_CMD},
	{"intercept", no_argument, NULL, OPT_INTERCEPT},
	{"net-ca", required_argument, NULL, OPT_NET_CA},
	{"secret", required_argument, NULL, OPT_SECRET},
	{"image", required_argument, NULL, OPT_IMAGE},
	{"from", required_argument, NULL, OPT_FROM},
	{"state", required_argument, NULL, OPT_STATE},
	{"state-dir", required_argument, NULL, OPT_STATE_DIR},
	{"volume", required_argument, NULL, OPT_VOLUME},
	{"memory", required_argument, NULL, OPT_LIMIT_BASE + POLICY_LIMIT_MEMORY},
	{"pids", required_argument, NULL, OPT_LIMIT_BASE + POLICY_LIMIT_PIDS},
	{"cpus", required_argument, NULL, OPT_LIMIT_BASE + POLICY_LIMIT_CPUS},
	{"timeout", required_argument, NULL, OPT_LIMIT_BASE + POLICY_LIMIT_TIMEOUT},
	{"cpu-time", required_argument, NULL, OPT_LIMIT_BASE + POLICY_LIMIT_CPU_TIME},
	{"output-limit", required_argument, NULL, OPT_LIMIT_BASE + POLICY_LIMIT_OUTPUT},
	{"disk", required_argument, NULL, OPT_LIMIT_BASE + POLICY_LIMIT_DISK},
	{"open-files", required_argument, NULL, OPT_LIMIT_BASE + POLICY_LIMIT_OPEN_FILES},
	{"file-size", required_argument, NULL, OPT_LIMIT_BASE + POLICY_LIMIT_FILE_SIZE},
	{"verbose", no_argument, NULL, 'v'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

void cli_print_run_help(void)
{
	printf("Usage: corral run [OPTIONS] [--] CMD [ARGS...]\n"
	       "\n"
	       "Run CMD isolated: its own user, pid, mount, network (loopback only), ipc, uts\n"
	       "and cgroup namespaces; a fresh read-only root showing only the system; no\n"
	       "capabilities; seccomp and landlock. stdin/stdout/stderr are passed through.\n"
	       "\n"
	       "File system:\n"
	       "  --workspace DIR       bind DIR read-write at /workspace and start there\n"
	       "  --bind SRC[:DST]      bind host SRC read-write at DST (default: same path)\n"
	       "  --ro-bind SRC[:DST]   bind host SRC read-only at DST\n"
	       "  --tmpfs DST           mount an empty tmpfs at DST\n"
	       "  --cwd DIR             working directory inside the sandbox\n"
	       "\n"
	       "Images, snapshots and volumes (docs/store.md):\n"
	       "  --image NAME          the root is image NAME from the store (default: the\n"
	       "                        host's system, read-only); writes go to an upper layer\n"
	       "                        on a tmpfs of --disk bytes\n"
	       "  --from SNAPSHOT       the root is SNAPSHOT (over its image), writes to a\n"
	       "                        fresh upper layer of this sandbox's own\n"
	       "  --state DIR           keep the writes in DIR (DIR/upper) across runs, for\n"
	       "                        'corral snapshot create --state DIR'; needs --image or\n"
	       "                        --from the first time\n"
	       "  --volume NAME:DST[:ro] bind the store's volume NAME at DST\n"
	       "  --state-dir DIR       the store (default /var/lib/corral for root, else\n"
	       "                        $XDG_STATE_HOME/corral)\n"
	       "\n"
	       "Identity and environment:\n"
	       "  --uid N               uid/gid inside the sandbox (default 1000; 0 is root\n"
	       "                        inside the sandbox's user namespace only)\n"
	       "  --hostname NAME       host name inside (default corral)\n"
	       "  --env KEY=VALUE       set a variable (the environment is otherwise scrubbed)\n"
	       "  --pass-env KEY        copy a variable from the caller's environment\n"
	       "\n"
	       "Network (none by default; see docs/network.md):\n"
	       "  --allow-net RULE      allow connections through corral's proxy to RULE:\n"
	       "                        host, *.host, host:port, an IP address or a CIDR\n"
	       "  --net-host NAME=IP    make the proxy resolve NAME to IP (may be private)\n"
	       "  --net-log FILE        append one JSON line per connection to FILE\n"
	       "  --net-rule-cmd PROG   ask PROG (on the host; request JSON on stdin, exit 0\n"
	       "                        allows) about destinations no rule allows\n"
	       "  --intercept           terminate TLS with corral's CA: every HTTPS request is\n"
	       "                        decided (path rules: 'GET https://host/path*') and logged\n"
	       "  --net-ca FILE         also trust this PEM CA for upstream servers\n"
	       "  --secret NAME@HOSTS   $NAME inside is a placeholder the proxy replaces with\n"
	       "                        the caller's $NAME in requests to HOSTS (a,*.b) only;\n"
	       "                        NAME=VALUE@HOSTS gives the value (implies --intercept)\n"
	       "\n"
	       "Limits (SIZE: 512K, 64M, 1.5G or bytes; DURATION: 250ms, 10s, 5m; any: unlimited):\n"
	       "  --memory SIZE         RAM of the whole sandbox, swap off (default 1G)\n"
	       "  --pids N              processes and threads together (default 256)\n"
	       "  --cpus N.N            CPU bandwidth (default unlimited)\n"
	       "  --timeout DURATION    wall clock; exit 124 when hit (default 5m)\n"
	       "  --cpu-time DURATION   CPU time of all processes together (default unlimited)\n"
	       "  --output-limit SIZE   stdout+stderr delivered; the sandbox stops past it\n"
	       "                        (default 64M; unlimited passes the terminal through)\n"
	       "  --disk SIZE           size of each writable tmpfs: /tmp, HOME, /dev/shm (default 1G)\n"
	       "  --open-files N        open files per process (default 1024)\n"
	       "  --file-size SIZE      largest file a process may write (default unlimited)\n"
	       "  --report FILE         write the JSON run report to FILE ('-' for stderr,\n"
	       "                        'fd:N' for an inherited descriptor)\n"
	       "\n"
	       "Policy:\n"
	       "  --profile FILE        apply a policy file (JSON, see docs/policy.md); later\n"
	       "                        options add to it\n"
	       "  --print-policy        print the effective policy as JSON and exit\n"
	       "\n"
	       "  -v, --verbose         explain what corral does\n"
	       "  -h, --help            show this help\n"
	       "\n"
	       "Exit status: the command's; 128+N if killed by signal N; 124 on --timeout;\n"
	       "137 when another limit stopped the sandbox; 125 if corral failed; 126 if CMD\n"
	       "is not executable; 127 if CMD was not found.\n");
}

/* "NAME:DST[:ro]" */
static int add_volume(corral_policy *policy, const char *arg, corral_error *err)
{
	const char *colon = strchr(arg, ':');
	if (!colon || colon == arg || !colon[1])
		return error_set(err, CORRAL_ERR_USAGE, 0, "--volume %s: expected NAME:/PATH[:ro]", arg);
	const char *mode = strchr(colon + 1, ':');
	bool readonly = false;
	if (mode) {
		if (strcmp(mode, ":ro") != 0 && strcmp(mode, ":rw") != 0)
			return error_set(err, CORRAL_ERR_USAGE, 0,
			                 "--volume %s: expected NAME:/PATH[:ro] (':%s' is neither ro nor rw)",
			                 arg, mode + 1);
		readonly = strcmp(mode, ":ro") == 0;
	}
	char *name = strndup(arg, (size_t)(colon - arg));
	char *target = mode ? strndup(colon + 1, (size_t)(mode - colon - 1)) : strdup(colon + 1);
	int rc = name && target ? corral_policy_add_volume(policy, name, target, readonly, err)
	                        : error_set(err, CORRAL_ERR_INTERNAL, 0, "out of memory");
	free(name);
	free(target);
	return rc;
}

/* "SRC[:DST]" */
static int add_bind(corral_policy *policy, enum corral_mount_type type, const char *arg,
                    corral_error *err)
{
	const char *colon = strchr(arg, ':');
	if (!colon)
		return corral_policy_add_mount(policy, type, arg, NULL, err);
	char *source = strndup(arg, (size_t)(colon - arg));
	if (!source)
		return error_set(err, CORRAL_ERR_INTERNAL, 0, "out of memory");
	int rc = corral_policy_add_mount(policy, type, source, colon + 1, err);
	free(source);
	return rc;
}

static int apply_option(struct run_options *opts, enum options_mode mode, int opt,
                        const char *arg, corral_error *err)
{
	corral_policy *p = opts->policy;
	unsigned long long n;
	const char *cmd = mode == OPTIONS_MCP ? "mcp" : "run";
	/* Options that belong to one subcommand only. */
	bool mcp_only = opt == OPT_PYTHON || opt == OPT_LISTEN || opt == OPT_TOKEN_FILE;
	if ((opt == OPT_REPORT && mode != OPTIONS_RUN) || (mcp_only && mode != OPTIONS_MCP)) {
		const char *name = "report";
		for (const struct option *o = run_long_options; o->name; o++)
			if (o->val == opt)
				name = o->name;
		return error_set(err, CORRAL_ERR_USAGE, 0, "%s: unknown option '--%s'", cmd, name);
	}
	switch (opt) {
	case OPT_WORKSPACE:
		return corral_policy_set_workspace(p, arg, err);
	case OPT_BIND:
		return add_bind(p, CORRAL_MOUNT_BIND, arg, err);
	case OPT_RO_BIND:
		return add_bind(p, CORRAL_MOUNT_RO_BIND, arg, err);
	case OPT_TMPFS:
		return corral_policy_add_mount(p, CORRAL_MOUNT_TMPFS, NULL, arg, err);
	case OPT_CWD:
		return corral_policy_set_cwd(p, arg, err);
	case OPT_ENV:
		return corral_policy_set_env(p, arg, err);
	case OPT_PASS_ENV:
		return corral_policy_pass_env(p, arg, err);
	case OPT_UID:
		if (parse_uint(arg, 65533, &n) < 0)
			return error_set(err, CORRAL_ERR_USAGE, 0,
			                 "--uid %s: expected a number from 0 to 65533", arg);
		return corral_policy_set_uid(p, (uid_t)n, err);
	case OPT_HOSTNAME:
		return corral_policy_set_hostname(p, arg, err);
	case OPT_PROFILE:
		return corral_policy_merge_file(p, arg, err);
	case OPT_REPORT:
		opts->report_path = arg;
		return 0;
	case OPT_ALLOW_NET:
		return corral_policy_allow_net(p, arg, err);
	case OPT_NET_HOST:
		return corral_policy_net_host(p, arg, err);
	case OPT_NET_LOG:
		return corral_policy_set_net_log(p, arg, err);
	case OPT_NET_RULE_CMD:
		return corral_policy_set_net_rule_cmd(p, arg, err);
	case OPT_INTERCEPT:
		return corral_policy_set_intercept(p, true);
	case OPT_NET_CA:
		return corral_policy_set_net_ca(p, arg, err);
	case OPT_SECRET:
		return corral_policy_add_secret(p, arg, err);
	case OPT_IMAGE:
		return corral_policy_set_image(p, arg, err);
	case OPT_FROM:
		return corral_policy_set_from(p, arg, err);
	case OPT_STATE:
		return corral_policy_set_state(p, arg, err);
	case OPT_STATE_DIR:
		return corral_policy_set_store(p, arg, err);
	case OPT_VOLUME:
		return add_volume(p, arg, err);
	case OPT_LISTEN:
		opts->listen = arg;
		return 0;
	case OPT_TOKEN_FILE:
		opts->token_file = arg;
		return 0;
	case OPT_PYTHON:
		if (!arg[0])
			return error_set(err, CORRAL_ERR_USAGE, 0, "--python: expected a program name or path");
		opts->python = arg;
		return 0;
	case OPT_PRINT_POLICY:
		opts->print_policy = true;
		return 0;
	case 'v':
		opts->verbose = true;
		return 0;
	}
	if (opt == OPT_LIMIT_BASE + POLICY_LIMIT_TIMEOUT)
		opts->timeout_set = true;
	if (opt == OPT_LIMIT_BASE + POLICY_LIMIT_OUTPUT)
		opts->output_limit_set = true;
	if (opt >= OPT_LIMIT_BASE && opt < OPT_LIMIT_BASE + POLICY_LIMIT_COUNT)
		return policy_set_limit(p, (enum policy_limit_id)(opt - OPT_LIMIT_BASE), arg, err);
	return error_set(err, CORRAL_ERR_INTERNAL, 0, "unhandled option %d", opt);
}

int run_options_parse(struct run_options *opts, enum options_mode mode, int argc, char **argv,
                      corral_error *err)
{
	const char *cmd = mode == OPTIONS_MCP ? "mcp" : "run";
	memset(opts, 0, sizeof *opts);
	opts->policy = corral_policy_new();
	if (!opts->policy)
		return error_set(err, CORRAL_ERR_INTERNAL, 0, "out of memory");
	opterr = 0;
	optind = 1;
	int opt;
	/* '+': options end at the first non-option, which starts CMD. */
	while ((opt = getopt_long(argc, argv, "+vh", run_long_options, NULL)) != -1) {
		if (opt == 'h') {
			if (mode == OPTIONS_MCP)
				cli_print_mcp_help();
			else
				cli_print_run_help();
			return 1;
		}
		if (opt == '?') {
			const char *bad = argv[optind - 1];
			if (optopt && optopt < OPT_WORKSPACE && optopt != '?')
				return error_set(err, CORRAL_ERR_USAGE, 0, "%s: unknown option '-%c'", cmd,
				                 optopt);
			for (const struct option *o = run_long_options; optopt && o->name; o++)
				if (o->val == optopt)
					return error_set(err, CORRAL_ERR_USAGE, 0, "%s: --%s needs a value",
					                 cmd, o->name);
			return error_set(err, CORRAL_ERR_USAGE, 0, "%s: unknown option '%s'", cmd, bad);
		}
		if (apply_option(opts, mode, opt, optarg, err) < 0)
			return -1;
	}
	if (mode == OPTIONS_MCP) {
		if (optind < argc)
			return error_set(err, CORRAL_ERR_USAGE, 0,
			                 "mcp: unexpected argument '%s' (corral mcp takes options only)",
			                 argv[optind]);
		return 0;
	}
	if (optind >= argc) {
		if (opts->print_policy)
			return 0;
		return error_set(err, CORRAL_ERR_USAGE, 0,
		                 "run: no command given (usage: corral run [OPTIONS] [--] CMD [ARGS...])");
	}
	opts->argv = argv + optind;
	return 0;
}

void run_options_free(struct run_options *opts)
{
	corral_policy_free(opts->policy);
	opts->policy = NULL;
}

void cli_print_error(const corral_error *err)
{
	fprintf(stderr, "corral: %s\n", err->message[0] ? err->message : "unknown error");
}
