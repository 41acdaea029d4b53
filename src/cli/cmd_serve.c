/* corral serve: options only; the daemon is src/server. */
#include "cli/cli.h"

#include "policy/parse.h"
#include "server/server.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void print_help(void)
{
	printf("Usage: corral serve [OPTIONS]\n"
	       "\n"
	       "Serve sandboxes over HTTP (docs/api.md): create idle sandboxes, run commands\n"
	       "in them, move files in and out, delete them. Runs in the foreground, logs JSON\n"
	       "lines on stderr; SIGTERM or SIGINT kill every sandbox and stop.\n"
	       "\n"
	       "  --socket PATH          Unix socket, mode 0600 (default /run/corral/corral.sock\n"
	       "                         for root, else $XDG_RUNTIME_DIR/corral.sock)\n"
	       "  --listen IP:PORT       also serve on TCP; needs --token-file\n"
	       "  --token-file FILE      bearer token for TCP (first line, >= 16 characters;\n"
	       "                         the file must not be readable by group or others)\n"
	       "  --policy FILE          base policy of every sandbox; its limits are also the\n"
	       "                         most a client may ask for\n"
	       "  --max-sandboxes N      sandboxes alive at once (default 64; then 429)\n"
	       "  --ttl DURATION         default lifetime of a sandbox (default 30m)\n"
	       "  --max-ttl DURATION     longest lifetime a client may ask (default 24h)\n"
	       "  --exec-timeout DURATION      default per-command timeout (default 60s)\n"
	       "  --max-exec-timeout DURATION  longest a client may ask (default 1h)\n"
	       "  --max-output SIZE      stdout (and stderr) kept per command at most\n"
	       "                         (default 16M; a request's default is 1M)\n"
	       "  --max-file-size SIZE   one file through /files (default 64M; then 413)\n"
	       "  --max-connections N    concurrent HTTP connections (default 256)\n"
	       "  --warm N               keep N sandboxes of the base policy started, so that\n"
	       "                         creating one with no policy keys is fast (default 0)\n"
	       "  --store DIR            the store whose directory keeps serve.db, the record\n"
	       "                         of this daemon's sandboxes (default: corral's store)\n");
}

static int read_token(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		fprintf(stderr, "corral: --token-file %s: %s\n", path, strerror(errno));
		return -1;
	}
	struct stat st;
	bool shared = fstat(fileno(f), &st) != 0 || (st.st_mode & 0077);
	char *line = fgets(buf, (int)size, f);
	fclose(f);
	if (shared) {
		fprintf(stderr, "corral: --token-file %s: readable by group or others; chmod 600 it\n",
		        path);
		return -1;
	}
	if (line)
		buf[strcspn(buf, "\r\n")] = '\0';
	if (!line || strlen(buf) < 16) {
		fprintf(stderr, "corral: --token-file %s: the token must be at least 16 characters\n",
		        path);
		return -1;
	}
	return 0;
}

static int duration_opt(const char *flag, const char *v, uint64_t *out)
{
	if (parse_duration_ms(v, out) < 0 || *out == 0 || *out == LIMIT_UNLIMITED) {
		fprintf(stderr, "corral: %s %s: expected a finite duration (\"30m\")\n", flag, v);
		return -1;
	}
	return 0;
}

static int size_opt(const char *flag, const char *v, uint64_t *out)
{
	if (parse_size(v, out) < 0 || *out == 0 || *out == LIMIT_UNLIMITED || *out > (1ull << 34)) {
		fprintf(stderr, "corral: %s %s: expected a size (\"64M\")\n", flag, v);
		return -1;
	}
	return 0;
}

static int count_opt(const char *flag, const char *v, uint64_t max, uint64_t *out)
{
	if (parse_count(v, out) < 0 || *out == 0 || *out > max) {
		fprintf(stderr, "corral: %s %s: expected a count from 1 to %llu\n", flag, v,
		        (unsigned long long)max);
		return -1;
	}
	return 0;
}

int cmd_serve(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"help", no_argument, NULL, 'h'},
		{"socket", required_argument, NULL, 's'},
		{"listen", required_argument, NULL, 'l'},
		{"token-file", required_argument, NULL, 't'},
		{"policy", required_argument, NULL, 'p'},
		{"max-sandboxes", required_argument, NULL, 'n'},
		{"ttl", required_argument, NULL, 'T'},
		{"max-ttl", required_argument, NULL, 'M'},
		{"exec-timeout", required_argument, NULL, 'e'},
		{"max-exec-timeout", required_argument, NULL, 'E'},
		{"max-output", required_argument, NULL, 'o'},
		{"max-file-size", required_argument, NULL, 'f'},
		{"max-connections", required_argument, NULL, 'c'},
		{"warm", required_argument, NULL, 'w'},
		{"store", required_argument, NULL, 'S'},
		{NULL, 0, NULL, 0},
	};
	struct server_options o = {
		.limits = {.default_ttl_ms = 30 * 60 * 1000, .max_ttl_ms = 24 * 3600 * 1000,
		           .max_sandboxes = 64},
		.max_file_bytes = (size_t)64 << 20,
		.default_exec_timeout_ms = 60 * 1000,
		.max_exec_timeout_ms = 3600 * 1000,
		.default_output = 1 << 20,
		.max_output = 16 << 20,
		.max_connections = 256,
	};
	const char *token_file = NULL, *policy_file = NULL;
	uint64_t v;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		int rc = 0;
		switch (c) {
		case 'h': print_help(); return 0;
		case 's': o.socket_path = optarg; break;
		case 'l': o.listen = optarg; break;
		case 't': token_file = optarg; break;
		case 'p': policy_file = optarg; break;
		case 'n':
			rc = count_opt("--max-sandboxes", optarg, 100000, &v);
			o.limits.max_sandboxes = (size_t)v;
			break;
		case 'T': rc = duration_opt("--ttl", optarg, &o.limits.default_ttl_ms); break;
		case 'M': rc = duration_opt("--max-ttl", optarg, &o.limits.max_ttl_ms); break;
		case 'e': rc = duration_opt("--exec-timeout", optarg, &o.default_exec_timeout_ms); break;
		case 'E': rc = duration_opt("--max-exec-timeout", optarg, &o.max_exec_timeout_ms); break;
		case 'o': rc = size_opt("--max-output", optarg, &o.max_output); break;
		case 'f':
			rc = size_opt("--max-file-size", optarg, &v);
			o.max_file_bytes = (size_t)v;
			break;
		case 'c':
			rc = count_opt("--max-connections", optarg, 10000, &v);
			o.max_connections = (unsigned)v;
			break;
		case 'w':
			rc = parse_count(optarg, &v) < 0 || v > 1000 ? -1 : 0;
			if (rc < 0)
				fprintf(stderr, "corral: --warm %s: expected a count from 0 to 1000\n", optarg);
			o.limits.warm = (size_t)v;
			break;
		case 'S': o.store_dir = optarg; break;
		default: return CORRAL_EXIT_FAILURE;
		}
		if (rc < 0)
			return CORRAL_EXIT_FAILURE;
	}
	if (optind < argc) {
		fprintf(stderr, "corral: serve: unexpected argument '%s'\n", argv[optind]);
		return CORRAL_EXIT_FAILURE;
	}
	if (!o.listen != !token_file) {
		fprintf(stderr, "corral: serve: --listen and --token-file go together "
		                "(TCP needs a token)\n");
		return CORRAL_EXIT_FAILURE;
	}
	if (o.limits.default_ttl_ms > o.limits.max_ttl_ms)
		o.limits.max_ttl_ms = o.limits.default_ttl_ms;
	if (o.default_exec_timeout_ms > o.max_exec_timeout_ms)
		o.max_exec_timeout_ms = o.default_exec_timeout_ms;
	if (o.default_output > o.max_output)
		o.default_output = o.max_output;
	char token[512];
	if (token_file && read_token(token_file, token, sizeof token) < 0)
		return CORRAL_EXIT_FAILURE;
	o.token = token_file ? token : NULL;
	char *policy = NULL;
	if (policy_file) {
		corral_policy *p = corral_policy_new();
		corral_error err = {0};
		if (!p || corral_policy_merge_file(p, policy_file, &err) < 0) {
			corral_policy_free(p);
			cli_print_error(&err);
			return CORRAL_EXIT_FAILURE;
		}
		policy = corral_policy_to_json(p);
		corral_policy_free(p);
		if (!policy)
			return CORRAL_EXIT_FAILURE;
		o.limits.base_policy_json = policy;
	}
	int code = server_run(&o);
	explicit_bzero(token, sizeof token);
	free(policy);
	return code;
}
