/*
 * POST /v1/sandboxes/{id}/snapshots: the sandbox's changes so far become a
 * snapshot of the server's store (corral_sandbox_snapshot), which new
 * sandboxes start from with {"from": NAME}.
 */
#ifndef CORRAL_SERVER_SNAPSHOTS_API_H
#define CORRAL_SERVER_SNAPSHOTS_API_H

#include "server/reply.h"
#include "server/sandboxes.h"

#include <stddef.h>

/* body: empty or {"name": NAME}; without a name, one is made from the
 * sandbox's id and the time. */
void snapshots_create(struct sbx *s, const char *body, size_t len, struct reply *r);

#endif
