#include "jail/sentinel.h"

#include "cgroup/cgroup.h"
#include "util/error.h"
#include "util/fileutil.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

__attribute__((noreturn)) static void sentinel_main(int fd, struct cgroup_sandbox *cg)
{
	/* Out of the caller's session: terminal signals are not for us, and
	 * the caller's descriptors must not be held open by us. */
	setsid();
	static const int ignored[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP, SIGPIPE};
	for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++)
		signal(ignored[i], SIG_IGN);
	if (fd != 3 && dup2(fd, 3) < 0)
		_exit(1);
	syscall(SYS_close_range, 0, 2, 0);
	syscall(SYS_close_range, 4, ~0U, 0);
	prctl(PR_SET_NAME, "corral-sentinel", 0, 0, 0);

	char done;
	ssize_t n;
	while ((n = read(3, &done, 1)) < 0 && errno == EINTR)
		;
	if (n != 1)
		cgroup_sandbox_destroy(cg, NULL);
	_exit(0);
}

int sentinel_start(struct sentinel *s, struct cgroup_sandbox *cg, corral_error *err)
{
	s->pid = 0;
	s->fd = -1;
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return error_errno(err, "sentinel pipe");
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		return error_set(err, CORRAL_ERR_SETUP, e, "fork the cgroup sentinel");
	}
	if (pid == 0) {
		close(p[1]);
		sentinel_main(p[0], cg);
	}
	close(p[0]);
	s->pid = pid;
	s->fd = p[1];
	return 0;
}

void sentinel_dismiss(struct sentinel *s)
{
	if (s->fd >= 0) {
		(void)write_all(s->fd, "d", 1);
		close(s->fd);
		s->fd = -1;
	}
	if (s->pid > 0) {
		while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR)
			;
		s->pid = 0;
	}
}
