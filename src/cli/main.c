#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

static void print_usage(FILE *out)
{
	fprintf(out,
	        "Usage: corral COMMAND [OPTIONS]\n"
	        "\n"
	        "Run untrusted code isolated: namespaces, seccomp, landlock, no capabilities,\n"
	        "a fresh read-only root, no network.\n"
	        "\n"
	        "Commands:\n"
	        "  run [OPTIONS] [--] CMD [ARGS...]  run CMD in a sandbox (see corral run --help)\n"
	        "  check [--json]                    report what this host supports\n"
	        "  mcp [OPTIONS]                     serve MCP on stdio: sandboxed code tools for\n"
	        "                                    LLM agents (see corral mcp --help)\n"
	        "  serve [OPTIONS]                   serve sandboxes over HTTP on a Unix socket\n"
	        "                                    (see corral serve --help, docs/api.md)\n"
	        "  image import|ls|rm                images: read-only root file systems\n"
	        "  snapshot create|ls|inspect|rm     freeze what a sandbox changed into a layer\n"
	        "  volume create|ls|rm               named persistent directories\n"
	        "  gc                                free unused layers and leftovers\n"
	        "                                    (each takes --state-dir DIR and --help)\n"
	        "\n"
	        "Options:\n"
	        "  -h, --help     show this help\n"
	        "  -V, --version  show the version\n"
	        "\n"
	        "Exit codes of corral run: the command's own; 128+N if it was killed by signal N;\n"
	        "125 if corral itself failed; 126 if the command is not executable; 127 if it\n"
	        "was not found.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		print_usage(stderr);
		return 125;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
		print_usage(stdout);
		return 0;
	}
	if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) {
		printf("corral %s\n", corral_version());
		return 0;
	}
	if (strcmp(cmd, "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (strcmp(cmd, "mcp") == 0)
		return cmd_mcp(argc - 1, argv + 1);
	if (strcmp(cmd, "serve") == 0)
		return cmd_serve(argc - 1, argv + 1);
	if (strcmp(cmd, "check") == 0)
		return cmd_check(argc - 1, argv + 1);
	if (strcmp(cmd, "image") == 0)
		return cmd_image(argc - 1, argv + 1);
	if (strcmp(cmd, "snapshot") == 0)
		return cmd_snapshot(argc - 1, argv + 1);
	if (strcmp(cmd, "volume") == 0)
		return cmd_volume(argc - 1, argv + 1);
	if (strcmp(cmd, "gc") == 0)
		return cmd_gc(argc - 1, argv + 1);
	fprintf(stderr, "corral: unknown command '%s' (see corral --help)\n", cmd);
	return 125;
}
