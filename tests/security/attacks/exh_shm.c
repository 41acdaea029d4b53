/*
 * Shared memory past the sandbox's limits, left behind on purpose.
 *
 * usage: exh_shm sysv SIZE_BYTES THRESHOLD_MB
 *          shmget(IPC_PRIVATE, SIZE_BYTES) (the odd size marks the segment
 *          for the test), shmat, touch page by page; never IPC_RMID.
 *        exh_shm posix NAME THRESHOLD_MB
 *          shm_open(NAME) in /dev/shm, grown with write(); never unlinked.
 *        exh_shm posix-mmap NAME THRESHOLD_MB
 *          shm_open(NAME), ftruncate to twice the threshold (sparse, so
 *          it always succeeds), then touch it through a shared mapping; a
 *          full tmpfs answers with SIGBUS, which is caught.
 *
 * Each stops as soon as it holds more than THRESHOLD MiB: ESCAPED. BLOCKED
 * when the kernel refused first (ENOMEM, ENOSPC, SIGBUS). A memory cgroup
 * usually OOM-kills the run before either verdict.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <unistd.h>

#define MiB (1L << 20)

static sigjmp_buf on_bus;

static void bus(int sig)
{
	(void)sig;
	siglongjmp(on_bus, 1);
}

static int verdict(const char *mode, long have_bytes, long threshold_mb, const char *why)
{
	if (have_bytes > threshold_mb * MiB) {
		printf("ESCAPED: %s: held %ld KiB > limit %ld MiB\n", mode, have_bytes / 1024, threshold_mb);
		return 0;
	}
	printf("BLOCKED: %s: only %ld KiB: %s\n", mode, have_bytes / 1024, why);
	return 1;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s sysv SIZE THRESHOLD_MB | posix[-mmap] NAME THRESHOLD_MB\n", argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IONBF, 0);
	const char *mode = argv[1];
	long threshold = atol(argv[3]);
	long page = sysconf(_SC_PAGESIZE);
	volatile long have = 0;

	if (strcmp(mode, "sysv") == 0) {
		size_t size = strtoul(argv[2], NULL, 0);
		int id = shmget(IPC_PRIVATE, size, IPC_CREAT | 0600);
		if (id < 0)
			return verdict(mode, 0, threshold, strerror(errno));
		printf("shmid %d, %zu bytes\n", id, size);
		char *p = shmat(id, NULL, 0);
		if (p == (void *)-1)
			return verdict(mode, 0, threshold, strerror(errno));
		signal(SIGBUS, bus);
		if (sigsetjmp(on_bus, 1))
			return verdict(mode, have, threshold, "SIGBUS");
		while (have <= threshold * MiB && (size_t)have < size) {
			p[have] = 1;
			have += page;
			if (have % (16 * MiB) == 0)
				printf("have %ld MiB\n", have / MiB);
		}
		/* no shmdt, no IPC_RMID: the segment stays */
		return verdict(mode, have, threshold, "segment smaller than the limit");
	}

	const char *name = argv[2];
	int fd = shm_open(name, O_CREAT | O_RDWR, 0600);
	if (fd < 0)
		return verdict(mode, 0, threshold, strerror(errno));
	if (strcmp(mode, "posix") == 0) {
		static char buf[1 << 20];
		memset(buf, 0x5a, sizeof buf);
		while (have <= threshold * MiB) {
			ssize_t n = write(fd, buf, sizeof buf);
			if (n < 0)
				return verdict(mode, have, threshold, strerror(errno));
			have += n;
			if (n < (ssize_t)sizeof buf)
				return verdict(mode, have, threshold, "short write");
		}
		return verdict(mode, have, threshold, "");
	}
	/* posix-mmap */
	size_t size = (size_t)(2 * threshold + 8) * MiB;
	if (ftruncate(fd, (off_t)size) < 0)
		return verdict(mode, 0, threshold, strerror(errno));
	char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return verdict(mode, 0, threshold, strerror(errno));
	signal(SIGBUS, bus);
	if (sigsetjmp(on_bus, 1))
		return verdict(mode, have, threshold, "SIGBUS: the tmpfs is full");
	while (have <= threshold * MiB) {
		p[have] = 1;
		have += page;
	}
	return verdict(mode, have, threshold, "");
}
