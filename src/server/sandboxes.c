#include "server/sandboxes.h"
#include "server/workers.h"

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
	int rc = pthread_create(&reg->reaper, NULL, registry_reaper_main, reg);
	reg->reaper_running = rc == 0;
	while (rc == 0 && reg->n_starters < REGISTRY_STARTERS) {
		rc = pthread_create(&reg->starters[reg->n_starters], NULL, registry_starter_main, reg);
		reg->n_starters += rc == 0;
	}
	if (rc == 0 && cfg->warm > 0) {
		rc = pthread_create(&reg->refiller, NULL, registry_refiller_main, reg);
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
void sbx_destroy(struct registry *reg, struct sbx *s)
{
	bool ended_before = sbx_ended(reg, s);
	corral_sandbox_signal(s->sb, SIGKILL, NULL);
	pthread_mutex_lock(&reg->lock);
	while (s->refs > 0)
		pthread_cond_wait(&reg->changed, &reg->lock);
	pthread_mutex_unlock(&reg->lock);
	pthread_join(s->waiter, NULL);
	if (s->recorded) {
		/* Why it ended on its own (a limit), unless the daemon stopped it. */
		const char *why = s->end_reason ? s->end_reason : "deleted";
		if (ended_before && strcmp(why, "daemon_stopped") != 0)
			why = corral_status_name(s->result.status);
		records_ended(reg->records, s->id, why);
	}
	proc_table_end(&s->procs); /* their processes ended with the sandbox */
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

corral_policy *build_policy(struct registry *reg, const char *json, uint64_t ttl_ms,
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
struct sbx *sbx_start(struct registry *reg, corral_policy *p, bool counted, unsigned *status,
                      const char **code, char message[REQUEST_MESSAGE_MAX])
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
	proc_table_init(&s->procs);
	if (registry_start_idle(reg, p, &s->sb, &err) < 0) {
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
	s->recorded = reg->records != NULL;
	s->next = reg->list;
	reg->list = s;
	bool stopping = reg->stopping;
	pthread_mutex_unlock(&reg->lock);
	records_created(reg->records, s->id, policy_json, s->created_ms, s->expires_ms);
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


void registry_kill_all(struct registry *reg)
{
	pthread_mutex_lock(&reg->lock);
	reg->stopping = true;
	pthread_cond_broadcast(&reg->changed);
	for (struct sbx *s = reg->list; s; s = s->next) {
		s->end_reason = "daemon_stopped";
		corral_sandbox_signal(s->sb, SIGKILL, NULL);
	}
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


size_t registry_live(struct registry *reg)
{
	pthread_mutex_lock(&reg->lock);
	size_t n = reg->n_live;
	pthread_mutex_unlock(&reg->lock);
	return n;
}
