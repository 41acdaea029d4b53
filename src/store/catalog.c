/* The catalogue in SQLite. Every statement is prepared, bound and finalised
 * in the function that runs it; nothing is cached between calls. */
#include "store/catalog.h"

#include "util/error.h"
#include "util/lazylib.h"
#include "util/strings.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char schema[] =
	"CREATE TABLE layers ("
	" id TEXT PRIMARY KEY,"
	" path TEXT NOT NULL,"           /* relative to the store: layers/<id> */
	" bytes INTEGER NOT NULL,"
	" created INTEGER NOT NULL,"
	" parent TEXT REFERENCES layers(id));"
	"CREATE TABLE images ("
	" name TEXT PRIMARY KEY,"
	" created INTEGER NOT NULL);"
	"CREATE TABLE image_layers ("
	" image TEXT NOT NULL REFERENCES images(name) ON DELETE CASCADE,"
	" position INTEGER NOT NULL,"    /* 0 is the lowest */
	" layer TEXT NOT NULL REFERENCES layers(id),"
	" PRIMARY KEY (image, position));"
	"CREATE TABLE snapshots ("
	" name TEXT PRIMARY KEY,"
	" layer TEXT NOT NULL UNIQUE REFERENCES layers(id),"
	" image TEXT NOT NULL REFERENCES images(name),"
	" parent TEXT REFERENCES snapshots(name),"
	" created INTEGER NOT NULL,"
	" bytes INTEGER NOT NULL);"
	"CREATE TABLE volumes ("
	" name TEXT PRIMARY KEY,"
	" size_limit INTEGER NOT NULL,"  /* bytes, 0: none */
	" created INTEGER NOT NULL);"
	"CREATE INDEX image_layers_layer ON image_layers(layer);"
	"CREATE INDEX snapshots_parent ON snapshots(parent);"
	"CREATE INDEX snapshots_image ON snapshots(image);";

int catalog_error(corral_store *store, corral_error *err)
{
	return error_set(err, CORRAL_ERR_SETUP, 0, "catalogue %s/catalog.db: %s", store->path,
	                 store->db ? sqlite3_errmsg(store->db) : "out of memory");
}

static int exec(corral_store *store, const char *sql, corral_error *err)
{
	if (sqlite3_exec(store->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return catalog_error(store, err);
	return 0;
}

sqlite3_stmt *catalog_prepare(corral_store *store, const char *sql, corral_error *err, int n_args,
                              const char *const *args)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(store->db, sql, -1, &st, NULL) != SQLITE_OK) {
		catalog_error(store, err);
		return NULL;
	}
	for (int i = 0; i < n_args; i++) {
		int rc = args[i] ? sqlite3_bind_text(st, i + 1, args[i], -1, SQLITE_STATIC)
		                 : sqlite3_bind_null(st, i + 1);
		if (rc != SQLITE_OK) {
			catalog_error(store, err);
			sqlite3_finalize(st);
			return NULL;
		}
	}
	return st;
}

/* Run a statement that returns no rows. */
static int run(corral_store *store, sqlite3_stmt *st, corral_error *err)
{
	if (!st)
		return -1;
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return catalog_error(store, err);
	return 0;
}

/* A statement with one text parameter. */
static int run_text(corral_store *store, const char *sql, const char *arg, corral_error *err)
{
	return run(store, catalog_prepare(store, sql, err, 1, &arg), err);
}

/* Column 0 of every row, as strings. */
static int query_strings(corral_store *store, const char *sql, const char *arg, char ***out,
                         size_t *n, corral_error *err)
{
	*out = NULL;
	*n = 0;
	sqlite3_stmt *st = catalog_prepare(store, sql, err, arg ? 1 : 0, &arg);
	if (!st)
		return -1;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *s = (const char *)sqlite3_column_text(st, 0);
		if (strv_append(out, n, s ? s : "") < 0) {
			sqlite3_finalize(st);
			strv_free(*out, *n);
			*out = NULL;
			*n = 0;
			return error_set(err, CORRAL_ERR_INTERNAL, 0, "out of memory");
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		strv_free(*out, *n);
		*out = NULL;
		*n = 0;
		return catalog_error(store, err);
	}
	return 0;
}

int catalog_open(corral_store *store, corral_error *err)
{
	/* Every SQLite call goes through a catalog opened here. */
	if (lazy_sqlite3_load(err) < 0)
		return -1;
	char *path = NULL;
	if (asprintf(&path, "%s/catalog.db", store->path) < 0)
		return error_set(err, CORRAL_ERR_INTERNAL, 0, "out of memory");
	int rc = sqlite3_open_v2(path, &store->db,
	                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOFOLLOW, NULL);
	free(path);
	if (rc != SQLITE_OK)
		return catalog_error(store, err);
	sqlite3_busy_timeout(store->db, 10000);
	/* WAL: readers never wait for the writer. synchronous=FULL: a
	 * committed change survives power loss, which the crash-safety of
	 * layers relies on (a layer is listed only after it is durable). */
	if (exec(store, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;",
	         err) < 0)
		return -1;
	sqlite3_stmt *st = catalog_prepare(store, "PRAGMA user_version", err, 0, NULL);
	if (!st)
		return -1;
	int version = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
	sqlite3_finalize(st);
	if (version < 0)
		return catalog_error(store, err);
	if (version > CATALOG_SCHEMA_VERSION)
		return error_set(err, CORRAL_ERR_SETUP, 0,
		                 "catalogue %s/catalog.db: schema version %d is newer than this "
		                 "corral's (%d)",
		                 store->path, version, CATALOG_SCHEMA_VERSION);
	if (version == CATALOG_SCHEMA_VERSION)
		return 0;
	if (catalog_begin(store, err) < 0)
		return -1;
	char set_version[64];
	snprintf(set_version, sizeof set_version, "PRAGMA user_version=%d", CATALOG_SCHEMA_VERSION);
	if (exec(store, schema, err) < 0 || exec(store, set_version, err) < 0) {
		catalog_rollback(store);
		return -1;
	}
	return catalog_commit(store, err);
}

void catalog_close(corral_store *store)
{
	if (store->db)
		sqlite3_close(store->db);
	store->db = NULL;
}

int catalog_begin(corral_store *store, corral_error *err)
{
	return exec(store, "BEGIN IMMEDIATE", err);
}

int catalog_commit(corral_store *store, corral_error *err)
{
	if (exec(store, "COMMIT", err) < 0) {
		catalog_rollback(store);
		return -1;
	}
	return 0;
}

void catalog_rollback(corral_store *store)
{
	sqlite3_exec(store->db, "ROLLBACK", NULL, NULL, NULL);
}

int catalog_kind_of(corral_store *store, const char *name, enum catalog_kind *kind,
                    corral_error *err)
{
	sqlite3_stmt *st = catalog_prepare(store,
	                           "SELECT 1 FROM images WHERE name = ?1 UNION ALL "
	                           "SELECT 2 FROM snapshots WHERE name = ?1",
	                           err, 1, &name);
	if (!st)
		return -1;
	int rc = sqlite3_step(st);
	*kind = rc == SQLITE_ROW ? (enum catalog_kind)sqlite3_column_int(st, 0) : CATALOG_NONE;
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return catalog_error(store, err);
	return 0;
}

int catalog_check_free(corral_store *store, const char *what, const char *name,
                       corral_error *err)
{
	enum catalog_kind kind;
	if (catalog_kind_of(store, name, &kind, err) < 0)
		return -1;
	if (kind != CATALOG_NONE)
		return error_set(err, CORRAL_ERR_USAGE, 0, "%s %s: %s named '%s' already exists", what,
		                 name, kind == CATALOG_IMAGE ? "an image" : "a snapshot", name);
	return 0;
}

static int run_layer_insert(corral_store *store, const char *id, uint64_t bytes,
                            const char *parent, corral_error *err)
{
	char path[16 + STORE_ID_LEN];
	snprintf(path, sizeof path, "layers/%s", id);
	const char *args[] = {id, path, parent};
	sqlite3_stmt *st = catalog_prepare(store,
	                           "INSERT INTO layers (id, path, parent, bytes, created) "
	                           "VALUES (?1, ?2, ?3, ?4, ?5)",
	                           err, 3, args);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 4, (sqlite3_int64)bytes);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)time(NULL));
	return run(store, st, err);
}

int catalog_add_layer(corral_store *store, const char *id, uint64_t bytes, const char *parent,
                      corral_error *err)
{
	return run_layer_insert(store, id, bytes, parent, err);
}

int catalog_add_image(corral_store *store, const char *name, char *const *ids, size_t n,
                      corral_error *err)
{
	sqlite3_stmt *st = catalog_prepare(store, "INSERT INTO images (name, created) VALUES (?1, ?2)", err,
	                           1, &name);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 2, (sqlite3_int64)time(NULL));
	if (run(store, st, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const char *args[] = {name, ids[i]};
		st = catalog_prepare(store, "INSERT INTO image_layers (image, layer, position) VALUES (?1, ?2, ?3)",
		             err, 2, args);
		if (!st)
			return -1;
		sqlite3_bind_int64(st, 3, (sqlite3_int64)i);
		if (run(store, st, err) < 0)
			return -1;
	}
	return 0;
}

int catalog_add_snapshot(corral_store *store, const corral_snapshot_info *snap,
                         corral_error *err)
{
	const char *args[] = {snap->name, snap->layer, snap->image, snap->parent};
	sqlite3_stmt *st = catalog_prepare(store,
	                           "INSERT INTO snapshots (name, layer, image, parent, created, bytes) "
	                           "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	                           err, 4, args);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 5, (sqlite3_int64)snap->created);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)snap->bytes);
	return run(store, st, err);
}

int catalog_image_layers(corral_store *store, const char *name, char ***ids, size_t *n,
                         corral_error *err)
{
	return query_strings(store,
	                     "SELECT layer FROM image_layers WHERE image = ?1 ORDER BY position", name,
	                     ids, n, err);
}

int catalog_remove_image(corral_store *store, const char *name, corral_error *err)
{
	char **deps = NULL;
	size_t n = 0;
	if (query_strings(store, "SELECT name FROM snapshots WHERE image = ?1 ORDER BY name LIMIT 1",
	                  name, &deps, &n, err) < 0)
		return -1;
	if (n > 0) {
		error_set(err, CORRAL_ERR_USAGE, 0,
		          "image rm %s: snapshot '%s' depends on it (remove the snapshot first)", name,
		          deps[0]);
		strv_free(deps, n);
		return -1;
	}
	return run_text(store, "DELETE FROM images WHERE name = ?1", name, err);
}

int catalog_remove_snapshot(corral_store *store, const char *name, corral_error *err)
{
	char **deps = NULL;
	size_t n = 0;
	if (query_strings(store, "SELECT name FROM snapshots WHERE parent = ?1 ORDER BY name LIMIT 1",
	                  name, &deps, &n, err) < 0)
		return -1;
	if (n > 0) {
		error_set(err, CORRAL_ERR_USAGE, 0,
		          "snapshot rm %s: snapshot '%s' depends on it (remove that snapshot first)",
		          name, deps[0]);
		strv_free(deps, n);
		return -1;
	}
	return run_text(store, "DELETE FROM snapshots WHERE name = ?1", name, err);
}

int catalog_add_volume(corral_store *store, const char *name, uint64_t size_limit,
                       corral_error *err)
{
	sqlite3_stmt *st = catalog_prepare(store,
	                           "INSERT INTO volumes (name, size_limit, created) VALUES (?1, ?2, ?3)",
	                           err, 1, &name);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 2, (sqlite3_int64)size_limit);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)time(NULL));
	return run(store, st, err);
}

int catalog_remove_volume(corral_store *store, const char *name, corral_error *err)
{
	return run_text(store, "DELETE FROM volumes WHERE name = ?1", name, err);
}

int catalog_unused_layers(corral_store *store, char ***ids, size_t *n, corral_error *err)
{
	return query_strings(store,
	                     "SELECT id FROM layers WHERE "
	                     "id NOT IN (SELECT layer FROM image_layers) AND "
	                     "id NOT IN (SELECT layer FROM snapshots) AND "
	                     "id NOT IN (SELECT parent FROM layers WHERE parent IS NOT NULL) "
	                     "ORDER BY id",
	                     NULL, ids, n, err);
}

int catalog_delete_layer(corral_store *store, const char *id, corral_error *err)
{
	return run_text(store, "DELETE FROM layers WHERE id = ?1", id, err);
}

static int exists(corral_store *store, const char *sql, const char *arg, bool *found,
                  corral_error *err)
{
	sqlite3_stmt *st = catalog_prepare(store, sql, err, 1, &arg);
	if (!st)
		return -1;
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return catalog_error(store, err);
	*found = rc == SQLITE_ROW;
	return 0;
}

int catalog_layer_listed(corral_store *store, const char *id, bool *listed, corral_error *err)
{
	return exists(store, "SELECT 1 FROM layers WHERE id = ?1", id, listed, err);
}

int catalog_volume_listed(corral_store *store, const char *name, bool *listed,
                          corral_error *err)
{
	return exists(store, "SELECT 1 FROM volumes WHERE name = ?1", name, listed, err);
}
