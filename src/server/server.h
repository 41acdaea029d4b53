/*
 * corral serve: sandboxes as a service over HTTP (docs/api.md). One
 * libmicrohttpd daemon on a Unix socket (mode 0600: whoever can open it is
 * trusted as the socket's owner) and, when asked, one on TCP where every
 * request needs the bearer token.
 *
 * Thread per connection: /exec blocks its connection for as long as the
 * command runs (seconds, minutes); with a thread pool a few slow commands
 * would stall every other client, and suspending connections would need an
 * event loop around the library's blocking calls. The connection limit
 * bounds the threads.
 */
#ifndef CORRAL_SERVER_SERVER_H
#define CORRAL_SERVER_SERVER_H

#include "server/sandboxes.h"

#include <stddef.h>
#include <stdint.h>

struct server_options {
	const char *socket_path;     /* NULL: the default place */
	const char *listen;          /* "HOST:PORT" or NULL */
	const char *token;           /* required with listen */
	const char *store_dir;       /* where serve.db lives; NULL: the default store */
	struct server_limits limits;
	size_t max_file_bytes;       /* PUT/GET of one file */
	uint64_t default_exec_timeout_ms, max_exec_timeout_ms;
	uint64_t default_output, max_output;
	unsigned max_connections;
};

#define SERVER_BODY_MAX ((size_t)1 << 20)   /* JSON request bodies */

/* The default socket: /run/corral/corral.sock for root, else
 * $XDG_RUNTIME_DIR/corral.sock. -1 if there is none. */
int server_default_socket(char *buf, size_t size);

/* Serve until SIGTERM or SIGINT, then drain; the process exit code. */
int server_run(const struct server_options *opts);

#endif
