/*
 * MCP's Streamable HTTP transport for corral mcp (and, later, corral serve's
 * /mcp): POST /mcp carries one JSON-RPC message; a request is answered with
 * application/json, or with text/event-stream when the client accepts it
 * (progress notifications, then the response); DELETE /mcp ends a session;
 * GET /mcp is 405 (this server starts no messages of its own).
 *
 * Each MCP session (created by initialize, named by the Mcp-Session-Id
 * header) is one mcp_server loop in a thread of its own, fed through a
 * socket pair, with its own sandbox; a reader thread routes what it says to
 * the HTTP request waiting for it. Every request needs the bearer token;
 * browsers' cross-site requests are refused by their Origin.
 */
#ifndef CORRAL_MCP_HTTP_H
#define CORRAL_MCP_HTTP_H

#include "mcp/mcp_server.h"

#define MCP_HTTP_SESSIONS_MAX 16

/* Serve on `address` ("HOST:PORT", "[V6]:PORT") until SIGTERM, SIGINT or
 * SIGHUP; returns the process exit code. */
int mcp_http_serve(const struct mcp_options *opts, const char *address, const char *token);

#endif
