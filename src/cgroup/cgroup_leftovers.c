/* Cgroups left by a supervisor that died before its sentinel could remove
 * them (the sentinel was killed too, or the machine was under pressure):
 * found by name under every cgroup mount, killed and removed. */
#include "cgroup/cgroup.h"
#include "cgroup/cgroup_internal.h"
#include "util/error.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

/* Deep enough for the rootless delegation (user.slice/user-N.slice/
 * user@N.service/app.slice/...), shallow enough to stay cheap. */
#define LEFTOVER_DEPTH 10

static bool is_leftover(const char *name, const char *prefix)
{
	size_t n = strlen(prefix);
	if (strncmp(name, "corral-", 7) == 0)
		name += 7; /* the rootless form: corral-<name> in the caller's own cgroup */
	return strncmp(name, prefix, n) == 0;
}

static int sweep(const char *dir, const char *prefix, int depth, size_t *n_removed,
                 corral_error *err)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0; /* gone meanwhile, or not ours to read */
	int rc = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		char path[PATH_MAX];
		if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path)
			continue;
		if (is_leftover(e->d_name, prefix)) {
			size_t seen = 0;
			if (cg_kill_tree(path, &seen, err) < 0 || cg_remove_tree(path, err) < 0) {
				rc = -1;
				break;
			}
			(*n_removed)++;
		} else if (depth > 0 && sweep(path, prefix, depth - 1, n_removed, err) < 0) {
			rc = -1;
			break;
		}
	}
	closedir(d);
	return rc;
}

int cgroup_remove_leftovers(pid_t supervisor, size_t *n_removed, corral_error *err)
{
	*n_removed = 0;
	if (supervisor <= 0)
		return error_set(err, CORRAL_ERR_USAGE, EINVAL, "leftovers of pid %d", (int)supervisor);
	if (kill(supervisor, 0) == 0 || errno != ESRCH)
		return 0; /* alive (or a pid in use again): not ours to judge */
	char prefix[32];
	snprintf(prefix, sizeof prefix, "sandbox-%d-", (int)supervisor);
	return sweep("/sys/fs/cgroup", prefix, LEFTOVER_DEPTH, n_removed, err);
}
