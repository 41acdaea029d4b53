#include "server/server.h"
#include "util/lazylib.h"

#include "server/api.h"
#include "server/listen.h"
#include "server/records.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* Requests between their headers and the end of their response. */
struct inflight {
	pthread_mutex_t lock;
	pthread_cond_t done;
	unsigned n;
};

struct listener {
	struct api_ctx *ctx;
	struct inflight *inflight;
	const char *token;        /* NULL: no token (the Unix socket) */
	struct MHD_Daemon *d;
};

struct conn {
	char *body;
	size_t len;
	bool too_large;
	bool answered;            /* refused before its body was read */
	unsigned status;
	char method[16];
	char path[256];           /* for the log, truncated */
	struct timespec start;
};


static enum MHD_Result send_reply(struct MHD_Connection *c, struct reply *r)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(r->len, r->body ? r->body : (void *)"",
		                                MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", r->type ? r->type : "application/json");
	if (r->allow)
		MHD_add_response_header(resp, "Allow", r->allow);
	if (r->status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(resp, "WWW-Authenticate", "Bearer");
	enum MHD_Result ret = MHD_queue_response(c, r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static bool authorized(const char *token, struct MHD_Connection *c)
{
	if (!token)
		return true;
	const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	if (!auth || strncmp(auth, "Bearer ", 7) != 0)
		return false;
	const char *given = auth + 7;
	size_t n = strlen(token), m = strlen(given);
	unsigned char diff = (unsigned char)(n != m); /* constant time in the token */
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)(token[i] ^ (i < m ? given[i] : 0));
	return diff == 0;
}

/* A browser page on another site must not drive a local server. */
static bool origin_ok(struct MHD_Connection *c)
{
	const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
	if (!origin)
		return true;
	static const char *const local[] = {"http://localhost", "http://127.0.0.1", "http://[::1]"};
	for (size_t i = 0; i < sizeof local / sizeof local[0]; i++) {
		size_t n = strlen(local[i]);
		if (strncmp(origin, local[i], n) == 0 && (origin[n] == '\0' || origin[n] == ':'))
			return true;
	}
	return false;
}

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct api_stream *s = cls;
	(void)pos;
	size_t n = s->read(s->obj, buf, max);
	return n ? (ssize_t)n : MHD_CONTENT_READER_END_OF_STREAM;
}

static void stream_free(void *cls)
{
	struct api_stream *s = cls;
	s->free(s->obj);
	free(s);
}

static enum MHD_Result refuse(struct conn *cn, struct MHD_Connection *c, unsigned status,
                              const char *code, const char *message)
{
	struct reply r = {0};
	reply_error(&r, status, code, "%s", message);
	cn->status = r.status;
	cn->answered = true;
	enum MHD_Result ret = send_reply(c, &r);
	reply_free(&r);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
	struct listener *l = cls;
	struct conn *cn = *con_cls;
	(void)version;
	if (!cn) {
		cn = calloc(1, sizeof *cn);
		if (!cn)
			return MHD_NO;
		clock_gettime(CLOCK_MONOTONIC, &cn->start);
		snprintf(cn->method, sizeof cn->method, "%s", method);
		snprintf(cn->path, sizeof cn->path, "%s", url);
		*con_cls = cn;
		pthread_mutex_lock(&l->inflight->lock);
		l->inflight->n++;
		pthread_mutex_unlock(&l->inflight->lock);
		/* Refused before the body is read. */
		if (!authorized(l->token, c))
			return refuse(cn, c, 401, "unauthorized", "a valid bearer token is required");
		if (!origin_ok(c))
			return refuse(cn, c, 403, "forbidden", "cross-origin requests are refused");
		return MHD_YES;
	}
	if (cn->answered) {
		*upload_size = 0;
		return MHD_YES;
	}
	if (*upload_size) {
		size_t max = api_body_max(l->ctx, method, url);
		if (!cn->too_large && cn->len + *upload_size <= max) {
			char *grown = realloc(cn->body, cn->len + *upload_size + 1);
			if (grown) {
				memcpy(grown + cn->len, upload, *upload_size);
				cn->body = grown;
				cn->len += *upload_size;
				cn->body[cn->len] = '\0';
			} else {
				cn->too_large = true;
			}
		} else {
			cn->too_large = true;
			free(cn->body);
			cn->body = NULL;
			cn->len = 0;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	metrics_request(l->ctx->metrics);
	struct api_request rq = {
		.method = method,
		.path = url,
		.arg_path = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "path"),
		.arg_list = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "list"),
		.arg_recursive = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "recursive"),
		.arg_eof = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "eof"),
		.arg_follow = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "follow"),
		.accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept"),
		.body = cn->body,
		.len = cn->len,
		.too_large = cn->too_large,
	};
	struct reply r = {0};
	struct api_stream stream;
	api_handle(l->ctx, &rq, &r, &stream);
	cn->answered = true;
	if (stream.obj) {
		cn->status = 200;
		struct api_stream *held = malloc(sizeof *held);
		if (!held) {
			stream.free(stream.obj);
			return MHD_NO;
		}
		*held = stream;
		struct MHD_Response *resp = MHD_create_response_from_callback(
			MHD_SIZE_UNKNOWN, 16 * 1024, stream_reader, held, stream_free);
		if (!resp) {
			stream_free(held);
			return MHD_NO;
		}
		MHD_add_response_header(resp, "Content-Type", "application/x-ndjson");
		enum MHD_Result ret = MHD_queue_response(c, 200, resp);
		MHD_destroy_response(resp);
		return ret;
	}
	cn->status = r.status;
	enum MHD_Result ret = send_reply(c, &r);
	reply_free(&r);
	return ret;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode why)
{
	struct listener *l = cls;
	(void)c;
	(void)why;
	struct conn *cn = *con_cls;
	if (!cn)
		return;
	pthread_mutex_lock(&l->inflight->lock);
	l->inflight->n--;
	pthread_cond_broadcast(&l->inflight->done);
	pthread_mutex_unlock(&l->inflight->lock);
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long ms = (long)((now.tv_sec - cn->start.tv_sec) * 1000 +
	                 (now.tv_nsec - cn->start.tv_nsec) / 1000000);
	/* Method and path are the client's: jansson escapes them. */
	json_t *line = json_pack("{s:s, s:s%, s:s%, s:i, s:I}", "event", "request", "method",
	                         cn->method, strnlen(cn->method, sizeof cn->method), "path", cn->path,
	                         strnlen(cn->path, sizeof cn->path), "status", (int)cn->status, "ms",
	                         (json_int_t)ms);
	if (!line) /* not UTF-8 */
		line = json_pack("{s:s, s:i, s:I}", "event", "request", "status", (int)cn->status,
		                 "ms", (json_int_t)ms);
	char *text = line ? json_dumps(line, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
	if (text)
		fprintf(stderr, "%s\n", text);
	free(text);
	json_decref(line);
	free(cn->body);
	free(cn);
	*con_cls = NULL;
}

/* Let the requests under way finish (at most timeout_s). */
static void drain(struct inflight *f, int timeout_s)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_s;
	pthread_mutex_lock(&f->lock);
	while (f->n > 0 && pthread_cond_timedwait(&f->done, &f->lock, &until) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&f->lock);
}


static struct MHD_Daemon *start(struct listener *l, const struct server_options *o, int fd,
                                const struct sockaddr_in *sa)
{
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
	                 MHD_USE_ERROR_LOG | MHD_USE_ITC | MHD_USE_POLL; /* no FD_SETSIZE bound */
	if (fd >= 0)
		return MHD_start_daemon(flags, 0, NULL, NULL, handle, l, MHD_OPTION_LISTEN_SOCKET, fd,
		                        MHD_OPTION_NOTIFY_COMPLETED, completed, l,
		                        MHD_OPTION_CONNECTION_LIMIT, o->max_connections,
		                        MHD_OPTION_CONNECTION_TIMEOUT, 600u, MHD_OPTION_END);
	return MHD_start_daemon(flags, 0, NULL, NULL, handle, l, MHD_OPTION_SOCK_ADDR, sa,
	                        MHD_OPTION_NOTIFY_COMPLETED, completed, l,
	                        MHD_OPTION_CONNECTION_LIMIT, o->max_connections,
	                        MHD_OPTION_CONNECTION_TIMEOUT, 600u, MHD_OPTION_END);
}

int server_run(const struct server_options *o)
{
	char path[sizeof ((struct sockaddr_un *)0)->sun_path];
	if (o->socket_path)
		snprintf(path, sizeof path, "%s", o->socket_path);
	else if (server_default_socket(path, sizeof path) < 0) {
		fprintf(stderr, "corral: serve: no default socket place ($XDG_RUNTIME_DIR is unset); "
		                "give --socket PATH\n");
		return CORRAL_EXIT_FAILURE;
	}
	struct sockaddr_in sa;
	if (o->listen && tcp_address(o->listen, &sa) < 0) {
		fprintf(stderr, "corral: --listen %s: expected IPV4:PORT\n", o->listen);
		return CORRAL_EXIT_FAILURE;
	}
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct metrics metrics = {0};
	struct registry reg;
	corral_error err = {0};
	if (lazy_microhttpd_load(&err) < 0) {
		fprintf(stderr, "corral: serve: %s\n", err.message);
		return CORRAL_EXIT_FAILURE;
	}
	if (registry_init(&reg, &o->limits, &metrics, &err) < 0) {
		fprintf(stderr, "corral: serve: %s\n", err.message);
		return CORRAL_EXIT_FAILURE;
	}
	struct api_ctx ctx = {.reg = &reg, .metrics = &metrics, .opts = o};
	struct inflight inflight = {.n = 0};
	pthread_mutex_init(&inflight.lock, NULL);
	pthread_cond_init(&inflight.done, NULL);
	struct listener local = {.ctx = &ctx, .inflight = &inflight},
			tcp = {.ctx = &ctx, .inflight = &inflight, .token = o->token};
	int code = CORRAL_EXIT_FAILURE;
	int fd = unix_socket(path);
	if (fd < 0) {
		fprintf(stderr, "corral: serve: socket %s: %s\n", path, strerror(errno));
		goto done;
	}
	/* The socket is ours: the records of a daemon that died on it can be
	 * reconciled (no live daemon writes them). */
	reg.records = records_open(o->store_dir, path, &err);
	size_t n_ended = 0;
	if (!reg.records || records_reconcile(reg.records, &n_ended, &err) < 0)
		fprintf(stderr, "{\"event\":\"records_unavailable\",\"message\":\"%s\"}\n",
		        err.message);
	else if (n_ended)
		fprintf(stderr, "{\"event\":\"reconciled\",\"ended\":%zu}\n", n_ended);
	local.d = start(&local, o, fd, NULL);
	if (!local.d) {
		close(fd);
		unlink(path);
		fprintf(stderr, "corral: serve: cannot serve on %s\n", path);
		goto done;
	}
	if (o->listen) {
		tcp.d = start(&tcp, o, -1, &sa);
		if (!tcp.d) {
			fprintf(stderr, "corral: serve: --listen %s: %s\n", o->listen, strerror(errno));
			goto stop;
		}
		const union MHD_DaemonInfo *info = MHD_get_daemon_info(tcp.d, MHD_DAEMON_INFO_BIND_PORT);
		fprintf(stderr, "{\"event\":\"listening\",\"tcp\":\"%s\",\"port\":%u}\n", o->listen,
		        info ? (unsigned)info->port : 0u);
	}
	fprintf(stderr, "{\"event\":\"listening\",\"socket\":\"%s\",\"pid\":%d}\n", path,
	        (int)getpid());
	int sig = 0;
	while (sigwait(&mask, &sig) != 0)
		;
	fprintf(stderr, "{\"event\":\"draining\",\"signal\":%d,\"sandboxes\":%zu}\n", sig,
	        registry_live(&reg));
	code = 0;
stop:
	/* Stop accepting, end the sandboxes (requests waiting on them then
	 * finish), close the connections, free everything. */
	if (tcp.d)
		MHD_quiesce_daemon(tcp.d);
	MHD_socket lfd = MHD_quiesce_daemon(local.d);
	registry_kill_all(&reg);
	drain(&inflight, 10);
	if (tcp.d)
		MHD_stop_daemon(tcp.d);
	MHD_stop_daemon(local.d);
	if (lfd != MHD_INVALID_SOCKET)
		close(lfd);
	unlink(path);
done:
	registry_shutdown(&reg);
	records_close(reg.records);
	pthread_cond_destroy(&inflight.done);
	pthread_mutex_destroy(&inflight.lock);
	fprintf(stderr, "{\"event\":\"stopped\"}\n");
	return code;
}
