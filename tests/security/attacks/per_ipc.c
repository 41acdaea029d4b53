/*
 * IPC objects that outlive their creator: planted in one run, looked for in
 * another.
 *
 * usage: per_ipc plant   KEY NAME   create and leave behind: a SysV shared
 *                                   memory segment (KEY), another with
 *                                   IPC_PRIVATE and an unusual size, a SysV
 *                                   message queue and semaphore set (KEY),
 *                                   a POSIX message queue and a POSIX shm
 *                                   object (/NAME). Prints PLANTED.
 *        per_ipc check   KEY NAME   run on the host afterwards: ESCAPED if
 *                                   any of them exists here, else BLOCKED
 *        per_ipc cleanup KEY NAME   remove whatever exists (host hygiene)
 *
 * The unusual size of the IPC_PRIVATE segment is PRIVATE_SIZE(KEY).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

static size_t private_size(key_t key)
{
	return (size_t)(1 << 20) + 4096u * (5u + (unsigned)key % 97u);
}

/* Segments of exactly `size` bytes, from /proc/sysvipc/shm (every segment
 * of this IPC namespace, whoever owns it). */
static int private_segments(size_t size, int *ids, int max)
{
	FILE *f = fopen("/proc/sysvipc/shm", "r");
	if (!f)
		return -1;
	char line[512];
	int n = 0;
	if (!fgets(line, sizeof line, f)) {
		fclose(f);
		return 0;
	}
	while (fgets(line, sizeof line, f)) {
		long k, id, perms;
		unsigned long sz;
		if (sscanf(line, "%ld %ld %lo %lu", &k, &id, &perms, &sz) == 4 && sz == size && n < max)
			ids[n++] = (int)id;
	}
	fclose(f);
	return n;
}

/* "exists" includes "exists but not ours to open" (EACCES). */
static int found(int rc)
{
	return rc >= 0 || errno == EACCES;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s plant|check|cleanup KEY NAME\n", argv[0]);
		return 2;
	}
	const char *mode = argv[1];
	key_t key = (key_t)strtol(argv[2], NULL, 0);
	char name[256];
	snprintf(name, sizeof name, "/%s", argv[3]);
	size_t psize = private_size(key);

	if (strcmp(mode, "plant") == 0) {
		int ok = 0;
		int id = shmget(key, 1 << 20, IPC_CREAT | 0600);
		if (id >= 0) {
			char *p = shmat(id, NULL, 0);
			if (p != (void *)-1)
				memset(p, 0x5a, 1 << 20);
			ok++;
		} else {
			printf("shmget(KEY): %s\n", strerror(errno));
		}
		id = shmget(IPC_PRIVATE, psize, IPC_CREAT | 0600);
		if (id >= 0)
			ok++;
		else
			printf("shmget(IPC_PRIVATE): %s\n", strerror(errno));
		if (msgget(key, IPC_CREAT | 0600) >= 0)
			ok++;
		else
			printf("msgget: %s\n", strerror(errno));
		if (semget(key, 1, IPC_CREAT | 0600) >= 0)
			ok++;
		else
			printf("semget: %s\n", strerror(errno));
		struct mq_attr attr = {.mq_maxmsg = 1, .mq_msgsize = 64};
		mqd_t q = mq_open(name, O_CREAT | O_RDWR, 0600, &attr);
		if (q != (mqd_t)-1) {
			mq_send(q, "left behind", 11, 0);
			ok++;
		} else {
			printf("mq_open: %s\n", strerror(errno));
		}
		int fd = shm_open(name, O_CREAT | O_RDWR, 0600);
		if (fd >= 0 && ftruncate(fd, 4096) == 0)
			ok++;
		else
			printf("shm_open: %s\n", strerror(errno));
		printf("PLANTED %d/6 objects (key %d, name %s, private segment of %zu bytes)\n", ok,
		       (int)key, name, psize);
		return 0;
	}

	int ids[16];
	int nprivate = private_segments(psize, ids, 16);
	if (strcmp(mode, "cleanup") == 0) {
		int id = shmget(key, 0, 0);
		if (id >= 0)
			shmctl(id, IPC_RMID, NULL);
		for (int i = 0; i < nprivate; i++)
			shmctl(ids[i], IPC_RMID, NULL);
		id = msgget(key, 0);
		if (id >= 0)
			msgctl(id, IPC_RMID, NULL);
		id = semget(key, 0, 0);
		if (id >= 0)
			semctl(id, 0, IPC_RMID);
		mq_unlink(name);
		shm_unlink(name);
		printf("cleaned\n");
		return 0;
	}

	char left[1024] = "";
	size_t len = 0;
#define LEFT(what) len += (size_t)snprintf(left + len, sizeof left - len, " %s", what)
	if (found(shmget(key, 0, 0)))
		LEFT("sysv-shm(key)");
	if (nprivate > 0)
		LEFT("sysv-shm(IPC_PRIVATE)");
	if (found(msgget(key, 0)))
		LEFT("sysv-msg");
	if (found(semget(key, 0, 0)))
		LEFT("sysv-sem");
	mqd_t q = mq_open(name, O_RDONLY);
	if (q != (mqd_t)-1 || errno == EACCES)
		LEFT("posix-mq");
	struct stat st;
	char path[300];
	snprintf(path, sizeof path, "/dev/shm%s", name);
	if (stat(path, &st) == 0)
		LEFT("posix-shm");
	if (len) {
		printf("ESCAPED: IPC objects exist here:%s\n", left);
		return 0;
	}
	printf("BLOCKED: none of the IPC objects (key %d, %s) exists here\n", (int)key, name);
	return 1;
}
