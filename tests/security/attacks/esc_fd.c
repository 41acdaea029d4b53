/* Host directories reached through inherited descriptors.
 *
 *   esc_fd NAME EXPECTED
 *
 * The test opens a host directory holding NAME (a canary containing
 * EXPECTED) and hands it over: as an extra descriptor (pass_fds) or as
 * stdin. The attack tries, for fds 0..64: openat(fd, NAME), fchdir(fd) then
 * open(NAME), reopening /proc/self/fd/N/NAME; for every entry of
 * /proc/self/fd and of /proc/1/fd (corral's init): the same through the
 * magic link. ESCAPED when the canary's content is read. */
#include "esc_common.h"

static const char *name, *expected;

static int read_has(int fd)
{
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	return strstr(buf, expected) != NULL;
}

static void try_fd(int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return;
	note("fd %d is open (mode 0%o)", fd, st.st_mode & S_IFMT);
	if (!S_ISDIR(st.st_mode))
		return;
	int f = openat(fd, name, O_RDONLY | O_CLOEXEC);
	if (f >= 0 && read_has(f))
		escaped("openat(fd %d, %s) read the host canary", fd, name);
	else
		note("openat(fd %d, %s): %s", fd, name, f < 0 ? errname(errno) : "not the canary");
	char p[4200];
	snprintf(p, sizeof p, "/proc/self/fd/%d/%s", fd, name);
	f = open(p, O_RDONLY | O_CLOEXEC);
	if (f >= 0 && read_has(f))
		escaped("open(%s) read the host canary", p);
	else
		note("open(%s): %s", p, f < 0 ? errname(errno) : "not the canary");
	int cwd = open(".", O_PATH | O_CLOEXEC);
	if (fchdir(fd) == 0) {
		f = open(name, O_RDONLY | O_CLOEXEC);
		if (f >= 0 && read_has(f))
			escaped("fchdir(fd %d) + open(%s) read the host canary", fd, name);
		else
			note("fchdir(%d) + open: %s", fd, f < 0 ? errname(errno) : "not the canary");
		if (cwd >= 0)
			(void)!fchdir(cwd);
	} else {
		note("fchdir(%d): %s", fd, errname(errno));
	}
	if (cwd >= 0)
		close(cwd);
}

static void scan_proc_fd(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d) {
		note("opendir %s: %s", dir, errname(errno));
		return;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char p[4400], link[4096];
		snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
		ssize_t n = readlink(p, link, sizeof link - 1);
		link[n > 0 ? n : 0] = 0;
		snprintf(p, sizeof p, "%s/%s/%s", dir, e->d_name, name);
		int f = open(p, O_RDONLY | O_CLOEXEC);
		if (f >= 0 && read_has(f))
			escaped("open(%s) read the host canary (fd -> %s)", p, link);
		else if (n > 0)
			note("%s/%s -> %s; %s: %s", dir, e->d_name, link, name,
			     f < 0 ? errname(errno) : "not the canary");
	}
	closedir(d);
}

int main(int argc, char **argv)
{
	esc_init();
	if (argc < 3)
		return 2;
	name = argv[1];
	expected = argv[2];
	for (int fd = 0; fd <= 64; fd++)
		if (fd != 1 && fd != 2)
			try_fd(fd);
	scan_proc_fd("/proc/self/fd");
	scan_proc_fd("/proc/1/fd");
	return finish("no descriptor leads to the host directory");
}
