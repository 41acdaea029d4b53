/* The limits part of the policy: names, defaults, validation. */
#include "policy/parse.h"
#include "policy/policy.h"

#include "util/error.h"

#include <stdio.h>
#include <string.h>

enum limit_kind { KIND_SIZE, KIND_DURATION, KIND_COUNT, KIND_CPUS };

static const struct {
	const char *json;
	const char *flag;
	enum limit_kind kind;
	bool zero_allowed;
	const char *expect;
} limit_info[POLICY_LIMIT_COUNT] = {
	[POLICY_LIMIT_MEMORY] = {"memory", "--memory", KIND_SIZE, false, "a size such as 512M or 1.5G"},
	[POLICY_LIMIT_PIDS] = {"pids", "--pids", KIND_COUNT, false, "a positive count"},
	[POLICY_LIMIT_CPUS] = {"cpus", "--cpus", KIND_CPUS, false, "a number of CPUs such as 0.5 or 2"},
	[POLICY_LIMIT_TIMEOUT] = {"timeout", "--timeout", KIND_DURATION, false,
	                          "a duration such as 250ms, 10s or 5m"},
	[POLICY_LIMIT_CPU_TIME] = {"cpu_time", "--cpu-time", KIND_DURATION, false,
	                           "a duration such as 250ms, 10s or 5m"},
	[POLICY_LIMIT_OUTPUT] = {"output", "--output-limit", KIND_SIZE, true,
	                         "a size such as 64K or 64M"},
	[POLICY_LIMIT_DISK] = {"disk", "--disk", KIND_SIZE, false, "a size such as 512M or 1G"},
	[POLICY_LIMIT_OPEN_FILES] = {"open_files", "--open-files", KIND_COUNT, false,
	                             "a positive count"},
	[POLICY_LIMIT_FILE_SIZE] = {"file_size", "--file-size", KIND_SIZE, true,
	                            "a size such as 512M or 1G"},
};

const char *policy_limit_json_name(enum policy_limit_id id)
{
	return limit_info[id].json;
}

const char *policy_limit_flag_name(enum policy_limit_id id)
{
	return limit_info[id].flag;
}

int policy_limit_from_json_name(const char *name, enum policy_limit_id *out)
{
	for (int i = 0; i < POLICY_LIMIT_COUNT; i++) {
		if (strcmp(name, limit_info[i].json) == 0) {
			*out = (enum policy_limit_id)i;
			return 0;
		}
	}
	return -1;
}

uint64_t *policy_limit_slot(corral_policy *p, enum policy_limit_id id)
{
	struct policy_limits *l = &p->limits;
	switch (id) {
	case POLICY_LIMIT_MEMORY:
		return &l->memory_bytes;
	case POLICY_LIMIT_PIDS:
		return &l->pids;
	case POLICY_LIMIT_CPUS:
		return &l->cpu_milli;
	case POLICY_LIMIT_TIMEOUT:
		return &l->timeout_ms;
	case POLICY_LIMIT_CPU_TIME:
		return &l->cpu_time_ms;
	case POLICY_LIMIT_OUTPUT:
		return &l->output_bytes;
	case POLICY_LIMIT_DISK:
		return &l->disk_bytes;
	case POLICY_LIMIT_OPEN_FILES:
		return &l->open_files;
	case POLICY_LIMIT_FILE_SIZE:
	case POLICY_LIMIT_COUNT:
		break;
	}
	return &l->file_size;
}

int policy_set_limit(corral_policy *p, enum policy_limit_id id, const char *value,
                     corral_error *err)
{
	uint64_t v = 0;
	int rc = -1;
	switch (limit_info[id].kind) {
	case KIND_SIZE:
		rc = parse_size(value, &v);
		break;
	case KIND_DURATION:
		rc = parse_duration_ms(value, &v);
		break;
	case KIND_COUNT:
		rc = parse_count(value, &v);
		break;
	case KIND_CPUS:
		rc = parse_cpus_milli(value, &v);
		break;
	}
	if (rc < 0)
		return error_set(err, CORRAL_ERR_USAGE, 0, "%s %s: expected %s, or unlimited",
		                 limit_info[id].flag, value ? value : "", limit_info[id].expect);
	if (v == 0 && !limit_info[id].zero_allowed)
		return error_set(err, CORRAL_ERR_USAGE, 0, "%s %s: must be greater than zero",
		                 limit_info[id].flag, value);
	if (id == POLICY_LIMIT_OPEN_FILES && v != LIMIT_UNLIMITED && v > (UINT64_C(1) << 20))
		return error_set(err, CORRAL_ERR_USAGE, 0, "%s %s: at most 1048576",
		                 limit_info[id].flag, value);
	if (id == POLICY_LIMIT_PIDS && v != LIMIT_UNLIMITED && v > 4194304)
		return error_set(err, CORRAL_ERR_USAGE, 0, "%s %s: at most 4194304",
		                 limit_info[id].flag, value);
	*policy_limit_slot(p, id) = v;
	return 0;
}

void policy_format_limit(const corral_policy *p, enum policy_limit_id id, char *buf,
                         unsigned size)
{
	uint64_t v = *policy_limit_slot((corral_policy *)p, id);
	if (v == LIMIT_UNLIMITED) {
		snprintf(buf, size, "unlimited");
		return;
	}
	switch (limit_info[id].kind) {
	case KIND_SIZE:
		format_size(v, buf, size);
		break;
	case KIND_DURATION:
		format_duration_ms(v, buf, size);
		break;
	case KIND_COUNT:
		snprintf(buf, size, "%llu", (unsigned long long)v);
		break;
	case KIND_CPUS:
		snprintf(buf, size, "%llu.%03llu", (unsigned long long)(v / 1000),
		         (unsigned long long)(v % 1000));
		break;
	}
}
