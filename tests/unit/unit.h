/* A tiny TAP-style harness for the C unit tests: CHECK() records a failure
 * with its location and carries on; unit_done() prints the tally and gives
 * the exit status (77 when every case skipped). */
#ifndef CORRAL_TESTS_UNIT_H
#define CORRAL_TESTS_UNIT_H

#include <stdio.h>
#include <stdlib.h>

static int unit_failures;
static int unit_checks;

#define CHECK(cond)                                                                        \
	do {                                                                               \
		unit_checks++;                                                             \
		if (!(cond)) {                                                             \
			unit_failures++;                                                   \
			fprintf(stderr, "not ok: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
		}                                                                          \
	} while (0)

#define SKIP_ALL(reason)                                   \
	do {                                               \
		printf("1..0 # SKIP %s\n", (reason));      \
		exit(77);                                  \
	} while (0)

static inline int unit_done(void)
{
	printf("%d checks, %d failed\n", unit_checks, unit_failures);
	return unit_failures ? 1 : 0;
}

#endif
