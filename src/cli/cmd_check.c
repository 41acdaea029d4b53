#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

int cmd_check(int argc, char **argv)
{
	bool json = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			printf("Usage: corral check [--json]\n\n"
			       "Report what this host supports (user namespaces, cgroups, landlock,\n"
			       "seccomp, overlayfs, idmapped mounts) and what corral does about\n"
			       "anything missing. Exits 0 if corral can run here, 1 if not.\n");
			return 0;
		} else {
			fprintf(stderr, "corral: check: unknown option '%s'\n", argv[i]);
			return 125;
		}
	}
	fflush(stdout);
	return corral_host_check_print(1, json);
}
