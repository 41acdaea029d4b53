/*
 * The registry's long-lived threads: starters (a sandbox's init dies with
 * the thread that started it, and connection threads are short-lived), the
 * reaper (ttl expiry) and the warm pool's refiller.
 */
#ifndef CORRAL_SERVER_WORKERS_H
#define CORRAL_SERVER_WORKERS_H

#include "server/sandboxes.h"

void *registry_starter_main(void *arg);
void *registry_reaper_main(void *arg);
/* Keeps cfg->warm sandboxes of the default policy ready, able to live
 * --max-ttl; drops those that ended. */
void *registry_refiller_main(void *arg);

/* corral_sandbox_start_idle in a starter thread. */
int registry_start_idle(struct registry *reg, const corral_policy *p, corral_sandbox **out,
                        corral_error *err);
/* A warm sandbox able to live ttl_ms more, taken out of the pool, or NULL.
 * Those too old or ended go to *stale. Under the lock. */
struct sbx *pool_take(struct registry *reg, uint64_t ttl_ms, struct sbx **stale);

#endif
