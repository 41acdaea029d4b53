/* Name resolution for the proxy without blocking its loop: each lookup
 * runs getaddrinfo in a detached thread and reports through a pipe. A
 * lookup still running when the proxy stops finishes on its own and frees
 * itself. */
#ifndef CORRAL_NET_RESOLVER_H
#define CORRAL_NET_RESOLVER_H

#include <netdb.h>
#include <stdint.h>

struct resolver;
struct resolver_job {
	char host[256];
	void *owner;               /* the caller's, returned untouched */
	uint64_t serial;           /* the caller's, to spot stale answers */
	int gai_error;             /* 0 or an EAI_* code */
	struct addrinfo *result;   /* on success; freeaddrinfo by the caller */
};

struct resolver *resolver_new(void);
/* Readable when answers are waiting. */
int resolver_fd(const struct resolver *r);
/* Start a lookup; -1 when no thread could be started. */
int resolver_submit(struct resolver *r, const char *host, void *owner, uint64_t serial);
/* The next finished job (the caller frees it with resolver_job_free), or NULL. */
struct resolver_job *resolver_next(struct resolver *r);
void resolver_job_free(struct resolver_job *job);
void resolver_free(struct resolver *r);

#endif
