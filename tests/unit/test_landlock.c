/* Landlock: each case runs in a forked child (a Landlock domain cannot be
 * left), under no_new_privs, against a private temporary tree:
 *
 *   TMP/ro/file      granted READ
 *   TMP/rw/existing  granted READ|WRITE
 *   TMP/out/         not granted
 */
#include "landlock/landlock_fs.h"

#include "unit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmp[256];
static char ro_dir[300], rw_dir[300], out_dir[300], missing_dir[300];

static char *at(const char *dir, const char *name)
{
	static char bufs[8][512];
	static int next;
	char *b = bufs[next++ % 8];
	snprintf(b, sizeof bufs[0], "%s/%s", dir, name);
	return b;
}

static bool write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return false;
	bool ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
	close(fd);
	return ok;
}

/* errno of open(path, flags), 0 on success. */
static int open_errno(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC, 0644);
	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

static int lowest_free_fd(void)
{
	int fd = dup(0);
	if (fd >= 0)
		close(fd);
	return fd;
}

/* Run `fn` in a child with no_new_privs set; CHECK that it passed. */
static void in_child(const char *name, void (*fn)(void))
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(1);
	}
	if (pid == 0) {
		int before = unit_failures;
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
			perror("PR_SET_NO_NEW_PRIVS");
			_exit(2);
		}
		fn();
		fflush(NULL);
		_exit(unit_failures > before ? 1 : 0);
	}
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	printf("%s %s\n", ok ? "ok" : "not ok", name);
	CHECK(ok);
}

static int restrict_to(const struct landlock_grant *grants, size_t n, int *abi, corral_error *err)
{
	return landlock_restrict(grants, n, false, abi, err);
}

/* ---- cases ---------------------------------------------------------------- */

/* Without Landlock the writes the restricted cases expect to fail succeed:
 * otherwise those cases would prove nothing. */
static void case_unrestricted(void)
{
	CHECK(open_errno(at(ro_dir, "new"), O_WRONLY | O_CREAT) == 0);
	CHECK(unlink(at(ro_dir, "new")) == 0);
	CHECK(open_errno(at(ro_dir, "file"), O_WRONLY) == 0);
	CHECK(open_errno(at(out_dir, "new"), O_WRONLY | O_CREAT) == 0);
	CHECK(unlink(at(out_dir, "new")) == 0);
	CHECK(open_errno(at(out_dir, "file"), O_RDONLY) == 0);
	CHECK(kill(getppid(), 0) == 0);
}

static void case_read_and_write_grants(void)
{
	const struct landlock_grant grants[] = {
		{ro_dir, LANDLOCK_GRANT_READ},
		{rw_dir, LANDLOCK_GRANT_READ | LANDLOCK_GRANT_WRITE},
		{missing_dir, LANDLOCK_GRANT_READ | LANDLOCK_GRANT_WRITE}, /* skipped */
	};
	corral_error err = {0};
	int abi = -1;
	int fd_before = lowest_free_fd();
	CHECK(restrict_to(grants, sizeof grants / sizeof grants[0], &abi, &err) == 0);
	if (err.message[0])
		fprintf(stderr, "landlock_restrict: %s\n", err.message);
	CHECK(abi == landlock_abi_version());
	CHECK(lowest_free_fd() == fd_before); /* the ruleset fd and path fds are closed */

	/* READ: read and list work, writing fails with EACCES. */
	char buf[16] = {0};
	int fd = open(at(ro_dir, "file"), O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	if (fd >= 0) {
		CHECK(read(fd, buf, sizeof buf - 1) == 5);
		CHECK(strcmp(buf, "hello") == 0);
		close(fd);
	}
	DIR *d = opendir(ro_dir);
	CHECK(d != NULL);
	if (d)
		closedir(d);
	CHECK(open_errno(at(ro_dir, "new"), O_WRONLY | O_CREAT) == EACCES);
	CHECK(open_errno(at(ro_dir, "file"), O_WRONLY) == EACCES);
	CHECK(mkdir(at(ro_dir, "sub"), 0755) < 0 && errno == EACCES);
	CHECK(unlink(at(ro_dir, "file")) < 0 && errno == EACCES);

	/* WRITE: create, write, truncate, rename (also across directories),
	 * mkdir, unlink and rmdir below the grant. */
	CHECK(write_text(at(rw_dir, "new"), "data"));
	CHECK(open_errno(at(rw_dir, "existing"), O_WRONLY | O_TRUNC) == 0);
	CHECK(rename(at(rw_dir, "new"), at(rw_dir, "renamed")) == 0);
	CHECK(mkdir(at(rw_dir, "sub"), 0755) == 0);
	if (abi >= 2) /* ABI 1 always denies reparenting */
		CHECK(rename(at(rw_dir, "renamed"), at(rw_dir, "sub/moved")) == 0);
	else
		CHECK(rename(at(rw_dir, "renamed"), at(rw_dir, "sub/moved")) < 0 && errno == EXDEV);
	CHECK(symlink("existing", at(rw_dir, "link")) == 0);
	CHECK(unlink(at(rw_dir, "link")) == 0);
	CHECK(unlink(at(rw_dir, abi >= 2 ? "sub/moved" : "renamed")) == 0);
	CHECK(rmdir(at(rw_dir, "sub")) == 0);

	/* Outside every grant: nothing at all. */
	CHECK(open_errno(at(out_dir, "new"), O_WRONLY | O_CREAT) == EACCES);
	CHECK(open_errno(at(out_dir, "file"), O_RDONLY) == EACCES);
	CHECK(open_errno(at(out_dir, "file"), O_WRONLY) == EACCES);
	CHECK(open_errno("/etc/passwd", O_RDONLY) == EACCES);

	/* Scoped signals (ABI 6): nothing outside the domain can be signalled,
	 * the domain itself can. */
	if (abi >= 6) {
		CHECK(kill(getppid(), 0) < 0 && errno == EPERM);
		CHECK(kill(getpid(), 0) == 0);
	}
}

/* A READ grant on "/" opens the whole tree for reading, not for writing. */
static void case_root_read(void)
{
	const struct landlock_grant grants[] = {
		{"/", LANDLOCK_GRANT_READ},
		{rw_dir, LANDLOCK_GRANT_WRITE},
	};
	corral_error err = {0};
	int abi = -1;
	CHECK(restrict_to(grants, 2, &abi, &err) == 0);
	CHECK(open_errno("/etc/passwd", O_RDONLY) == 0);
	CHECK(open_errno(at(out_dir, "file"), O_RDONLY) == 0);
	CHECK(open_errno(at(out_dir, "new"), O_WRONLY | O_CREAT) == EACCES);
	CHECK(open_errno(at(ro_dir, "file"), O_RDWR) == EACCES);
	CHECK(write_text(at(rw_dir, "root-read"), "x"));
	CHECK(unlink(at(rw_dir, "root-read")) == 0);
	/* Executing is a READ right: /bin/true runs. */
	pid_t pid = fork();
	if (pid == 0) {
		execl("/bin/true", "true", (char *)NULL);
		_exit(127);
	}
	int status = 0;
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	      WEXITSTATUS(status) == 0);
}

/* DEVICE on a device file: writing (with O_TRUNC, as a shell's `> /dev/null`
 * does) works, reading it and other devices do not. The rule on a
 * non-directory must carry only file rights, or the kernel refuses it. */
static void case_device(void)
{
	const struct landlock_grant grants[] = {
		{"/dev/null", LANDLOCK_GRANT_DEVICE},
		{rw_dir, LANDLOCK_GRANT_WRITE}, /* a directory next to it */
	};
	corral_error err = {0};
	int abi = -1;
	CHECK(restrict_to(grants, 2, &abi, &err) == 0);
	if (err.message[0])
		fprintf(stderr, "landlock_restrict: %s\n", err.message);
	CHECK(open_errno("/dev/null", O_WRONLY | O_TRUNC) == 0);
	CHECK(open_errno("/dev/null", O_RDONLY) == EACCES);
	CHECK(open_errno("/dev/zero", O_WRONLY) == EACCES);
}

/* A READ grant on a regular file is accepted too (file rights only). */
static void case_file_grant(void)
{
	const struct landlock_grant grants[] = {{at(ro_dir, "file"), LANDLOCK_GRANT_READ}};
	corral_error err = {0};
	int abi = -1;
	CHECK(restrict_to(grants, 1, &abi, &err) == 0);
	CHECK(open_errno(at(ro_dir, "file"), O_RDONLY) == 0);
	CHECK(open_errno(at(ro_dir, "file"), O_WRONLY) == EACCES);
	CHECK(open_errno(at(out_dir, "file"), O_RDONLY) == EACCES);
}

/* A path that cannot be opened for another reason than ENOENT is an error
 * naming the path, and nothing is restricted. */
static void case_error(void)
{
	const struct landlock_grant grants[] = {
		{ro_dir, LANDLOCK_GRANT_READ},
		{"/etc/passwd/not-a-dir", LANDLOCK_GRANT_READ},
	};
	corral_error err = {0};
	int abi = -1;
	int fd_before = lowest_free_fd();
	CHECK(restrict_to(grants, 2, &abi, &err) == -1);
	CHECK(err.kind == CORRAL_ERR_SETUP);
	CHECK(err.errnum == ENOTDIR);
	CHECK(strstr(err.message, "/etc/passwd/not-a-dir") != NULL);
	CHECK(abi == 0);
	CHECK(lowest_free_fd() == fd_before);
	/* Not restricted. */
	CHECK(open_errno(at(out_dir, "file"), O_RDONLY) == 0);
}

/* Nothing granted at all (every path missing): everything is denied. */
static void case_all_missing(void)
{
	const struct landlock_grant grants[] = {{missing_dir, LANDLOCK_GRANT_READ}};
	corral_error err = {0};
	int abi = -1;
	CHECK(restrict_to(grants, 1, &abi, &err) == 0);
	CHECK(abi > 0);
	CHECK(open_errno(at(ro_dir, "file"), O_RDONLY) == EACCES);
}

/* ---- setup -------------------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int main(void)
{
	int abi = landlock_abi_version();
	if (abi == 0) {
		long rc = syscall(444 /* landlock_create_ruleset */, NULL, 0, 1U);
		char reason[160];
		snprintf(reason, sizeof reason,
		         "the kernel has no Landlock (landlock_create_ruleset: %s)",
		         rc < 0 ? strerror(errno) : "unexpected version 0");
		SKIP_ALL(reason);
	}
	printf("# landlock ABI %d\n", abi);

	const char *base = getenv("TMPDIR");
	snprintf(tmp, sizeof tmp, "%s/corral-landlock-XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(ro_dir, sizeof ro_dir, "%s/ro", tmp);
	snprintf(rw_dir, sizeof rw_dir, "%s/rw", tmp);
	snprintf(out_dir, sizeof out_dir, "%s/out", tmp);
	snprintf(missing_dir, sizeof missing_dir, "%s/does-not-exist", tmp);
	if (mkdir(ro_dir, 0755) < 0 || mkdir(rw_dir, 0755) < 0 || mkdir(out_dir, 0755) < 0 ||
	    !write_text(at(ro_dir, "file"), "hello") || !write_text(at(rw_dir, "existing"), "x") ||
	    !write_text(at(out_dir, "file"), "secret")) {
		perror("setting up the temporary tree");
		return 1;
	}

	in_child("unrestricted writes succeed", case_unrestricted);
	in_child("read and write grants", case_read_and_write_grants);
	in_child("read grant on /", case_root_read);
	in_child("device grant", case_device);
	in_child("read grant on a file", case_file_grant);
	in_child("open error names the path", case_error);
	in_child("every grant missing denies everything", case_all_missing);

	nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return unit_done();
}
