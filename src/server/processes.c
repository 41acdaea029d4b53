#include "server/processes.h"

#include "server/pump.h"
#include "server/sandboxes.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

void proc_table_init(struct proc_table *t)
{
	memset(t, 0, sizeof *t);
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->changed, NULL);
}


/* Its pump has ended or is ending; unlinked and unreferenced. */
static void bgproc_free(struct bgproc *p)
{
	pthread_join(p->pump, NULL);
	corral_process_free(p->proc);
	proc_close_fd(&p->out_fd[0]);
	proc_close_fd(&p->out_fd[1]);
	proc_close_fd(&p->in_fd);
	proc_close_fd(&p->wake_fd);
	while (p->head) {
		struct chunk *next = p->head->next;
		free(p->head);
		p->head = next;
	}
	free(p->in_pending.data);
	json_decref(p->argv);
	free(p);
}


/* Make room for one more keeping up to `want` bytes of output: too many
 * running, or their output bounds over the budget, is a refusal; ended ones
 * are pruned, oldest first, to stay under PROCESSES_KEPT and the budget.
 * Under the lock; those unlinked and unreferenced go to *gone. */
static bool make_room(struct proc_table *t, uint64_t want, uint64_t budget, struct bgproc **gone)
{
	size_t running = 0;
	uint64_t kept = want;
	for (struct bgproc *p = t->list; p; p = p->next) {
		running += !p->ended;
		kept += p->output_max;
	}
	if (running >= PROCESSES_MAX)
		return false;
	while (t->n >= PROCESSES_KEPT || kept > budget) {
		struct bgproc **oldest = NULL;
		for (struct bgproc **pp = &t->list; *pp; pp = &(*pp)->next)
			if ((*pp)->ended)
				oldest = pp; /* the list is newest first */
		if (!oldest)
			return false;
		struct bgproc *p = *oldest;
		*oldest = p->next;
		t->n--;
		kept -= p->output_max;
		p->listed = false;
		if (p->refs == 0) {
			p->next = *gone;
			*gone = p;
		}
	}
	return true;
}

static int pipes(struct bgproc *p, int child[3])
{
	int out[2], err[2], in[2];
	if (pipe2(out, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(err, O_CLOEXEC) < 0) {
		close(out[0]);
		close(out[1]);
		return -1;
	}
	if (pipe2(in, O_CLOEXEC) < 0) {
		close(out[0]);
		close(out[1]);
		close(err[0]);
		close(err[1]);
		return -1;
	}
	p->out_fd[0] = out[0];
	p->out_fd[1] = err[0];
	p->in_fd = in[1];
	child[0] = in[0];
	child[1] = out[1];
	child[2] = err[1];
	if (fcntl(out[0], F_SETFL, O_NONBLOCK) < 0 || fcntl(err[0], F_SETFL, O_NONBLOCK) < 0 ||
	    fcntl(in[1], F_SETFL, O_NONBLOCK) < 0)
		return -1;
	return 0;
}

static json_t *argv_json(char **argv)
{
	json_t *a = json_array();
	for (size_t i = 0; a && argv[i]; i++)
		json_array_append_new(a, json_string(argv[i]));
	return a;
}

int proc_spawn(struct proc_table *t, corral_sandbox *sb, struct exec_params *params,
               bool stdin_eof, uint64_t budget, unsigned *status, const char **code,
               char message[REQUEST_MESSAGE_MAX])
{
	int child[3] = {-1, -1, -1};
	struct bgproc *gone = NULL;
	struct bgproc *p = calloc(1, sizeof *p);
	void **args = calloc(2, sizeof *args);
	int pid = -1;
	*status = 500;
	*code = "internal";
	if (!p || !args) {
		snprintf(message, REQUEST_MESSAGE_MAX, "out of memory");
		goto fail;
	}
	p->out_fd[0] = p->out_fd[1] = p->in_fd = -1;
	p->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	p->argv = argv_json(params->argv);
	p->base64 = params->base64_output;
	p->output_max = params->output_max;
	p->in_eof = stdin_eof;
	p->listed = true;
	if (p->wake_fd < 0 || !p->argv || pipes(p, child) < 0) {
		snprintf(message, REQUEST_MESSAGE_MAX, "pipes: %s", strerror(errno));
		goto fail;
	}
	if (params->stdin_data && buf_add(&p->in_pending, params->stdin_data, params->stdin_len) < 0) {
		snprintf(message, REQUEST_MESSAGE_MAX, "out of memory");
		goto fail;
	}
	pthread_mutex_lock(&t->lock);
	bool room = make_room(t, p->output_max, budget, &gone);
	pthread_mutex_unlock(&t->lock);
	if (!room) {
		*status = 429;
		*code = "too_many_processes";
		snprintf(message, REQUEST_MESSAGE_MAX,
		         "too many processes in this sandbox (%d running at most, their output_max "
		         "together at most %llu bytes)",
		         PROCESSES_MAX, (unsigned long long)budget);
		goto fail;
	}
	corral_exec_request req = {.argv = params->argv, .env = params->env, .cwd = params->cwd,
	                           .stdin_fd = child[0], .stdout_fd = child[1],
	                           .stderr_fd = child[2]};
	corral_error err = {0};
	if (corral_sandbox_exec(sb, &req, &p->proc, &err) < 0) {
		bool ended = err.kind == CORRAL_ERR_USAGE && err.errnum == ESRCH;
		bool usage = err.kind == CORRAL_ERR_USAGE || err.kind == CORRAL_ERR_EXEC_NOT_FOUND ||
		             err.kind == CORRAL_ERR_EXEC_DENIED;
		*status = ended ? 409 : usage ? 400 : 500;
		*code = ended ? "sandbox_ended"
		      : err.kind == CORRAL_ERR_EXEC_NOT_FOUND ? "command_not_found"
		      : err.kind == CORRAL_ERR_EXEC_DENIED ? "command_not_executable"
		      : usage ? "bad_request" : "internal";
		snprintf(message, REQUEST_MESSAGE_MAX, "%s", err.message);
		goto fail;
	}
	for (int i = 0; i < 3; i++)
		proc_close_fd(&child[i]);
	p->pid = (int)corral_process_pid(p->proc);
	p->started_ms = now_realtime_ms();
	if (params->timeout_ms)
		p->deadline_ns = mono_ns() + params->timeout_ms * 1000000u;
	args[0] = t;
	args[1] = p;
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pthread_create(&p->pump, NULL, proc_pump_main, args);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		snprintf(message, REQUEST_MESSAGE_MAX, "cannot start a thread: %s", strerror(rc));
		goto fail; /* corral_process_free kills it */
	}
	args = NULL;
	pthread_mutex_lock(&t->lock);
	/* A pid used again in the sandbox: the old entry (ended) goes. */
	for (struct bgproc **pp = &t->list; *pp; pp = &(*pp)->next) {
		struct bgproc *old_p = *pp;
		if (old_p->pid == p->pid) {
			*pp = old_p->next;
			t->n--;
			old_p->listed = false;
			if (old_p->refs == 0) {
				old_p->next = gone;
				gone = old_p;
			}
			break;
		}
	}
	p->next = t->list;
	t->list = p;
	t->n++;
	pthread_mutex_unlock(&t->lock);
	pid = p->pid;
	p = NULL;
fail:
	for (int i = 0; i < 3; i++)
		proc_close_fd(&child[i]);
	if (p) {
		corral_process_free(p->proc);
		p->proc = NULL;
		proc_close_fd(&p->out_fd[0]);
		proc_close_fd(&p->out_fd[1]);
		proc_close_fd(&p->in_fd);
		proc_close_fd(&p->wake_fd);
		free(p->in_pending.data);
		json_decref(p->argv);
		free(p);
	}
	free(args);
	while (gone) {
		struct bgproc *next = gone->next;
		bgproc_free(gone);
		gone = next;
	}
	exec_params_free(params);
	return pid;
}

struct bgproc *proc_get(struct proc_table *t, int pid)
{
	pthread_mutex_lock(&t->lock);
	struct bgproc *p = t->list;
	while (p && p->pid != pid)
		p = p->next;
	if (p)
		p->refs++;
	pthread_mutex_unlock(&t->lock);
	return p;
}

void proc_put(struct proc_table *t, struct bgproc *p)
{
	pthread_mutex_lock(&t->lock);
	bool gone = --p->refs == 0 && !p->listed;
	pthread_mutex_unlock(&t->lock);
	if (gone)
		bgproc_free(p);
}

static void wake(struct bgproc *p)
{
	uint64_t one = 1;
	(void)!write(p->wake_fd, &one, sizeof one);
}

unsigned proc_write_stdin(struct proc_table *t, struct bgproc *p, const void *data, size_t len,
                          bool eof, const char **code, char message[REQUEST_MESSAGE_MAX])
{
	unsigned status = 0;
	pthread_mutex_lock(&t->lock);
	if (p->ended || p->in_fd < 0 || p->in_eof) {
		status = 409;
		*code = p->ended ? "process_ended" : "stdin_closed";
		snprintf(message, REQUEST_MESSAGE_MAX, "process %d: %s", p->pid,
		         p->ended ? "has ended" : "its stdin is closed");
	} else if (p->in_pending.len - p->in_off + len > PROCESS_STDIN_MAX) {
		status = 413;
		*code = "too_large";
		snprintf(message, REQUEST_MESSAGE_MAX,
		         "process %d has not read its stdin: at most %u bytes wait", p->pid,
		         PROCESS_STDIN_MAX);
	} else if (len && buf_add(&p->in_pending, data, len) < 0) {
		status = 500;
		*code = "internal";
		snprintf(message, REQUEST_MESSAGE_MAX, "out of memory");
	} else {
		p->in_eof = eof;
		wake(p);
	}
	pthread_mutex_unlock(&t->lock);
	return status;
}

unsigned proc_signal(struct proc_table *t, struct bgproc *p, int sig, const char **code,
                     char message[REQUEST_MESSAGE_MAX])
{
	unsigned status = 0;
	corral_error err = {0};
	pthread_mutex_lock(&t->lock);
	if (p->ended) {
		status = 409;
		*code = "process_ended";
		snprintf(message, REQUEST_MESSAGE_MAX, "process %d has ended", p->pid);
	} else if (corral_process_signal(p->proc, sig, &err) < 0) {
		bool gone = err.errnum == ESRCH;
		status = gone ? 409 : 500;
		*code = gone ? "process_ended" : "internal";
		snprintf(message, REQUEST_MESSAGE_MAX, "%s", err.message);
	}
	pthread_mutex_unlock(&t->lock);
	return status;
}

void proc_table_end(struct proc_table *t)
{
	pthread_mutex_lock(&t->lock);
	struct bgproc *all = t->list;
	t->list = NULL;
	t->n = 0;
	pthread_mutex_unlock(&t->lock);
	while (all) {
		struct bgproc *next = all->next;
		bgproc_free(all);
		all = next;
	}
	pthread_cond_destroy(&t->changed);
	pthread_mutex_destroy(&t->lock);
}
