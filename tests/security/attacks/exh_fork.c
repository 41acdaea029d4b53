/*
 * Fork bomb, with a hard cap so that it is safe to run on the host.
 *
 * usage: exh_fork MODE CAP THRESHOLD
 *   MODE chain: the first process forks every child itself
 *        bomb:  every new process forks too (exponential), all of them
 *               drawing from one shared budget of CAP processes
 *
 * Every child stays alive until the end, so the count is of processes
 * alive at once. ESCAPED when more than THRESHOLD processes (the limit the
 * sandbox would apply) existed at once; BLOCKED when fork failed first.
 * Then everything is stopped and reaped, whatever the verdict.
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct shared {
	atomic_int reserved; /* budget handed out */
	atomic_int alive;    /* children that started */
	atomic_int failed;   /* forks that failed (budget given back) */
	atomic_int stop;
	atomic_int first_errno;
};

static struct shared *sh;
static int cap;
static int bomb;

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static void child_life(void);

/* Fork while the shared budget lasts; a refused fork ends this process's
 * forking (a real bomb would retry forever). */
static void fork_loop(void)
{
	for (;;) {
		if (atomic_load(&sh->stop))
			return;
		int slot = atomic_fetch_add(&sh->reserved, 1);
		if (slot >= cap) {
			atomic_fetch_sub(&sh->reserved, 1);
			return;
		}
		pid_t pid = fork();
		if (pid == 0) {
			child_life();
			_exit(0);
		}
		if (pid < 0) {
			int zero = 0;
			atomic_compare_exchange_strong(&sh->first_errno, &zero, errno);
			atomic_fetch_add(&sh->failed, 1);
			return;
		}
	}
}

static void child_life(void)
{
	/* never outlive the test by much, even if the parent vanished */
	alarm(60);
	atomic_fetch_add(&sh->alive, 1);
	if (bomb)
		fork_loop();
	while (!atomic_load(&sh->stop))
		sleep_ms(20);
	while (wait(NULL) > 0 || errno == EINTR)
		;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s chain|bomb CAP THRESHOLD\n", argv[0]);
		return 2;
	}
	bomb = strcmp(argv[1], "bomb") == 0;
	cap = atoi(argv[2]);
	int threshold = atoi(argv[3]);
	sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		perror("mmap");
		return 2;
	}
	setvbuf(stdout, NULL, _IONBF, 0);

	fork_loop();
	/* Wait until every handed-out slot became a live child or a failure. */
	for (int i = 0; i < 1000; i++) {
		if (atomic_load(&sh->alive) + atomic_load(&sh->failed) >= atomic_load(&sh->reserved))
			break;
		sleep_ms(10);
	}
	int alive = atomic_load(&sh->alive);
	int e = atomic_load(&sh->first_errno);
	atomic_store(&sh->stop, 1);
	while (wait(NULL) > 0 || errno == EINTR)
		;

	if (alive > threshold) {
		printf("ESCAPED: %d processes alive at once (%s, cap %d) > limit %d\n", alive, argv[1],
		       cap, threshold);
		return 0;
	}
	printf("BLOCKED: only %d processes (%s); fork failed: %s\n", alive, argv[1],
	       e ? strerror(e) : "never (cap reached)");
	return 1;
}
