/* The pump thread of one background process (server/processes.h): its
 * output into the bounded chunk buffer, its stdin from what clients queued,
 * its timeout, its end. */
#ifndef CORRAL_SERVER_PUMP_H
#define CORRAL_SERVER_PUMP_H

#include "server/processes.h"

/* arg: a malloc'd {struct proc_table *, struct bgproc *}, freed here. */
void *proc_pump_main(void *arg);
/* close(*fd) if open; *fd = -1. */
void proc_close_fd(int *fd);

#endif
