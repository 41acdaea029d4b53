#include "server/records.h"

#include "server/sandboxes.h"
#include "server/sbx_json.h"
#include "util/error.h"
#include "util/lazylib.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct records {
	sqlite3 *db;
	pthread_mutex_t lock;
	char *socket;
};

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS sandboxes ("
	" id TEXT PRIMARY KEY, socket TEXT NOT NULL, daemon_pid INTEGER NOT NULL,"
	" policy TEXT NOT NULL, created_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL,"
	" state TEXT NOT NULL, reason TEXT, ended_ms INTEGER);"
	"CREATE INDEX IF NOT EXISTS sandboxes_socket ON sandboxes(socket, state);";

static void log_failure(struct records *r, const char *what)
{
	fprintf(stderr, "{\"event\":\"records_failed\",\"what\":\"%s\",\"sqlite\":%d}\n", what,
	        sqlite3_errcode(r->db));
}

struct records *records_open(const char *dir, const char *socket_path, corral_error *err)
{
	struct records *r = calloc(1, sizeof *r);
	char *path = NULL;
	corral_store *store = NULL;
	if (!r || !(r->socket = strdup(socket_path))) {
		error_set(err, CORRAL_ERR_INTERNAL, 0, "out of memory");
		goto fail;
	}
	pthread_mutex_init(&r->lock, NULL);
	/* The store's directory, made if need be, as the CLI's commands do. */
	store = corral_store_open(dir, err);
	if (!store)
		goto fail;
	if (asprintf(&path, "%s/serve.db", corral_store_path(store)) < 0) {
		path = NULL;
		error_set(err, CORRAL_ERR_INTERNAL, 0, "out of memory");
		goto fail;
	}
	if (lazy_sqlite3_load(err) < 0)
		goto fail;
	if (sqlite3_open_v2(path, &r->db,
	                    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOFOLLOW,
	                    NULL) != SQLITE_OK ||
	    sqlite3_busy_timeout(r->db, 5000) != SQLITE_OK ||
	    sqlite3_exec(r->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL, NULL,
	                 NULL) != SQLITE_OK ||
	    sqlite3_exec(r->db, schema, NULL, NULL, NULL) != SQLITE_OK) {
		error_set(err, CORRAL_ERR_SETUP, 0, "%s: %s", path,
		          r->db ? sqlite3_errmsg(r->db) : "cannot open");
		goto fail;
	}
	free(path);
	corral_store_close(store);
	return r;
fail:
	free(path);
	corral_store_close(store);
	records_close(r);
	return NULL;
}

void records_close(struct records *r)
{
	if (!r)
		return;
	if (r->db)
		sqlite3_close(r->db);
	pthread_mutex_destroy(&r->lock);
	free(r->socket);
	free(r);
}

int records_reconcile(struct records *r, size_t *n_ended, corral_error *err)
{
	*n_ended = 0;
	int64_t now = now_realtime_ms();
	sqlite3_stmt *end = NULL, *old = NULL;
	int rc = -1;
	pthread_mutex_lock(&r->lock);
	if (sqlite3_prepare_v2(r->db,
	                       "UPDATE sandboxes SET state='ended', reason='daemon_restart', "
	                       "ended_ms=?1 WHERE socket=?2 AND state='running'",
	                       -1, &end, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(r->db, "DELETE FROM sandboxes WHERE state='ended' AND ended_ms<?1",
	                       -1, &old, NULL) != SQLITE_OK)
		goto done;
	/* Their daemons are dead: what their sentinels could not remove goes. */
	sqlite3_stmt *pids = NULL;
	if (sqlite3_prepare_v2(r->db,
	                       "SELECT DISTINCT daemon_pid FROM sandboxes WHERE socket=?1 AND "
	                       "state='running'",
	                       -1, &pids, NULL) != SQLITE_OK)
		goto done;
	sqlite3_bind_text(pids, 1, r->socket, -1, SQLITE_STATIC);
	while (sqlite3_step(pids) == SQLITE_ROW) {
		pid_t pid = (pid_t)sqlite3_column_int64(pids, 0);
		size_t n = 0;
		corral_error cerr = {0};
		if (pid != getpid() && corral_cleanup_leftovers(pid, &n, &cerr) < 0)
			fprintf(stderr, "{\"event\":\"leftovers_failed\",\"pid\":%d}\n", (int)pid);
		else if (n)
			fprintf(stderr, "{\"event\":\"leftovers_removed\",\"pid\":%d,\"cgroups\":%zu}\n",
			        (int)pid, n);
	}
	sqlite3_finalize(pids);
	sqlite3_bind_int64(end, 1, now);
	sqlite3_bind_text(end, 2, r->socket, -1, SQLITE_STATIC);
	if (sqlite3_step(end) != SQLITE_DONE)
		goto done;
	*n_ended = (size_t)sqlite3_changes(r->db);
	sqlite3_bind_int64(old, 1, now - (int64_t)RECORDS_KEEP_S * 1000);
	if (sqlite3_step(old) != SQLITE_DONE)
		goto done;
	rc = 0;
done:
	if (rc < 0)
		error_set(err, CORRAL_ERR_SETUP, 0, "serve.db: %s", sqlite3_errmsg(r->db));
	sqlite3_finalize(end);
	sqlite3_finalize(old);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

void records_created(struct records *r, const char *id, const char *policy_json,
                     int64_t created_ms, int64_t expires_ms)
{
	if (!r)
		return;
	sqlite3_stmt *st = NULL;
	pthread_mutex_lock(&r->lock);
	if (sqlite3_prepare_v2(r->db,
	                       "INSERT OR REPLACE INTO sandboxes (id, socket, daemon_pid, policy, "
	                       "created_ms, expires_ms, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
	                       "'running')",
	                       -1, &st, NULL) != SQLITE_OK) {
		log_failure(r, "create");
	} else {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, r->socket, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)getpid());
		sqlite3_bind_text(st, 4, policy_json, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, created_ms);
		sqlite3_bind_int64(st, 6, expires_ms);
		if (sqlite3_step(st) != SQLITE_DONE)
			log_failure(r, "create");
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&r->lock);
}

void records_ended(struct records *r, const char *id, const char *reason)
{
	if (!r)
		return;
	sqlite3_stmt *st = NULL;
	pthread_mutex_lock(&r->lock);
	if (sqlite3_prepare_v2(r->db,
	                       "UPDATE sandboxes SET state='ended', reason=?1, ended_ms=?2 "
	                       "WHERE id=?3 AND state='running'",
	                       -1, &st, NULL) != SQLITE_OK) {
		log_failure(r, "end");
	} else {
		sqlite3_bind_text(st, 1, reason, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, now_realtime_ms());
		sqlite3_bind_text(st, 3, id, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			log_failure(r, "end");
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&r->lock);
}

json_t *records_lookup(struct records *r, const char *id)
{
	if (!r)
		return NULL;
	sqlite3_stmt *st = NULL;
	json_t *o = NULL;
	pthread_mutex_lock(&r->lock);
	if (sqlite3_prepare_v2(r->db,
	                       "SELECT created_ms, expires_ms, reason, ended_ms FROM sandboxes "
	                       "WHERE id=?1 AND socket=?2 AND state='ended' "
	                       "AND reason NOT IN ('deleted', 'expired')",
	                       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, r->socket, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW) {
			const char *reason = (const char *)sqlite3_column_text(st, 2);
			o = json_pack("{s:s, s:s, s:o, s:o, s:{s:s, s:o}}", "id", id, "state", "ended",
			              "created", time_json(sqlite3_column_int64(st, 0)), "expires",
			              time_json(sqlite3_column_int64(st, 1)), "end", "reason",
			              reason ? reason : "unknown", "at",
			              time_json(sqlite3_column_int64(st, 3)));
		}
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&r->lock);
	return o;
}
