#include "server/sandboxes.h"

#include "policy/parse.h"
#include "policy/policy.h"
#include "util/error.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* The library's own wall-clock limit backs the reaper up by this much. */
#define TTL_GRACE_MS 5000

int64_t now_realtime_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *reaper_main(void *arg);
static void *refiller_main(void *arg);

static void *starter_main(void *arg)
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

/* corral_sandbox_start_idle in a starter thread. */
static int start_idle(struct registry *reg, const corral_policy *p, corral_sandbox **out,
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

int registry_init(struct registry *reg, const struct server_limits *cfg, struct metrics *m,
                  corral_error *err)
{
	memset(reg, 0, sizeof *reg);
	reg->cfg = cfg;
	reg->metrics = m;
	reg->maxima = corral_policy_new();
	if (!reg->maxima)
		return error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "policy");
	if (cfg->base_policy_json &&
	    corral_policy_merge_json(reg->maxima, cfg->base_policy_json, err) < 0) {
		corral_policy_free(reg->maxima);
		return -1;
	}
	pthread_mutex_init(&reg->lock, NULL);
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&reg->changed, &attr);
	pthread_condattr_destroy(&attr);
	pthread_cond_init(&reg->job_ready, NULL);
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pthread_create(&reg->reaper, NULL, reaper_main, reg);
	reg->reaper_running = rc == 0;
	while (rc == 0 && reg->n_starters < REGISTRY_STARTERS) {
		rc = pthread_create(&reg->starters[reg->n_starters], NULL, starter_main, reg);
		reg->n_starters += rc == 0;
	}
	if (rc == 0 && cfg->warm > 0) {
		rc = pthread_create(&reg->refiller, NULL, refiller_main, reg);
		reg->refiller_running = rc == 0;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		registry_shutdown(reg);
		return error_set(err, CORRAL_ERR_INTERNAL, rc, "server threads");
	}
	return 0;
}

static void *waiter_main(void *arg)
{
	void **args = arg;
	struct registry *reg = args[0];
	struct sbx *s = args[1];
	free(arg);
	corral_result result;
	corral_error err = {0};
	memset(&result, 0, sizeof result);
	if (corral_sandbox_wait(s->sb, &result, &err) < 0)
		result.status = CORRAL_STATUS_SETUP_ERROR;
	metrics_sandbox_ended(reg->metrics, result.status);
	pthread_mutex_lock(&reg->lock);
	s->result = result;
	s->wait_err = err;
	s->ended = true;
	if (s->counted)
		reg->n_live--;
	pthread_cond_broadcast(&reg->changed);
	pthread_mutex_unlock(&reg->lock);
	return NULL;
}

/* Kill, wait for the requests using it, join its waiter, free. Unlinked. */
static void sbx_destroy(struct registry *reg, struct sbx *s)
{
	corral_sandbox_signal(s->sb, SIGKILL, NULL);
	pthread_mutex_lock(&reg->lock);
	while (s->refs > 0)
		pthread_cond_wait(&reg->changed, &reg->lock);
	pthread_mutex_unlock(&reg->lock);
	pthread_join(s->waiter, NULL);
	corral_sandbox_free(s->sb);
	free(s);
}

/* The client's limits may not exceed the operator's. */
static int check_maxima(struct registry *reg, corral_policy *p, char message[REQUEST_MESSAGE_MAX])
{
	for (int id = 0; id < POLICY_LIMIT_COUNT; id++) {
		if (id == POLICY_LIMIT_TIMEOUT || id == POLICY_LIMIT_OUTPUT)
			continue;
		uint64_t asked = *policy_limit_slot(p, (enum policy_limit_id)id);
		uint64_t max = *policy_limit_slot(reg->maxima, (enum policy_limit_id)id);
		if (asked > max) {
			char buf[32];
			policy_format_limit(reg->maxima, (enum policy_limit_id)id, buf, sizeof buf);
			snprintf(message, REQUEST_MESSAGE_MAX, "limits.%s: at most %s on this server",
			         policy_limit_json_name((enum policy_limit_id)id), buf);
			return -1;
		}
	}
	return 0;
}

static corral_policy *build_policy(struct registry *reg, const char *json, uint64_t ttl_ms,
                                   const char **code, char message[REQUEST_MESSAGE_MAX])
{
	corral_error err = {0};
	char ttl[32];
	corral_policy *p = corral_policy_new();
	*code = "bad_policy";
	if (!p) {
		*code = "internal";
		snprintf(message, REQUEST_MESSAGE_MAX, "out of memory");
		return NULL;
	}
	snprintf(ttl, sizeof ttl, "%llums", (unsigned long long)(ttl_ms + TTL_GRACE_MS));
	if ((reg->cfg->base_policy_json &&
	     corral_policy_merge_json(p, reg->cfg->base_policy_json, &err) < 0) ||
	    corral_policy_merge_json(p, json, &err) < 0) {
		snprintf(message, REQUEST_MESSAGE_MAX, "%s", err.message);
		goto fail;
	}
	if (check_maxima(reg, p, message) < 0)
		goto fail;
	/* A private tmpfs /workspace (of the disk limit's size; on an image,
	 * a directory of its overlay, so snapshots keep it), the default
	 * working directory; the sandbox lives for its ttl; commands' output
	 * flows through our own pipes, capped per request. */
	if ((!p->workspace && !p->image && !p->from &&
	     corral_policy_add_mount(p, CORRAL_MOUNT_TMPFS, NULL, POLICY_WORKSPACE_PATH, &err) < 0) ||
	    (!p->cwd && corral_policy_set_cwd(p, POLICY_WORKSPACE_PATH, &err) < 0) ||
	    policy_set_limit(p, POLICY_LIMIT_TIMEOUT, ttl, &err) < 0 ||
	    policy_set_limit(p, POLICY_LIMIT_OUTPUT, "unlimited", &err) < 0) {
		snprintf(message, REQUEST_MESSAGE_MAX, "%s", err.message);
		goto fail;
	}
	return p;
fail:
	corral_policy_free(p);
	return NULL;
}

/* A started sandbox with its waiter, not yet listed (created now, no
 * refs); NULL with *status, *code and message on failure. */
static struct sbx *sbx_start(struct registry *reg, corral_policy *p, bool counted,
                             unsigned *status, const char **code,
                             char message[REQUEST_MESSAGE_MAX])
{
	corral_error err = {0};
	struct sbx *s = calloc(1, sizeof *s);
	void **args = calloc(2, sizeof *args);
	unsigned char raw[16];
	*status = 500;
	*code = "internal";
	if (!s || !args || getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) {
		snprintf(message, REQUEST_MESSAGE_MAX, "out of memory or entropy");
		goto fail;
	}
	for (size_t i = 0; i < sizeof raw; i++)
		snprintf(s->id + 2 * i, 3, "%02x", raw[i]);
	if (start_idle(reg, p, &s->sb, &err) < 0) {
		*code = err.kind == CORRAL_ERR_USAGE ? "bad_policy" : "setup_failed";
		*status = err.kind == CORRAL_ERR_USAGE ? 400 : 500;
		snprintf(message, REQUEST_MESSAGE_MAX, "%s", err.message);
		goto fail;
	}
	s->created_ms = now_realtime_ms();
	s->counted = counted;
	args[0] = reg;
	args[1] = s;
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pthread_create(&s->waiter, NULL, waiter_main, args);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		corral_sandbox_free(s->sb);
		snprintf(message, REQUEST_MESSAGE_MAX, "cannot start a waiter thread: %s", strerror(rc));
		goto fail;
	}
	metrics_sandbox_created(reg->metrics);
	return s;
fail:
	free(s);
	free(args);
	return NULL;
}

/* A warm sandbox able to live ttl_ms more, taken out of the pool, or NULL.
 * Those too old or ended go to *stale. Under the lock. */
static struct sbx *pool_take(struct registry *reg, uint64_t ttl_ms, struct sbx **stale)
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

unsigned sbx_create(struct registry *reg, const char *policy_json, uint64_t ttl_ms,
                    struct sbx **out, const char **code, char message[REQUEST_MESSAGE_MAX])
{
	*out = NULL;
	bool warm = reg->cfg->warm > 0 && strcmp(policy_json, "{}") == 0;
	corral_policy *p = warm ? NULL : build_policy(reg, policy_json, ttl_ms, code, message);
	if (!p && !warm)
		return strcmp(*code, "internal") == 0 ? 500 : 400;
	pthread_mutex_lock(&reg->lock);
	if (reg->stopping || reg->n_live >= reg->cfg->max_sandboxes) {
		bool stopping = reg->stopping;
		pthread_mutex_unlock(&reg->lock);
		corral_policy_free(p);
		*code = stopping ? "shutting_down" : "too_many_sandboxes";
		snprintf(message, REQUEST_MESSAGE_MAX,
		         stopping ? "the server is shutting down"
		                  : "too many sandboxes (%zu): delete one first",
		         reg->cfg->max_sandboxes);
		return stopping ? 503 : 429;
	}
	reg->n_live++; /* reserved while it starts */
	struct sbx *stale = NULL, *s = warm ? pool_take(reg, ttl_ms, &stale) : NULL;
	if (s) {
		s->counted = true;
		s->created_ms = now_realtime_ms();
	}
	pthread_cond_broadcast(&reg->changed); /* the refiller */
	pthread_mutex_unlock(&reg->lock);
	while (stale) {
		struct sbx *next = stale->next;
		sbx_destroy(reg, stale);
		stale = next;
	}
	unsigned status = 500;
	if (!s && warm)
		p = build_policy(reg, policy_json, ttl_ms, code, message);
	if (!s && p)
		s = sbx_start(reg, p, true, &status, code, message);
	corral_policy_free(p);
	if (!s) {
		pthread_mutex_lock(&reg->lock);
		reg->n_live--;
		pthread_cond_broadcast(&reg->changed);
		pthread_mutex_unlock(&reg->lock);
		return status;
	}
	pthread_mutex_lock(&reg->lock);
	s->expires_ms = s->created_ms + (int64_t)ttl_ms;
	s->refs = 1;
	s->next = reg->list;
	reg->list = s;
	bool stopping = reg->stopping;
	pthread_mutex_unlock(&reg->lock);
	if (stopping) { /* shutdown began while it started: it goes too */
		sbx_put(reg, s);
		sbx_delete(reg, s->id);
		*code = "shutting_down";
		snprintf(message, REQUEST_MESSAGE_MAX, "the server is shutting down");
		return 503;
	}
	*out = s;
	return 201;
}

/* Keeps cfg->warm sandboxes of the default policy ready, able to live
 * --max-ttl; drops those that ended. */
static void *refiller_main(void *arg)
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

struct sbx *sbx_get(struct registry *reg, const char *id)
{
	pthread_mutex_lock(&reg->lock);
	struct sbx *s = reg->list;
	while (s && strcmp(s->id, id) != 0)
		s = s->next;
	if (s)
		s->refs++;
	pthread_mutex_unlock(&reg->lock);
	return s;
}

void sbx_put(struct registry *reg, struct sbx *s)
{
	pthread_mutex_lock(&reg->lock);
	s->refs--;
	pthread_cond_broadcast(&reg->changed);
	pthread_mutex_unlock(&reg->lock);
}

bool sbx_ended(struct registry *reg, struct sbx *s)
{
	pthread_mutex_lock(&reg->lock);
	bool ended = s->ended;
	pthread_mutex_unlock(&reg->lock);
	return ended;
}

bool sbx_delete(struct registry *reg, const char *id)
{
	pthread_mutex_lock(&reg->lock);
	struct sbx *s = NULL;
	for (struct sbx **pp = &reg->list; *pp; pp = &(*pp)->next) {
		if (strcmp((*pp)->id, id) == 0) {
			s = *pp;
			*pp = s->next;
			break;
		}
	}
	pthread_mutex_unlock(&reg->lock);
	if (s)
		sbx_destroy(reg, s);
	return s != NULL;
}

static void *reaper_main(void *arg)
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
			sbx_destroy(reg, expired);
			expired = next;
		}
		pthread_mutex_lock(&reg->lock);
	}
	pthread_mutex_unlock(&reg->lock);
	return NULL;
}

void registry_kill_all(struct registry *reg)
{
	pthread_mutex_lock(&reg->lock);
	reg->stopping = true;
	pthread_cond_broadcast(&reg->changed);
	for (struct sbx *s = reg->list; s; s = s->next)
		corral_sandbox_signal(s->sb, SIGKILL, NULL);
	for (struct sbx *s = reg->pool; s; s = s->next)
		corral_sandbox_signal(s->sb, SIGKILL, NULL);
	pthread_mutex_unlock(&reg->lock);
}

void registry_shutdown(struct registry *reg)
{
	pthread_mutex_lock(&reg->lock);
	reg->stopping = true;
	pthread_cond_broadcast(&reg->changed);
	struct sbx *all = reg->list;
	reg->list = NULL;
	pthread_mutex_unlock(&reg->lock);
	if (reg->reaper_running)
		pthread_join(reg->reaper, NULL);
	if (reg->refiller_running)
		pthread_join(reg->refiller, NULL);
	pthread_mutex_lock(&reg->lock);
	struct sbx *pool = reg->pool;
	reg->pool = NULL;
	reg->n_pool = 0;
	pthread_cond_broadcast(&reg->job_ready);
	pthread_mutex_unlock(&reg->lock);
	for (size_t i = 0; i < reg->n_starters; i++)
		pthread_join(reg->starters[i], NULL);
	while (pool) {
		struct sbx *next = pool->next;
		sbx_destroy(reg, pool);
		pool = next;
	}
	while (all) {
		struct sbx *next = all->next;
		sbx_destroy(reg, all);
		all = next;
	}
	/* Creations under way see `stopping` and remove their sandbox. */
	pthread_mutex_lock(&reg->lock);
	while (reg->n_live > 0)
		pthread_cond_wait(&reg->changed, &reg->lock);
	pthread_mutex_unlock(&reg->lock);
	corral_policy_free(reg->maxima);
	pthread_cond_destroy(&reg->job_ready);
	pthread_cond_destroy(&reg->changed);
	pthread_mutex_destroy(&reg->lock);
}

static json_t *time_json(int64_t ms)
{
	char buf[64];
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
	return json_string(buf);
}

static json_t *usage_json(const corral_result *r)
{
	json_t *u = json_pack("{s:I, s:I, s:I}", "wall_ms", (json_int_t)(r->wall_ns / 1000000),
	                      "cpu_ms", (json_int_t)(r->cpu_ns / 1000000), "cpu_user_ms",
	                      (json_int_t)(r->cpu_user_ns / 1000000));
	if (u && r->memory_peak_bytes != CORRAL_USAGE_UNKNOWN)
		json_object_set_new(u, "memory_peak_bytes", json_integer((json_int_t)r->memory_peak_bytes));
	if (u && r->pids_peak != CORRAL_USAGE_UNKNOWN)
		json_object_set_new(u, "pids_peak", json_integer((json_int_t)r->pids_peak));
	return u;
}

json_t *sbx_json(struct registry *reg, struct sbx *s, bool detail)
{
	pthread_mutex_lock(&reg->lock);
	json_t *o = json_pack("{s:s, s:s, s:o, s:o, s:I}", "id", s->id, "state",
	                      s->ended ? "ended" : "running", "created", time_json(s->created_ms),
	                      "expires", time_json(s->expires_ms), "execs", (json_int_t)s->execs);
	if (o && detail && s->ended) {
		const corral_result *r = &s->result;
		json_t *end = json_pack("{s:s, s:i, s:o}", "status", corral_status_name(r->status),
		                        "signal", r->signal, "usage", usage_json(r));
		if (end && r->status == CORRAL_STATUS_SETUP_ERROR)
			json_object_set_new(end, "message", json_string(s->wait_err.message));
		json_object_set_new(o, "end", end);
	}
	pthread_mutex_unlock(&reg->lock);
	return o;
}

json_t *registry_list_json(struct registry *reg)
{
	json_t *arr = json_array();
	pthread_mutex_lock(&reg->lock);
	for (struct sbx *s = reg->list; s && arr; s = s->next) {
		json_array_append_new(arr, json_pack("{s:s, s:s, s:o}", "id", s->id, "state",
		                                     s->ended ? "ended" : "running", "expires",
		                                     time_json(s->expires_ms)));
	}
	pthread_mutex_unlock(&reg->lock);
	return json_pack("{s:o}", "sandboxes", arr);
}

size_t registry_live(struct registry *reg)
{
	pthread_mutex_lock(&reg->lock);
	size_t n = reg->n_live;
	pthread_mutex_unlock(&reg->lock);
	return n;
}
