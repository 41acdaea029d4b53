/*
 * Waiting for a sandbox: one poll loop over init's pidfd, the command's
 * output pipes, the caller's signalfd and the cgroup's OOM notification,
 * with the wall-clock deadline and, only under --cpu-time, a look at the CPU
 * time used when the budget could be spent. An idle sandbox without
 * --cpu-time costs its supervisor no wakeup at all. Any limit stops the
 * whole sandbox at once: SIGKILL to init tears down its pid namespace, so
 * every process goes, whatever it ignores or however it forked.
 */
#include "jail/jail.h"

#include "cgroup/cgroup.h"
#include "policy/parse.h"
#include "util/error.h"
#include "util/fileutil.h"
#include "util/strings.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* The fallback: where the cgroup offers no OOM notification
 * (cgroup_sandbox_event_fd() is -1: the kernel or its limits refused the
 * set-up, or a v2 kernel without memory.peak whose peak only sampling
 * finds), the cgroup is sampled this often — the bound on how late an OOM
 * kill is then acted upon. Also the shortest wait between two looks at the
 * CPU time, and the pace of the look-again after a v1 OOM notification
 * (oom_look). */
#define MONITOR_TICK_MS 50
/* The longest wait between two looks at the CPU time under --cpu-time. */
#define CPU_CHECK_MAX_MS 1000

#define NEVER UINT64_MAX

/* After the sandbox's end, the longest wait for the audit record of its
 * Landlock domain's end (normally a few milliseconds: the kernel frees
 * the domain with the last credentials that hold it). */
#define LANDLOCK_AUDIT_WAIT_MS 2000

static uint64_t now_ms_since(const struct timespec *since)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)(now.tv_sec - since->tv_sec) * 1000u +
	       (uint64_t)((now.tv_nsec - since->tv_nsec) / 1000000);
}

void monitor_kill(corral_sandbox *sb)
{
	if (!sb->reaped)
		syscall(SYS_pidfd_send_signal, sb->pidfd, SIGKILL, NULL, 0);
}

static void stop_for(corral_sandbox *sb, enum corral_status status)
{
	if (!sb->limit_hit) {
		sb->limit_hit = true;
		sb->limit_status = status;
	}
	monitor_kill(sb);
}

/* Move what the command wrote to the caller, up to the output limit. */
static void pump(corral_sandbox *sb, int which)
{
	char *buf = sb->pump_buf;
	ssize_t n = read(sb->pump_fds[which], buf, PUMP_BUF_SIZE);
	if (n < 0 && errno == EINTR)
		return;
	if (n <= 0) {
		close(sb->pump_fds[which]);
		sb->pump_fds[which] = -1;
		return;
	}
	uint64_t total = sb->delivered[0] + sb->delivered[1];
	uint64_t room = sb->limits.output_bytes > total ? sb->limits.output_bytes - total : 0;
	size_t deliver = (uint64_t)n < room ? (size_t)n : (size_t)room;
	if (deliver > 0 && write_all(sb->dest_fds[which], buf, deliver) == 0)
		sb->delivered[which] += deliver;
	if ((uint64_t)n > room)
		stop_for(sb, CORRAL_STATUS_OUTPUT_LIMIT);
}

/* The fallback's sample: everything in one cgroup_sandbox_usage(). */
static void check_cgroup(corral_sandbox *sb)
{
	struct cgroup_usage u;
	if (cgroup_sandbox_usage(sb->cgroup, &u, NULL) < 0)
		return;
	if (u.oom_kills > 0)
		stop_for(sb, CORRAL_STATUS_OOM);
	else if (sb->limits.cpu_time_ms != LIMIT_UNLIMITED && u.cpu_usec / 1000 >= sb->limits.cpu_time_ms)
		stop_for(sb, CORRAL_STATUS_CPU_TIME);
}

/* What the loop watches in the cgroup, and when it next looks. Times are
 * milliseconds since the sandbox started. */
struct cgroup_watch {
	bool on;              /* a cgroup holds the sandbox */
	int event_fd;         /* OOM notifications; -1: sample every tick */
	bool cpu_limit;       /* --cpu-time is the cgroup's to enforce */
	uint64_t ncpus;       /* how many CPUs can spend the budget at once */
	uint64_t next_sample; /* fallback */
	uint64_t next_cpu;
	uint64_t next_oom;    /* look again after a v1 notification */
	uint64_t confirm_step; /* 0, or the current wait between those looks */
};

static void oom_look(corral_sandbox *sb, struct cgroup_watch *w, uint64_t now)
{
	uint64_t kills = 0;
	bool recheck = false;
	if (cgroup_sandbox_oom_check(sb->cgroup, &kills, &recheck, NULL) < 0) {
		/* cannot read it this way: sample instead */
		w->event_fd = -1;
		w->next_sample = now;
		return;
	}
	if (kills > 0) {
		stop_for(sb, CORRAL_STATUS_OOM);
		return;
	}
	/* v1 notifies as the OOM starts; the kill is counted once the victim
	 * is chosen and logged, which can take from microseconds to seconds
	 * (the global oom_lock, a slow console). Until it is: look again after
	 * 1, 2, 4, … ms, then every tick, as the sampling did. An OOM that
	 * ends without a kill (memory freed meanwhile: rare) leaves the
	 * sandbox on that sampling of one counter. */
	if (recheck)
		w->confirm_step = 1;
	else if (w->confirm_step && w->confirm_step < MONITOR_TICK_MS)
		w->confirm_step = w->confirm_step * 2 < MONITOR_TICK_MS ? w->confirm_step * 2
		                                                        : MONITOR_TICK_MS;
	w->next_oom = w->confirm_step ? now + w->confirm_step : NEVER;
}

/* The CPU time left cannot be spent faster than on every CPU at once, so
 * nothing can be missed before remaining / ncpus; never sooner than a tick
 * (as late as the sampling was, when little is left), never later than
 * CPU_CHECK_MAX_MS. */
static void cpu_look(corral_sandbox *sb, struct cgroup_watch *w, uint64_t now)
{
	uint64_t usec = 0;
	if (cgroup_sandbox_cpu_usec(sb->cgroup, &usec, NULL) < 0) {
		w->next_cpu = now + MONITOR_TICK_MS;
		return;
	}
	uint64_t used = usec / 1000;
	if (used >= sb->limits.cpu_time_ms) {
		stop_for(sb, CORRAL_STATUS_CPU_TIME);
		return;
	}
	uint64_t wait = (sb->limits.cpu_time_ms - used) / w->ncpus;
	if (wait < MONITOR_TICK_MS)
		wait = MONITOR_TICK_MS;
	if (wait > CPU_CHECK_MAX_MS)
		wait = CPU_CHECK_MAX_MS;
	w->next_cpu = now + wait;
}

static void watch_start(corral_sandbox *sb, struct cgroup_watch *w)
{
	*w = (struct cgroup_watch){.event_fd = -1, .next_sample = 0, .next_cpu = NEVER,
	                           .next_oom = NEVER, .ncpus = 1};
	w->on = cgroup_sandbox_backend(sb->cgroup) != CGROUP_BACKEND_NONE;
	if (!w->on)
		return;
	w->cpu_limit = sb->limits.cpu_time_ms != LIMIT_UNLIMITED;
	/* Every CPU the sandbox could run on: its processes may widen their
	 * own affinity, and configured CPUs may come online meanwhile. */
	long conf = sysconf(_SC_NPROCESSORS_CONF), onln = sysconf(_SC_NPROCESSORS_ONLN);
	long n = conf > onln ? conf : onln;
	w->ncpus = n > 0 ? (uint64_t)n : 1;
	w->event_fd = cgroup_sandbox_event_fd(sb->cgroup);
	if (w->event_fd < 0)
		return;
	uint64_t now = now_ms_since(&sb->started);
	/* an OOM kill before the notification was armed */
	oom_look(sb, w, now);
	if (w->cpu_limit)
		w->next_cpu = now;
}

/* When the loop must look at the cgroup next, without an event. */
static uint64_t watch_due(const struct cgroup_watch *w)
{
	if (w->event_fd < 0)
		return w->next_sample;
	return w->next_cpu < w->next_oom ? w->next_cpu : w->next_oom;
}

static void watch_check(corral_sandbox *sb, struct cgroup_watch *w, bool notified)
{
	uint64_t now = now_ms_since(&sb->started);
	if (w->event_fd < 0) {
		if (now >= w->next_sample) {
			check_cgroup(sb);
			w->next_sample = now + MONITOR_TICK_MS;
		}
		return;
	}
	if (notified || now >= w->next_oom)
		oom_look(sb, w, now);
	if (!sb->limit_hit && w->cpu_limit && w->event_fd >= 0 && now >= w->next_cpu)
		cpu_look(sb, w, now);
}

static void forward_signal(corral_sandbox *sb)
{
	struct signalfd_siginfo si;
	if (read(sb->signal_fd, &si, sizeof si) == (ssize_t)sizeof si && !sb->reaped)
		syscall(SYS_pidfd_send_signal, sb->pidfd, (int)si.ssi_signo, NULL, 0);
}

static void wait_loop(corral_sandbox *sb)
{
	bool init_gone = false;
	struct cgroup_watch watch;
	watch_start(sb, &watch);
	for (;;) {
		struct pollfd fds[8];
		int n = 0, i_pid = -1, i_out[2] = {-1, -1}, i_sig = -1, i_lsock = -1, i_listen = -1;
		int i_cg = -1, i_audit = -1;
		bool watching = !init_gone && watch.on && !sb->limit_hit;
		if (!init_gone) {
			fds[n] = (struct pollfd){.fd = sb->pidfd, .events = POLLIN};
			i_pid = n++;
		}
		for (int w = 0; w < 2; w++) {
			if (sb->pump_fds[w] >= 0) {
				fds[n] = (struct pollfd){.fd = sb->pump_fds[w], .events = POLLIN};
				i_out[w] = n++;
			}
		}
		if (sb->signal_fd >= 0 && !init_gone) {
			fds[n] = (struct pollfd){.fd = sb->signal_fd, .events = POLLIN};
			i_sig = n++;
		}
		if (!init_gone && sb->listener_sock >= 0) {
			fds[n] = (struct pollfd){.fd = sb->listener_sock, .events = POLLIN};
			i_lsock = n++;
		}
		if (!init_gone && sb->listener_fd >= 0) {
			fds[n] = (struct pollfd){.fd = sb->listener_fd, .events = POLLIN};
			i_listen = n++;
		}
		if (n == 0)
			return;
		if (!init_gone && sb->audit.fd >= 0) {
			fds[n] = (struct pollfd){.fd = sb->audit.fd, .events = POLLIN};
			i_audit = n++;
		}
		if (watching && watch.event_fd >= 0) {
			fds[n] = (struct pollfd){.fd = watch.event_fd, .events = POLLIN};
			i_cg = n++;
		}

		int timeout = -1;
		if (!init_gone) {
			uint64_t elapsed = now_ms_since(&sb->started);
			if (sb->limits.timeout_ms != LIMIT_UNLIMITED) {
				if (elapsed >= sb->limits.timeout_ms) {
					stop_for(sb, CORRAL_STATUS_TIMEOUT);
					timeout = MONITOR_TICK_MS;
					watching = false;
				} else {
					uint64_t left = sb->limits.timeout_ms - elapsed;
					timeout = left > INT32_MAX ? INT32_MAX : (int)left;
				}
			}
			uint64_t due = watching ? watch_due(&watch) : NEVER;
			if (due != NEVER) {
				uint64_t left = due > elapsed ? due - elapsed : 0;
				if (left > CPU_CHECK_MAX_MS)
					left = CPU_CHECK_MAX_MS;
				if (timeout < 0 || left < (uint64_t)timeout)
					timeout = (int)left;
			}
		}
		int ready = poll(fds, (nfds_t)n, timeout);
		if (ready < 0 && errno != EINTR)
			return;
		if (watching)
			watch_check(sb, &watch, ready > 0 && i_cg >= 0 && fds[i_cg].revents);
		if (ready <= 0)
			continue;
		for (int w = 0; w < 2; w++)
			if (i_out[w] >= 0 && fds[i_out[w]].revents)
				pump(sb, w);
		if (i_sig >= 0 && fds[i_sig].revents)
			forward_signal(sb);
		if (i_audit >= 0 && fds[i_audit].revents)
			landlock_audit_read(&sb->audit);
		if (i_lsock >= 0 && fds[i_lsock].revents) {
			sb->listener_fd = denials_receive_listener(sb->listener_sock);
			close(sb->listener_sock);
			sb->listener_sock = -1;
		}
		if (i_listen >= 0 && fds[i_listen].revents) {
			bool finished = (fds[i_listen].revents & POLLIN)
			                        ? denials_answer(sb->listener_fd, &sb->denials) < 0
			                        : true; /* POLLHUP: no process left under the filter */
			if (finished) {
				close(sb->listener_fd);
				sb->listener_fd = -1;
			}
		}
		/* Once init is gone every process of the sandbox is too; keep
		 * draining the pipes to EOF. */
		if (i_pid >= 0 && fds[i_pid].revents)
			init_gone = true;
	}
}

static void reap_init(corral_sandbox *sb)
{
	if (sb->reaped)
		return;
	while (wait4(sb->init_pid, &sb->init_wait_status, 0, &sb->init_rusage) < 0 && errno == EINTR)
		;
	sb->reaped = true;
}

static uint64_t timeval_ns(struct timeval tv)
{
	return (uint64_t)tv.tv_sec * 1000000000u + (uint64_t)tv.tv_usec * 1000u;
}

static void collect_usage(corral_sandbox *sb, corral_result *result)
{
	struct cgroup_usage u;
	result->stdout_bytes = sb->delivered[0];
	result->stderr_bytes = sb->delivered[1];
	if (cgroup_sandbox_backend(sb->cgroup) != CGROUP_BACKEND_NONE &&
	    cgroup_sandbox_usage(sb->cgroup, &u, NULL) == 0) {
		result->cpu_ns = u.cpu_usec * 1000;
		result->cpu_user_ns = u.cpu_user_usec * 1000;
		result->cpu_sys_ns = u.cpu_system_usec * 1000;
		result->memory_peak_bytes = u.memory_peak_bytes;
		result->pids_peak = u.pids_peak ? u.pids_peak : CORRAL_USAGE_UNKNOWN;
		if (u.oom_kills > 0 && !sb->limit_hit) {
			sb->limit_hit = true;
			sb->limit_status = CORRAL_STATUS_OOM;
		}
		return;
	}
	/* Without a cgroup: init's rusage covers every process it reaped;
	 * processes killed with the namespace are not counted. */
	result->cpu_user_ns = timeval_ns(sb->init_rusage.ru_utime);
	result->cpu_sys_ns = timeval_ns(sb->init_rusage.ru_stime);
	result->cpu_ns = result->cpu_user_ns + result->cpu_sys_ns;
	result->memory_peak_bytes = (uint64_t)sb->init_rusage.ru_maxrss * 1024;
	result->pids_peak = CORRAL_USAGE_UNKNOWN;
}

int monitor_run(corral_sandbox *sb, corral_result *result, corral_error *err)
{
	struct jail_message msg;
	bool have_exit = false, have_error = false;
	int wait_status = 0;
	memset(result, 0, sizeof *result);
	bool have_cgroup = cgroup_sandbox_backend(sb->cgroup) != CGROUP_BACKEND_NONE;

	wait_loop(sb);
	reap_init(sb);
	result->wall_ns = now_ms_since(&sb->started) * 1000000u;
	/* The listener's file holds the command's credentials, and with them
	 * its Landlock domain: the domain ends (and says so in the audit
	 * records) only once it is closed. */
	if (sb->listener_fd >= 0) {
		close(sb->listener_fd);
		sb->listener_fd = -1;
	}
	/* The seccomp listener comes right after the probe: without it, the
	 * command or spawner never restricted itself, and no record will come. */
	bool restricted = sb->listener_sock < 0;
	landlock_audit_finish(&sb->audit, restricted ? LANDLOCK_AUDIT_WAIT_MS : 0);

	/* init has exited: its messages are all in the pipe. */
	for (;;) {
		ssize_t n = read_full(sb->status_read_fd, &msg, sizeof msg);
		if (n <= 0)
			break;
		if (n != (ssize_t)sizeof msg)
			continue;
		if (msg.type == JAIL_MSG_EXITED) {
			have_exit = true;
			wait_status = msg.wait_status;
		} else if (!have_error) {
			have_error = true;
			if (err) {
				*err = msg.error;
				err->message[sizeof err->message - 1] = '\0';
			}
		}
	}
	collect_usage(sb, result);
	result->enforcement = sb->enforcement;
	string_set(result->enforcement.path_denials_why, sizeof result->enforcement.path_denials_why,
	           "%s", sb->audit.why);
	denials_export(&sb->denials, result);
	landlock_audit_export(&sb->audit, result);
	if (sb->cgroup) {
		corral_error cg_err = {0};
		pthread_mutex_lock(&sb->cgroup_lock);
		int rc = cgroup_sandbox_destroy(sb->cgroup, &cg_err);
		sb->cgroup = NULL;
		pthread_mutex_unlock(&sb->cgroup_lock);
		if (rc < 0 && !have_error) {
			have_error = true;
			if (err)
				*err = cg_err;
		}
	}

	if (have_exit && WIFSIGNALED(wait_status))
		result->signal = WTERMSIG(wait_status);
	else if (have_exit)
		result->exit_code = WEXITSTATUS(wait_status);
	if (sb->limit_hit) {
		/* corral's SIGKILL ended the command, whatever it reported. */
		result->status = sb->limit_status;
		result->exit_code = 0;
		result->signal = SIGKILL;
		return 0;
	}
	if (have_error) {
		result->status = CORRAL_STATUS_SETUP_ERROR;
		/* A kernel refusal while building the sandbox is usually the
		 * host's policy (a container's seccomp profile, AppArmor, a
		 * sysctl): point at the tool that names it. */
		if (err && err->kind == CORRAL_ERR_SETUP &&
		    (err->errnum == EPERM || err->errnum == EACCES || err->errnum == ENOSYS)) {
			size_t len = strlen(err->message);
			snprintf(err->message + len, sizeof err->message - len, " (see `corral check`)");
		}
		return -1;
	}
	if (!have_exit) {
		result->status = CORRAL_STATUS_SETUP_ERROR;
		return error_set(err, CORRAL_ERR_SETUP, 0, "the sandbox's init died unexpectedly");
	}
	if (WIFSIGNALED(wait_status)) {
		/* Without a cgroup, RLIMIT_CPU is what enforces --cpu-time. */
		bool cpu_rlimit = sb->limits.cpu_time_ms != LIMIT_UNLIMITED && !have_cgroup &&
		                  (result->signal == SIGXCPU ||
		                   (result->signal == SIGKILL &&
		                    result->cpu_ns / 1000000 >= sb->limits.cpu_time_ms));
		result->status = cpu_rlimit ? CORRAL_STATUS_CPU_TIME : CORRAL_STATUS_SIGNALED;
	} else {
		result->status = CORRAL_STATUS_EXITED;
	}
	return 0;
}
