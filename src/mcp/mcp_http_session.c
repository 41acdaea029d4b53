/*
 * The sessions of the MCP HTTP transport: each runs the stdio MCP server on
 * a pipe pair in its own thread, with a reader thread that routes what it
 * writes to the pending requests (by id and progress token), and the event
 * stream that delivers them. Separate from mcp_http.c, which speaks HTTP,
 * because this is the threads and queues behind it.
 */
#include "mcp/mcp_http_internal.h"

#include "mcp/jsonrpc.h"
#include "util/error.h"
#include "util/lazylib.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct server_args {
	const struct mcp_options *opts;
	int in, out;
};

static void *server_main(void *arg)
{
	struct server_args *a = arg;
	mcp_server_serve(a->opts, a->in, a->out, false);
	close(a->in);
	close(a->out); /* the reader sees the end */
	free(a);
	return NULL;
}

char *mcp_http_dump(json_t *v)
{
	return v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS) : NULL;
}

static struct pending *find_pending(struct session *s, const char *field, const char *key)
{
	for (struct pending *p = s->pending; p; p = p->next)
		if (strcmp(strcmp(field, "id") == 0 ? p->id : p->token, key) == 0)
			return p;
	return NULL;
}

static void deliver(struct transport *t, struct session *s, const char *line, size_t len)
{
	json_error_t jerr;
	json_t *msg = json_loadb(line, len, 0, &jerr);
	if (!json_is_object(msg)) {
		json_decref(msg);
		return;
	}
	bool response = json_object_get(msg, "result") || json_object_get(msg, "error");
	json_t *token = json_object_get(json_object_get(msg, "params"), "progressToken");
	char *key = response ? mcp_http_dump(json_object_get(msg, "id"))
	            : token  ? mcp_http_dump(token)
	                     : NULL;
	pthread_mutex_lock(&t->lock);
	struct pending *p = key ? find_pending(s, response ? "id" : "token", key) : NULL;
	char *copy = p ? strndup(line, len) : NULL;
	char **grown = copy ? realloc(p->lines, (p->n + 1) * sizeof *grown) : NULL;
	if (grown) {
		p->lines = grown;
		p->lines[p->n++] = copy;
		p->done = p->done || response;
		pthread_cond_broadcast(&t->changed);
	} else {
		free(copy);
	}
	pthread_mutex_unlock(&t->lock);
	free(key);
	json_decref(msg);
}

/* Routes what a session's server says to the HTTP requests waiting. */
static void *reader_main(void *arg)
{
	struct transport *t = ((void **)arg)[0];
	struct session *s = ((void **)arg)[1];
	free(arg);
	struct line_reader lr;
	line_reader_init(&lr, (size_t)80 << 20);
	for (;;) {
		long got = line_reader_fill(&lr, s->from_server);
		char *line;
		size_t len;
		enum line_status st;
		while ((st = line_reader_next(&lr, &line, &len)) != LINE_NONE)
			if (st == LINE_READY)
				deliver(t, s, line, len);
		if (got <= 0 && !(got < 0 && errno == EINTR))
			break;
	}
	line_reader_free(&lr);
	pthread_mutex_lock(&t->lock);
	s->closed = true;
	pthread_cond_broadcast(&t->changed);
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

struct session *mcp_http_session_create(struct transport *t)
{
	int to[2] = {-1, -1}, from[2] = {-1, -1};
	struct session *s = calloc(1, sizeof *s);
	struct server_args *a = calloc(1, sizeof *a);
	void **rargs = calloc(2, sizeof *rargs);
	unsigned char raw[16];
	if (!s || !a || !rargs || getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw ||
	    pipe2(to, O_CLOEXEC) < 0 || pipe2(from, O_CLOEXEC) < 0)
		goto fail;
	for (size_t i = 0; i < sizeof raw; i++)
		snprintf(s->id + 2 * i, 3, "%02x", raw[i]);
	pthread_mutex_init(&s->write_lock, NULL);
	*a = (struct server_args){t->opts, to[0], from[1]};
	s->to_server = to[1];
	s->from_server = from[0];
	rargs[0] = t;
	rargs[1] = s;
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pthread_create(&s->server_thread, NULL, server_main, a);
	if (rc == 0 && pthread_create(&s->reader_thread, NULL, reader_main, rargs) != 0) {
		/* Without a reader nobody hears the server: end it. */
		close(to[1]);
		pthread_join(s->server_thread, NULL);
		close(from[0]);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		free(rargs);
		free(s);
		return NULL;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		goto fail;
	return s;
fail:
	for (int i = 0; i < 2; i++) {
		if (to[i] >= 0)
			close(to[i]);
		if (from[i] >= 0)
			close(from[i]);
	}
	free(s);
	free(a);
	free(rargs);
	return NULL;
}

/* End a session (unlinked already): its server sees end of input, kills
 * its sandbox and stops; then the reader. */
void mcp_http_session_end(struct transport *t, struct session *s)
{
	pthread_mutex_lock(&s->write_lock);
	s->ended = true;
	close(s->to_server);
	pthread_mutex_unlock(&s->write_lock);
	pthread_join(s->server_thread, NULL);
	pthread_join(s->reader_thread, NULL);
	/* Requests still streaming from it finish first (closed wakes them). */
	pthread_mutex_lock(&t->lock);
	while (s->pending)
		pthread_cond_wait(&t->changed, &t->lock);
	pthread_mutex_unlock(&t->lock);
	close(s->from_server);
	pthread_mutex_destroy(&s->write_lock);
	free(s);
}

struct session *mcp_http_lookup(struct transport *t, const char *id)
{
	for (struct session *s = t->sessions; s; s = s->next)
		if (id && strcmp(s->id, id) == 0)
			return s;
	return NULL;
}

static void pending_remove(struct session *s, struct pending *p)
{
	for (struct pending **pp = &s->pending; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	for (size_t i = 0; i < p->n; i++)
		free(p->lines[i]);
	free(p->lines);
	free(p);
}

static void pending_drop(struct transport *t, struct session *s, struct pending *p)
{
	pthread_mutex_lock(&t->lock);
	pending_remove(s, p);
	pthread_cond_broadcast(&t->changed);
	pthread_mutex_unlock(&t->lock);
}

/* One message into the session's server (which always reads its input). */
bool mcp_http_write_line(struct session *s, const char *body, size_t len)
{
	char *line = malloc(len + 1);
	if (!line)
		return false;
	if (len && body)
		memcpy(line, body, len);
	line[len] = '\n';
	bool ok = false;
	pthread_mutex_lock(&s->write_lock);
	if (!s->ended) {
		size_t off = 0;
		while (off < len + 1) {
			ssize_t n = write(s->to_server, line + off, len + 1 - off);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			off += (size_t)n;
		}
		ok = off == len + 1;
	}
	pthread_mutex_unlock(&s->write_lock);
	free(line);
	return ok;
}

/* Event stream: each message as it comes, the response last. */
ssize_t mcp_http_stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct request *rq = cls;
	struct transport *t = rq->t;
	(void)pos;
	pthread_mutex_lock(&t->lock);
	for (;;) {
		struct pending *p = rq->pending;
		if (p->sent < p->n) {
			/* The event "event: message\ndata: LINE\n\n", streamed in as
			 * many pieces as MHD's buffer needs. */
			static const char prefix[] = "event: message\ndata: ";
			const char *line = p->lines[p->sent];
			size_t pre = sizeof prefix - 1, len = strlen(line), total = pre + len + 2;
			size_t n = 0;
			while (n < max && p->offset < total) {
				size_t at = p->offset, take;
				const char *from;
				if (at < pre) {
					from = prefix + at;
					take = pre - at;
				} else if (at < pre + len) {
					from = line + (at - pre);
					take = pre + len - at;
				} else {
					static const char tail[] = "\n\n";
					from = &tail[at - pre - len];
					take = total - at;
				}
				if (take > max - n)
					take = max - n;
				memcpy(buf + n, from, take);
				n += take;
				p->offset += take;
			}
			if (p->offset == total) {
				p->sent++;
				p->offset = 0;
			}
			pthread_mutex_unlock(&t->lock);
			return (ssize_t)n;
		}
		if (p->done || rq->session->closed || t->stopping) {
			pthread_mutex_unlock(&t->lock);
			return MHD_CONTENT_READER_END_OF_STREAM;
		}
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;
		pthread_cond_timedwait(&t->changed, &t->lock, &until);
	}
}

void mcp_http_request_free(struct request *rq)
{
	if (!rq)
		return;
	if (rq->pending)
		pending_drop(rq->t, rq->session, rq->pending);
	free(rq->body);
	free(rq);
}

void mcp_http_stream_done(void *cls)
{
	(void)cls; /* the request is freed by the completion callback */
}
