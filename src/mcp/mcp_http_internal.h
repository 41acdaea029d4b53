/*
 * Shared by the MCP HTTP transport (mcp_http.c) and its sessions
 * (mcp_http_session.c); not part of the module's interface.
 */
#ifndef CORRAL_MCP_MCP_HTTP_INTERNAL_H
#define CORRAL_MCP_MCP_HTTP_INTERNAL_H

#include "mcp/mcp_http.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define KEY_MAX 160

struct pending {
	char id[KEY_MAX];        /* the request's id, as JSON */
	char token[KEY_MAX];     /* its progress token, as JSON, or "" */
	char **lines;            /* messages to deliver, the response last */
	size_t n, sent;
	size_t offset;           /* bytes of lines[sent]'s event already streamed */
	bool done;
	struct pending *next;
};

struct session {
	char id[33];
	int to_server;
	int from_server;
	pthread_t server_thread, reader_thread;
	bool closed;             /* the server loop has ended */
	bool ended;              /* DELETE or shutdown: no more writes */
	pthread_mutex_t write_lock; /* one message at a time into the server */
	struct pending *pending;
	struct session *next;
};

struct transport {
	const struct mcp_options *opts;
	const char *token;
	pthread_mutex_t lock;    /* sessions, their pending lists, closed flags */
	pthread_cond_t changed;
	struct session *sessions;
	size_t n_sessions;
	volatile bool stopping;
};

struct request {
	char *body;
	size_t len;
	bool too_large;
	struct session *session;  /* for the event stream */
	struct pending *pending;
	struct transport *t;
};

/* json_dumps(v) in compact form, for ids and tokens as keys; NULL on ENOMEM. */
char *mcp_http_dump(json_t *v);
/* A new session with its server and reader threads, for the caller to link
 * into t (under t->lock); NULL on failure. */
struct session *mcp_http_session_create(struct transport *t);
/* End a session (unlinked already): its server sees end of input, kills
 * its sandbox and stops; then the reader. */
void mcp_http_session_end(struct transport *t, struct session *s);
/* The live session named id, or NULL. Called with t->lock held. */
struct session *mcp_http_lookup(struct transport *t, const char *id);
/* One message into the session's server (which always reads its input). */
bool mcp_http_write_line(struct session *s, const char *body, size_t len);
/* Event stream: each message as it comes, the response last
 * (libmicrohttpd content reader). */
ssize_t mcp_http_stream_reader(void *cls, uint64_t pos, char *buf, size_t max);
void mcp_http_stream_done(void *cls);
void mcp_http_request_free(struct request *rq);

#endif
