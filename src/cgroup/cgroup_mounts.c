/*
 * Finding the host's cgroup hierarchies: /proc/self/mountinfo parsing, the
 * choice of v2 mount or v1 hierarchy, and the caller's own v2 cgroup. Kept
 * apart from cgroup.c, which decides where the sandbox goes, because this is
 * parsing of kernel text and nothing else.
 */
#include "cgroup/cgroup_mounts.h"
#include "util/cleanup.h"
#include "util/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif
#ifndef CGROUP_SUPER_MAGIC
#define CGROUP_SUPER_MAGIC 0x27e0eb
#endif

#define CG_DEFAULT_ROOT "/sys/fs/cgroup"


/* Undo mountinfo's octal escapes (\040 for space, ...) in place. */
static void unescape_octal(char *s)
{
	char *w = s;
	for (char *r = s; *r;) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
		    r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 4;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
}

static bool opt_has(const char *opts, const char *want)
{
	size_t wl = strlen(want);
	for (const char *p = opts; p && *p;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		if (len == wl && strncmp(p, want, wl) == 0)
			return true;
		p = comma ? comma + 1 : NULL;
	}
	return false;
}

/* One mountinfo line into m; false if it is not a cgroup mount. */
static bool parse_mount_line(char *line, struct cg_mount *m)
{
	char *sep = strstr(line, " - ");
	if (!sep)
		return false;
	*sep = '\0';
	char *after = sep + 3;

	char *save = NULL;
	char *fstype = strtok_r(after, " \n", &save);
	char *source = strtok_r(NULL, " \n", &save);
	char *super = strtok_r(NULL, " \n", &save);
	if (!fstype || !source || !super)
		return false;
	bool v2 = strcmp(fstype, "cgroup2") == 0;
	if (!v2 && strcmp(fstype, "cgroup") != 0)
		return false;

	char *fields[6];
	save = NULL;
	for (int i = 0; i < 6; i++) {
		fields[i] = strtok_r(i == 0 ? line : NULL, " ", &save);
		if (!fields[i])
			return false;
	}
	unescape_octal(fields[3]);
	unescape_octal(fields[4]);
	size_t lr = strlen(fields[3]) + 1, lp = strlen(fields[4]) + 1, ls = strlen(super) + 1;
	if (lr > PATH_MAX || lp > PATH_MAX)
		return false;
	m->text = malloc(lr + lp + ls);
	if (!m->text)
		return false;
	memcpy(m->text, fields[3], lr);
	memcpy(m->text + lr, fields[4], lp);
	memcpy(m->text + lr + lp, super, ls);
	m->root = m->text;
	m->point = m->text + lr;
	m->super_opts = m->text + lr + lp;
	m->v2 = v2;
	m->ro = opt_has(fields[5], "ro") || opt_has(super, "ro");
	return true;
}

static void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

void cg_mounts_free(struct cg_mounts *ms)
{
	for (size_t i = 0; i < ms->n; i++)
		free(ms->v[i].text);
	free(ms->v);
	ms->v = NULL;
	ms->n = 0;
}

int cg_read_mounts(struct cg_mounts *out, corral_error *err)
{
	out->v = NULL;
	out->n = 0;
	__attribute__((cleanup(fclosep))) FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return error_errno(err, "open /proc/self/mountinfo");
	_cleanup_free_ char *line = NULL;
	size_t line_cap = 0, cap = 0;
	struct cg_mount m;
	while (getline(&line, &line_cap, f) > 0) {
		if (!parse_mount_line(line, &m))
			continue;
		if (out->n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct cg_mount *nm = realloc(out->v, ncap * sizeof *nm);
			if (!nm) {
				free(m.text);
				cg_mounts_free(out);
				return error_set(err, CORRAL_ERR_INTERNAL, ENOMEM,
				                 "read /proc/self/mountinfo");
			}
			out->v = nm;
			cap = ncap;
		}
		out->v[out->n++] = m;
	}
	if (ferror(f)) {
		cg_mounts_free(out);
		return error_errno(err, "read /proc/self/mountinfo");
	}
	return 0;
}

static bool fs_is(const char *path, long magic)
{
	struct statfs sf;
	return statfs(path, &sf) == 0 && (long)sf.f_type == magic;
}

/* dir/file (cgroup.controllers or cgroup.subtree_control, v2) lists
 * memory, pids and cpu. */
bool cg_lists_our_controllers(const char *dir, const char *file)
{
	char buf[512];
	if (cg_read(dir, file, false, buf, sizeof buf, NULL) <= 0)
		return false;
	bool mem = false, pids = false, cpu = false;
	char *save = NULL;
	for (char *t = strtok_r(buf, " \n", &save); t; t = strtok_r(NULL, " \n", &save)) {
		mem |= strcmp(t, "memory") == 0;
		pids |= strcmp(t, "pids") == 0;
		cpu |= strcmp(t, "cpu") == 0;
	}
	return mem && pids && cpu;
}

bool cg_v2_has_controllers(const char *dir)
{
	return cg_lists_our_controllers(dir, "cgroup.controllers");
}

/* The v2 mount to use: /sys/fs/cgroup when it is cgroup2, else another
 * cgroup2 mount that has the controllers. NULL if none qualifies. */
const struct cg_mount *cg_find_v2(const struct cg_mount *mounts, size_t n)
{
	if (fs_is(CG_DEFAULT_ROOT, CGROUP2_SUPER_MAGIC)) {
		/* the last entry for the path is the one on top */
		const struct cg_mount *found = NULL;
		for (size_t i = 0; i < n; i++)
			if (mounts[i].v2 && strcmp(mounts[i].point, CG_DEFAULT_ROOT) == 0)
				found = &mounts[i];
		if (found && cg_v2_has_controllers(found->point))
			return found;
	}
	for (size_t i = 0; i < n; i++)
		if (mounts[i].v2 && fs_is(mounts[i].point, CGROUP2_SUPER_MAGIC) &&
		    cg_v2_has_controllers(mounts[i].point))
			return &mounts[i];
	return NULL;
}

/* The v1 hierarchy carrying `controller`: prefer a mount of the hierarchy's
 * root, then the first listed. */
const struct cg_mount *cg_find_v1(const struct cg_mount *mounts, size_t n,
                                  const char *controller)
{
	const struct cg_mount *best = NULL;
	for (size_t i = 0; i < n; i++) {
		const struct cg_mount *m = &mounts[i];
		if (m->v2 || !opt_has(m->super_opts, controller) ||
		    !fs_is(m->point, CGROUP_SUPER_MAGIC))
			continue;
		if (!best || (strcmp(best->root, "/") != 0 && strcmp(m->root, "/") == 0))
			best = m;
	}
	return best;
}

bool cg_mount_writable(const struct cg_mount *m)
{
	return !m->ro && faccessat(AT_FDCWD, m->point, W_OK, AT_EACCESS) == 0;
}

/* The caller's own v2 cgroup as a path under mount m; false if unknown. */
bool cg_own_v2_dir(const struct cg_mount *m, char *out, size_t size)
{
	__attribute__((cleanup(fclosep))) FILE *f = fopen("/proc/self/cgroup", "re");
	if (!f)
		return false;
	char line[PATH_MAX + 16];
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, "0::", 3) != 0)
			continue;
		char *own = line + 3;
		own[strcspn(own, "\n")] = '\0';
		if (strcmp(own, "/") == 0)
			own = "";
		const char *rel = own;
		size_t rl = strlen(m->root);
		if (strcmp(m->root, "/") != 0) {
			if (strncmp(own, m->root, rl) != 0 || (own[rl] != '\0' && own[rl] != '/'))
				return false;
			rel = own + rl;
		}
		int n = snprintf(out, size, "%s%s", m->point, rel);
		return n > 0 && (size_t)n < size;
	}
	return false;
}
