/* corral serve's sandboxes as JSON: one in detail, or the list. */
#ifndef CORRAL_SERVER_SBX_JSON_H
#define CORRAL_SERVER_SBX_JSON_H

#include "server/sandboxes.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* {id, state, created, expires, execs, [report]} */
json_t *sbx_json(struct registry *reg, struct sbx *s, bool detail);
json_t *registry_list_json(struct registry *reg);
/* "2026-01-02T03:04:05.678Z" */
json_t *time_json(int64_t ms);

#endif
