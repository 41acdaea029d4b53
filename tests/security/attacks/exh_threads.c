/*
 * Thread bomb with a hard cap: create up to CAP threads that all stay alive.
 *
 * usage: exh_threads CAP THRESHOLD
 * ESCAPED when more than THRESHOLD threads (the limit the sandbox would
 * apply to processes and threads together) ran at once.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static atomic_int stop;

static void *idle(void *arg)
{
	(void)arg;
	struct timespec ts = {0, 20 * 1000000L};
	while (!atomic_load(&stop))
		nanosleep(&ts, NULL);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s CAP THRESHOLD\n", argv[0]);
		return 2;
	}
	int cap = atoi(argv[1]), threshold = atoi(argv[2]);
	pthread_t *t = calloc((size_t)cap, sizeof *t);
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	int n = 0, err = 0;
	for (; n < cap; n++) {
		err = pthread_create(&t[n], &attr, idle, NULL);
		if (err)
			break;
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	/* +1: the main thread */
	if (n + 1 > threshold) {
		printf("ESCAPED: %d threads ran at once (cap %d) > limit %d\n", n + 1, cap, threshold);
		return 0;
	}
	printf("BLOCKED: only %d threads; pthread_create failed: %s\n", n + 1,
	       err ? strerror(err) : "never");
	return 1;
}
