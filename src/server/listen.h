/* corral serve's listening sockets: the Unix socket (mode 0600, a stale one
 * replaced, a live one refused) and the TCP address. */
#ifndef CORRAL_SERVER_LISTEN_H
#define CORRAL_SERVER_LISTEN_H

#include <netinet/in.h>
#include <stddef.h>

/* A listening Unix socket at path; -1 with errno (EADDRINUSE: a server
 * answers there). */
int unix_socket(const char *path);
/* "IPV4:PORT" into *sa; -1 if malformed. */
int tcp_address(const char *address, struct sockaddr_in *sa);

#endif
