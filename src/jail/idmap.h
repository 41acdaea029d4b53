/*
 * User and group id mapping.
 *
 * Root mode (corral started by host root): inside ids 0..65535 map to an
 * unprivileged host range starting at JAIL_HOST_ID_BASE, so nothing in the
 * sandbox is ever host root. Rootless mode: the single inside id maps to the
 * caller, as bubblewrap does.
 *
 * Writable binds in root mode are idmapped so the sandbox user's writes land
 * on disk as the owner of the bound directory.
 */
#ifndef CORRAL_JAIL_IDMAP_H
#define CORRAL_JAIL_IDMAP_H

#include "corral.h"

#include <stdbool.h>
#include <sys/types.h>

#define JAIL_HOST_ID_BASE 1879048192u /* 0x70000000 */
#define JAIL_ID_RANGE 65536u

struct jail_ids {
	bool root_mode;
	uid_t caller_uid;
	gid_t caller_gid;
	uid_t inside_uid;  /* the command's ids inside the sandbox */
	gid_t inside_gid;
	uid_t setup_uid;   /* the ids corral's init uses inside */
	gid_t setup_gid;
	char uid_map[96];
	char gid_map[96];
};

int jail_ids_init(struct jail_ids *ids, const corral_policy *policy, corral_error *err);

/* The host uid/gid the sandboxed command runs as. */
uid_t jail_ids_command_host_uid(const struct jail_ids *ids);
gid_t jail_ids_command_host_gid(const struct jail_ids *ids);

/* Write /proc/PID/{setgroups,uid_map,gid_map} for the sandbox's init. */
int jail_ids_write_maps(const struct jail_ids *ids, pid_t pid, corral_error *err);

/* A user namespace fd whose map sends on-disk owner (from_uid, from_gid) to
 * host ids (to_uid, to_gid), for mount_setattr(MOUNT_ATTR_IDMAP). */
int idmap_userns_open(uid_t from_uid, gid_t from_gid, uid_t to_uid, gid_t to_gid,
                      corral_error *err);

/* The same for a range: on-disk ids from..from+count-1 to to..to+count-1
 * (uids and gids alike). */
int idmap_userns_open_range(unsigned from, unsigned to, unsigned count, corral_error *err);

#endif
