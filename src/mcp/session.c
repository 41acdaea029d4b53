#include "mcp/session.h"

#include "session_driver.h"
#include "util/error.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* The driver's answers carry output, a traceback and up to eight PNGs of
 * 4 MiB (base64): anything longer is not a driver we trust to go on. */
#define DRIVER_LINE_MAX ((size_t)64 << 20)

void session_init(struct session *s, const struct session_config *cfg)
{
	memset(s, 0, sizeof *s);
	s->cfg = cfg;
	s->done_fd = s->to_driver = s->from_driver = -1;
	line_reader_init(&s->lines, DRIVER_LINE_MAX);
}

bool session_running(const struct session *s)
{
	return s->sb != NULL && !s->ended;
}

static void *waiter_main(void *arg)
{
	struct session *s = arg;
	memset(&s->result, 0, sizeof s->result);
	memset(&s->wait_err, 0, sizeof s->wait_err);
	corral_sandbox_wait(s->sb, &s->result, &s->wait_err);
	uint64_t one = 1;
	/* The eventfd is the only way out; it cannot be full. */
	if (write(s->done_fd, &one, sizeof one) < 0)
		perror("corral mcp: eventfd");
	return NULL;
}

int session_start(struct session *s, corral_error *err)
{
	int in[2] = {-1, -1}, out[2] = {-1, -1};
	int rc = -1;
	char cap[32];

	session_stop(s);
	snprintf(cap, sizeof cap, "%" PRIu64, s->cfg->output_cap);
	char *argv[] = {(char *)s->cfg->python, "-c", (char *)session_driver_source, cap, NULL};

	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
		error_errno(err, "session pipes");
		goto cleanup;
	}
	s->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->done_fd < 0) {
		error_errno(err, "session eventfd");
		goto cleanup;
	}
	if (fcntl(in[1], F_SETFL, O_NONBLOCK) < 0 || fcntl(out[0], F_SETFL, O_NONBLOCK) < 0) {
		error_errno(err, "session pipes");
		goto cleanup;
	}
	corral_io io = {.stdin_fd = in[0], .stdout_fd = out[1], .stderr_fd = out[1], .signal_fd = -1};
	if (corral_sandbox_start(s->cfg->policy, argv, &io, &s->sb, err) < 0)
		goto cleanup;
	s->to_driver = in[1];
	s->from_driver = out[0];
	in[1] = out[0] = -1;

	/* The waiter must not take the server's signals. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int perr = pthread_create(&s->waiter, NULL, waiter_main, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (perr != 0) {
		errno = perr;
		error_errno(err, "session thread");
		goto cleanup;
	}
	s->waiter_running = true;
	rc = 0;
cleanup:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
	}
	if (rc < 0)
		session_stop(s);
	return rc;
}

void session_stop(struct session *s)
{
	if (s->sb && s->waiter_running) {
		if (!s->ended)
			corral_sandbox_signal(s->sb, SIGKILL, NULL);
		pthread_join(s->waiter, NULL);
		s->waiter_running = false;
	}
	corral_sandbox_free(s->sb);
	s->sb = NULL;
	if (s->done_fd >= 0)
		close(s->done_fd);
	if (s->to_driver >= 0)
		close(s->to_driver);
	if (s->from_driver >= 0)
		close(s->from_driver);
	s->done_fd = s->to_driver = s->from_driver = -1;
	free(s->out);
	s->out = NULL;
	s->out_len = s->out_sent = 0;
	line_reader_free(&s->lines);
	line_reader_init(&s->lines, DRIVER_LINE_MAX);
	s->ready = false;
	s->ended = false;
}

static void flush_requests(struct session *s)
{
	while (s->to_driver >= 0 && s->out_sent < s->out_len) {
		ssize_t n = write(s->to_driver, s->out + s->out_sent, s->out_len - s->out_sent);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN) {
				/* The driver is gone; its end shows up as done_fd. */
				close(s->to_driver);
				s->to_driver = -1;
			}
			return;
		}
		s->out_sent += (size_t)n;
	}
	if (s->out_sent == s->out_len) {
		free(s->out);
		s->out = NULL;
		s->out_len = s->out_sent = 0;
	}
}

int session_send(struct session *s, const char *op, const char *code, uint64_t *id)
{
	*id = ++s->next_id;
	json_t *request = json_pack("{s:I, s:s, s:s}", "id", (json_int_t)*id, "op", op, "code", code);
	char *text = request ? json_dumps(request, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
	json_decref(request);
	if (!text)
		return -1;
	size_t len = strlen(text);
	char *grown = realloc(s->out, s->out_len + len + 1);
	if (!grown) {
		free(text);
		return -1;
	}
	memcpy(grown + s->out_len, text, len); // NOLINT(bugprone-not-null-terminated-result): a byte queue, not a string
	grown[s->out_len + len] = '\n';
	s->out = grown;
	s->out_len += len + 1;
	free(text);
	flush_requests(s);
	return 0;
}

void session_interrupt(struct session *s)
{
	if (session_running(s))
		corral_sandbox_signal(s->sb, SIGINT, NULL);
}

void session_kill(struct session *s)
{
	if (session_running(s))
		corral_sandbox_signal(s->sb, SIGKILL, NULL);
}

int session_pollfds(struct session *s, struct pollfd *fds, struct session_pollfds *at)
{
	int n = 0;
	at->from_driver = at->to_driver = at->done = -1;
	if (!s->sb)
		return 0;
	if (s->from_driver >= 0) {
		fds[n] = (struct pollfd){.fd = s->from_driver, .events = POLLIN};
		at->from_driver = n++;
	}
	if (s->to_driver >= 0 && s->out_len > s->out_sent) {
		fds[n] = (struct pollfd){.fd = s->to_driver, .events = POLLOUT};
		at->to_driver = n++;
	}
	if (s->done_fd >= 0 && !s->ended) {
		fds[n] = (struct pollfd){.fd = s->done_fd, .events = POLLIN};
		at->done = n++;
	}
	return n;
}

/* Returns false when nothing more can be read now. */
static bool read_driver(struct session *s, void (*on_reply)(void *ctx, json_t *reply), void *ctx)
{
	long got = line_reader_fill(&s->lines, s->from_driver);
	if (got < 0 && errno == EAGAIN)
		return false;
	char *line;
	size_t len;
	enum line_status st;
	while ((st = line_reader_next(&s->lines, &line, &len)) != LINE_NONE) {
		if (st == LINE_TOO_LONG) {
			fprintf(stderr, "corral mcp: the session sent an oversized answer; stopping it\n");
			session_kill(s);
			continue;
		}
		json_error_t jerr;
		json_t *reply = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
		if (!json_is_object(reply)) {
			/* Before the driver takes over its stdout, Python itself may
			 * speak (a startup error): pass it on as a diagnostic. */
			fprintf(stderr, "corral mcp: session: %.*s\n", len > 400 ? 400 : (int)len, line);
			json_decref(reply);
			continue;
		}
		if (json_is_true(json_object_get(reply, "ready"))) {
			s->ready = true;
			json_decref(reply);
			continue;
		}
		on_reply(ctx, reply);
	}
	if (got <= 0) {
		close(s->from_driver);
		s->from_driver = -1;
		return false;
	}
	return true;
}

bool session_dispatch(struct session *s, const struct pollfd *fds,
                      const struct session_pollfds *at,
                      void (*on_reply)(void *ctx, json_t *reply), void *ctx)
{
	if (at->to_driver >= 0 && fds[at->to_driver].revents)
		flush_requests(s);
	if (at->from_driver >= 0 && fds[at->from_driver].revents)
		read_driver(s, on_reply, ctx);
	if (at->done >= 0 && fds[at->done].revents) {
		uint64_t count;
		if (read(s->done_fd, &count, sizeof count) == (ssize_t)sizeof count) {
			pthread_join(s->waiter, NULL);
			s->waiter_running = false;
			/* Answers already in the pipe still count. */
			while (s->from_driver >= 0 && read_driver(s, on_reply, ctx))
				;
			s->ended = true;
			return true;
		}
	}
	return false;
}

static void format_bytes(uint64_t bytes, char *buf, size_t size)
{
	if (bytes >= (1u << 30) && bytes % (1u << 30) == 0)
		snprintf(buf, size, "%" PRIu64 " GiB", bytes >> 30);
	else if (bytes >= (1u << 20))
		snprintf(buf, size, "%" PRIu64 " MiB", bytes >> 20);
	else
		snprintf(buf, size, "%" PRIu64 " bytes", bytes);
}

void session_end_reason(const struct session *s, char *buf, size_t size)
{
	const corral_result *r = &s->result;
	char amount[32];
	switch (r->status) {
	case CORRAL_STATUS_OOM:
		format_bytes(s->cfg->memory_limit, amount, sizeof amount);
		snprintf(buf, size, "the session exceeded its memory limit (%s) and was stopped", amount);
		return;
	case CORRAL_STATUS_CPU_TIME:
		snprintf(buf, size, "the session used up its CPU-time limit (%" PRIu64 " ms) and was stopped",
		         s->cfg->cpu_time_limit_ms);
		return;
	case CORRAL_STATUS_SETUP_ERROR:
		snprintf(buf, size, "the session could not start: %s",
		         s->wait_err.message[0] ? s->wait_err.message : "unknown error");
		return;
	case CORRAL_STATUS_EXITED:
		snprintf(buf, size, "the session's Python process exited (code %d)", r->exit_code);
		return;
	case CORRAL_STATUS_SIGNALED:
		if (r->signal == SIGKILL)
			snprintf(buf, size, "the session was killed");
		else
			snprintf(buf, size, "the session's Python process was killed by signal %d", r->signal);
		return;
	case CORRAL_STATUS_TIMEOUT:
	case CORRAL_STATUS_OUTPUT_LIMIT:
		break;
	}
	snprintf(buf, size, "the session stopped (%s)", corral_status_name(r->status));
}
