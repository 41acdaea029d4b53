#include "net/resolver.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Shared by the proxy and every lookup in flight; the last one out closes
 * the pipe. */
struct resolver {
	atomic_int refs;
	int pipe[2];
	pthread_mutex_t lock;  /* orders a lookup's answer against closing */
	bool closing;
};

struct worker {
	struct resolver *r;
	struct resolver_job *job;
};

static void unref(struct resolver *r)
{
	if (atomic_fetch_sub(&r->refs, 1) == 1) {
		pthread_mutex_destroy(&r->lock);
		close(r->pipe[0]);
		close(r->pipe[1]);
		free(r);
	}
}

struct resolver *resolver_new(void)
{
	struct resolver *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	if (pipe2(r->pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		free(r);
		return NULL;
	}
	atomic_init(&r->refs, 1);
	pthread_mutex_init(&r->lock, NULL);
	return r;
}

int resolver_fd(const struct resolver *r)
{
	return r->pipe[0];
}

static void *lookup(void *arg)
{
	struct worker *w = arg;
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_ADDRCONFIG};
	w->job->gai_error = getaddrinfo(w->job->host, NULL, &hints, &w->job->result);
	/* A pointer fits in one atomic pipe write. If the proxy has stopped
	 * (nobody will read), the job is ours to free. */
	ssize_t n = -1;
	pthread_mutex_lock(&w->r->lock);
	if (!w->r->closing)
		while ((n = write(w->r->pipe[1], &w->job, sizeof w->job)) < 0 && errno == EINTR) // NOLINT(bugprone-sizeof-expression): the pointer itself is the message
			;
	pthread_mutex_unlock(&w->r->lock);
	if (n != (ssize_t)sizeof w->job) // NOLINT(bugprone-sizeof-expression)
		resolver_job_free(w->job);
	unref(w->r);
	free(w);
	return NULL;
}

int resolver_submit(struct resolver *r, const char *host, void *owner, uint64_t serial)
{
	struct worker *w = calloc(1, sizeof *w);
	struct resolver_job *job = calloc(1, sizeof *job);
	if (!w || !job || strlen(host) >= sizeof job->host) {
		free(w);
		free(job);
		return -1;
	}
	memcpy(job->host, host, strlen(host) + 1);
	job->owner = owner;
	job->serial = serial;
	w->r = r;
	w->job = job;
	atomic_fetch_add(&r->refs, 1);

	pthread_attr_t attr;
	pthread_t thread;
	sigset_t all, old;
	sigfillset(&all);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pthread_create(&thread, &attr, lookup, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		atomic_fetch_sub(&r->refs, 1);
		free(job);
		free(w);
		return -1;
	}
	return 0;
}

struct resolver_job *resolver_next(struct resolver *r)
{
	struct resolver_job *job;
	if (read(r->pipe[0], &job, sizeof job) != (ssize_t)sizeof job) // NOLINT(bugprone-sizeof-expression): the pointer itself is the message
		return NULL;
	return job;
}

void resolver_job_free(struct resolver_job *job)
{
	if (!job)
		return;
	if (job->result)
		freeaddrinfo(job->result);
	free(job);
}

void resolver_free(struct resolver *r)
{
	if (!r)
		return;
	/* From now on lookups in flight free their own answers; those already
	 * written are freed here. */
	pthread_mutex_lock(&r->lock);
	r->closing = true;
	struct resolver_job *job;
	while ((job = resolver_next(r)))
		resolver_job_free(job);
	pthread_mutex_unlock(&r->lock);
	unref(r);
}
