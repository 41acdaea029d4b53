/* Build-time generator: compiles corral's default seccomp policy with
 * libseccomp and writes it as C arrays, so runs need not recompile it. */
#include "seccomp/seccomp_filter.h"

#include <stdio.h>

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: seccomp-generate OUTPUT.h\n");
		return 2;
	}
	struct seccomp_options options = {.notify_denials = true};
	struct seccomp_program *program = NULL;
	corral_error err = {0};
	if (seccomp_program_compile(&options, &program, &err) < 0) {
		fprintf(stderr, "seccomp-generate: %s\n", err.message);
		return 1;
	}
	FILE *out = fopen(argv[1], "w");
	if (!out) {
		perror(argv[1]);
		seccomp_program_free(program);
		return 1;
	}
	int rc = seccomp_program_write_c(program, out);
	if (fclose(out) != 0)
		rc = -1;
	seccomp_program_free(program);
	if (rc < 0) {
		fprintf(stderr, "seccomp-generate: writing %s failed\n", argv[1]);
		return 1;
	}
	return 0;
}
