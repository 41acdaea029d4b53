/* The sandboxed command's environment: scrubbed, then the policy's
 * additions. Built in the supervisor. */
#ifndef CORRAL_JAIL_ENVIRONMENT_H
#define CORRAL_JAIL_ENVIRONMENT_H

#include "corral.h"

#include <stddef.h>

struct environment {
	char **vars;  /* NULL-terminated "KEY=VALUE" */
	size_t n;
};

int environment_build(struct environment *env, const corral_policy *policy, corral_error *err);
void environment_free(struct environment *env);

#endif
