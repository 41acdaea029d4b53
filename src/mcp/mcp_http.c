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

#define BODY_MAX ((size_t)16 << 20)
static int send_text(struct MHD_Connection *c, unsigned status, const char *type, const char *text,
                     const char *session_id)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	if (session_id)
		MHD_add_response_header(r, "Mcp-Session-Id", session_id);
	if (status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, "Allow", "POST, DELETE");
	int ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static int send_error(struct MHD_Connection *c, unsigned status, int code, const char *message)
{
	json_t *e = jsonrpc_error(NULL, code, message);
	char *text = mcp_http_dump(e);
	json_decref(e);
	int ret = send_text(c, status, "application/json", text ? text : "{}", NULL);
	free(text);
	return ret;
}

static bool authorized(struct transport *t, struct MHD_Connection *c)
{
	const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	if (!auth || strncmp(auth, "Bearer ", 7) != 0)
		return false;
	const char *given = auth + 7;
	size_t n = strlen(t->token);
	if (strlen(given) != n)
		return false;
	unsigned char diff = 0; /* constant time: no timing oracle on the token */
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)(given[i] ^ t->token[i]);
	return diff == 0;
}

/* A browser page on another site must not drive a local server. */
static bool origin_ok(struct MHD_Connection *c)
{
	const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
	if (!origin)
		return true;
	static const char *const local[] = {"http://localhost", "http://127.0.0.1", "http://[::1]",
	                                    "https://localhost", "https://127.0.0.1", "https://[::1]"};
	for (size_t i = 0; i < sizeof local / sizeof local[0]; i++) {
		size_t n = strlen(local[i]);
		if (strncmp(origin, local[i], n) == 0 && (origin[n] == '\0' || origin[n] == ':'))
			return true;
	}
	return false;
}

/* Wait for the response (application/json answer). */
static int answer_json(struct transport *t, struct MHD_Connection *c, struct request *rq,
                       const char *session_id)
{
	pthread_mutex_lock(&t->lock);
	while (!rq->pending->done && !rq->session->closed && !t->stopping) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;
		pthread_cond_timedwait(&t->changed, &t->lock, &until);
	}
	char *response = rq->pending->done ? strdup(rq->pending->lines[rq->pending->n - 1]) : NULL;
	pthread_mutex_unlock(&t->lock);
	int ret;
	if (response)
		ret = send_text(c, MHD_HTTP_OK, "application/json", response, session_id);
	else
		ret = send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, JSONRPC_INTERNAL_ERROR,
		                 "the session ended before answering");
	free(response);
	return ret;
}

static int answer_stream(struct MHD_Connection *c, struct request *rq, const char *session_id)
{
	struct MHD_Response *r =
		MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024,
		                                  mcp_http_stream_reader, rq, mcp_http_stream_done);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", "text/event-stream");
	MHD_add_response_header(r, "Cache-Control", "no-cache");
	if (session_id)
		MHD_add_response_header(r, "Mcp-Session-Id", session_id);
	int ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

static int handle_post(struct transport *t, struct MHD_Connection *c, struct request *rq)
{
	if (rq->too_large)
		return send_error(c, MHD_HTTP_CONTENT_TOO_LARGE, JSONRPC_INVALID_REQUEST,
		                  "message too large");
	json_error_t jerr;
	json_t *msg = json_loadb(rq->body ? rq->body : "", rq->len, JSON_DECODE_ANY, &jerr);
	if (!msg)
		return send_error(c, MHD_HTTP_BAD_REQUEST, JSONRPC_PARSE_ERROR, "parse error");
	int ret;
	json_t *id = json_object_get(msg, "id");
	json_t *method = json_object_get(msg, "method");
	bool is_request = json_is_string(method) && id;
	const char *sid = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Mcp-Session-Id");
	struct session *s = NULL;
	bool created = false;

	if (!json_is_object(msg)) {
		ret = send_error(c, MHD_HTTP_BAD_REQUEST, JSONRPC_INVALID_REQUEST,
		                 json_is_array(msg) ? "batches are not supported" : "expected a JSON object");
		goto done;
	}
	pthread_mutex_lock(&t->lock);
	if (is_request && strcmp(json_string_value(method), "initialize") == 0 && !sid) {
		if (t->n_sessions >= MCP_HTTP_SESSIONS_MAX || t->stopping) {
			pthread_mutex_unlock(&t->lock);
			ret = send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, JSONRPC_INTERNAL_ERROR,
			                 "too many sessions: end one with DELETE /mcp");
			goto done;
		}
		s = mcp_http_session_create(t);
		if (s) {
			s->next = t->sessions;
			t->sessions = s;
			t->n_sessions++;
			created = true;
		}
	} else {
		s = mcp_http_lookup(t, sid);
	}
	if (!s) {
		pthread_mutex_unlock(&t->lock);
		ret = created || (is_request && strcmp(json_string_value(method), "initialize") == 0)
		              ? send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, JSONRPC_INTERNAL_ERROR,
		                           "cannot start a session")
		      : sid ? send_error(c, MHD_HTTP_NOT_FOUND, JSONRPC_INVALID_REQUEST, "unknown session")
		            : send_error(c, MHD_HTTP_BAD_REQUEST, JSONRPC_INVALID_REQUEST,
		                         "missing Mcp-Session-Id header");
		goto done;
	}
	struct pending *p = NULL;
	if (is_request) {
		p = calloc(1, sizeof *p);
		char *key = mcp_http_dump(id);
		json_t *token = json_object_get(json_object_get(json_object_get(msg, "params"), "_meta"),
		                                "progressToken");
		char *tkey = token ? mcp_http_dump(token) : NULL;
		if (p && key && strlen(key) < KEY_MAX && (!tkey || strlen(tkey) < KEY_MAX)) {
			snprintf(p->id, sizeof p->id, "%s", key);
			snprintf(p->token, sizeof p->token, "%s", tkey ? tkey : "");
			p->next = s->pending;
			s->pending = p;
		} else {
			free(p);
			p = NULL;
		}
		free(key);
		free(tkey);
	}
	pthread_mutex_unlock(&t->lock);
	if (is_request && !p) {
		ret = send_error(c, MHD_HTTP_BAD_REQUEST, JSONRPC_INVALID_REQUEST, "request id too long");
		goto done;
	}
	rq->session = s;
	rq->pending = p;
	if (!mcp_http_write_line(s, rq->body, rq->len)) {
		ret = send_error(c, MHD_HTTP_NOT_FOUND, JSONRPC_INVALID_REQUEST, "the session has ended");
		goto done;
	}
	if (!is_request) {
		ret = send_text(c, MHD_HTTP_ACCEPTED, "application/json", "", NULL);
		goto done;
	}
	const char *accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");
	if (accept && strstr(accept, "text/event-stream"))
		ret = answer_stream(c, rq, created ? s->id : NULL);
	else
		ret = answer_json(t, c, rq, created ? s->id : NULL);
done:
	json_decref(msg);
	return ret;
}

static int handle_delete(struct transport *t, struct MHD_Connection *c)
{
	const char *sid = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Mcp-Session-Id");
	if (!sid)
		return send_error(c, MHD_HTTP_BAD_REQUEST, JSONRPC_INVALID_REQUEST,
		                  "missing Mcp-Session-Id header");
	pthread_mutex_lock(&t->lock);
	struct session *s = NULL;
	for (struct session **pp = &t->sessions; *pp; pp = &(*pp)->next) {
		if (strcmp((*pp)->id, sid) == 0) {
			s = *pp;
			*pp = s->next;
			t->n_sessions--;
			break;
		}
	}
	pthread_mutex_unlock(&t->lock);
	if (!s)
		return send_error(c, MHD_HTTP_NOT_FOUND, JSONRPC_INVALID_REQUEST, "unknown session");
	mcp_http_session_end(t, s);
	return send_text(c, MHD_HTTP_OK, "application/json", "{}", NULL);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
	struct transport *t = cls;
	struct request *rq = *con_cls;
	(void)version;
	if (!rq) {
		rq = calloc(1, sizeof *rq);
		if (!rq)
			return MHD_NO;
		rq->t = t;
		*con_cls = rq;
		return MHD_YES;
	}
	if (*upload_size) {
		if (!rq->too_large && rq->len + *upload_size <= BODY_MAX) {
			char *grown = realloc(rq->body, rq->len + *upload_size + 1);
			if (grown) {
				memcpy(grown + rq->len, upload, *upload_size);
				rq->body = grown;
				rq->len += *upload_size;
			} else {
				rq->too_large = true;
			}
		} else {
			rq->too_large = true;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (strcmp(url, "/mcp") != 0)
		return (enum MHD_Result)send_error(c, MHD_HTTP_NOT_FOUND, JSONRPC_INVALID_REQUEST,
		                                   "not found: the endpoint is /mcp");
	if (!authorized(t, c))
		return (enum MHD_Result)send_error(c, MHD_HTTP_UNAUTHORIZED, JSONRPC_INVALID_REQUEST,
		                                   "a valid bearer token is required");
	if (!origin_ok(c))
		return (enum MHD_Result)send_error(c, MHD_HTTP_FORBIDDEN, JSONRPC_INVALID_REQUEST,
		                                   "cross-origin requests are refused");
	if (strcmp(method, "POST") == 0)
		return (enum MHD_Result)handle_post(t, c, rq);
	if (strcmp(method, "DELETE") == 0)
		return (enum MHD_Result)handle_delete(t, c);
	return (enum MHD_Result)send_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "application/json",
	                                  "{\"error\":\"use POST or DELETE\"}", NULL);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode why)
{
	(void)cls;
	(void)c;
	(void)why;
	mcp_http_request_free(*con_cls);
	*con_cls = NULL;
}

static int parse_address(const char *address, struct sockaddr_storage *sa, corral_error *err)
{
	char host[128];
	const char *colon = strrchr(address, ':');
	if (!colon || colon == address || (size_t)(colon - address) >= sizeof host)
		return error_set(err, CORRAL_ERR_USAGE, 0, "--listen %s: expected HOST:PORT", address);
	memcpy(host, address, (size_t)(colon - address));
	host[colon - address] = '\0';
	char *end;
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (*end || port == 0 || port > 65535)
		return error_set(err, CORRAL_ERR_USAGE, 0, "--listen %s: bad port", address);
	memset(sa, 0, sizeof *sa);
	struct sockaddr_in *a4 = (struct sockaddr_in *)sa;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)sa;
	size_t hl = strlen(host);
	if (hl > 2 && host[0] == '[' && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &a6->sin6_addr) != 1)
			return error_set(err, CORRAL_ERR_USAGE, 0, "--listen %s: bad address", address);
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		return 0;
	}
	if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
		return error_set(err, CORRAL_ERR_USAGE, 0,
		                 "--listen %s: expected an IPv4 address or [IPv6]", address);
	a4->sin_family = AF_INET;
	a4->sin_port = htons((uint16_t)port);
	return 0;
}

int mcp_http_serve(const struct mcp_options *opts, const char *address, const char *token)
{
	corral_error err = {0};
	struct sockaddr_storage sa = {0};
	if (lazy_microhttpd_load(&err) < 0 || parse_address(address, &sa, &err) < 0) {
		fprintf(stderr, "corral: %s\n", err.message);
		return CORRAL_EXIT_FAILURE;
	}
	struct transport t = {.opts = opts, .token = token};
	pthread_mutex_init(&t.lock, NULL);
	pthread_cond_init(&t.changed, NULL);

	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);

	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
	                 MHD_USE_ERROR_LOG | (sa.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
	struct MHD_Daemon *d = MHD_start_daemon(flags, 0, NULL, NULL, handle, &t,
	                                        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
	                                        MHD_OPTION_NOTIFY_COMPLETED, completed, &t,
	                                        MHD_OPTION_CONNECTION_LIMIT, 64u,
	                                        MHD_OPTION_CONNECTION_TIMEOUT, 0u, MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "corral: --listen %s: cannot listen (%s)\n", address, strerror(errno));
		return CORRAL_EXIT_FAILURE;
	}
	fprintf(stderr, "corral mcp: serving MCP over HTTP at http://%s/mcp\n", address);
	int sig;
	while (sigwait(&mask, &sig) != 0)
		;
	/* Wake every waiting request, stop taking new ones, end the sessions. */
	pthread_mutex_lock(&t.lock);
	t.stopping = true;
	pthread_cond_broadcast(&t.changed);
	struct session *all = t.sessions;
	t.sessions = NULL;
	pthread_mutex_unlock(&t.lock);
	while (all) {
		struct session *next = all->next;
		mcp_http_session_end(&t, all);
		all = next;
	}
	MHD_stop_daemon(d);
	pthread_cond_destroy(&t.changed);
	pthread_mutex_destroy(&t.lock);
	return 0;
}
