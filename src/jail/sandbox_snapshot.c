/* corral_sandbox_snapshot: a running sandbox's upper layer frozen into a
 * snapshot of the store, with its processes held still during the copy. */
#include "jail/freeze.h"
#include "jail/jail.h"

#include "store/catalog.h"
#include "store/store.h"
#include "util/error.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <unistd.h>

struct hold {
	corral_sandbox *sb;
	struct freeze freeze;
	bool spawn_locked;
};

/* Under the store's lock, right before the copy: freeze, then flush what
 * the sandbox wrote so far (a persistent upper is then durable as it is
 * snapshotted; a tmpfs one has nothing to flush). */
static int hold_still(void *arg, corral_error *err)
{
	struct hold *h = arg;
	/* No new process while frozen: exec requests wait for the thaw. */
	pthread_mutex_lock(&h->sb->spawn_lock);
	h->spawn_locked = true;
	if (freeze_sandbox(&h->freeze, h->sb->cgroup, h->sb->init_pid, err) < 0)
		return error_prefix(err, "snapshot");
	if (syncfs(h->sb->upper_fd) < 0)
		return error_errno(err, "snapshot: sync the upper layer");
	return 0;
}

static void let_go(void *arg)
{
	struct hold *h = arg;
	freeze_thaw(&h->freeze);
	if (h->spawn_locked)
		pthread_mutex_unlock(&h->sb->spawn_lock);
	h->spawn_locked = false;
}

static bool ended(const corral_sandbox *sb)
{
	/* The pidfd reads ready once init has exited. */
	struct pollfd p = {.fd = sb->pidfd, .events = POLLIN};
	return sb->reaped || poll(&p, 1, 0) != 0;
}

static int snapshot_locked(corral_sandbox *sb, const char *name, corral_snapshot_info **info,
                           corral_error *err)
{
	if (ended(sb))
		return error_set(err, CORRAL_ERR_USAGE, ESRCH, "snapshot %s: the sandbox has ended", name);
	if (sandbox_root(sb, err) < 0)
		return error_prefix(err, "snapshot %s", name);
	if (sb->upper_fd < 0)
		return error_set(err, CORRAL_ERR_USAGE, ESRCH,
		                 "snapshot %s: the sandbox ended before its root was built", name);
	corral_store *store = corral_store_open(sb->store_path, err);
	if (!store)
		return error_prefix(err, "snapshot %s", name);
	struct hold h = {.sb = sb};
	struct snapshot_source src = {
		.upper_fd = sb->upper_fd,
		.id_shift = sb->upper_id_shift,
		.before_copy = hold_still,
		.after_copy = let_go,
		.arg = &h,
	};
	int rc = store_snapshot_from_fd(store, &src, sb->snap_base, name, err);
	let_go(&h);
	if (rc == 0 && info) {
		size_t n = 0;
		rc = catalog_list_snapshots(store, name, info, &n, err);
		if (rc == 0 && n != 1) {
			corral_snapshot_info_free(*info, n);
			*info = NULL;
			rc = error_set(err, CORRAL_ERR_INTERNAL, 0, "snapshot %s: not listed", name);
		}
	}
	corral_store_close(store);
	return rc;
}

int corral_sandbox_snapshot(corral_sandbox *sb, const char *name, corral_snapshot_info **info,
                            corral_error *err)
{
	if (info)
		*info = NULL;
	if (!sb->snap_base)
		return error_set(err, CORRAL_ERR_USAGE, EOPNOTSUPP,
		                 "snapshot: snapshots need a sandbox on an image or snapshot");
	if (store_check_name("snapshot name", name, err) < 0)
		return -1;
	pthread_mutex_lock(&sb->snapshot_lock);
	int rc = snapshot_locked(sb, name, info, err);
	pthread_mutex_unlock(&sb->snapshot_lock);
	return rc;
}
