/*
 * corral's DNS for a sandbox with egress rules. The sandbox never resolves
 * anything for real: each name the rules allow is answered with a stand-in
 * IPv4 address from 198.18.0.0/15 (reserved for benchmarking, never routed)
 * that the proxy maps back to the name when a connection to it arrives.
 * Names the rules do not allow get NXDOMAIN, AAAA queries an empty answer
 * (so clients use the stand-in), other types an empty answer. Real
 * resolution happens only in the proxy, outside.
 */
#ifndef CORRAL_NET_DNS_SERVER_H
#define CORRAL_NET_DNS_SERVER_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define DNS_NAME_MAX 254
#define DNS_STANDINS_MAX 4096

struct dns_names {
	char **names;   /* names[i] stands behind 198.18.0.1 + i */
	size_t n;
};

/* The name behind a stand-in address, or NULL if addr is not one. */
const char *dns_names_lookup(const struct dns_names *names, const struct sockaddr *addr);
void dns_names_free(struct dns_names *names);

typedef bool (*dns_allow_fn)(void *ctx, const char *name);

struct dns_query_info {
	char name[DNS_NAME_MAX + 1];  /* lowercased, no trailing dot */
	unsigned type;
	int rcode;                    /* of the answer */
};

/* Build the answer to one query; returns its length, or 0 to drop the
 * datagram (not a query, malformed beyond answering). */
size_t dns_answer(const unsigned char *query, size_t len, unsigned char *out, size_t size,
                  dns_allow_fn allow, void *ctx, struct dns_names *names,
                  struct dns_query_info *info);

/* Read one datagram from the DNS socket and answer it from the address it
 * was sent to. Returns 1 when a query was handled (info filled), 0 when
 * there was nothing to read, -1 on a socket error. */
int dns_serve_one(int fd, dns_allow_fn allow, void *ctx, struct dns_names *names,
                  struct dns_query_info *info);

#endif
