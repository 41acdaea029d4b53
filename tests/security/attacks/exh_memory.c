/*
 * Memory bombs, each stopping as soon as it got more than THRESHOLD MiB (the
 * limit the sandbox would apply), so the host-side run stays small.
 *
 * usage: exh_memory MODE THRESHOLD_MB [ARG]
 *   anon    private anonymous memory (malloc's kind), touched
 *   shared  MAP_SHARED|MAP_ANONYMOUS memory (not "data" for RLIMIT_DATA)
 *   memfd   a memfd grown with ftruncate and touched through a shared mapping
 *   tmpfs   a file in directory ARG (e.g. /dev/shm), written
 *   procs   ARG processes (default 4), each trying for THRESHOLD+8 MiB of
 *           private memory: more than the limit in total, and each one
 *           alone over the limit too
 *
 * Progress goes to stdout as "have N MiB" lines. ESCAPED when more than
 * THRESHOLD MiB were held at once; BLOCKED when an allocation failed first.
 * A memory cgroup's OOM killer usually ends the run before either line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHUNK (4u << 20)

/* Grab and touch memory until more than `goal` MiB are held; return MiB held. */
static long grab(const char *mode, long goal_mb, const char *arg, int *err)
{
	long have = 0;
	int fd = -1;
	char path[4096] = "";
	if (strcmp(mode, "memfd") == 0) {
		fd = memfd_create("exh-memory", 0);
		if (fd < 0) {
			*err = errno;
			return 0;
		}
	} else if (strcmp(mode, "tmpfs") == 0) {
		snprintf(path, sizeof path, "%s/exh-memory-%d", arg, (int)getpid());
		fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
		if (fd < 0) {
			*err = errno;
			return 0;
		}
	}
	char *buf = NULL;
	if (strcmp(mode, "tmpfs") == 0) {
		buf = malloc(CHUNK);
		memset(buf, 0xa5, CHUNK);
	}
	while (have <= goal_mb) {
		void *p = NULL;
		if (strcmp(mode, "anon") == 0) {
			p = mmap(NULL, CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		} else if (strcmp(mode, "shared") == 0) {
			p = mmap(NULL, CHUNK, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		} else if (strcmp(mode, "memfd") == 0) {
			off_t off = (off_t)have << 20;
			if (ftruncate(fd, off + CHUNK) < 0) {
				*err = errno;
				break;
			}
			p = mmap(NULL, CHUNK, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);
		} else { /* tmpfs */
			ssize_t n = write(fd, buf, CHUNK);
			if (n != (ssize_t)CHUNK) {
				*err = n < 0 ? errno : ENOSPC;
				break;
			}
			have += CHUNK >> 20;
			printf("have %ld MiB\n", have);
			continue;
		}
		if (p == MAP_FAILED) {
			*err = errno;
			break;
		}
		memset(p, 0x5a, CHUNK);
		have += CHUNK >> 20;
		printf("have %ld MiB\n", have);
	}
	if (path[0])
		unlink(path);
	return have;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s anon|shared|memfd|tmpfs DIR|procs [N] THRESHOLD_MB\n", argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IONBF, 0);
	const char *mode = argv[1];
	long threshold = atol(argv[2]);
	const char *arg = argc > 3 ? argv[3] : "";
	int err = 0;

	if (strcmp(mode, "procs") != 0) {
		long have = grab(mode, threshold, arg, &err);
		if (have > threshold) {
			printf("ESCAPED: %s: held %ld MiB > limit %ld MiB\n", mode, have, threshold);
			return 0;
		}
		printf("BLOCKED: %s: only %ld MiB: %s\n", mode, have, strerror(err));
		return 1;
	}

	int n = arg[0] ? atoi(arg) : 4;
	int pipes[64][2];
	pid_t pids[64];
	if (n > 64)
		n = 64;
	for (int i = 0; i < n; i++) {
		if (pipe(pipes[i]) < 0)
			return 2;
		pid_t pid = fork();
		if (pid < 0) {
			printf("BLOCKED: procs: fork: %s\n", strerror(errno));
			return 1;
		}
		if (pid == 0) {
			int e = 0;
			/* each child: more than the limit on its own */
			long have = grab("anon", threshold + 8, "", &e);
			char msg[64];
			int len = snprintf(msg, sizeof msg, "%ld %d\n", have, e);
			(void)write(pipes[i][1], msg, (size_t)len);
			/* hold it until every sibling has its share too */
			pause();
			_exit(0);
		}
		pids[i] = pid;
		close(pipes[i][1]);
	}
	long total = 0, most = 0;
	for (int i = 0; i < n; i++) {
		char msg[64] = "";
		ssize_t r = read(pipes[i][0], msg, sizeof msg - 1);
		long have = 0;
		int e = 0;
		if (r > 0)
			sscanf(msg, "%ld %d", &have, &e);
		printf("child %d: %ld MiB%s%s\n", i, have, e ? ", then " : "", e ? strerror(e) : "");
		total += have;
		if (have > most)
			most = have;
	}
	for (int i = 0; i < n; i++)
		kill(pids[i], SIGKILL);
	while (wait(NULL) > 0)
		;
	printf("largest-process %ld MiB\n", most);
	if (total > threshold) {
		printf("ESCAPED: procs: %d processes held %ld MiB together > limit %ld MiB "
		       "(largest %ld MiB)\n", n, total, threshold, most);
		return 0;
	}
	printf("BLOCKED: procs: only %ld MiB together\n", total);
	return 1;
}
