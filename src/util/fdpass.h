/* Passing a file descriptor over a Unix socket (SCM_RIGHTS), one per
 * message. Allocation-free on the sending side: init and the command use it
 * between clone and execve. */
#ifndef CORRAL_UTIL_FDPASS_H
#define CORRAL_UTIL_FDPASS_H

#include "corral.h"

/* Send `fd`; `what` names the transfer in the error message. */
int fdpass_send(int sock, int fd, const char *what, corral_error *err);
/* Receive one descriptor (close-on-exec), or -1 if the message carried none
 * or the peer is gone. `flags` are recvmsg flags (e.g. MSG_DONTWAIT). */
int fdpass_recv(int sock, int flags);

#endif
