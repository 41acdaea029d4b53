/* A persistent sandbox's state directory, as far as snapshots need it:
 *
 *   DIR/upper          overlayfs upper directory (what the sandbox changed)
 *   DIR/work           overlayfs work directory
 *   DIR/sandbox.json   {"image": NAME, "snapshot": NAME or null}
 *
 * The mount code that creates and uses such directories comes with the jail
 * integration; the layout is fixed here so both agree (docs/store.md). */
#include "store/store.h"

#include "util/cleanup.h"
#include "util/error.h"
#include "util/fileutil.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define STATE_JSON_MAX 65536

/* The base recorded in DIR/sandbox.json, copied to `base`. */
static int read_base(const char *dir, char *base, size_t size, corral_error *err)
{
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return error_set(err, CORRAL_ERR_USAGE, errno, "snapshot create: state dir %s", dir);
	_cleanup_close_ int fd = openat(dfd, "sandbox.json", O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return error_set(err, CORRAL_ERR_USAGE, errno, "snapshot create: %s/sandbox.json", dir);
	_cleanup_free_ char *text = malloc(STATE_JSON_MAX + 1);
	if (!text)
		return error_set(err, CORRAL_ERR_INTERNAL, 0, "out of memory");
	ssize_t len = read_full(fd, text, STATE_JSON_MAX + 1);
	if (len < 0)
		return error_errno(err, "snapshot create: read %s/sandbox.json", dir);
	json_error_t jerr;
	json_t *doc = len <= STATE_JSON_MAX ? json_loadb(text, (size_t)len, 0, &jerr) : NULL;
	const char *image = json_string_value(json_object_get(doc, "image"));
	const json_t *snap = json_object_get(doc, "snapshot");
	int rc = 0;
	if (!image || (snap && !json_is_null(snap) && !json_is_string(snap)))
		rc = error_set(err, CORRAL_ERR_USAGE, 0,
		               "snapshot create: %s/sandbox.json: expected {\"image\": NAME, "
		               "\"snapshot\": NAME or null}",
		               dir);
	else
		snprintf(base, size, "%s", json_is_string(snap) ? json_string_value(snap) : image);
	json_decref(doc);
	return rc;
}

int corral_snapshot_create_from_state(corral_store *store, const char *state_dir,
                                      const char *name, corral_error *err)
{
	char base[STORE_NAME_MAX + 2];
	if (!state_dir || !state_dir[0])
		return error_set(err, CORRAL_ERR_USAGE, 0, "snapshot create: no state dir given");
	if (store_check_name("snapshot name", name, err) < 0 ||
	    read_base(state_dir, base, sizeof base, err) < 0)
		return -1;
	/* The lock a sandbox running on this state dir holds (corral run
	 * --state): its upper must not change while it is copied. */
	_cleanup_close_ int lock = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lock < 0)
		return error_set(err, CORRAL_ERR_USAGE, errno, "snapshot create: state dir %s", state_dir);
	if (flock(lock, LOCK_EX | LOCK_NB) < 0)
		return errno == EWOULDBLOCK
		               ? error_set(err, CORRAL_ERR_USAGE, 0,
		                           "snapshot create: state dir %s is in use by a running sandbox "
		                           "(snapshot it once it has stopped)",
		                           state_dir)
		               : error_errno(err, "snapshot create: lock %s", state_dir);
	_cleanup_free_ char *upper = NULL;
	if (asprintf(&upper, "%s/upper", state_dir) < 0) {
		upper = NULL;
		return error_set(err, CORRAL_ERR_INTERNAL, 0, "out of memory");
	}
	return corral_snapshot_create_from_upper(store, upper, base, name, err);
}
