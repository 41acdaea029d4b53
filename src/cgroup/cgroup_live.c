/* Usage of a running sandbox read from another thread than its monitor's:
 * every file is opened afresh (the kept-open counters of cgroup_io.c belong
 * to the monitor), and nothing in the handle is written. */
#include "cgroup/cgroup.h"
#include "cgroup/cgroup_internal.h"

#include <errno.h>
#include <string.h>

/* One number from dir/file; CORRAL_USAGE_UNKNOWN when the file is absent. */
static int read_or_unknown(const char *dir, const char *file, uint64_t *out, corral_error *err)
{
	*out = CORRAL_USAGE_UNKNOWN;
	if (!dir[0] || !cg_exists(dir, file))
		return 0;
	return cg_read_u64(dir, file, out, err);
}

int cgroup_sandbox_usage_live(const struct cgroup_sandbox *cg, struct cgroup_live *u,
                              corral_error *err)
{
	u->cpu_ns = u->memory_peak_bytes = u->memory_current_bytes = u->pids_current =
		CORRAL_USAGE_UNKNOWN;
	if (!cg || cg->backend == CGROUP_BACKEND_NONE)
		return 0;
	if (cg->backend == CGROUP_BACKEND_V2) {
		const char *p = cg->v2_path;
		char buf[4096];
		uint64_t v;
		if (cg_read(p, "cpu.stat", true, buf, sizeof buf, err) < 0)
			return -1;
		if (cg_keyed_u64(buf, "usage_usec", &v))
			u->cpu_ns = v * 1000u;
		if (read_or_unknown(p, "memory.current", &u->memory_current_bytes, err) < 0 ||
		    read_or_unknown(p, "memory.peak", &u->memory_peak_bytes, err) < 0 ||
		    read_or_unknown(p, "pids.current", &u->pids_current, err) < 0)
			return -1;
		return 0;
	}
	const char *mem = cg->v1[CGV1_MEMORY].path;
	if (read_or_unknown(cg->v1[CGV1_CPUACCT].path, "cpuacct.usage", &u->cpu_ns, err) < 0 ||
	    read_or_unknown(mem, "memory.usage_in_bytes", &u->memory_current_bytes, err) < 0 ||
	    read_or_unknown(mem, "memory.max_usage_in_bytes", &u->memory_peak_bytes, err) < 0 ||
	    read_or_unknown(cg->v1[CGV1_PIDS].path, "pids.current", &u->pids_current, err) < 0)
		return -1;
	return 0;
}
