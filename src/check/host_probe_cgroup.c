/*
 * The cgroup probe of `corral check`: which version is mounted, which
 * controllers it offers, whether the caller can write to it. Separate from
 * host_check.c as the one probe that only reads the file system.
 */
#include "check/host_check_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif
#ifndef CGROUP_SUPER_MAGIC
#define CGROUP_SUPER_MAGIC 0x27e0eb
#endif

/* Append ", item" (or "item" when empty) to a comma-separated list. */
static void list_append(char *list, size_t size, const char *item)
{
	size_t len = strlen(list);
	if (len >= size - 1)
		return;
	snprintf(list + len, size - len, "%s%s", len ? ", " : "", item);
}

/* ---- cgroups ------------------------------------------------------------ */

static bool is_fs_type(const char *path, long magic)
{
	struct statfs sfs;
	return statfs(path, &sfs) == 0 && (long)sfs.f_type == magic;
}

/* The controllers file of this process's cgroup2 cgroup under `mount`, or
 * the root's when that cannot be read. Space-separated list → ", ". */
static void read_v2_controllers(const char *mount, char *out, size_t size)
{
	out[0] = '\0';
	char cg[4096], path[4600], buf[1024];
	bool have = false;
	if (host_read_small_file("/proc/self/cgroup", cg, sizeof cg) > 0) {
		for (char *save = NULL, *line = strtok_r(cg, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			if (strncmp(line, "0::", 3) == 0) {
				snprintf(path, sizeof path, "%s%s/cgroup.controllers", mount,
				         strcmp(line + 3, "/") == 0 ? "" : line + 3);
				have = host_read_small_file(path, buf, sizeof buf) >= 0;
				break;
			}
		}
	}
	if (!have) {
		snprintf(path, sizeof path, "%s/cgroup.controllers", mount);
		if (host_read_small_file(path, buf, sizeof buf) < 0)
			return;
	}
	for (char *save = NULL, *tok = strtok_r(buf, " \n", &save); tok;
	     tok = strtok_r(NULL, " \n", &save))
		list_append(out, size, tok);
}

/* v1 controllers attached to a hierarchy: /proc/cgroups (hierarchy != 0,
 * enabled), else the super options of the cgroup mounts in mountinfo. */
static void read_v1_controllers(char *out, size_t size)
{
	out[0] = '\0';
	char buf[8192];
	if (host_read_small_file("/proc/cgroups", buf, sizeof buf) > 0) {
		for (char *save = NULL, *line = strtok_r(buf, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			char name[64];
			int hierarchy, num, enabled;
			if (line[0] == '#')
				continue;
			if (sscanf(line, "%63s %d %d %d", name, &hierarchy, &num, &enabled) == 4 &&
			    hierarchy != 0 && enabled)
				list_append(out, size, name);
		}
		return;
	}
	char mi[65536];
	if (host_read_small_file("/proc/self/mountinfo", mi, sizeof mi) <= 0)
		return;
	char *save = NULL;
	for (char *line = strtok_r(mi, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *sep = strstr(line, " - ");
		if (!sep || strncmp(sep + 3, "cgroup ", 7) != 0)
			continue;
		/* " - cgroup <source> <super options>" */
		char *opts = strchr(sep + 10, ' ');
		if (!opts)
			continue;
		char *save2 = NULL;
		for (char *o = strtok_r(opts + 1, ",", &save2); o; o = strtok_r(NULL, ",", &save2)) {
			if (strcmp(o, "rw") == 0 || strcmp(o, "ro") == 0 || strchr(o, '=') ||
			    strncmp(o, "no", 2) == 0 || strcmp(o, "clone_children") == 0 ||
			    strcmp(o, "xattr") == 0 || strcmp(o, "cpuset_v2_mode") == 0)
				continue;
			if (!strstr(out, o))
				list_append(out, size, o);
		}
	}
}

void host_probe_cgroups(struct host_caps *caps)
{
	const char *root = "/sys/fs/cgroup";
	if (is_fs_type(root, CGROUP2_SUPER_MAGIC)) {
		caps->cgroup_mode = CGROUP_MODE_V2;
		read_v2_controllers(root, caps->cgroup_v2_controllers,
		                    sizeof caps->cgroup_v2_controllers);
		return;
	}
	read_v1_controllers(caps->cgroup_v1_controllers, sizeof caps->cgroup_v1_controllers);
	bool unified = is_fs_type("/sys/fs/cgroup/unified", CGROUP2_SUPER_MAGIC);
	if (unified) {
		caps->cgroup_mode = CGROUP_MODE_HYBRID;
		read_v2_controllers("/sys/fs/cgroup/unified", caps->cgroup_v2_controllers,
		                    sizeof caps->cgroup_v2_controllers);
	} else if (caps->cgroup_v1_controllers[0]) {
		caps->cgroup_mode = CGROUP_MODE_V1;
	} else {
		caps->cgroup_mode = CGROUP_MODE_NONE;
	}
}

/* Whether this process may create cgroups: its own cgroup2 cgroup (v2) or
 * the memory/pids v1 hierarchies are writable. */
bool host_cgroup_writable(const struct host_caps *caps)
{
	if (caps->cgroup_mode == CGROUP_MODE_V2) {
		char cg[4096], path[4600];
		if (host_read_small_file("/proc/self/cgroup", cg, sizeof cg) <= 0)
			return false;
		for (char *save = NULL, *line = strtok_r(cg, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			if (strncmp(line, "0::", 3) == 0) {
				snprintf(path, sizeof path, "/sys/fs/cgroup%s", line + 3);
				return access(path, W_OK) == 0;
			}
		}
		return false;
	}
	if (caps->cgroup_mode == CGROUP_MODE_NONE)
		return false;
	return access("/sys/fs/cgroup/memory", W_OK) == 0 ||
	       access("/sys/fs/cgroup/pids", W_OK) == 0;
}
