/*
 * The processes in a cgroup and the cgroup directories themselves: listing,
 * killing, removing (with bounded retries). Separate from cgroup_io.c: this
 * is the teardown side, shared by both backends' kill and destroy.
 */
#include "cgroup/cgroup_internal.h"
#include "util/cleanup.h"
#include "util/error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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

