/*
 * safe_list_dir: a directory inside a root, listed in name order and
 * bounded. Separate from safe_file.c as the one operation that reads a
 * directory's entries rather than a path.
 */
#include "fs/safe_file_internal.h"

#include "util/error.h"
#include "util/fileutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sort, keep the first `keep`: a listing is the alphabetically first
 * max_entries however many the sandbox made, in memory of a few times that. */
static size_t keep_first(char **names, size_t n, size_t keep)
{
	if (n > 1)
		qsort(names, n, sizeof *names, cmp_names);
	for (size_t i = keep; i < n; i++)
		free(names[i]);
	return n < keep ? n : keep;
}

static enum safe_file_type file_type(mode_t m)
{
	if (S_ISREG(m))
		return SAFE_FILE_REGULAR;
	if (S_ISDIR(m))
		return SAFE_FILE_DIRECTORY;
	return S_ISLNK(m) ? SAFE_FILE_SYMLINK : SAFE_FILE_OTHER;
}

int safe_list_dir(int root_fd, const char *path, size_t max_entries, struct safe_dirent **entries,
                  size_t *n_entries, bool *truncated, corral_error *err)
{
	char **names = NULL;
	size_t n = 0, cap = 0, seen = 0, n_out = 0;
	struct safe_dirent *out = NULL;
	struct dirent *de;
	DIR *d = NULL;
	int rc = -1;

	*entries = NULL;
	*n_entries = 0;
	*truncated = false;
	if (safe_file_check_path(path, "list", err) < 0)
		return -1;
	int fd = safe_file_open_in_root(root_fd, path, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0 || !(d = fdopendir(fd))) {
		safe_file_close_quietly(fd);
		return safe_file_fail(err, errno, "list", path, NULL);
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (safe_file_is_dot_or_dotdot(de->d_name))
			continue;
		seen++;
		if (n == cap && cap > 0 && cap / 2 >= max_entries) {
			n = keep_first(names, n, max_entries);
		} else if (n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			char **bigger = ncap < SIZE_MAX / sizeof *names ? realloc(names, ncap * sizeof *names) : NULL;
			if (!bigger)
				goto nomem;
			names = bigger;
			cap = ncap;
		}
		if (!(names[n] = strdup(de->d_name)))
			goto nomem;
		n++;
	}
	if (errno) {
		safe_file_fail(err, errno, "list", path, NULL);
		goto cleanup;
	}
	n = keep_first(names, n, max_entries);
	*truncated = seen > max_entries;
	if (n > 0 && !(out = calloc(n, sizeof *out)))
		goto nomem;
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		if (fstatat(dirfd(d), names[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue;   /* removed since readdir */
			safe_file_fail(err, errno, "list", path, NULL);
			goto cleanup;
		}
		out[n_out++] = (struct safe_dirent){.name = names[i], .type = file_type(st.st_mode),
		                                    .size = (uint64_t)st.st_size, .mode = st.st_mode & 07777,
		                                    .mtime = (int64_t)st.st_mtim.tv_sec};
		names[i] = NULL;
	}
	*entries = out;
	*n_entries = n_out;
	out = NULL;
	rc = 0;
	goto cleanup;
nomem:
	safe_file_fail(err, ENOMEM, "list", path, NULL);
cleanup:
	safe_dirents_free(out, n_out);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return rc;
}

void safe_dirents_free(struct safe_dirent *entries, size_t n_entries)
{
	for (size_t i = 0; entries && i < n_entries; i++)
		free(entries[i].name);
	free(entries);
}
