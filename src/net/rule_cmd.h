/*
 * --net-rule-cmd PROG: a programmable rule. For a destination no static
 * rule allows, the proxy runs PROG on the host (outside the sandbox) with
 * the request as one JSON object on stdin, and allows it only if PROG exits
 * 0 within the timeout. Answers are cached per host:port for a minute, and
 * requests for a destination already being asked about wait for that one
 * run. The proxy's loop watches each run through a pidfd.
 */
#ifndef CORRAL_NET_RULE_CMD_H
#define CORRAL_NET_RULE_CMD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define RULE_CMD_TIMEOUT_MS 5000
#define RULE_CMD_CACHE_MS 60000

enum rule_cmd_verdict { RULE_CMD_ALLOW, RULE_CMD_DENY, RULE_CMD_PENDING };

struct rule_cmd_run {
	char key[300];            /* host:port */
	pid_t pid;
	int pidfd;
	uint64_t deadline_ms;
	bool timed_out;
	void *watch;              /* the caller's, e.g. its epoll tag */
};

struct rule_cmd;

struct rule_cmd *rule_cmd_new(const char *program);
void rule_cmd_free(struct rule_cmd *rc);

/* The cached verdict for key, or PENDING after starting (or joining) a run
 * for it; *run is then the run to wait for. DENY also when PROG cannot be
 * started (*why says so). */
enum rule_cmd_verdict rule_cmd_ask(struct rule_cmd *rc, const char *key, const char *request_json,
                                   uint64_t now_ms, struct rule_cmd_run **run, const char **why);
/* A run's pidfd became readable: reap it, cache and return its verdict. The
 * run is freed; *why explains a denial. */
enum rule_cmd_verdict rule_cmd_finish(struct rule_cmd *rc, struct rule_cmd_run *run,
                                      uint64_t now_ms, const char **why);
/* Kill runs past their deadline (their pidfds then become readable). Returns
 * ms until the next deadline, or -1. */
int rule_cmd_expire(struct rule_cmd *rc, uint64_t now_ms);

#endif
