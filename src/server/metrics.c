#include "server/metrics.h"

#include <stdio.h>
#include <stdlib.h>

/* Upper bounds of the exec latency buckets, seconds (+Inf implied). */
static const double bucket_le[METRICS_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                  0.1,   0.25,   0.5,   1,    5,     30};

#define ADD(field, n) __atomic_add_fetch(&(field), (n), __ATOMIC_RELAXED)
#define GET(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

void metrics_sandbox_created(struct metrics *m)
{
	ADD(m->sandboxes_created, 1);
}

void metrics_request(struct metrics *m)
{
	ADD(m->requests, 1);
}

void metrics_exec(struct metrics *m, uint64_t duration_us)
{
	ADD(m->execs, 1);
	ADD(m->exec_count, 1);
	ADD(m->exec_sum_us, duration_us);
	for (int i = 0; i < METRICS_BUCKETS; i++) {
		if ((double)duration_us / 1e6 <= bucket_le[i]) {
			ADD(m->exec_buckets[i], 1);
			break;
		}
	}
}

void metrics_sandbox_ended(struct metrics *m, enum corral_status status)
{
	if (status <= CORRAL_STATUS_SETUP_ERROR)
		ADD(m->limit_kills[status], 1);
}

char *metrics_render(struct metrics *m, uint64_t running)
{
	char *text = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&text, &size);
	if (!f)
		return NULL;
	fprintf(f, "# HELP corral_sandboxes_running Sandboxes starting or running.\n"
	           "# TYPE corral_sandboxes_running gauge\n"
	           "corral_sandboxes_running %llu\n",
	        (unsigned long long)running);
	fprintf(f, "# HELP corral_sandboxes_created_total Sandboxes created.\n"
	           "# TYPE corral_sandboxes_created_total counter\n"
	           "corral_sandboxes_created_total %llu\n",
	        (unsigned long long)GET(m->sandboxes_created));
	fprintf(f, "# HELP corral_http_requests_total HTTP requests answered.\n"
	           "# TYPE corral_http_requests_total counter\n"
	           "corral_http_requests_total %llu\n",
	        (unsigned long long)GET(m->requests));
	fprintf(f, "# HELP corral_execs_total Commands run through /exec.\n"
	           "# TYPE corral_execs_total counter\n"
	           "corral_execs_total %llu\n",
	        (unsigned long long)GET(m->execs));
	fprintf(f, "# HELP corral_exec_duration_seconds Duration of /exec commands.\n"
	           "# TYPE corral_exec_duration_seconds histogram\n");
	uint64_t cumulative = 0;
	for (int i = 0; i < METRICS_BUCKETS; i++) {
		cumulative += GET(m->exec_buckets[i]);
		fprintf(f, "corral_exec_duration_seconds_bucket{le=\"%g\"} %llu\n", bucket_le[i],
		        (unsigned long long)cumulative);
	}
	uint64_t count = GET(m->exec_count);
	fprintf(f, "corral_exec_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
	           "corral_exec_duration_seconds_sum %.6f\n"
	           "corral_exec_duration_seconds_count %llu\n",
	        (unsigned long long)count, (double)GET(m->exec_sum_us) / 1e6,
	        (unsigned long long)count);
	fprintf(f, "# HELP corral_sandbox_limit_kills_total Sandboxes ended by a limit, by kind.\n"
	           "# TYPE corral_sandbox_limit_kills_total counter\n");
	static const enum corral_status kinds[] = {CORRAL_STATUS_TIMEOUT, CORRAL_STATUS_OOM,
	                                           CORRAL_STATUS_CPU_TIME};
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		fprintf(f, "corral_sandbox_limit_kills_total{kind=\"%s\"} %llu\n",
		        corral_status_name(kinds[i]), (unsigned long long)GET(m->limit_kills[kinds[i]]));
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}
