#include "server/sbx_json.h"

#include <stdio.h>
#include <time.h>

json_t *time_json(int64_t ms)
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

static json_t *known(uint64_t v)
{
	return v == CORRAL_USAGE_UNKNOWN ? json_null() : json_integer((json_int_t)v);
}

/* Read from its cgroup now: null where not measurable. */
static json_t *live_usage_json(struct sbx *s)
{
	corral_usage u;
	if (corral_sandbox_usage(s->sb, &u, NULL) < 0)
		return NULL; /* it has just ended: the report tells */
	return json_pack("{s:o, s:o, s:o, s:o}", "cpu_ns", known(u.cpu_ns), "memory_peak_bytes",
	                 known(u.memory_peak_bytes), "memory_current_bytes",
	                 known(u.memory_current_bytes), "pids", known(u.pids_current));
}

json_t *sbx_json(struct registry *reg, struct sbx *s, bool detail)
{
	json_t *live = detail && !sbx_ended(reg, s) ? live_usage_json(s) : NULL;
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
	if (o && live && !s->ended)
		json_object_set(o, "usage", live);
	json_decref(live);
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
