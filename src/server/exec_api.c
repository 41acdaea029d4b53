#include "server/exec_api.h"

#include "server/output.h"
#include "util/base64.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (16 * 1024)


struct stream_out {
	int fd;                  /* our read end, -1 when closed */
	struct buf kept;         /* capture: up to output_max bytes */
	unsigned char carry[4];  /* stream: an incomplete UTF-8 sequence */
	size_t n_carry;
	uint64_t total;          /* bytes the command wrote */
	bool truncated;
};

struct exec_run {
	struct registry *reg;
	struct sbx *s;
	struct exec_params p;
	bool stream;
	corral_process *proc;
	struct stream_out out[2];  /* stdout, stderr */
	int in_fd;
	size_t in_off;
	uint64_t started_ns, deadline_ns;
	bool timed_out, proc_done, finished;
	corral_process_status st;
	int failed_exit;           /* 126/127 when the command did not start, else -1 */
	struct buf lines;          /* stream: NDJSON waiting to be sent */
	size_t lines_off;
	bool exit_sent;
};


static json_t *bytes_json(const struct exec_run *r, const unsigned char *data, size_t len,
                          bool final, size_t *used)
{
	if (r->p.base64_output) {
		*used = len;
		char *b = base64_encode(data, len);
		json_t *v = b ? json_string(b) : NULL;
		free(b);
		return v;
	}
	size_t n;
	char *text = utf8_sanitize(data, len, final, used, &n);
	json_t *v = text ? json_stringn(text, n) : NULL;
	free(text);
	return v;
}

static void emit_line(struct exec_run *r, json_t *line)
{
	char *text = line ? json_dumps(line, JSON_COMPACT) : NULL;
	json_decref(line);
	if (text && buf_add(&r->lines, text, strlen(text)) == 0)
		buf_add(&r->lines, "\n", 1);
	free(text);
}

/* Output of stream i (0 stdout, 1 stderr), kept or streamed within the cap. */
static void take(struct exec_run *r, int i, const unsigned char *data, size_t len, bool final)
{
	struct stream_out *o = &r->out[i];
	o->total += len;
	size_t room = o->kept.len < r->p.output_max ? (size_t)(r->p.output_max - o->kept.len) : 0;
	if (len > room) {
		o->truncated = true;
		len = room;
	}
	if (!r->stream) {
		if (len)
			buf_add(&o->kept, data, len);
		return;
	}
	/* Streaming counts what it sent in kept.len without keeping the bytes. */
	unsigned char joined[CHUNK + 4];
	size_t n = o->n_carry;
	memcpy(joined, o->carry, n);
	memcpy(joined + n, data, len);
	n += len;
	o->kept.len += len;
	if (n == 0)
		return;
	size_t used;
	json_t *v = bytes_json(r, joined, n, final, &used);
	o->n_carry = n - used;
	memcpy(o->carry, joined + used, o->n_carry);
	if (v && (json_string_length(v) > 0))
		emit_line(r, json_pack("{s:o}", i == 0 ? "stdout" : "stderr", v));
	else
		json_decref(v);
}

static void read_ready(struct exec_run *r, int i, bool drain)
{
	unsigned char chunk[CHUNK];
	while (r->out[i].fd >= 0) {
		ssize_t n = read(r->out[i].fd, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n > 0) {
			take(r, i, chunk, (size_t)n, false);
			if (!drain)
				return;
			continue;
		}
		if (n == 0 || drain || errno != EAGAIN) {
			close(r->out[i].fd);
			r->out[i].fd = -1;
		}
		return;
	}
}

static void finish(struct exec_run *r)
{
	for (int i = 0; i < 2; i++) {
		read_ready(r, i, true);
		take(r, i, (const unsigned char *)"", 0, true);
	}
	if (r->in_fd >= 0) {
		close(r->in_fd);
		r->in_fd = -1;
	}
	if (r->proc) {
		corral_error err = {0};
		if (corral_process_wait(r->proc, -1, &r->st, &err) < 0)
			r->st.state = CORRAL_PROCESS_LOST;
	}
	r->finished = true;
	uint64_t us = (mono_ns() - r->started_ns) / 1000;
	metrics_exec(r->reg->metrics, us);
}

/* Wait up to wait_ms for something to happen; true once the run is over. */
static bool step(struct exec_run *r, int wait_ms)
{
	if (r->finished)
		return true;
	if (r->proc_done) {
		finish(r);
		return true;
	}
	struct pollfd fds[4];
	int idx[4], n = 0;
	for (int i = 0; i < 2; i++) {
		if (r->out[i].fd >= 0) {
			fds[n] = (struct pollfd){.fd = r->out[i].fd, .events = POLLIN};
			idx[n++] = i;
		}
	}
	if (r->in_fd >= 0) {
		fds[n] = (struct pollfd){.fd = r->in_fd, .events = POLLOUT};
		idx[n++] = 2;
	}
	fds[n] = (struct pollfd){.fd = corral_process_pollfd(r->proc), .events = POLLIN};
	idx[n++] = 3;
	uint64_t now = mono_ns();
	if (!r->timed_out) {
		uint64_t left_ms = r->deadline_ns > now ? (r->deadline_ns - now) / 1000000 + 1 : 0;
		if (left_ms < (uint64_t)wait_ms)
			wait_ms = (int)left_ms;
	}
	int got = poll(fds, (nfds_t)n, wait_ms);
	if (!r->timed_out && mono_ns() >= r->deadline_ns) {
		r->timed_out = true;
		corral_process_signal(r->proc, SIGKILL, NULL);
	}
	if (got <= 0)
		return false;
	for (int k = 0; k < n; k++) {
		if (!fds[k].revents)
			continue;
		if (idx[k] < 2) {
			read_ready(r, idx[k], false);
		} else if (idx[k] == 2) {
			ssize_t w = write(r->in_fd, r->p.stdin_data + r->in_off,
			                  r->p.stdin_len - r->in_off);
			if (w > 0)
				r->in_off += (size_t)w;
			if ((w < 0 && errno != EAGAIN && errno != EINTR) || r->in_off == r->p.stdin_len) {
				close(r->in_fd);
				r->in_fd = -1;
			}
		} else {
			r->proc_done = true;
		}
	}
	if (r->proc_done) {
		finish(r);
		return true;
	}
	return false;
}

static int make_pipe(int fds[2], int nonblock_end)
{
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	return fcntl(fds[nonblock_end], F_SETFL, O_NONBLOCK);
}

struct exec_run *exec_start(struct registry *reg, struct sbx *s, struct exec_params *params,
                            bool stream, unsigned *status, const char **code,
                            char message[REQUEST_MESSAGE_MAX])
{
	struct exec_run *r = calloc(1, sizeof *r);
	int out[2] = {-1, -1}, errp[2] = {-1, -1}, in[2] = {-1, -1};
	*status = 500;
	*code = "internal";
	if (!r) {
		snprintf(message, REQUEST_MESSAGE_MAX, "out of memory");
		exec_params_free(params);
		return NULL;
	}
	r->reg = reg;
	r->s = s;
	r->p = *params;
	memset(params, 0, sizeof *params);
	r->stream = stream;
	r->in_fd = -1;
	r->failed_exit = -1;
	r->out[0].fd = r->out[1].fd = -1;
	if (make_pipe(out, 0) < 0 || make_pipe(errp, 0) < 0 ||
	    (r->p.stdin_data && make_pipe(in, 1) < 0)) {
		snprintf(message, REQUEST_MESSAGE_MAX, "pipes: %s", strerror(errno));
		goto fail;
	}
	corral_exec_request req = {.argv = r->p.argv, .env = r->p.env, .cwd = r->p.cwd,
	                           .stdin_fd = in[0], .stdout_fd = out[1], .stderr_fd = errp[1]};
	corral_error err = {0};
	r->started_ns = mono_ns();
	r->deadline_ns = r->started_ns + r->p.timeout_ms * 1000000u;
	int rc = corral_sandbox_exec(s->sb, &req, &r->proc, &err);
	close(out[1]);
	close(errp[1]);
	if (in[0] >= 0)
		close(in[0]);
	out[1] = errp[1] = in[0] = -1;
	r->out[0].fd = out[0];
	r->out[1].fd = errp[0];
	r->in_fd = in[1];
	if (rc < 0) {
		r->out[0].fd = r->out[1].fd = -1;
		close(out[0]);
		close(errp[0]);
		if (in[1] >= 0)
			close(in[1]);
		r->in_fd = -1;
		if (err.kind == CORRAL_ERR_EXEC_NOT_FOUND || err.kind == CORRAL_ERR_EXEC_DENIED) {
			/* As a shell: 127 or 126, and why on stderr. */
			r->failed_exit = corral_error_exit_code(&err);
			char line[CORRAL_ERROR_MESSAGE_MAX + 16];
			int n = snprintf(line, sizeof line, "corral: %s\n", err.message);
			take(r, 1, (const unsigned char *)line, (size_t)n, true);
			r->finished = true;
			metrics_exec(reg->metrics, (mono_ns() - r->started_ns) / 1000);
			goto started;
		}
		bool ended = err.kind == CORRAL_ERR_USAGE && err.errnum == ESRCH;
		*status = ended ? 409 : err.kind == CORRAL_ERR_USAGE ? 400 : 500;
		*code = ended ? "sandbox_ended" : err.kind == CORRAL_ERR_USAGE ? "bad_request" : "internal";
		snprintf(message, REQUEST_MESSAGE_MAX, "%s", err.message);
		exec_run_free(r);
		return NULL;
	}
started:
	pthread_mutex_lock(&reg->lock);
	s->execs++;
	pthread_mutex_unlock(&reg->lock);
	return r;
fail:
	for (int i = 0; i < 2; i++) {
		if (out[i] >= 0)
			close(out[i]);
		if (errp[i] >= 0)
			close(errp[i]);
		if (in[i] >= 0)
			close(in[i]);
	}
	exec_params_free(&r->p);
	free(r);
	sbx_put(reg, s);
	return NULL;
}

static json_t *exit_json(struct exec_run *r)
{
	uint64_t ms = (mono_ns() - r->started_ns) / 1000000;
	json_t *o = json_object();
	bool lost = r->failed_exit < 0 && r->st.state == CORRAL_PROCESS_LOST;
	json_t *code = r->failed_exit >= 0 ? json_integer(r->failed_exit)
	             : r->st.state == CORRAL_PROCESS_EXITED ? json_integer(r->st.exit_code)
	                                                    : json_null();
	json_object_set_new(o, "exit_code", code);
	json_object_set_new(o, "signal", r->st.state == CORRAL_PROCESS_SIGNALED
	                                         ? json_integer(r->st.signal) : json_null());
	json_object_set_new(o, "timed_out", json_boolean(r->timed_out));
	json_object_set_new(o, "sandbox_ended", json_boolean(lost));
	json_object_set_new(o, "duration_ms", json_integer((json_int_t)ms));
	for (int i = 0; i < 2; i++) {
		char key[32];
		const char *name = i == 0 ? "stdout" : "stderr";
		snprintf(key, sizeof key, "%s_truncated", name);
		json_object_set_new(o, key, json_boolean(r->out[i].truncated));
		snprintf(key, sizeof key, "%s_bytes", name);
		json_object_set_new(o, key, json_integer((json_int_t)r->out[i].total));
	}
	return o;
}

json_t *exec_collect(struct exec_run *r)
{
	while (!step(r, 1000))
		;
	json_t *o = exit_json(r);
	for (int i = 0; i < 2 && o; i++) {
		size_t used;
		json_t *v = bytes_json(r, r->out[i].kept.data ? r->out[i].kept.data
		                                                : (const unsigned char *)"",
		                       r->out[i].kept.len, true, &used);
		json_object_set_new(o, i == 0 ? "stdout" : "stderr", v ? v : json_string(""));
	}
	if (o && r->p.base64_output)
		json_object_set_new(o, "output_encoding", json_string("base64"));
	return o;
}

size_t exec_stream_read(struct exec_run *r, char *buf, size_t max)
{
	while (r->lines_off == r->lines.len) {
		r->lines.len = r->lines_off = 0;
		if (r->exit_sent)
			return 0;
		if (step(r, 1000) && r->lines.len == 0) {
			emit_line(r, json_pack("{s:o}", "exit", exit_json(r)));
			r->exit_sent = true;
		}
	}
	size_t n = r->lines.len - r->lines_off;
	if (n > max)
		n = max;
	memcpy(buf, r->lines.data + r->lines_off, n);
	r->lines_off += n;
	return n;
}

void exec_run_free(struct exec_run *r)
{
	if (!r)
		return;
	if (r->proc) {
		if (!r->finished)
			corral_process_signal(r->proc, SIGKILL, NULL);
		corral_process_free(r->proc);
	}
	for (int i = 0; i < 2; i++) {
		if (r->out[i].fd >= 0)
			close(r->out[i].fd);
		free(r->out[i].kept.data);
	}
	if (r->in_fd >= 0)
		close(r->in_fd);
	free(r->lines.data);
	exec_params_free(&r->p);
	sbx_put(r->reg, r->s);
	free(r);
}
