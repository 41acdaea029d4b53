/* One request and its response, inside the HTTP engine: decide, replace
 * or refuse secret placeholders, forward, relay the response framed (the
 * moving of bodies and the response is in http_body.c). */
#include "net/http_exchange_internal.h"

#include "net/egress.h"
#include "net/http_chunked.h"
#include "net/net_rules.h"
#include "net/secret_scan.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SECRETS_MAX SECRET_SPECS_MAX

static bool value_has(const struct http_header *h, const char *token)
{
	size_t n = strlen(token);
	for (size_t i = 0; i + n <= h->value_len; i++)
		if (strncasecmp(h->value + i, token, n) == 0)
			return true;
	return false;
}

/* Bodies whose placeholders are replaced: text a client composes. */
static bool textual(const struct http_request *req)
{
	for (size_t i = 0; i < req->n_headers; i++) {
		const struct http_header *h = &req->headers[i];
		if (!exchange_named(h, "content-type"))
			continue;
		static const char *const kinds[] = {"text/",    "json",    "xml",  "x-www-form-urlencoded",
		                                    "javascript", "graphql", "yaml", NULL};
		for (const char *const *k = kinds; *k; k++)
			if (value_has(h, *k))
				return true;
		return false;
	}
	return false;
}

static bool host_matches(const char *pattern, const char *host)
{
	if (strncmp(pattern, "*.", 2) == 0) {
		size_t hl = strlen(host), pl = strlen(pattern + 1); /* ".domain" */
		return hl > pl && strcasecmp(host + hl - pl, pattern + 1) == 0;
	}
	return strcasecmp(pattern, host) == 0;
}

struct secrets_view {
	struct secret_spec specs[SECRETS_MAX];
	bool allowed[SECRETS_MAX];
	size_t n;
};

static void secrets_for(const struct net_proxy *p, const char *host, struct secrets_view *v)
{
	v->n = p->config.n_secrets < SECRETS_MAX ? p->config.n_secrets : SECRETS_MAX;
	for (size_t i = 0; i < v->n; i++) {
		const struct egress_secret *s = &p->config.secrets[i];
		v->specs[i] = (struct secret_spec){.placeholder = s->placeholder, .value = s->value};
		v->allowed[i] = false;
		for (size_t h = 0; h < s->n_hosts && !v->allowed[i]; h++)
			v->allowed[i] = host_matches(s->hosts[h], host);
	}
}

static void respond(struct http_engine *e, struct proxy_record *rec, int status,
                    const char *reason, const char *decision, const char *why, const char *body)
{
	char msg[2048];
	(void)http_stream_write(&e->client, msg,
	                        proxy_format_response(msg, sizeof msg, status, reason, body));
	rec->status = status;
	proxy_log_record(e->p, rec, decision, why);
}

static void refuse_secret(struct http_engine *e, struct proxy_record *rec, size_t which)
{
	const struct egress_secret *s = &e->p->config.secrets[which];
	char why[300], body[600];
	snprintf(why, sizeof why, "exfiltration: the placeholder of secret %s sent to %s", s->name,
	         rec->host);
	snprintf(body, sizeof body,
	         "corral: this request carries the placeholder of secret %s, which is only sent to "
	         "its own hosts (%s%s); it was blocked and logged.\n",
	         s->name, s->hosts[0], s->n_hosts > 1 ? ", ..." : "");
	respond(e, rec, 403, "Forbidden", "deny", why, body);
}

/* Decide the request by the rules; rule text into rec_rule. */
static bool decide(struct http_engine *e, const char *scheme, const char *host, uint16_t port,
                   char *rule_text, size_t size)
{
	pthread_rwlock_rdlock(&e->p->rules_lock);
	const struct net_ruleset *rules = e->p->config.rules;
	const struct net_rule *rule = NULL;
	struct sockaddr_storage sa;
	bool allowed = net_rules_allow_request(rules, e->req.method, scheme, host, port, e->req.path,
	                                       &rule);
	if (!allowed && proxy_literal_address(host, &sa))
		allowed = net_rules_allow_address(rules, (struct sockaddr *)&sa, port, &rule);
	rule_text[0] = '\0';
	if (rule) {
		char *text = net_rule_format(rule);
		snprintf(rule_text, size, "%s", text ? text : "");
		free(text);
	}
	pthread_rwlock_unlock(&e->p->rules_lock);
	if (!allowed && e->host_allowed && strcasecmp(host, e->host) == 0 && port == e->port) {
		snprintf(rule_text, size, "%s", e->rule);
		allowed = true; /* the rule command allowed the whole host */
	}
	return allowed;
}

/* The head sent upstream, without its blank line: origin form, our Host,
 * no hop-by-hop fields; `reframe`: no framing fields either. */
static void build_head(struct http_engine *e, const char *scheme, const char *host, uint16_t port,
                       bool reframe, struct growbuf *head)
{
	const struct http_request *req = &e->req;
	bool v6 = strchr(host, ':') != NULL;
	bool default_port = (strcmp(scheme, "https") == 0 && port == 443) ||
	                    (strcmp(scheme, "http") == 0 && port == 80);
	exchange_gb_str(head, req->method);
	exchange_gb_str(head, " ");
	exchange_gb_str(head, req->path[0] ? req->path : "/");
	exchange_gb_str(head, " HTTP/1.1\r\nHost: ");
	exchange_gb_str(head, v6 ? "[" : "");
	exchange_gb_str(head, host);
	exchange_gb_str(head, v6 ? "]" : "");
	if (!default_port) {
		char line[16];
		snprintf(line, sizeof line, ":%u", port);
		exchange_gb_str(head, line);
	}
	exchange_gb_str(head, "\r\n");
	bool upgrade = false;
	for (size_t i = 0; i < req->n_headers; i++) {
		const struct http_header *h = &req->headers[i];
		static const char *const hop[] = {"host",       "connection",          "proxy-connection",
		                                  "keep-alive", "proxy-authorization", "te",
		                                  "expect",     NULL};
		bool skip = false;
		for (const char *const *k = hop; *k && !skip; k++)
			skip = exchange_named(h, *k);
		if (exchange_named(h, "upgrade"))
			upgrade = true;
		if (reframe && (exchange_named(h, "content-length") || exchange_named(h, "transfer-encoding")))
			skip = true;
		if (skip)
			continue;
		exchange_gb_put(head, h->name, h->name_len);
		exchange_gb_str(head, ": ");
		exchange_gb_put(head, h->value, h->value_len);
		exchange_gb_str(head, "\r\n");
	}
	if (upgrade)
		exchange_gb_str(head, "Connection: upgrade\r\n");
	/* The blank line is the caller's: a re-framed body's length comes first. */
}

/* The first placeholder in buf that may not go where it is going, or -1. */
static int first_blocked(const struct secrets_view *v, const void *buf, size_t len)
{
	struct secret_stream scan;
	if (v->n == 0 || secret_stream_init(&scan, v->specs, v->n, v->allowed) < 0)
		return -1;
	if (secret_stream_feed(&scan, buf, len, NULL, NULL) == -2 ||
	    secret_stream_finish(&scan, NULL, NULL) == -2)
		return scan.blocked;
	return -1;
}

static void refuse_unreachable(struct http_engine *e, struct proxy_record *rec, bool denied,
                               const char *why)
{
	char msg[400];
	snprintf(msg, sizeof msg, "corral: %s:%u could not be reached: %s.\n", rec->host, rec->port,
	         why);
	if (denied)
		respond(e, rec, 403, "Forbidden", "deny", why, msg);
	else
		respond(e, rec, 502, "Bad Gateway", "allow", why, msg);
}

/* Send the head (and a buffered body) upstream, stream any other body,
 * relay the response. False: close the connection. */
static bool forward(struct http_engine *e, struct proxy_record *rec, struct secrets_view *secrets,
                    const unsigned char *head, size_t head_len, const struct growbuf *body,
                    bool streamed_body, bool request_head, bool client_keeps)
{
	char why[300];
	bool denied = false;
	if (!engine_connect_upstream(e, rec->host, rec->port, e->tls, &denied, why, sizeof why)) {
		refuse_unreachable(e, rec, denied, why);
		return false;
	}
	char framing[64] = "\r\n";
	if (body)
		snprintf(framing, sizeof framing, "Content-Length: %zu\r\n\r\n", body->len);
	if (http_stream_write(&e->upstream, head, head_len) < 0 ||
	    http_stream_write(&e->upstream, framing, strlen(framing)) < 0 ||
	    (body && http_stream_write(&e->upstream, body->data, body->len) < 0)) {
		refuse_unreachable(e, rec, false, e->upstream.error);
		return false;
	}
	rec->bytes_up += head_len + strlen(framing) + (body ? body->len : 0);
	if (streamed_body) {
		/* Not text: no replacing, so an allowed placeholder stands for itself. */
		struct secret_spec same[SECRETS_MAX];
		for (size_t i = 0; i < secrets->n; i++)
			same[i] = (struct secret_spec){secrets->specs[i].placeholder,
			                               secrets->specs[i].placeholder};
		struct secret_stream scan;
		bool watch = secrets->n > 0 &&
		             secret_stream_init(&scan, same, secrets->n, secrets->allowed) == 0;
		struct body_reader r = {.into = NULL, .scan = watch ? &scan : NULL, .out = &e->upstream,
		                        .rechunk = watch && e->req.chunked, .found = -1};
		const char *broken = NULL;
		uint64_t moved = 0;
		bool ok = exchange_move_body(e, &r, true, &moved, &broken);
		rec->bytes_up += moved;
		if (!ok) {
			/* The server holds part of a request: that connection is spent. */
			engine_close_upstream(e);
			if (r.found >= 0)
				refuse_secret(e, rec, (size_t)r.found);
			else
				proxy_log_record(e->p, rec, "allow", broken ? broken : "request body");
			return false;
		}
	}
	bool sent = false;
	bool keep = exchange_relay_response(e, rec, request_head, client_keeps, &sent);
	if (!sent) {
		char msg[400];
		snprintf(msg, sizeof msg, "corral: %s:%u sent no valid response: %s.\n", rec->host,
		         rec->port, e->upstream.error[0] ? e->upstream.error : "malformed or cut short");
		engine_close_upstream(e);
		respond(e, rec, 502, "Bad Gateway", "allow", "no valid response", msg);
		return false;
	}
	if (!keep || e->resp.connection_close)
		engine_close_upstream(e);
	proxy_log_record(e->p, rec, "allow", NULL);
	return keep;
}

bool engine_exchange(struct http_engine *e)
{
	struct http_request *req = &e->req;
	const char *scheme = e->tls ? "https" : "http";
	char host[HTTP_HOST_MAX + 1];
	bool tunnel = e->tls || e->explicit_connect;
	snprintf(host, sizeof host, "%s", req->host[0] ? req->host : e->host);
	uint16_t port = req->port ? req->port : tunnel ? e->port : e->dialled_port;
	char rule[160] = "";
	struct proxy_record rec = {
		.method = req->method, .scheme = scheme, .host = host, .port = port, .path = req->path,
		.via = e->via, .rule = rule, .started_ms = proxy_now_ms(),
	};
	if (req->form == HTTP_FORM_AUTHORITY) {
		respond(e, &rec, 400, "Bad Request", "deny", "CONNECT after another request",
		        "corral: CONNECT must be the first request of a connection\n");
		return false;
	}
	if ((tunnel && (strcasecmp(host, e->host) != 0 || port != e->port)) ||
	    (req->scheme && strcmp(req->scheme, scheme) != 0)) {
		char body[600];
		snprintf(body, sizeof body,
		         "corral: this connection is to %s:%u; a request for %s://%s:%u needs its own\n",
		         e->host, e->port, req->scheme ? req->scheme : scheme, host, port);
		respond(e, &rec, 421, "Misdirected Request", "deny", "the request names another host",
		        body);
		return false;
	}
	if (!decide(e, scheme, host, port, rule, sizeof rule)) {
		char suggestion[300], body[1024];
		net_rules_suggest(host, port, req->method, req->path, suggestion, sizeof suggestion);
		snprintf(body, sizeof body,
		         "corral: the request %s %s://%s:%u%.200s was denied: no rule allows it.\nTo "
		         "allow it: %s\n",
		         req->method, scheme, host, port, req->path, suggestion);
		respond(e, &rec, 403, "Forbidden", "deny", "no rule allows it", body);
		return false;
	}

	struct secrets_view secrets;
	secrets_for(e->p, host, &secrets);
	bool has_body = req->chunked || (req->has_content_length && req->content_length > 0);
	bool expect = false;
	for (size_t i = 0; i < req->n_headers; i++)
		expect = expect || (exchange_named(&req->headers[i], "expect") &&
		                    value_has(&req->headers[i], "100-continue"));
	/* With secrets, bodies are read whole before anything goes upstream:
	 * text to replace placeholders in, the rest to refuse one that may not
	 * go there. A body too large for that (or chunked and not text) flows
	 * through, watched: a placeholder then ends the request unfinished. */
	bool text = textual(req);
	bool buffer = secrets.n > 0 && has_body &&
	              (req->chunked ? text : req->content_length <= ENGINE_BUFFER_MAX);
	bool request_head = strcmp(req->method, "HEAD") == 0;
	bool client_keeps = req->keep_alive;
	struct growbuf head = {0}, body = {0};
	unsigned char *out = NULL;
	size_t out_len = 0;
	bool keep = false;
	int blocked = -1;
	/* What a buffered body may take of the supervisor's memory, for all
	 * of this sandbox's connections together (the body and its copy). */
	uint64_t reserved = 0;
	if (buffer) {
		reserved = 2 * (req->chunked ? ENGINE_BUFFER_MAX : req->content_length);
		pthread_mutex_lock(&e->p->engine_lock);
		bool room = e->p->buffered + reserved <= ENGINE_BUFFER_BUDGET;
		if (room)
			e->p->buffered += reserved;
		pthread_mutex_unlock(&e->p->engine_lock);
		if (!room) {
			reserved = 0;
			respond(e, &rec, 503, "Service Unavailable", "deny", "too many large bodies at once",
			        "corral: too many large request bodies at once in this sandbox; try again\n");
			goto cleanup;
		}
	}

	build_head(e, scheme, host, port, buffer, &head);
	if (head.failed)
		goto cleanup;
	long n = secret_replace(secrets.specs, secrets.n, secrets.allowed, head.data, head.len, &out,
	                        &out_len, &blocked);
	if (n == -2) {
		refuse_secret(e, &rec, (size_t)blocked);
		goto cleanup;
	}
	if (n < 0)
		goto cleanup;
	/* The request's fields point into the client's buffer: done with them. */
	http_stream_consume(&e->client, req->head_len);
	/* A client waiting for 100 Continue gets it from here: the body is
	 * needed before the server is even chosen (buffered, or a denial). */
	if (has_body && expect &&
	    http_stream_write(&e->client, "HTTP/1.1 100 Continue\r\n\r\n", 25) < 0)
		goto cleanup;
	if (buffer) {
		struct body_reader r = {.into = &body, .scan = NULL, .found = -1};
		const char *why = NULL;
		uint64_t moved = 0;
		if (!exchange_move_body(e, &r, false, &moved, &why)) {
			bool big = body.failed || body.len > ENGINE_BUFFER_MAX;
			char msg[300];
			snprintf(msg, sizeof msg, "corral: %s\n", why ? why : "bad request body");
			respond(e, &rec, big ? 413 : 400, big ? "Content Too Large" : "Bad Request", "deny",
			        why, msg);
			goto cleanup;
		}
		if (!text) {
			blocked = first_blocked(&secrets, body.data, body.len);
			if (blocked >= 0) {
				refuse_secret(e, &rec, (size_t)blocked);
				goto cleanup;
			}
		} else {
			unsigned char *replaced = NULL;
			size_t replaced_len = 0;
			n = secret_replace(secrets.specs, secrets.n, secrets.allowed, body.data, body.len,
			                   &replaced, &replaced_len, &blocked);
			if (n == -2) {
				refuse_secret(e, &rec, (size_t)blocked);
				goto cleanup;
			}
			if (n < 0)
				goto cleanup;
			free(body.data);
			body = (struct growbuf){.data = replaced, .len = replaced_len, .cap = replaced_len};
		}
	}
	keep = forward(e, &rec, &secrets, out, out_len, buffer ? &body : NULL, has_body && !buffer,
	               request_head, client_keeps);
cleanup:
	if (reserved) {
		pthread_mutex_lock(&e->p->engine_lock);
		e->p->buffered -= reserved;
		pthread_mutex_unlock(&e->p->engine_lock);
	}
	free(head.data);
	free(body.data);
	free(out);
	return keep;
}
