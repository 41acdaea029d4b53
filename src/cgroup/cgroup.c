/*
 * Control groups: find which kind this host has, create the sandbox's
 * cgroup(s) through the matching backend, and dispatch.
 *
 * Detection, in order:
 *   1. cgroup v2 — /sys/fs/cgroup is a cgroup2 file system (statfs), or some
 *      other cgroup2 mount listed in /proc/self/mountinfo offers the memory,
 *      pids and cpu controllers. A cgroup2 without those controllers (the
 *      hybrid layout's /sys/fs/cgroup/unified) does not count.
 *      root: the sandbox is <mount>/corral/<name>, with +memory +pids +cpu
 *      enabled in the root's and corral's cgroup.subtree_control.
 *      rootless: only inside a cgroup delegated to the caller:
 *      <own cgroup>/corral-<name>.
 *   2. cgroup v1 — memory, pids, cpu and cpuacct hierarchies mounted (found in
 *      /proc/self/mountinfo) and writable; freezer used when mounted. The
 *      sandbox is <hierarchy>/corral/<name> in each. Root only.
 *   3. Otherwise backend NONE, with a reason, and the caller uses rlimits.
 */
#include "cgroup/cgroup_internal.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/fileutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif
#ifndef CGROUP_SUPER_MAGIC
#define CGROUP_SUPER_MAGIC 0x27e0eb
#endif

#define CG_DEFAULT_ROOT "/sys/fs/cgroup"
#define CG_PARENT "corral"
#define CG_CONTROLLERS "+memory +pids +cpu"

static const char why_not_rootless_v2[] =
	"no delegated cgroup v2 subtree (run under `systemd-run --user --scope -p Delegate=yes`)";
static const char why_not_rootless_v1[] =
	"cgroup v1 hierarchies are not writable by unprivileged users";

/* ---- helpers ------------------------------------------------------------ */

int cg_path(char *out, size_t size, const char *dir, const char *file, corral_error *err)
{
	int n = file ? snprintf(out, size, "%s/%s", dir, file) : snprintf(out, size, "%s", dir);
	if (n < 0 || (size_t)n >= size)
		return error_set(err, CORRAL_ERR_SETUP, ENAMETOOLONG, "cgroup path %s/%s", dir,
		                 file ? file : "");
	return 0;
}

bool cg_exists(const char *dir, const char *file)
{
	char path[PATH_MAX];
	if (cg_path(path, sizeof path, dir, file, NULL) < 0)
		return false;
	return access(path, F_OK) == 0;
}

int cg_write(const char *dir, const char *file, const char *value, corral_error *err)
{
	char path[PATH_MAX];
	if (cg_path(path, sizeof path, dir, file, err) < 0)
		return -1;
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return error_errno(err, "open %s", path);
	if (write_all(fd, value, strlen(value)) < 0)
		return error_errno(err, "write %s", path);
	return 0;
}

int cg_read(const char *dir, const char *file, bool optional, char *buf, size_t size,
            corral_error *err)
{
	char path[PATH_MAX];
	buf[0] = '\0';
	if (cg_path(path, sizeof path, dir, file, err) < 0)
		return -1;
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (optional && errno == ENOENT)
			return 0;
		return error_errno(err, "open %s", path);
	}
	ssize_t n = read_full(fd, buf, size - 1);
	if (n < 0)
		return error_errno(err, "read %s", path);
	if ((size_t)n == size - 1)
		return error_set(err, CORRAL_ERR_SETUP, EFBIG, "read %s", path);
	buf[n] = '\0';
	return 1;
}

static int parse_u64(const char *s, uint64_t *out)
{
	while (*s == ' ' || *s == '\t')
		s++;
	if (strncmp(s, "max", 3) == 0) {
		*out = CGROUP_UNLIMITED;
		return 0;
	}
	if (*s < '0' || *s > '9')
		return -1;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	*out = v;
	return 0;
}

int cg_read_u64(const char *dir, const char *file, uint64_t *out, corral_error *err)
{
	char buf[128];
	if (cg_read(dir, file, false, buf, sizeof buf, err) < 0)
		return -1;
	if (parse_u64(buf, out) < 0)
		return error_set(err, CORRAL_ERR_SETUP, 0, "read %s/%s: not a number: %.32s", dir,
		                 file, buf);
	return 0;
}

/* ---- counters kept open -------------------------------------------------- */

/* 1: c->fd is open; 0: absent and optional; -1 with err. */
static int counter_open(struct cg_counter_file *c, const char *dir, const char *file,
                        bool optional, corral_error *err)
{
	if (c->open)
		return 1;
	if (c->absent && optional)
		return 0;
	char path[PATH_MAX];
	if (cg_path(path, sizeof path, dir, file, err) < 0)
		return -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (optional && errno == ENOENT) {
			c->absent = true;
			return 0;
		}
		return error_errno(err, "open %s", path);
	}
	c->fd = fd;
	c->open = true;
	return 1;
}

int cg_counter_fd(struct cgroup_sandbox *cg, enum cg_counter id, const char *dir,
                  const char *file, corral_error *err)
{
	struct cg_counter_file *c = &cg->counters[id];
	return counter_open(c, dir, file, false, err) < 0 ? -1 : c->fd;
}

int cg_counter_read(struct cgroup_sandbox *cg, enum cg_counter id, const char *dir,
                    const char *file, bool optional, char *buf, size_t size, corral_error *err)
{
	struct cg_counter_file *c = &cg->counters[id];
	buf[0] = '\0';
	int rc = counter_open(c, dir, file, optional, err);
	if (rc <= 0)
		return rc;
	/* From offset 0 every time: the kernel regenerates the file's text,
	 * whole, for such a read; an answer shorter than asked is all of it
	 * (no second read to see the end). */
	size_t len = 0;
	while (len < size - 1) {
		size_t want = size - 1 - len;
		ssize_t n = pread(c->fd, buf + len, want, (off_t)len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return error_errno(err, "read %s/%s", dir, file);
		}
		len += (size_t)n;
		if ((size_t)n < want)
			break;
	}
	if (len == size - 1)
		return error_set(err, CORRAL_ERR_SETUP, EFBIG, "read %s/%s", dir, file);
	buf[len] = '\0';
	return 1;
}

int cg_counter_u64(struct cgroup_sandbox *cg, enum cg_counter id, const char *dir,
                   const char *file, bool optional, uint64_t *out, corral_error *err)
{
	char buf[128];
	int rc = cg_counter_read(cg, id, dir, file, optional, buf, sizeof buf, err);
	if (rc <= 0)
		return rc;
	if (parse_u64(buf, out) < 0)
		return error_set(err, CORRAL_ERR_SETUP, 0, "read %s/%s: not a number: %.32s", dir,
		                 file, buf);
	return 1;
}

void cg_close_files(struct cgroup_sandbox *cg)
{
	for (int i = 0; i < CGC_N; i++) {
		struct cg_counter_file *c = &cg->counters[i];
		if (c->open)
			close(c->fd);
		c->open = false;
		c->fd = -1;
	}
	if (cg->watch_ok)
		close(cg->event_fd);
	cg->watch_ok = false;
	cg->event_fd = -1;
}

int cg_inotify_watch(const char *dir, const char *file, corral_error *err)
{
	char path[PATH_MAX];
	if (cg_path(path, sizeof path, dir, file, err) < 0)
		return -1;
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fd < 0)
		return error_errno(err, "inotify_init1 (for %s)", path);
	if (inotify_add_watch(fd, path, IN_MODIFY) < 0) {
		error_errno(err, "inotify_add_watch %s", path);
		close(fd);
		return -1;
	}
	return fd;
}

bool cg_drain(int fd)
{
	/* room for an inotify event with the longest name; an eventfd
	 * gives its 8-byte count */
	char buf[sizeof(struct inotify_event) + NAME_MAX + 1]
		__attribute__((aligned(__alignof__(struct inotify_event))));
	bool any = false;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n > 0) {
			any = true;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return any; /* EAGAIN: nothing more */
	}
}

bool cg_keyed_u64(const char *text, const char *key, uint64_t *out)
{
	size_t klen = strlen(key);
	for (const char *line = text; line && *line;) {
		if (strncmp(line, key, klen) == 0 && (line[klen] == ' ' || line[klen] == '\t'))
			return parse_u64(line + klen, out) == 0;
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return false;
}

int cg_read_pids(const char *dir, pid_t **pids, size_t *n, corral_error *err)
{
	char path[PATH_MAX];
	*pids = NULL;
	*n = 0;
	if (cg_path(path, sizeof path, dir, "cgroup.procs", err) < 0)
		return -1;
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0; /* the cgroup is gone: nobody in it */
		return error_errno(err, "open %s", path);
	}
	/* Read it whole (seq_file gives a consistent view per read call only,
	 * so read until EOF into one buffer and parse after). */
	size_t cap = 4096, len = 0;
	_cleanup_free_ char *buf = malloc(cap);
	if (!buf)
		return error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "read %s", path);
	for (;;) {
		if (cap - len < 2048) {
			char *nb = realloc(buf, cap * 2);
			if (!nb)
				return error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "read %s", path);
			buf = nb;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + len, cap - len - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return error_errno(err, "read %s", path);
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	size_t count = 0;
	for (size_t i = 0; i < len; i++)
		if (buf[i] == '\n')
			count++;
	if (count == 0)
		return 0;
	_cleanup_free_ pid_t *out = calloc(count, sizeof *out);
	if (!out)
		return error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "read %s", path);
	size_t k = 0;
	for (char *p = buf; *p && k < count;) {
		char *end;
		long v = strtol(p, &end, 10);
		if (end == p)
			break;
		if (v > 0)
			out[k++] = (pid_t)v;
		p = end;
		while (*p == '\n')
			p++;
	}
	*n = k;
	*pids = steal_pointer(&out);
	return 0;
}

int cg_kill_listed(const char *dir, size_t *n_seen, corral_error *err)
{
	_cleanup_free_ pid_t *pids = NULL;
	size_t n = 0;
	if (cg_read_pids(dir, &pids, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (kill(pids[i], SIGKILL) < 0 && errno != ESRCH)
			return error_errno(err, "kill %d (in %s)", (int)pids[i], dir);
	if (n_seen)
		*n_seen = n;
	return 0;
}

static int kill_tree_depth(const char *dir, int depth, size_t *n_seen, corral_error *err)
{
	size_t n = 0;
	if (cg_kill_listed(dir, &n, err) < 0)
		return -1;
	*n_seen += n;
	if (depth > 64)
		return 0;
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : error_errno(err, "opendir %s", dir);
	int rc = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_type != DT_DIR || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		char child[PATH_MAX];
		if (cg_path(child, sizeof child, dir, de->d_name, err) < 0 ||
		    kill_tree_depth(child, depth + 1, n_seen, err) < 0) {
			rc = -1;
			break;
		}
	}
	closedir(d);
	return rc;
}

int cg_kill_tree(const char *dir, size_t *n_seen, corral_error *err)
{
	size_t n = 0;
	int rc = kill_tree_depth(dir, 0, &n, err);
	if (n_seen)
		*n_seen = n;
	return rc;
}

void cg_sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

uint64_t cg_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int rmdir_retry(const char *dir, corral_error *err)
{
	uint64_t deadline = cg_now_ms() + CG_RMDIR_WAIT_MS;
	unsigned pause = 1;
	for (;;) {
		if (rmdir(dir) == 0 || errno == ENOENT)
			return 0;
		if (errno != EBUSY || cg_now_ms() >= deadline)
			return error_errno(err, "rmdir %s", dir);
		cg_sleep_ms(pause);
		if (pause < 50)
			pause *= 2;
	}
}

static int remove_tree_depth(const char *dir, int depth, corral_error *err)
{
	if (depth > 64)
		return error_set(err, CORRAL_ERR_SETUP, ELOOP, "rmdir %s", dir);
	DIR *d = opendir(dir);
	if (!d) {
		if (errno == ENOENT)
			return 0;
		return error_errno(err, "opendir %s", dir);
	}
	int rc = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_type != DT_DIR || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		char child[PATH_MAX];
		if (cg_path(child, sizeof child, dir, de->d_name, err) < 0 ||
		    remove_tree_depth(child, depth + 1, err) < 0) {
			rc = -1;
			break;
		}
	}
	closedir(d);
	if (rc < 0)
		return -1;
	return rmdir_retry(dir, err);
}

int cg_remove_tree(const char *dir, corral_error *err)
{
	/* Usually there is nothing below: one rmdir, no directory listing.
	 * It fails (EBUSY) while any child cgroup or task remains. */
	if (rmdir(dir) == 0 || errno == ENOENT)
		return 0;
	return remove_tree_depth(dir, 0, err);
}

/* ---- /proc/self/mountinfo ----------------------------------------------- */

/* Strings point into `text`, one allocation per mount: mountinfo lists a
 * dozen cgroup mounts, and fixed PATH_MAX fields made that a 130 KiB array
 * to fill and copy -- a page fault per page touched, which a hypervisor
 * can make cost as much as the cgroup's mkdir. */
struct cg_mount {
	char *text;
	const char *point;
	const char *root;
	const char *super_opts;
	bool v2;
	bool ro;
};

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

struct cg_mounts {
	struct cg_mount *v;
	size_t n;
};

static void cg_mounts_free(struct cg_mounts *ms)
{
	for (size_t i = 0; i < ms->n; i++)
		free(ms->v[i].text);
	free(ms->v);
	ms->v = NULL;
	ms->n = 0;
}

static int read_cgroup_mounts(struct cg_mounts *out, corral_error *err)
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
static bool lists_our_controllers(const char *dir, const char *file)
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

static bool v2_has_controllers(const char *dir)
{
	return lists_our_controllers(dir, "cgroup.controllers");
}

/* The v2 mount to use: /sys/fs/cgroup when it is cgroup2, else another
 * cgroup2 mount that has the controllers. NULL if none qualifies. */
static const struct cg_mount *find_v2(const struct cg_mount *mounts, size_t n)
{
	if (fs_is(CG_DEFAULT_ROOT, CGROUP2_SUPER_MAGIC)) {
		/* the last entry for the path is the one on top */
		const struct cg_mount *found = NULL;
		for (size_t i = 0; i < n; i++)
			if (mounts[i].v2 && strcmp(mounts[i].point, CG_DEFAULT_ROOT) == 0)
				found = &mounts[i];
		if (found && v2_has_controllers(found->point))
			return found;
	}
	for (size_t i = 0; i < n; i++)
		if (mounts[i].v2 && fs_is(mounts[i].point, CGROUP2_SUPER_MAGIC) &&
		    v2_has_controllers(mounts[i].point))
			return &mounts[i];
	return NULL;
}

/* The v1 hierarchy carrying `controller`: prefer a mount of the hierarchy's
 * root, then the first listed. */
static const struct cg_mount *find_v1(const struct cg_mount *mounts, size_t n,
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

static bool writable(const struct cg_mount *m)
{
	return !m->ro && faccessat(AT_FDCWD, m->point, W_OK, AT_EACCESS) == 0;
}

static void set_why_not(struct cgroup_sandbox *cg, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void set_why_not(struct cgroup_sandbox *cg, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cg->why_not, sizeof cg->why_not, fmt, ap);
	va_end(ap);
	cg->backend = CGROUP_BACKEND_NONE;
}

static bool errno_means_not_allowed(int e)
{
	return e == EACCES || e == EPERM || e == EROFS;
}

/* ---- v2 placement -------------------------------------------------------- */

/* Enable the controllers in dir's subtree_control unless they already are. */
static int v2_enable(const char *dir, corral_error *err)
{
	if (lists_our_controllers(dir, "cgroup.subtree_control"))
		return 0;
	return cg_write(dir, "cgroup.subtree_control", CG_CONTROLLERS, err);
}

static int v2_create_root(struct cgroup_sandbox *cg, const struct cg_mount *m,
                          const struct cgroup_limits *limits, corral_error *err)
{
	const char *top = m->point;
	if (!writable(m)) {
		set_why_not(cg, "cgroup2 at %s is not writable", top);
		return 0;
	}
	corral_error sub = {0};
	if (v2_enable(top, &sub) < 0) {
		if (sub.errnum == EBUSY) {
			/* only the real root is exempt from "no internal processes":
			 * this is a cgroup namespace's root with processes in it */
			set_why_not(cg, "cannot enable controllers in %s: it holds processes "
			                "(cgroup namespace root)", top);
			return 0;
		}
		if (errno_means_not_allowed(sub.errnum)) {
			set_why_not(cg, "%s", sub.message);
			return 0;
		}
		*err = sub;
		return -1;
	}

	char parent[PATH_MAX], path[PATH_MAX];
	if (cg_path(parent, sizeof parent, top, CG_PARENT, err) < 0 ||
	    cg_path(path, sizeof path, parent, cg->name, err) < 0)
		return -1;
	bool made_parent = false;
	if (mkdir(parent, 0755) == 0) {
		made_parent = true;
	} else if (errno != EEXIST) {
		if (errno_means_not_allowed(errno)) {
			set_why_not(cg, "mkdir %s: %s", parent, strerror(errno));
			return 0;
		}
		return error_errno(err, "mkdir %s", parent);
	}
	if (v2_enable(parent, err) < 0 || cgv2_create(cg, path, limits, err) < 0) {
		if (made_parent)
			rmdir(parent); /* EBUSY if another sandbox got in meanwhile: fine */
		return -1;
	}
	cg->backend = CGROUP_BACKEND_V2;
	return 0;
}

/* The caller's own v2 cgroup as a path under mount m; false if unknown. */
static bool own_v2_dir(const struct cg_mount *m, char *out, size_t size)
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

static int v2_move_self_to_leaf(const char *own)
{
	char leaf[PATH_MAX], procs[PATH_MAX];
	if (cg_path(leaf, sizeof leaf, own, "corral-supervisor", NULL) < 0 ||
	    cg_path(procs, sizeof procs, leaf, "cgroup.procs", NULL) < 0)
		return -1;
	if (mkdir(leaf, 0755) < 0 && errno != EEXIST)
		return -1;
	int fd = open(procs, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = write_all(fd, "0", 1);
	close(fd);
	return rc;
}

static int v2_create_rootless(struct cgroup_sandbox *cg, const struct cg_mount *m,
                              const struct cgroup_limits *limits, corral_error *err)
{
	char own[PATH_MAX];
	struct stat st;
	char ctl[PATH_MAX];
	if (!own_v2_dir(m, own, sizeof own) || stat(own, &st) < 0 || st.st_uid != geteuid() ||
	    cg_path(ctl, sizeof ctl, own, "cgroup.subtree_control", NULL) < 0 ||
	    faccessat(AT_FDCWD, ctl, W_OK, AT_EACCESS) < 0 ||
	    faccessat(AT_FDCWD, own, W_OK, AT_EACCESS) < 0 ||
	    cg_path(ctl, sizeof ctl, own, "cgroup.procs", NULL) < 0 ||
	    faccessat(AT_FDCWD, ctl, W_OK, AT_EACCESS) < 0) {
		set_why_not(cg, "%s", why_not_rootless_v2);
		return 0;
	}
	if (!v2_has_controllers(own)) {
		set_why_not(cg, "delegated cgroup %s lacks the memory, pids and cpu controllers",
		            own);
		return 0;
	}
	corral_error sub = {0};
	/* cgroup v2's "no internal processes" rule: controllers cannot be
	 * enabled for children while the caller itself sits in the delegated
	 * cgroup (as it does in a `systemd-run --scope -p Delegate=yes`).
	 * Step aside into a leaf, as crun and podman do, then retry. */
	if (v2_enable(own, &sub) < 0 && sub.errnum == EBUSY && v2_move_self_to_leaf(own) == 0)
		sub = (corral_error){0};
	if (sub.kind != CORRAL_OK || v2_enable(own, &sub) < 0) {
		if (sub.errnum == EBUSY || errno_means_not_allowed(sub.errnum)) {
			set_why_not(cg, "%s", why_not_rootless_v2);
			return 0;
		}
		*err = sub;
		return -1;
	}
	char dirname[CG_NAME_MAX + 16], path[PATH_MAX];
	snprintf(dirname, sizeof dirname, "corral-%s", cg->name);
	if (cg_path(path, sizeof path, own, dirname, err) < 0 ||
	    cgv2_create(cg, path, limits, err) < 0)
		return -1;
	cg->backend = CGROUP_BACKEND_V2;
	return 0;
}

/* ---- v1 placement -------------------------------------------------------- */

static const char *const v1_names[CGV1_N] = {
	[CGV1_MEMORY] = "memory",
	[CGV1_PIDS] = "pids",
	[CGV1_CPU] = "cpu",
	[CGV1_CPUACCT] = "cpuacct",
	[CGV1_FREEZER] = "freezer",
};

/* 1: v1 chosen (or NONE set); 0: no v1 here; -1: error. */
static int v1_try(struct cgroup_sandbox *cg, const struct cg_mount *mounts, size_t n,
                  const struct cgroup_limits *limits, corral_error *err)
{
	const struct cg_mount *found[CGV1_N];
	for (int c = 0; c < CGV1_N; c++)
		found[c] = find_v1(mounts, n, v1_names[c]);
	if (!found[CGV1_MEMORY] || !found[CGV1_PIDS] || !found[CGV1_CPU] || !found[CGV1_CPUACCT])
		return 0;
	if (geteuid() != 0) {
		set_why_not(cg, "%s", why_not_rootless_v1);
		return 1;
	}
	for (int c = 0; c < CGV1_N; c++) {
		if (!found[c])
			continue; /* freezer is optional */
		if (!writable(found[c])) {
			set_why_not(cg, "cgroup v1 hierarchy %s is not writable", found[c]->point);
			return 1;
		}
	}
	/* Without a CPU limit the cpu hierarchy has nothing to hold (a new
	 * cgroup's quota is unlimited already; usage comes from cpuacct):
	 * skip its directory, a mkdir, two writes, an attach and an rmdir.
	 * Co-mounted with cpuacct ("cpu,cpuacct") it is cpuacct's anyway. */
	bool skip_cpu =
	        limits->cpu_millis == CGROUP_UNLIMITED && found[CGV1_CPU] != found[CGV1_CPUACCT];
	for (int c = 0; c < CGV1_N; c++) {
		struct cgv1_dir *d = &cg->v1[c];
		if (!found[c] || (c == CGV1_CPU && skip_cpu))
			continue;
		int w = snprintf(d->path, sizeof d->path, "%s/%s/%s", found[c]->point, CG_PARENT,
		                 cg->name);
		if (w < 0 || (size_t)w >= sizeof d->path)
			return error_set(err, CORRAL_ERR_SETUP, ENAMETOOLONG, "cgroup path %s/%s/%s",
			                 found[c]->point, CG_PARENT, cg->name);
		d->primary = true;
		for (int p = 0; p < c; p++)
			if (cg->v1[p].primary && strcmp(cg->v1[p].path, d->path) == 0)
				d->primary = false;
	}
	if (cgv1_create(cg, limits, err) < 0)
		return -1;
	cg->backend = CGROUP_BACKEND_V1;
	return 1;
}

/* ---- interface ----------------------------------------------------------- */

static int check_name(const char *name, corral_error *err)
{
	size_t len = name ? strlen(name) : 0;
	if (len == 0 || len > CG_NAME_MAX || name[0] == '.')
		return error_set(err, CORRAL_ERR_USAGE, 0, "cgroup name \"%s\": must be 1-%d "
		                 "characters, not starting with '.'", name ? name : "", CG_NAME_MAX);
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return error_set(err, CORRAL_ERR_USAGE, 0,
			                 "cgroup name \"%s\": only letters, digits, '-', '_', '.'", name);
	}
	return 0;
}

static int check_limits(const struct cgroup_limits *l, corral_error *err)
{
	if (l->memory_bytes == 0)
		return error_set(err, CORRAL_ERR_USAGE, 0, "cgroup memory limit: must be > 0");
	if (l->pids == 0)
		return error_set(err, CORRAL_ERR_USAGE, 0, "cgroup pids limit: must be > 0");
	if (l->cpu_millis == 0)
		return error_set(err, CORRAL_ERR_USAGE, 0, "cgroup cpu limit: must be > 0");
	if (l->cpu_millis != CGROUP_UNLIMITED && l->cpu_millis > UINT64_MAX / 1000)
		return error_set(err, CORRAL_ERR_USAGE, 0, "cgroup cpu limit %" PRIu64 ": too large",
		                 l->cpu_millis);
	return 0;
}

int cgroup_sandbox_create(const char *name, const struct cgroup_limits *limits,
                          struct cgroup_sandbox **out, corral_error *err)
{
	static const struct cgroup_limits unlimited = {
		.memory_bytes = CGROUP_UNLIMITED,
		.pids = CGROUP_UNLIMITED,
		.cpu_millis = CGROUP_UNLIMITED,
	};
	*out = NULL;
	if (!limits)
		limits = &unlimited;
	if (check_name(name, err) < 0 || check_limits(limits, err) < 0)
		return -1;

	_cleanup_free_ struct cgroup_sandbox *cg = calloc(1, sizeof *cg);
	if (!cg)
		return error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "cgroup %s", name);
	cg->backend = CGROUP_BACKEND_NONE;
	cg->v2_fd = -1;
	cg->event_fd = -1;
	strcpy(cg->name, name);

	__attribute__((cleanup(cg_mounts_free))) struct cg_mounts mounts = {0};
	if (read_cgroup_mounts(&mounts, err) < 0)
		return -1;

	const struct cg_mount *v2 = find_v2(mounts.v, mounts.n);
	if (v2) {
		int rc = geteuid() == 0 ? v2_create_root(cg, v2, limits, err)
		                        : v2_create_rootless(cg, v2, limits, err);
		if (rc < 0)
			return -1;
	} else {
		int rc = v1_try(cg, mounts.v, mounts.n, limits, err);
		if (rc < 0)
			return -1;
		if (rc == 0)
			set_why_not(cg, "no cgroup v2 with the memory, pids and cpu controllers, and "
			                "no cgroup v1 memory, pids and cpu hierarchies mounted");
	}
	*out = steal_pointer(&cg);
	return 0;
}

enum cgroup_backend cgroup_sandbox_backend(const struct cgroup_sandbox *cg)
{
	return cg ? cg->backend : CGROUP_BACKEND_NONE;
}

const char *cgroup_backend_name(enum cgroup_backend backend)
{
	switch (backend) {
	case CGROUP_BACKEND_V2:
		return "cgroup2";
	case CGROUP_BACKEND_V1:
		return "cgroup1";
	case CGROUP_BACKEND_NONE:
		break;
	}
	return "none";
}

const char *cgroup_sandbox_why_not(const struct cgroup_sandbox *cg)
{
	if (!cg || cg->backend != CGROUP_BACKEND_NONE)
		return NULL;
	return cg->why_not;
}

int cgroup_sandbox_clone_fd(const struct cgroup_sandbox *cg)
{
	return cg && cg->backend == CGROUP_BACKEND_V2 ? cg->v2_fd : -1;
}

int cgroup_sandbox_attach(struct cgroup_sandbox *cg, pid_t pid, corral_error *err)
{
	switch (cg->backend) {
	case CGROUP_BACKEND_V2:
		return cgv2_attach(cg, pid, err);
	case CGROUP_BACKEND_V1:
		return cgv1_attach(cg, pid, err);
	case CGROUP_BACKEND_NONE:
		break;
	}
	return 0;
}

int cgroup_sandbox_usage(const struct cgroup_sandbox *cg, struct cgroup_usage *usage,
                         corral_error *err)
{
	memset(usage, 0, sizeof *usage);
	/* The handle is never defined const; reading keeps the counter files
	 * open in it, and the v2 backend the highest memory.current seen when
	 * the kernel has no memory.peak. */
	struct cgroup_sandbox *mcg = (struct cgroup_sandbox *)cg;
	switch (cg->backend) {
	case CGROUP_BACKEND_V2:
		return cgv2_usage(mcg, usage, err);
	case CGROUP_BACKEND_V1:
		return cgv1_usage(mcg, usage, err);
	case CGROUP_BACKEND_NONE:
		break;
	}
	return 0;
}

int cgroup_sandbox_event_fd(struct cgroup_sandbox *cg)
{
	if (!cg || cg->backend == CGROUP_BACKEND_NONE)
		return -1;
	if (!cg->watch_tried) {
		cg->watch_tried = true;
		/* A failure leaves the caller sampling, as before events: the
		 * reason is not worth failing the sandbox for. */
		if (cg->backend == CGROUP_BACKEND_V2)
			(void)cgv2_watch(cg, NULL);
		else
			(void)cgv1_watch(cg, NULL);
	}
	return cg->watch_ok ? cg->event_fd : -1;
}

int cgroup_sandbox_oom_check(struct cgroup_sandbox *cg, uint64_t *oom_kills, bool *recheck,
                             corral_error *err)
{
	*oom_kills = 0;
	*recheck = false;
	switch (cg->backend) {
	case CGROUP_BACKEND_V2:
		return cgv2_oom_check(cg, oom_kills, recheck, err);
	case CGROUP_BACKEND_V1:
		return cgv1_oom_check(cg, oom_kills, recheck, err);
	case CGROUP_BACKEND_NONE:
		break;
	}
	return 0;
}

int cgroup_sandbox_cpu_usec(struct cgroup_sandbox *cg, uint64_t *usec, corral_error *err)
{
	*usec = 0;
	switch (cg->backend) {
	case CGROUP_BACKEND_V2:
		return cgv2_cpu_usec(cg, usec, err);
	case CGROUP_BACKEND_V1:
		return cgv1_cpu_usec(cg, usec, err);
	case CGROUP_BACKEND_NONE:
		break;
	}
	return 0;
}

int cgroup_sandbox_kill(struct cgroup_sandbox *cg, corral_error *err)
{
	switch (cg->backend) {
	case CGROUP_BACKEND_V2:
		return cgv2_kill(cg, err);
	case CGROUP_BACKEND_V1:
		return cgv1_kill(cg, err);
	case CGROUP_BACKEND_NONE:
		break;
	}
	return 0;
}

size_t cgroup_sandbox_dirs(const struct cgroup_sandbox *cg, const char *out[CGROUP_MAX_DIRS])
{
	_Static_assert(CGROUP_MAX_DIRS >= CGV1_N, "CGROUP_MAX_DIRS holds every v1 hierarchy");
	size_t n = 0;
	if (cg && cg->backend == CGROUP_BACKEND_V2 && cg->v2_path[0])
		out[n++] = cg->v2_path;
	if (cg && cg->backend == CGROUP_BACKEND_V1)
		for (int c = 0; c < CGV1_N; c++)
			if (cg->v1[c].primary && cg->v1[c].created)
				out[n++] = cg->v1[c].path;
	return n;
}

int cgroup_sandbox_freeze(struct cgroup_sandbox *cg, bool frozen, corral_error *err)
{
	switch (cg ? cg->backend : CGROUP_BACKEND_NONE) {
	case CGROUP_BACKEND_V2:
		return cgv2_freeze(cg, frozen, err);
	case CGROUP_BACKEND_V1:
		return cgv1_freeze(cg, frozen, err);
	case CGROUP_BACKEND_NONE:
		break;
	}
	return error_set(err, CORRAL_ERR_HOST, ENOTSUP, "no cgroup");
}

int cgroup_sandbox_destroy(struct cgroup_sandbox *cg, corral_error *err)
{
	if (!cg)
		return 0;
	int rc = 0;
	/* Our own descriptors first: nothing of ours refers to the cgroup
	 * while it is removed (v1 drops the eventfd registration with it). */
	cg_close_files(cg);
	switch (cg->backend) {
	case CGROUP_BACKEND_V2:
		rc = cgv2_destroy(cg, err);
		break;
	case CGROUP_BACKEND_V1:
		rc = cgv1_destroy(cg, err);
		break;
	case CGROUP_BACKEND_NONE:
		break;
	}
	free(cg);
	return rc;
}
