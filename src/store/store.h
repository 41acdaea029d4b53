/*
 * The store's internals (docs/store.md): its directory, lock, names and the
 * build-aside-then-rename protocol every new layer follows.
 *
 *   <store>/catalog.db     the catalogue (catalog.h)
 *   <store>/lock           flock'ed exclusively while the store changes
 *   <store>/layers/<id>    one read-only layer per directory
 *   <store>/tmp/<random>   layers being built; never read, removed by gc
 *   <store>/volumes/<name> named persistent directories
 */
#ifndef CORRAL_STORE_STORE_H
#define CORRAL_STORE_STORE_H

#include "corral.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sqlite3;

/* 128 random bits in hex. */
#define STORE_ID_LEN 32
#define STORE_NAME_MAX 128

struct corral_store {
	char *path;            /* absolute */
	int dir_fd;
	int layers_fd;
	int tmp_fd;
	int volumes_fd;
	int lock_fd;
	int lock_depth;        /* store_lock() nests */
	struct sqlite3 *db;
	uint64_t max_unpack_bytes;   /* bound on one OCI import's unpacked data */
};

/* [A-Za-z0-9][A-Za-z0-9._-]{0,127}; the error names `what` ("image name"). */
int store_check_name(const char *what, const char *name, corral_error *err);

/* Take and release the store's exclusive lock (blocking). */
int store_lock(corral_store *store, corral_error *err);
void store_unlock(corral_store *store);

/* A fresh random layer id. */
int store_new_id(char id[STORE_ID_LEN + 1], corral_error *err);

/* Create an empty directory tmp/<random> to build a layer in; its name goes
 * to `name` (STORE_ID_LEN + 1 bytes). */
int store_tmp_dir(corral_store *store, char name[STORE_ID_LEN + 1], corral_error *err);

/* Make a built layer durable and move it to layers/<id>: sync the file
 * system, rename, sync the layers directory. It is not listed yet. */
int store_commit_layer(corral_store *store, const char *tmp_name, const char *id,
                       corral_error *err);

/* A layer under construction: built in tmp/<tmp>, then moved to
 * layers/<id>. abandon() removes it from wherever it got to; call it on
 * every path where the catalogue did not take the layer. */
struct store_build {
	char tmp[STORE_ID_LEN + 1];
	char id[STORE_ID_LEN + 1];
	int fd;                /* the directory being filled, until commit */
	bool started;
	bool committed;        /* now in layers/<id> */
};
int store_build_start(corral_store *store, struct store_build *b, corral_error *err);
int store_build_commit(corral_store *store, struct store_build *b, corral_error *err);
void store_build_abandon(corral_store *store, struct store_build *b);

/* rm -rf of dirfd/name, not following symlinks nor crossing mounts, making
 * read-only directories writable first; adds the bytes of regular files
 * removed to *bytes when not NULL. ENOENT is success. */
int store_remove_tree(int dirfd, const char *name, uint64_t *bytes, corral_error *err);

/* A snapshot (stacked on `base`) of an overlayfs upper directory open at
 * upper_fd, under the store's lock. before_copy runs once the lock is
 * held and the layer is ready to fill (a running sandbox is frozen
 * there; failing aborts), after_copy as soon as the copy is over, before
 * the layer is synced and listed, on success and failure alike. */
struct snapshot_source {
	int upper_fd;
	uint32_t id_shift;     /* as struct layer_copy's */
	int (*before_copy)(void *arg, corral_error *err);
	void (*after_copy)(void *arg);
	void *arg;
};
int store_snapshot_from_fd(corral_store *store, const struct snapshot_source *src,
                           const char *base, const char *name, corral_error *err);

/* Leases (lease.c). A running sandbox takes flock(LOCK_SH) on each of its
 * layer directories (paths as corral_store_layers gives them); *fds are
 * close-on-exec, released by store_lease_release. */
int store_lease_layers(char *const *paths, size_t n, int **fds, corral_error *err);
void store_lease_release(int *fds, size_t n);
/* Under the store lock, before a layer is unlisted or deleted: its
 * directory with flock(LOCK_EX|LOCK_NB) held (close to release). -1 with
 * *busy when a sandbox runs on it (err untouched), -1 with err on an error,
 * -2 when the directory does not exist. */
int store_layer_claim(corral_store *store, const char *id, bool *busy, corral_error *err);
/* Claim every layer of ids, or fail: a busy one is CORRAL_ERR_USAGE
 * "WHAT: in use by a running sandbox (stop it first)". Missing directories
 * give fd -2 entries. */
int store_layers_claim(corral_store *store, char *const *ids, size_t n, const char *what,
                       int **fds, corral_error *err);

/* A size-limited volume created by root: an ext4 file system of exactly
 * `size` bytes in volumes/NAME/fs.img (volume_fs.c), mounted through a
 * loop device by the sandboxes that use it. */
#define VOLUME_FS_IMAGE "fs.img"
int store_volume_fs_create(corral_store *store, const char *name, uint64_t size,
                           corral_error *err);

/* "<store>/layers/<id>", malloc'd. */
char *store_layer_path(const corral_store *store, const char *id);

#endif
