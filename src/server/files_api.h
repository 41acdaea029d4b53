/*
 * /v1/sandboxes/{id}/files?path=P: raw bytes in and out of a running
 * sandbox through the library's safe file primitives (resolved inside the
 * sandbox's root with the sandboxed user's rights: nothing on the host is
 * reachable). GET with list=1 lists a directory as JSON; DELETE takes
 * recursive=1.
 */
#ifndef CORRAL_SERVER_FILES_API_H
#define CORRAL_SERVER_FILES_API_H

#include "server/reply.h"
#include "server/sandboxes.h"

#include <stdbool.h>
#include <stddef.h>

void files_read(struct sbx *s, const char *path, size_t max_bytes, struct reply *r);
void files_list(struct sbx *s, const char *path, size_t max_entries, struct reply *r);
void files_write(struct sbx *s, const char *path, const void *data, size_t len, struct reply *r);
void files_remove(struct sbx *s, const char *path, bool recursive, struct reply *r);

#endif
