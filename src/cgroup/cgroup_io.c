/*
 * Reading and writing cgroup files, and the counters a sandbox keeps open
 * while it runs. Separate from cgroup.c because both backends (cgroup_v1.c,
 * cgroup_v2.c) use these and none of it depends on which one is in use.
 */
#include "cgroup/cgroup_internal.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/fileutil.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

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
