/* Typing into a terminal: TIOCSTI (push bytes into a tty's input queue as
 * if typed) and TIOCLINUX (console selection/paste and friends).
 *
 *   esc_tty tiocsti MARKER        ioctl(TIOCSTI)
 *   esc_tty tiocsti_high MARKER   request 0xffffffff00005412: the kernel reads
 *                                 32 bits, so this is TIOCSTI too
 *   esc_tty tioclinux             ioctl(TIOCLINUX, TIOCL_GETSHIFTSTATE)
 *
 * Targets: (1) a pty pair the attack opens itself, made its controlling
 * terminal (setsid + TIOCSCTTY) so the kernel's own rules allow TIOCSTI;
 * (2) fds 0, 1 and 2 when they are terminals, first trying to make them the
 * controlling terminal (which needs the terminal to have no session);
 * (3) for TIOCLINUX, also /dev/tty0, /dev/tty1 and /dev/console when they
 * can be opened.
 *
 * ESCAPED for TIOCSTI when a pushed byte is read back from the pty (own
 * pair) or the ioctl returned success on fds 0-2. MARKER is pushed, so the
 * test can look for it on the caller's terminal. ESCAPED for TIOCLINUX when
 * the request reached the tty layer: success, or an answer other than
 * EPERM (a pty answers ENOTTY; seccomp answers EPERM). */
#include "esc_common.h"

#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>

#define REQ_TIOCSTI_HIGH 0xffffffff00005412UL

static unsigned long sti_request;
static const char *marker;

static long do_ioctl(int fd, unsigned long req, void *arg)
{
	return syscall(SYS_ioctl, fd, req, arg);
}

/* Own pty: in a child that is a session leader with the slave as its
 * controlling terminal. Exit 0 when the marker came back out of the slave,
 * 1 when TIOCSTI was refused. */
static int own_pty_child(void *a)
{
	(void)a;
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0) {
		note("posix_openpt: %s", errname(errno));
		return 1;
	}
	if (grantpt(m) < 0 || unlockpt(m) < 0) {
		note("grantpt/unlockpt: %s", errname(errno));
		return 1;
	}
	const char *name = ptsname(m);
	if (setsid() < 0)
		note("setsid: %s", errname(errno));
	int s = open(name, O_RDWR);
	if (s < 0) {
		note("open %s: %s", name, errname(errno));
		return 1;
	}
	if (ioctl(s, TIOCSCTTY, 0) < 0)
		note("TIOCSCTTY on own pty: %s", errname(errno));
	struct termios t;
	if (tcgetattr(s, &t) == 0) {
		cfmakeraw(&t);
		tcsetattr(s, TCSANOW, &t);
	}
	size_t len = strlen(marker), pushed = 0;
	for (; pushed < len; pushed++) {
		char c = marker[pushed];
		if (do_ioctl(s, sti_request, &c) < 0) {
			note("ioctl(own pty, 0x%lx): %s", sti_request, errname(errno));
			break;
		}
	}
	if (!pushed)
		return 1;
	char buf[256];
	size_t got = 0;
	struct pollfd p = {.fd = s, .events = POLLIN};
	while (got < sizeof buf - 1 && poll(&p, 1, 500) > 0) {
		ssize_t n = read(s, buf + got, sizeof buf - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = 0;
	if (strstr(buf, marker)) {
		printf("NOTE: ESCAPE-STEP TIOCSTI (0x%lx) pushed \"%s\" into a terminal's input\n",
		       sti_request, marker);
		return 0;
	}
	note("pushed %zu bytes but read back %zu", pushed, got);
	return 1;
}

static void stdio_tiocsti(void)
{
	for (int fd = 0; fd < 3; fd++) {
		if (!isatty(fd)) {
			note("fd %d is not a terminal", fd);
			continue;
		}
		/* Try to make the caller's terminal ours: only possible if it
		 * is nobody's controlling terminal. */
		if (ioctl(fd, TIOCSCTTY, 0) == 0)
			note("TIOCSCTTY on fd %d succeeded: it is now our controlling terminal", fd);
		else
			note("TIOCSCTTY on fd %d: %s", fd, errname(errno));
		size_t len = strlen(marker), pushed = 0;
		for (; pushed < len; pushed++) {
			char c = marker[pushed];
			if (do_ioctl(fd, sti_request, &c) < 0)
				break;
		}
		if (pushed)
			escaped("TIOCSTI (0x%lx) on fd %d pushed %zu bytes into the caller's terminal",
			        sti_request, fd, pushed);
		else
			note("ioctl(fd %d, 0x%lx): %s", fd, sti_request, errname(errno));
	}
}

static int tiocsti(void)
{
	int st = in_child(own_pty_child, NULL, 10);
	if (st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0)
		escaped("TIOCSTI (0x%lx) injected input into a terminal", sti_request);
	else
		note("own pty: child %s", describe_status(st));
	stdio_tiocsti();
	return finish("TIOCSTI refused on every terminal");
}

static void linux_on(int fd, const char *what)
{
	const unsigned long reqs[] = {0x541C, 0xffffffff0000541CUL};
	for (size_t i = 0; i < 2; i++) {
		char arg[8] = {6 /* TIOCL_GETSHIFTSTATE */};
		long r = do_ioctl(fd, reqs[i], arg);
		int e = errno;
		if (r >= 0)
			escaped("TIOCLINUX (0x%lx) on %s succeeded", reqs[i], what);
		else if (e != EPERM)
			escaped("TIOCLINUX (0x%lx) on %s reached the tty layer (%s)", reqs[i], what,
			        errname(e));
		else
			note("TIOCLINUX (0x%lx) on %s: %s", reqs[i], what, errname(e));
	}
}

static int tioclinux(void)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m >= 0 && grantpt(m) == 0 && unlockpt(m) == 0) {
		int s = open(ptsname(m), O_RDWR | O_NOCTTY);
		if (s >= 0)
			linux_on(s, "own pty");
		else
			note("open own pty: %s", errname(errno));
	} else {
		note("posix_openpt: %s", errname(errno));
	}
	for (int fd = 0; fd < 3; fd++) {
		char what[32];
		snprintf(what, sizeof what, "fd %d", fd);
		if (isatty(fd))
			linux_on(fd, what);
	}
	const char *vts[] = {"/dev/tty0", "/dev/tty1", "/dev/console"};
	for (size_t i = 0; i < 3; i++) {
		int fd = open(vts[i], O_RDONLY | O_NOCTTY | O_NONBLOCK);
		if (fd < 0) {
			note("open %s: %s", vts[i], errname(errno));
			continue;
		}
		linux_on(fd, vts[i]);
		close(fd);
	}
	return finish("TIOCLINUX refused");
}

int main(int argc, char **argv)
{
	esc_init();
	if (argc < 2)
		return 2;
	marker = argc > 2 ? argv[2] : "corral-esc-tiocsti";
	if (!strcmp(argv[1], "tiocsti")) {
		sti_request = TIOCSTI;
		return tiocsti();
	}
	if (!strcmp(argv[1], "tiocsti_high")) {
		sti_request = REQ_TIOCSTI_HIGH;
		return tiocsti();
	}
	if (!strcmp(argv[1], "tioclinux"))
		return tioclinux();
	return 2;
}
