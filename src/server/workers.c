#include "server/workers.h"

#include "util/error.h"

#include <stdio.h>
#include <time.h>

void *registry_starter_main(void *arg)
{
	struct registry *reg = arg;
	pthread_mutex_lock(&reg->lock);
	for (;;) {
		while (!reg->jobs && !reg->stopping)
			pthread_cond_wait(&reg->job_ready, &reg->lock);
		struct start_job *job = reg->jobs;
		if (!job)
			break;
		reg->jobs = job->next;
		pthread_mutex_unlock(&reg->lock);
		job->rc = corral_sandbox_start_idle(job->policy, &job->sb, &job->err);
		pthread_mutex_lock(&reg->lock);
		job->done = true;
		pthread_cond_broadcast(&reg->changed);
	}
	pthread_mutex_unlock(&reg->lock);
	return NULL;
}

int registry_start_idle(struct registry *reg, const corral_policy *p, corral_sandbox **out,
                        corral_error *err)
{
	struct start_job job = {.policy = p, .rc = -1};
	pthread_mutex_lock(&reg->lock);
	if (reg->stopping) { /* the starters may be gone */
		pthread_mutex_unlock(&reg->lock);
		return error_set(err, CORRAL_ERR_INTERNAL, 0, "the server is shutting down");
	}
	struct start_job **tail = &reg->jobs;
	while (*tail)
		tail = &(*tail)->next;
	*tail = &job;
	pthread_cond_signal(&reg->job_ready);
	while (!job.done)
		pthread_cond_wait(&reg->changed, &reg->lock);
	pthread_mutex_unlock(&reg->lock);
	*out = job.sb;
	*err = job.err;
	return job.rc;
}

struct sbx *pool_take(struct registry *reg, uint64_t ttl_ms, struct sbx **stale)
{
	int64_t now = now_realtime_ms();
	while (reg->pool) {
		struct sbx *s = reg->pool;
		reg->pool = s->next;
		reg->n_pool--;
		if (!s->ended && now + (int64_t)ttl_ms <= s->created_ms + (int64_t)reg->cfg->max_ttl_ms)
			return s;
		s->next = *stale;
		*stale = s;
	}
	return NULL;
}

void *registry_refiller_main(void *arg)
{
	struct registry *reg = arg;
	pthread_mutex_lock(&reg->lock);
	while (!reg->stopping) {
		struct sbx *stale = NULL;
		for (struct sbx **pp = &reg->pool; *pp;) {
			struct sbx *s = *pp;
			if (s->ended) {
				*pp = s->next;
				reg->n_pool--;
				s->next = stale;
				stale = s;
			} else {
				pp = &s->next;
			}
		}
		bool fill = reg->n_pool < reg->cfg->warm;
		pthread_mutex_unlock(&reg->lock);
		while (stale) {
			struct sbx *next = stale->next;
			sbx_destroy(reg, stale);
			stale = next;
		}
		struct sbx *s = NULL;
		if (fill) {
			char message[REQUEST_MESSAGE_MAX];
			const char *code = "internal";
			unsigned status;
			corral_policy *p = build_policy(reg, "{}", reg->cfg->max_ttl_ms, &code, message);
			s = p ? sbx_start(reg, p, false, &status, &code, message) : NULL;
			corral_policy_free(p);
			if (!s)
				fprintf(stderr, "{\"event\":\"warm_failed\",\"code\":\"%s\"}\n", code);
		}
		pthread_mutex_lock(&reg->lock);
		if (s) {
			s->next = reg->pool;
			reg->pool = s;
			reg->n_pool++;
		}
		if (!s || !fill) {
			struct timespec until;
			clock_gettime(CLOCK_MONOTONIC, &until);
			until.tv_sec += fill ? 1 : 0; /* after a failure, a pause */
			until.tv_nsec += 250 * 1000000L;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&reg->changed, &reg->lock, &until);
		}
	}
	pthread_mutex_unlock(&reg->lock);
	return NULL;
}

void *registry_reaper_main(void *arg)
{
	struct registry *reg = arg;
	pthread_mutex_lock(&reg->lock);
	while (!reg->stopping) {
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += 250 * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&reg->changed, &reg->lock, &until);
		int64_t now = now_realtime_ms();
		struct sbx *expired = NULL;
		for (struct sbx **pp = &reg->list; *pp;) {
			struct sbx *s = *pp;
			if (s->expires_ms <= now) {
				*pp = s->next;
				s->next = expired;
				expired = s;
			} else {
				pp = &s->next;
			}
		}
		pthread_mutex_unlock(&reg->lock);
		while (expired) {
			struct sbx *next = expired->next;
			fprintf(stderr, "{\"event\":\"sandbox_expired\",\"id\":\"%s\"}\n", expired->id);
			expired->end_reason = "expired";
			sbx_destroy(reg, expired);
			expired = next;
		}
		pthread_mutex_lock(&reg->lock);
	}
	pthread_mutex_unlock(&reg->lock);
	return NULL;
}
