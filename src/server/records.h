/*
 * corral serve's records of its sandboxes, in serve.db beside the store's
 * catalogue: id, the serving socket, the daemon's pid, policy, created,
 * expires, state and why it ended. A separate database rather than a table
 * of catalog.db: the catalogue is the store's (its schema versioned with the
 * CLI's commands, its writes serialised by the store's lock), while these
 * rows are the daemon's alone, written on every create and delete, and
 * disposable.
 *
 * Sandboxes never outlive their daemon (init's parent-death signal; the
 * sentinel removes the cgroup), so on start every row of this socket still
 * marked running belongs to a daemon that died: it is marked ended with
 * reason "daemon_restart", and GET answers it as ended for RECORDS_KEEP_S.
 * Recording failures are logged, never fatal: the records are a courtesy.
 */
#ifndef CORRAL_SERVER_RECORDS_H
#define CORRAL_SERVER_RECORDS_H

#include "corral.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define RECORDS_KEEP_S (24 * 3600)

struct records;

/* Open (creating) <dir>/serve.db; dir NULL: the default store's. */
struct records *records_open(const char *dir, const char *socket_path, corral_error *err);
void records_close(struct records *r);
/* End this socket's running rows (daemon_restart), forget old ended ones;
 * *n_ended: how many were running. */
int records_reconcile(struct records *r, size_t *n_ended, corral_error *err);
void records_created(struct records *r, const char *id, const char *policy_json,
                     int64_t created_ms, int64_t expires_ms);
void records_ended(struct records *r, const char *id, const char *reason);
/* An ended sandbox of this socket as GET shows it, or NULL. */
json_t *records_lookup(struct records *r, const char *id);

#endif
