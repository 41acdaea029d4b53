/*
 * corral serve's request layer, pure (no sockets, no sandboxes) so it can be
 * fuzzed: the route of a method and path, and the parsing of request bodies
 * (create and exec) into checked values. Every input is a hostile client's.
 */
#ifndef CORRAL_SERVER_ROUTES_H
#define CORRAL_SERVER_ROUTES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SANDBOX_ID_LEN 32 /* 128 random bits, lowercase hex */

enum route_id {
	ROUTE_HEALTHZ,
	ROUTE_METRICS,
	ROUTE_SANDBOXES,    /* GET list, POST create */
	ROUTE_SANDBOX,      /* GET, DELETE */
	ROUTE_EXEC,         /* POST */
	ROUTE_FILES,        /* GET, PUT, DELETE */
	ROUTE_SNAPSHOTS,    /* POST */
	ROUTE_PROCESSES,    /* GET list, POST spawn */
	ROUTE_PROCESS,      /* GET */
	ROUTE_PROCESS_STDIN,  /* POST */
	ROUTE_PROCESS_SIGNAL, /* POST */
	ROUTE_PROCESS_OUTPUT, /* GET */
	ROUTE_NETWORK,      /* PUT */
};

struct route {
	enum route_id id;
	char sandbox[SANDBOX_ID_LEN + 1];
	int pid;            /* ROUTE_PROCESS*: the process's pid in its sandbox */
};

enum route_status {
	ROUTE_FOUND,
	ROUTE_NOT_FOUND,
	ROUTE_BAD_METHOD,   /* the path exists; *allow lists its methods */
};

/* The route of METHOD PATH (the path without its query string). */
enum route_status route_match(const char *method, const char *path, struct route *out,
                              const char **allow);

/* 32 lowercase hex digits. */
bool sandbox_id_valid(const char *id);

#define REQUEST_MESSAGE_MAX 640

/* POST /v1/sandboxes: the client's policy JSON. Only keys that cannot reach
 * the host are accepted (limits, env, cwd, hostname, uid, version,
 * network.allow); "ttl" is taken out. On success *policy_json is the
 * remaining document (malloc'd) and *ttl_ms the ttl (default_ttl_ms when
 * absent, at most max_ttl_ms). */
int parse_create_body(const char *body, size_t len, uint64_t default_ttl_ms, uint64_t max_ttl_ms,
                      char **policy_json, uint64_t *ttl_ms, char message[REQUEST_MESSAGE_MAX]);

/* POST /v1/sandboxes/{id}/exec */
struct exec_params {
	char **argv;            /* NULL-terminated */
	char **env;             /* NULL or NULL-terminated NAME=VALUE */
	char *cwd;              /* NULL: the sandbox's */
	unsigned char *stdin_data;
	size_t stdin_len;
	uint64_t timeout_ms;
	uint64_t output_max;    /* bytes kept of stdout, and of stderr */
	bool base64_output;     /* "output_encoding": "base64" */
};

int parse_exec_body(const char *body, size_t len, uint64_t default_timeout_ms,
                    uint64_t max_timeout_ms, uint64_t default_output, uint64_t max_output,
                    struct exec_params *out, char message[REQUEST_MESSAGE_MAX]);
void exec_params_free(struct exec_params *p);

/* Shared by the body parsers: message from fmt, -1. */
int request_fail(char message[REQUEST_MESSAGE_MAX], const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The body as a JSON object, or NULL with message. */
json_t *request_load_object(const char *body, size_t len, char message[REQUEST_MESSAGE_MAX]);
/* parse_exec_body on a loaded document (kept by the caller). */
int parse_exec_doc(json_t *doc, uint64_t default_timeout_ms, uint64_t max_timeout_ms,
                   uint64_t default_output, uint64_t max_output, struct exec_params *out,
                   char message[REQUEST_MESSAGE_MAX]);

/* A sandbox path from ?path=: non-empty, no NUL, at most PATH_MAX bytes
 * (the library resolves it inside the sandbox's root). */
bool sandbox_path_valid(const char *path);

#endif
