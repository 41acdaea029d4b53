/*
 * corral serve's sandboxes: a registry of idle sandboxes by random id, each
 * with a waiter thread inside corral_sandbox_wait (which answers the seccomp
 * listener and enforces limits) that records the report when it ends, and a
 * reaper thread that expires sandboxes past their ttl.
 *
 * Lifetime: an entry is referenced by the registry while listed and by each
 * request using it. Deleting (DELETE, expiry, shutdown) unlinks it, kills
 * the sandbox (its running commands then end as lost), waits for the
 * requests still using it to let go, joins the waiter and frees it.
 */
#ifndef CORRAL_SERVER_SANDBOXES_H
#define CORRAL_SERVER_SANDBOXES_H

#include "corral.h"
#include "server/metrics.h"
#include "server/processes.h"
#include "server/records.h"
#include "server/routes.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct sbx {
	char id[SANDBOX_ID_LEN + 1];
	corral_sandbox *sb;
	pthread_t waiter;
	bool ended;              /* the waiter has returned */
	corral_result result;    /* when ended */
	corral_error wait_err;
	int64_t created_ms, expires_ms;  /* realtime */
	uint64_t execs;
	unsigned refs;           /* requests using it */
	bool counted;            /* in n_live (not a warm one waiting in the pool) */
	struct proc_table procs; /* background processes */
	bool recorded;           /* in serve.db (listed once) */
	const char *end_reason;  /* for the record: "deleted", "expired", ... */
	struct sbx *next;
};

struct server_limits {
	const char *base_policy_json; /* the operator's policy (--policy), or NULL */
	uint64_t default_ttl_ms, max_ttl_ms;
	size_t max_sandboxes;
	size_t warm;             /* sandboxes of the default policy kept ready */
};

/* A sandbox's init dies with the thread that started it (PDEATHSIG), and
 * HTTP connection threads are short-lived: sandboxes are started by a few
 * starter threads that live as long as the server. */
#define REGISTRY_STARTERS 4

struct start_job {
	const corral_policy *policy;
	corral_sandbox *sb;
	corral_error err;
	int rc;
	bool done;
	struct start_job *next;
};

struct registry {
	const struct server_limits *cfg;
	struct metrics *metrics;
	struct records *records; /* or NULL */
	corral_policy *maxima;   /* the base policy: its limits are the maxima */
	pthread_mutex_t lock;
	pthread_cond_t changed;
	struct sbx *list;
	size_t n_live;           /* starting or running: what --max-sandboxes bounds */
	bool stopping;
	pthread_t reaper;
	bool reaper_running;
	struct start_job *jobs;  /* waiting for a starter */
	pthread_cond_t job_ready;
	pthread_t starters[REGISTRY_STARTERS];
	size_t n_starters;
	struct sbx *pool;        /* warm sandboxes, not listed */
	size_t n_pool;
	pthread_t refiller;
	bool refiller_running;
};

int registry_init(struct registry *reg, const struct server_limits *cfg, struct metrics *m,
                  corral_error *err);
/* Refuse new sandboxes and kill every running one (their commands end as
 * lost, so the requests waiting on them finish). */
void registry_kill_all(struct registry *reg);
/* Kill and free every sandbox, stop the reaper. */
void registry_shutdown(struct registry *reg);

/* Create a sandbox from the client's policy JSON (already filtered by
 * parse_create_body). Returns the HTTP status: 201 with *out (referenced:
 * sbx_put it), or 400/429/500 with *code and message filled. */
unsigned sbx_create(struct registry *reg, const char *policy_json, uint64_t ttl_ms,
                    struct sbx **out, const char **code, char message[REQUEST_MESSAGE_MAX]);
/* The listed sandbox with this id, referenced, or NULL. */
struct sbx *sbx_get(struct registry *reg, const char *id);
void sbx_put(struct registry *reg, struct sbx *s);
/* Unlink and destroy; false if no such sandbox. */
bool sbx_delete(struct registry *reg, const char *id);
bool sbx_ended(struct registry *reg, struct sbx *s);

size_t registry_live(struct registry *reg);

int64_t now_realtime_ms(void);

/* Within the registry (sandboxes.c, workers.c). */

/* The policy of a new sandbox: the operator's, the client's over it, the
 * server's own settings. NULL with *code and message on failure. */
corral_policy *build_policy(struct registry *reg, const char *json, uint64_t ttl_ms,
                            const char **code, char message[REQUEST_MESSAGE_MAX]);
/* A started sandbox with its waiter, not yet listed (created now, no
 * refs); NULL with *status, *code and message on failure. */
struct sbx *sbx_start(struct registry *reg, corral_policy *p, bool counted, unsigned *status,
                      const char **code, char message[REQUEST_MESSAGE_MAX]);
/* Kill, wait for the requests using it, join its waiter, free. Unlinked. */
void sbx_destroy(struct registry *reg, struct sbx *s);

#endif
