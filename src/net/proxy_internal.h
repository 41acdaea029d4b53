/* Shared state of the proxy's loop (proxy.c) and its connections
 * (proxy_conn.c, proxy_classify.c, proxy_dial.c). */
#ifndef CORRAL_NET_PROXY_INTERNAL_H
#define CORRAL_NET_PROXY_INTERNAL_H

#include "net/dns_server.h"
#include "net/http_request.h"
#include "net/proxy.h"
#include "net/resolver.h"
#include "net/rule_cmd.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define PROXY_BUF 65536          /* per direction */
#define PROXY_SNIFF_MS 300       /* silence after which a server-speaks-first protocol is assumed */
#define PROXY_HEAD_MS 10000      /* to send a complete request head */
#define PROXY_CONNECT_MS 10000   /* to reach the upstream */
#define PROXY_IDLE_MS 600000     /* a relay with no traffic either way */

enum proxy_tag_kind {
	PROXY_TAG_STOP,
	PROXY_TAG_DNS,
	PROXY_TAG_RESOLVER,
	PROXY_TAG_LISTENER,
	PROXY_TAG_CLIENT,
	PROXY_TAG_UPSTREAM,
	PROXY_TAG_RULE_CMD,
	PROXY_TAG_RULES,
};

struct proxy_conn;

/* What epoll hands back: which descriptor, and for connections whose. */
struct proxy_tag {
	enum proxy_tag_kind kind;
	int fd;
	struct proxy_conn *conn;
	struct rule_cmd_run *run;          /* PROXY_TAG_RULE_CMD */
};

enum conn_state {
	CONN_SNIFF,      /* reading the client's first bytes */
	CONN_ASK,        /* waiting for the rule command */
	CONN_RESOLVE,    /* waiting for the resolver */
	CONN_CONNECT,    /* connecting upstream */
	CONN_RELAY,      /* passing bytes both ways */
};

struct proxy_buf {
	unsigned char data[PROXY_BUF];
	size_t len;
};

struct proxy_conn {
	struct proxy_tag client;
	struct proxy_tag upstream;
	enum conn_state state;
	struct sockaddr_storage dialled;   /* what the sandbox connected to */
	uint16_t dialled_port;
	struct proxy_buf up;               /* client -> upstream */
	struct proxy_buf down;             /* upstream -> client */
	bool client_eof, upstream_eof;
	bool client_shut, upstream_shut;   /* write side shut after the other's EOF */
	/* The decision. */
	char host[256];                    /* name or address literal */
	uint16_t port;
	char method[16];
	char path[HTTP_REQUEST_LINE_MAX];  // with query: the rewritten request uses it
	const char *scheme;                /* "http", "https", "tcp" */
	const char *via;                   /* "connect", "http-proxy", "sni", "host", "address" */
	bool explicit_connect;             /* answer 200 before relaying */
	bool to_engine;                    /* interception: the HTTP engine serves it */
	bool host_allowed;                 /* a rule (or the rule command) allows host:port */
	bool http;                         /* the client speaks HTTP: deny with 403 */
	char rule[160];
	struct rule_cmd_run *ask;          /* CONN_ASK: the run answering for it */
	struct addrinfo *addrs;            /* resolved, being tried */
	struct addrinfo *next_addr;
	uint64_t serial;
	uint64_t started_ms;
	uint64_t deadline_ms;              /* of the current state */
	uint64_t bytes_up, bytes_down;
	uint64_t up_allow;                 /* client bytes still to pass upstream (UINT64_MAX: all) */
	int status;                        /* HTTP status sent, or 0 */
	bool dead;                         /* closed; freed after the current batch of events */
	struct proxy_conn *prev, *next;
};

struct net_proxy {
	struct net_proxy_config config;
	struct net_capture_plan plan;
	pthread_t thread;
	bool started;
	volatile bool stopping;
	int epfd;
	int stop_fd;
	int dns_fd;
	int sock;                   /* from init, until the listeners arrive */
	struct proxy_tag listeners[NET_CAPTURE_PORTS_MAX];
	size_t n_listeners;
	struct proxy_tag stop_tag, dns_tag, resolver_tag;
	struct resolver *resolver;
	struct rule_cmd *rule_cmd;         /* --net-rule-cmd, or NULL */
	struct dns_names names;
	struct proxy_conn *conns;
	unsigned n_conns;
	struct proxy_conn *graveyard;      /* closed during this batch of events */
	uint64_t next_serial;
	pthread_mutex_t stats_lock;
	struct net_proxy_stats stats;
	/* Rules replaced while the sandbox runs (net_proxy_set_rules): the
	 * loop swaps them in; engines read them under rules_lock. */
	pthread_rwlock_t rules_lock;
	pthread_mutex_t pending_lock;
	struct net_ruleset *pending_rules;
	pthread_cond_t rules_applied;      /* signalled with applied == requested */
	uint64_t rules_requested, rules_applied_gen;
	struct net_ruleset *owned_rules;   /* the current rules, once replaced */
	int rules_fd;
	struct proxy_tag rules_tag;
	/* Connections handed to the HTTP engine, one thread each. */
	pthread_mutex_t engine_lock;
	pthread_cond_t engine_gone;
	struct http_engine *engines;
	unsigned n_engines;
	uint64_t buffered;                 /* bytes reserved for buffered request bodies */
};

/* One line of the request log. */
struct proxy_record {
	const char *method, *scheme, *host;
	uint16_t port;
	const char *path, *via, *rule;
	int status;
	uint64_t bytes_up, bytes_down;
	uint64_t started_ms;
};

uint64_t proxy_now_ms(void);
/* An address literal into sa (port 0); false for a name. */
bool proxy_literal_address(const char *host, struct sockaddr_storage *sa);
/* The proxy's own small answer (text body, Connection: close) into buf;
 * its length, at most size - 1. */
size_t proxy_format_response(char *buf, size_t size, int status, const char *reason,
                             const char *body);
void proxy_log_record(struct net_proxy *p, const struct proxy_record *r, const char *decision,
                      const char *reason);
/* The pinned address for name (--net-host), if any. */
bool proxy_pinned(const struct net_proxy *p, const char *name, struct sockaddr_storage *addr);
void proxy_log(struct net_proxy *p, const struct proxy_conn *c, const char *decision,
               const char *reason);
void proxy_log_dns_denial(struct net_proxy *p, const char *name);

/* proxy_conn.c (proxy_conn_rule_answered, proxy_conn_resolved: proxy_dial.c) */
void proxy_conn_accepted(struct net_proxy *p, int fd);
void proxy_conn_event(struct net_proxy *p, struct proxy_tag *tag, uint32_t events);
void proxy_conn_resolved(struct net_proxy *p);
void proxy_conn_close(struct net_proxy *p, struct proxy_conn *c);
/* Free the connections closed since the last call. */
void proxy_conn_bury(struct net_proxy *p);
/* Time out what has waited too long; returns the ms until the next
 * deadline (-1: none). */
int proxy_conn_expire(struct net_proxy *p);
/* The rules changed: close what they no longer allow. */
void proxy_conn_recheck(struct net_proxy *p);
/* A rule command run finished: reap it and resume its connections. */
void proxy_conn_rule_answered(struct net_proxy *p, struct rule_cmd_run *run);

/* Shared by proxy_conn.c, proxy_classify.c and proxy_dial.c only. */
void proxy_conn_set_interest(struct net_proxy *p, struct proxy_conn *c);
void proxy_conn_respond(struct net_proxy *p, struct proxy_conn *c, int status, const char *reason,
                        const char *body);
void proxy_conn_deny(struct net_proxy *p, struct proxy_conn *c, const char *why);
void proxy_conn_fail_upstream(struct net_proxy *p, struct proxy_conn *c, const char *why);

/* proxy_dial.c */
void proxy_conn_try_connect(struct net_proxy *p, struct proxy_conn *c);
void proxy_conn_decide(struct net_proxy *p, struct proxy_conn *c);
void proxy_conn_dialled_host(struct net_proxy *p, struct proxy_conn *c);

/* proxy_classify.c */
bool proxy_conn_looks_like_http(const struct proxy_buf *b);
bool proxy_conn_classify(struct net_proxy *p, struct proxy_conn *c, bool silent);

#endif
