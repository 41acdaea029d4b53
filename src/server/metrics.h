/* corral serve's counters, rendered in the Prometheus text format. */
#ifndef CORRAL_SERVER_METRICS_H
#define CORRAL_SERVER_METRICS_H

#include "corral.h"

#include <stdint.h>

#define METRICS_BUCKETS 12

struct metrics {
	uint64_t sandboxes_created;
	uint64_t execs;
	uint64_t exec_buckets[METRICS_BUCKETS]; /* cumulative at render time */
	uint64_t exec_count;
	uint64_t exec_sum_us;
	uint64_t limit_kills[CORRAL_STATUS_SETUP_ERROR + 1]; /* by the status that ended a sandbox */
	uint64_t requests;
};

void metrics_sandbox_created(struct metrics *m);
void metrics_exec(struct metrics *m, uint64_t duration_us);
void metrics_sandbox_ended(struct metrics *m, enum corral_status status);
void metrics_request(struct metrics *m);
/* malloc'd text; `running` is the gauge of live sandboxes. */
char *metrics_render(struct metrics *m, uint64_t running);

#endif
