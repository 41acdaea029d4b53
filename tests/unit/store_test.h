/* Shared set-up of the store tests: a scratch directory under /tmp, removed
 * at the end, and small file helpers that abort on set-up failures. */
#ifndef CORRAL_TESTS_STORE_TEST_H
#define CORRAL_TESTS_STORE_TEST_H

#include "store/store.h"
#include "unit.h"
#include "util/error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MUST(cond)                                                                         \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fprintf(stderr, "setup failed: %s:%d: %s: %s\n", __FILE__, __LINE__, \
			        #cond, strerror(errno));                                   \
			exit(1);                                                           \
		}                                                                          \
	} while (0)

static char scratch[64];

static inline void scratch_make(const char *name)
{
	snprintf(scratch, sizeof scratch, "/tmp/corral-%s-XXXXXX", name);
	MUST(mkdtemp(scratch) != NULL);
}

static inline void scratch_remove(void)
{
	int fd = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	MUST(fd >= 0);
	MUST(store_remove_tree(fd, scratch + 5, NULL, NULL) == 0);
	close(fd);
}

/* scratch/rel */
static inline const char *at(const char *rel)
{
	static char buf[8][512];
	static int next;
	char *p = buf[next++ % 8];
	snprintf(p, sizeof buf[0], "%s/%s", scratch, rel);
	return p;
}

static inline void put_file(const char *path, const char *content, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	MUST(fd >= 0);
	MUST(write(fd, content, strlen(content)) == (ssize_t)strlen(content));
	MUST(fchmod(fd, mode) == 0);
	MUST(close(fd) == 0);
}

/* The whole (small) file, or "" if it cannot be read. */
static inline const char *slurp(const char *path)
{
	static char buf[4096];
	buf[0] = '\0';
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return buf;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	buf[n > 0 ? n : 0] = '\0';
	close(fd);
	return buf;
}

static inline size_t count_entries(const char *path)
{
	DIR *dir = opendir(path);
	MUST(dir != NULL);
	size_t n = 0;
	const struct dirent *de;
	while ((de = readdir(dir)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(dir);
	return n;
}

#endif
