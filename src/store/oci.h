/*
 * OCI image layouts (image-spec v1): oci-layout, index.json, a manifest
 * (the host's platform when the index lists several), its config and
 * layers, every blob checked against its sha256 digest. Each layer becomes
 * one store layer, its OCI whiteouts turned into overlayfs ones.
 */
#ifndef CORRAL_STORE_OCI_H
#define CORRAL_STORE_OCI_H

#include "store/store.h"

/* Called with the store locked and NAME validated. */
int oci_import(corral_store *store, const char *dir, const char *name, corral_error *err);

/* Unpack the layer tarball in blob_fd (tar, gzip or zstd) into the empty
 * directory dst_fd while hashing the blob; fails unless its sha256 is
 * `digest_hex`. Entries with absolute paths, "..", or a symlink among their
 * parents are refused; at most *budget bytes of file data are written, and
 * *budget is decreased by what was. *bytes gets the file data unpacked. */
int oci_unpack_layer(int blob_fd, const char *digest_hex, int dst_fd, uint64_t *budget,
                     uint64_t *bytes, corral_error *err);

/* Open a directory the caller named; errors read "WHATPATH: reason"
 * (image.c). */
int store_open_source_dir(const char *what, const char *path, corral_error *err);
/* Refuse a directory to copy that contains the store itself. */
int store_check_outside(const corral_store *store, const char *what, const char *path,
                        corral_error *err);

#endif
