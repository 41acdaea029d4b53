/* The run report: one versioned JSON object (docs/report.md). */
#include "corral.h"

#include "policy/parse.h"
#include "policy/policy.h"

#include <jansson.h>
#include <signal.h>

static const char *const status_names[] = {
	[CORRAL_STATUS_EXITED] = "exited",
	[CORRAL_STATUS_SIGNALED] = "signaled",
	[CORRAL_STATUS_TIMEOUT] = "timeout",
	[CORRAL_STATUS_OOM] = "oom",
	[CORRAL_STATUS_CPU_TIME] = "cpu_time",
	[CORRAL_STATUS_OUTPUT_LIMIT] = "output_limit",
	[CORRAL_STATUS_SETUP_ERROR] = "setup_error",
};

const char *corral_status_name(enum corral_status status)
{
	if ((size_t)status >= sizeof status_names / sizeof status_names[0])
		return "unknown";
	return status_names[status];
}

int corral_result_exit_code(const corral_result *result)
{
	switch (result->status) {
	case CORRAL_STATUS_EXITED:
		return result->exit_code;
	case CORRAL_STATUS_SIGNALED:
		return 128 + result->signal;
	case CORRAL_STATUS_TIMEOUT:
		return 124;  /* as GNU timeout */
	case CORRAL_STATUS_OOM:
	case CORRAL_STATUS_CPU_TIME:
	case CORRAL_STATUS_OUTPUT_LIMIT:
		return 128 + SIGKILL;
	case CORRAL_STATUS_SETUP_ERROR:
		break;
	}
	return CORRAL_EXIT_FAILURE;
}

static json_t *measured(uint64_t v)
{
	return v == CORRAL_USAGE_UNKNOWN ? json_null() : json_integer((json_int_t)v);
}

static json_t *limit_value(uint64_t v)
{
	return v == LIMIT_UNLIMITED ? json_null() : json_integer((json_int_t)v);
}

static json_t *limits_json(const corral_policy *p)
{
	const struct policy_limits *l = &p->limits;
	json_t *o = json_object();
	json_object_set_new(o, "memory_bytes", limit_value(l->memory_bytes));
	json_object_set_new(o, "pids", limit_value(l->pids));
	json_object_set_new(o, "cpus", l->cpu_milli == LIMIT_UNLIMITED
	                                   ? json_null()
	                                   : json_real((double)l->cpu_milli / 1000.0));
	json_object_set_new(o, "timeout_ms", limit_value(l->timeout_ms));
	json_object_set_new(o, "cpu_time_ms", limit_value(l->cpu_time_ms));
	json_object_set_new(o, "output_bytes", limit_value(l->output_bytes));
	json_object_set_new(o, "disk_bytes", limit_value(l->disk_bytes));
	json_object_set_new(o, "open_files", limit_value(l->open_files));
	json_object_set_new(o, "file_size_bytes", limit_value(l->file_size));
	return o;
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *enforcement_json(const corral_enforcement *e)
{
	json_t *o = json_object();
	json_object_set_new(o, "memory", str_or_null(e->memory));
	json_object_set_new(o, "pids", str_or_null(e->pids));
	json_object_set_new(o, "cpus", str_or_null(e->cpus));
	json_object_set_new(o, "timeout", str_or_null(e->timeout));
	json_object_set_new(o, "cpu_time", str_or_null(e->cpu_time));
	json_object_set_new(o, "output", str_or_null(e->output));
	json_object_set_new(o, "disk", str_or_null(e->disk));
	json_object_set_new(o, "open_files", str_or_null(e->open_files));
	json_object_set_new(o, "file_size", str_or_null(e->file_size));
	json_object_set_new(o, "weaker", str_or_null(e->weaker[0] ? e->weaker : NULL));
	json_object_set_new(o, "path_denials", str_or_null(e->path_denials));
	json_object_set_new(o, "path_denials_why",
	                    str_or_null(e->path_denials_why[0] ? e->path_denials_why : NULL));
	return o;
}

char *corral_result_to_json(const corral_result *r, const corral_policy *policy,
                            const corral_error *err)
{
	bool failed = r->status == CORRAL_STATUS_SETUP_ERROR;
	json_t *o = json_object();
	if (!o)
		return NULL;
	json_object_set_new(o, "version", json_integer(1));
	json_object_set_new(o, "status", json_string(corral_status_name(r->status)));
	int exit_code = failed && err ? corral_error_exit_code(err) : corral_result_exit_code(r);
	json_object_set_new(o, "exit_code", json_integer(exit_code));
	json_object_set_new(o, "signal", r->signal ? json_integer(r->signal) : json_null());
	json_object_set_new(o, "wall_ms", json_integer((json_int_t)(r->wall_ns / 1000000)));
	json_object_set_new(o, "cpu_ms", json_integer((json_int_t)(r->cpu_ns / 1000000)));
	json_object_set_new(o, "cpu_user_ms", json_integer((json_int_t)(r->cpu_user_ns / 1000000)));
	json_object_set_new(o, "cpu_sys_ms", json_integer((json_int_t)(r->cpu_sys_ns / 1000000)));
	json_object_set_new(o, "memory_peak_bytes", failed ? json_null() : measured(r->memory_peak_bytes));
	json_object_set_new(o, "pids_peak", failed ? json_null() : measured(r->pids_peak));
	json_object_set_new(o, "stdout_bytes", json_integer((json_int_t)r->stdout_bytes));
	json_object_set_new(o, "stderr_bytes", json_integer((json_int_t)r->stderr_bytes));
	json_object_set_new(o, "limits", limits_json(policy));
	json_object_set_new(o, "enforcement", enforcement_json(&r->enforcement));
	json_t *denials = json_array();
	for (size_t i = 0; i < r->n_denials; i++) {
		const corral_denial *d = &r->denials[i];
		json_t *entry = json_pack("{s:s, s:s}", "kind", d->kind, "name", d->name);
		if (!entry)
			continue;
		if (d->access[0])
			json_object_set_new(entry, "access", json_string(d->access));
		json_object_set_new(entry, "count", json_integer((json_int_t)d->count));
		json_array_append_new(denials, entry);
	}
	json_object_set_new(o, "denials", denials);
	json_object_set_new(o, "error", failed && err ? json_string(err->message) : json_null());
	char *text = json_dumps(o, JSON_PRESERVE_ORDER | JSON_COMPACT);
	json_decref(o);
	return text;
}
