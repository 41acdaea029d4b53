/*
 * Copy a directory tree into a layer being built, the way both a directory
 * import and a snapshot need it: modes, ownership (as root), timestamps,
 * symlinks, hardlinks (kept as links), xattrs, fifos; file data by reflink
 * (FICLONE) where the file system shares blocks, else copy_file_range,
 * else read/write. Sockets are skipped (they mean nothing at rest); device
 * nodes are copied only by root.
 */
#ifndef CORRAL_STORE_LAYER_COPY_H
#define CORRAL_STORE_LAYER_COPY_H

#include "corral.h"

#include <stdbool.h>
#include <stdint.h>

struct layer_copy {
	/* The source is an overlayfs upper directory: keep its whiteouts (0:0
	 * character devices, whoever copies; overlay.whiteout(s) xattrs) and
	 * opaque markers; other overlay.* xattrs (origin, redirect, impure)
	 * describe the upper's own mount and are dropped in either mode. */
	bool overlay_upper;
	/* The source is seen through an idmapped mount that adds this to
	 * every on-disk id (a root-mode sandbox's upper): copied owners are
	 * shifted back, so the layer holds ids as they are on disk. */
	uint32_t id_shift;
	uint64_t bytes;       /* out: file data copied */
	uint64_t entries;     /* out: entries created */
};

/* Copy everything below the directory src_fd into the empty directory
 * dst_fd; the top directory's own mode, owner, xattrs and times too.
 * Errors name the entry relative to the source: "copy usr/bin/x: ...". */
int layer_copy_tree(int src_fd, int dst_fd, struct layer_copy *lc, corral_error *err);

/* The opaque-directory marker overlayfs reads: trusted.overlay.opaque as
 * root, user.overlay.opaque (the userxattr mount option) otherwise. */
const char *layer_opaque_xattr(void);

/* True for an xattr the copy must not carry over. */
bool layer_xattr_skipped(const char *name, bool overlay_upper);

#endif
