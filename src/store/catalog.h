/*
 * The store's catalogue: an SQLite database (<store>/catalog.db, WAL,
 * foreign keys on, schema version in PRAGMA user_version). What it lists
 * exists; what it does not list is garbage (docs/store.md).
 *
 * Every function fills the public info structs or plain id vectors; a
 * failing query gives "catalogue: MESSAGE" (CORRAL_ERR_SETUP).
 */
#ifndef CORRAL_STORE_CATALOG_H
#define CORRAL_STORE_CATALOG_H

#include "store/store.h"

#define CATALOG_SCHEMA_VERSION 1

struct sqlite3_stmt;

int catalog_open(corral_store *store, corral_error *err);
/* Prepare `sql` and bind the text arguments (NULL binds SQL NULL). */
struct sqlite3_stmt *catalog_prepare(corral_store *store, const char *sql, corral_error *err,
                                     int n_args, const char *const *args);
/* "catalogue STORE/catalog.db: SQLite's message"; returns -1. */
int catalog_error(corral_store *store, corral_error *err);
void catalog_close(corral_store *store);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK */
int catalog_begin(corral_store *store, corral_error *err);
int catalog_commit(corral_store *store, corral_error *err);
void catalog_rollback(corral_store *store);

enum catalog_kind { CATALOG_NONE, CATALOG_IMAGE, CATALOG_SNAPSHOT };
/* What NAME is: images and snapshots share one namespace. */
int catalog_kind_of(corral_store *store, const char *name, enum catalog_kind *kind,
                    corral_error *err);
/* 0 if NAME is free; else a usage error "NAME: an image named NAME exists". */
int catalog_check_free(corral_store *store, const char *what, const char *name,
                       corral_error *err);

int catalog_add_layer(corral_store *store, const char *id, uint64_t bytes, const char *parent,
                      corral_error *err);
/* ids lowest first */
int catalog_add_image(corral_store *store, const char *name, char *const *ids, size_t n,
                      corral_error *err);
int catalog_add_snapshot(corral_store *store, const corral_snapshot_info *snap,
                         corral_error *err);

int catalog_list_images(corral_store *store, corral_image_info **out, size_t *n,
                        corral_error *err);
/* name NULL: all, sorted; else only that one (*n is 0 when it is absent). */
int catalog_list_snapshots(corral_store *store, const char *name, corral_snapshot_info **out,
                           size_t *n, corral_error *err);
int catalog_list_volumes(corral_store *store, const char *name, corral_volume_info **out,
                         size_t *n, corral_error *err);

/* Layer ids of an image, lowest first. */
int catalog_image_layers(corral_store *store, const char *name, char ***ids, size_t *n,
                         corral_error *err);

int catalog_remove_image(corral_store *store, const char *name, corral_error *err);
int catalog_remove_snapshot(corral_store *store, const char *name, corral_error *err);
int catalog_add_volume(corral_store *store, const char *name, uint64_t size_limit,
                       corral_error *err);
int catalog_remove_volume(corral_store *store, const char *name, corral_error *err);

/* Layers no image or snapshot uses and no other layer stacks on. */
int catalog_unused_layers(corral_store *store, char ***ids, size_t *n, corral_error *err);
int catalog_delete_layer(corral_store *store, const char *id, corral_error *err);
int catalog_layer_listed(corral_store *store, const char *id, bool *listed, corral_error *err);
int catalog_volume_listed(corral_store *store, const char *name, bool *listed,
                          corral_error *err);

#endif
