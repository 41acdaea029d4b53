/*
 * Catching a sandbox's network traffic inside its own network namespace.
 *
 * When a policy allows some egress, corral's init makes every address
 * local to the namespace's loopback (a "local" route for 0.0.0.0/0 and
 * ::/0), then listens on the ports the proxy serves and on port 53. A
 * connection to any address on such a port lands on a listener whose
 * socket corral's proxy, outside the sandbox, holds; any other port is
 * refused at once (RST, ICMP unreachable). Nothing inside has a route out.
 * The accepted socket's local address is the address the program dialled,
 * which the proxy maps back to a name (see dns_server.h).
 *
 * Runs in init between clone and execve: allocation-free.
 */
#ifndef CORRAL_NET_NET_CAPTURE_H
#define CORRAL_NET_NET_CAPTURE_H

#include "corral.h"

#include <stddef.h>
#include <stdint.h>

#define NET_CAPTURE_PORTS_MAX 32
/* Where HTTP_PROXY and friends point inside the sandbox. */
#define NET_CAPTURE_PROXY_PORT 3128

struct net_capture_plan {
	uint16_t ports[NET_CAPTURE_PORTS_MAX];  /* TCP ports to listen on */
	size_t n_ports;
};

/* Route everything to lo, open the TCP listeners and the DNS socket, and
 * hand them to the supervisor over `sock`, in plan order, DNS last. */
int net_capture_setup(const struct net_capture_plan *plan, int sock, corral_error *err);

/* In the supervisor: receive what net_capture_setup sent. fds must hold
 * plan->n_ports + 1 entries; all are -1 on failure. */
int net_capture_receive(const struct net_capture_plan *plan, int sock, int *fds,
                        corral_error *err);

#endif
