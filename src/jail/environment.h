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

/* `extra` ("NAME=VALUE", may be NULL) is applied last: egress's secret
 * placeholders and CA paths win over the policy's variables. */
int environment_build(struct environment *env, const corral_policy *policy, char *const *extra,
                      size_t n_extra, corral_error *err);
void environment_free(struct environment *env);

#endif
