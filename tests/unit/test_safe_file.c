/* Safe file primitives against a hostile tree: every escape (absolute and
 * relative symlinks, ".." chains, magic links, loops, hardlinks, fifos,
 * devices, renames racing the walk, mounts inside the tree) fails, with
 * openat2 and again with the userspace walk. Everything outside "root" must
 * survive untouched. */
#include "fs/safe_file.h"
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SECRET "TOP-SECRET\n"

/* top/ (mkdtemp): secret, victim, outdir/{keep,f}, root/ (the sandbox's) */
static char top[64];
static int top_fd = -1, root_fd = -1;
static bool have_openat2;   /* valgrind, old kernels: no, and safe_file falls back */

#define MUST(cond)                                                                         \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fprintf(stderr, "setup failed: %s:%d: %s: %s\n", __FILE__, __LINE__, \
			        #cond, strerror(errno));                                   \
			exit(1);                                                           \
		}                                                                          \
	} while (0)

static void put(const char *rel, const char *content)
{
	int fd = openat(top_fd, rel, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	MUST(fd >= 0);
	MUST(write(fd, content, strlen(content)) == (ssize_t)strlen(content));
	MUST(close(fd) == 0);
}

/* top/rel is a regular file holding exactly `content`. */
static bool holds(const char *rel, const char *content)
{
	char buf[256] = {0};
	struct stat st;
	int fd = openat(top_fd, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && n >= 0 && strcmp(buf, content) == 0;
	close(fd);
	return ok;
}

static bool exists(const char *rel)
{
	struct stat st;
	return fstatat(top_fd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* symlink in the tree; "@/x" is the absolute host path top/x. */
static void link_to(const char *target, const char *rel)
{
	char buf[256];
	if (target[0] == '@')
		snprintf(buf, sizeof buf, "%s%s", top, target + 1);
	else
		snprintf(buf, sizeof buf, "%s", target);
	MUST(symlinkat(buf, top_fd, rel) == 0);
}

/* safe_read_file(root, path): 0 or the errnum. The secret is never returned;
 * `want`, when not NULL, is what a success must read. */
static int try_read_in(int dir_fd, const char *path, const char *want)
{
	corral_error err = {0};
	char *data = NULL;
	size_t len = 0;
	if (safe_read_file(dir_fd, path, 1 << 20, &data, &len, &err) < 0) {
		CHECK(data == NULL && len == 0);
		CHECK(err.kind == CORRAL_ERR_USAGE && err.errnum != 0);
		CHECK(strncmp(err.message, "read ", 5) == 0);
		return err.errnum;
	}
	bool leaked = strstr(data, "TOP-SECRET") != NULL;
	CHECK(!leaked);
	CHECK(!want || strcmp(data, want) == 0);
	CHECK(strlen(data) == len);
	if (leaked || (want && strcmp(data, want) != 0))
		fprintf(stderr, "  read %s gave \"%s\"\n", path, data);
	free(data);
	return 0;
}

static int try_read(const char *path, const char *want)
{
	return try_read_in(root_fd, path, want);
}

static void make_tree(void)
{
	snprintf(top, sizeof top, "/tmp/corral-safe-file-XXXXXX");
	MUST(mkdtemp(top) != NULL);
	MUST((top_fd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0);
	put("secret", SECRET);
	put("victim", "VICTIM\n");
	MUST(mkdirat(top_fd, "outdir", 0755) == 0);
	put("outdir/keep", SECRET);
	put("outdir/f", SECRET);
	MUST(mkdirat(top_fd, "root", 0755) == 0);
	MUST((root_fd = openat(top_fd, "root", O_PATH | O_DIRECTORY | O_CLOEXEC)) >= 0);
	put("root/inner", "INNER\n");
	MUST(mkdirat(top_fd, "root/sub", 0755) == 0);
	link_to("@/secret", "root/abs");
	link_to("../secret", "root/rel");
	link_to("../../secret", "root/sub/rel2");
	link_to("../../../../../../../../secret", "root/sub/deep");
	char proc[256];
	snprintf(proc, sizeof proc, "/proc/self/root%s/secret", top);
	link_to(proc, "root/proclink");
	link_to("/proc/self/cwd", "root/cwdlink");
	link_to("loop2", "root/loop1");
	link_to("loop1", "root/loop2");
	link_to("self", "root/self");
	link_to("/inner", "root/abs_in");
	link_to("../../../inner", "root/sub/up_in");
	link_to("../outdir", "root/outrel");
	link_to("@/outdir", "root/outabs");
}

static void test_escapes(void)
{
	corral_error err = {0};
	CHECK(try_read("abs", NULL) == ENOENT);
	CHECK(try_read("rel", NULL) == ENOENT);
	CHECK(try_read("sub/rel2", NULL) == ENOENT);
	CHECK(try_read("sub/deep", NULL) == ENOENT);
	CHECK(try_read("../../secret", NULL) == ENOENT);   /* root/secret */
	CHECK(try_read("/../../../secret", NULL) == ENOENT);
	CHECK(try_read("sub/../../secret", NULL) == ENOENT);
	CHECK(try_read("proclink", NULL) == ENOENT);
	CHECK(try_read("cwdlink/secret", NULL) != 0);
	CHECK(try_read("outrel/keep", NULL) == ENOENT);
	CHECK(try_read("outabs/keep", NULL) == ENOENT);
	CHECK(try_read("loop1", NULL) == ELOOP);
	CHECK(try_read("self/x", NULL) == ELOOP);
	/* The same paths, resolved inside root, do reach what is there. */
	CHECK(try_read("../../inner", "INNER\n") == 0);
	CHECK(try_read("/sub/../../inner", "INNER\n") == 0);
	CHECK(try_read("abs_in", "INNER\n") == 0);
	CHECK(try_read("sub/up_in", "INNER\n") == 0);
	CHECK(try_read("//sub/./up_in", "INNER\n") == 0);

	/* A real magic link: root = /proc/self, whose "root" names "/". */
	char path[256];
	int proc_fd = open("/proc/self", O_PATH | O_DIRECTORY | O_CLOEXEC);
	MUST(proc_fd >= 0);
	snprintf(path, sizeof path, "root%s/secret", top);
	/* openat2 refuses the magic link; the walk reads it ("/") and restarts at root. */
	int want = have_openat2 && !safe_file_force_fallback ? ELOOP : ENOENT;
	CHECK(try_read_in(proc_fd, path, NULL) == want);
	snprintf(path, sizeof path, "cwd/../../../..%s/secret", top);
	CHECK(try_read_in(proc_fd, path, NULL) == want);
	close(proc_fd);

	/* O_NOFOLLOW keeps its meaning on the last component. */
	CHECK(safe_open(root_fd, "abs", O_RDONLY | O_NOFOLLOW, 0, &err) < 0 && err.errnum == ELOOP);
	int fd = safe_open(root_fd, "abs", O_PATH | O_NOFOLLOW, 0, &err);
	struct stat st;
	CHECK(fd >= 0 && fstat(fd, &st) == 0 && S_ISLNK(st.st_mode));
	if (fd >= 0)
		close(fd);
	CHECK(safe_open(root_fd, "inner/", O_RDONLY, 0, &err) < 0 && err.errnum == ENOTDIR);
	fd = safe_open(root_fd, "sub/up_in", O_RDONLY, 0, &err);
	CHECK(fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC));
	if (fd >= 0)
		close(fd);

	/* Nothing created or listed through an escaping link. */
	struct safe_dirent *ents = NULL;
	size_t n = 0;
	bool trunc = false;
	CHECK(safe_list_dir(root_fd, "outabs", 10, &ents, &n, &trunc, &err) < 0 && err.errnum == ENOENT);
	CHECK(safe_list_dir(root_fd, "../outdir", 10, &ents, &n, &trunc, &err) < 0 && err.errnum == ENOENT);
	CHECK(safe_write_file(root_fd, "outrel/new", "x", 1, 0644, &err) < 0 && err.errnum == ENOENT);
	CHECK(safe_write_file(root_fd, "../../outdir/new", "x", 1, 0644, &err) < 0 && err.errnum == ENOENT);
	CHECK(safe_mkdirs(root_fd, "outabs/new/deeper", 0755, &err) < 0);
	CHECK(safe_open(root_fd, "outrel/new", O_WRONLY | O_CREAT, 0644, &err) < 0);
	CHECK(!exists("outdir/new"));
	CHECK(holds("secret", SECRET) && holds("outdir/keep", SECRET));
}

static void test_write(void)
{
	corral_error err = {0};
	struct stat st;

	/* A symlink or hardlink at PATH is replaced, never written through. */
	link_to("@/victim", "root/wlink");
	CHECK(safe_write_file(root_fd, "wlink", "new\n", 4, 0640, &err) == 0);
	CHECK(holds("victim", "VICTIM\n"));
	CHECK(holds("root/wlink", "new\n"));
	CHECK(fstatat(top_fd, "root/wlink", &st, AT_SYMLINK_NOFOLLOW) == 0 && (st.st_mode & 07777) == 0640);
	MUST(linkat(top_fd, "victim", top_fd, "root/hard", 0) == 0);
	CHECK(safe_write_file(root_fd, "/hard", "new\n", 4, 0600, &err) == 0);
	CHECK(holds("victim", "VICTIM\n") && holds("root/hard", "new\n"));
	CHECK(fstatat(top_fd, "victim", &st, 0) == 0 && st.st_nlink == 1);
	/* Through a symlinked directory that stays inside root. */
	link_to("/sub", "root/subl");
	CHECK(safe_write_file(root_fd, "subl/w", "", 0, 0644, &err) == 0 && holds("root/sub/w", ""));

	CHECK(safe_write_file(root_fd, "nodir/x", "x", 1, 0644, &err) < 0 && err.errnum == ENOENT);
	CHECK(strcmp(err.message, "write nodir/x: No such file or directory") == 0);
	CHECK(safe_write_file(root_fd, "inner/x", "x", 1, 0644, &err) < 0 && err.errnum == ENOTDIR);
	CHECK(safe_write_file(root_fd, "sub", "x", 1, 0644, &err) < 0 && err.errnum == EISDIR);
	CHECK(safe_write_file(root_fd, "new/", "x", 1, 0644, &err) < 0 && err.errnum == EISDIR);
	CHECK(safe_write_file(root_fd, "/", "x", 1, 0644, &err) < 0 && err.errnum == EISDIR);
	CHECK(safe_write_file(root_fd, "sub/..", "x", 1, 0644, &err) < 0 && err.errnum == EISDIR);
	CHECK(safe_write_file(root_fd, "", "x", 1, 0644, &err) < 0 && err.kind == CORRAL_ERR_USAGE);

	/* No temporary file is ever left behind. */
	struct safe_dirent *ents = NULL;
	size_t n = 0;
	bool trunc = false;
	CHECK(safe_list_dir(root_fd, "/", 1000, &ents, &n, &trunc, &err) == 0);
	for (size_t i = 0; i < n; i++)
		CHECK(strncmp(ents[i].name, ".corral-", 8) != 0);
	safe_dirents_free(ents, n);
}

static void test_special_files(void)
{
	corral_error err = {0};
	char *data = NULL;
	size_t len = 0;

	MUST(mkfifoat(top_fd, "root/fifo", 0644) == 0);
	time_t t0 = time(NULL);
	CHECK(try_read("fifo", NULL) == EINVAL);
	CHECK(safe_read_file(root_fd, "fifo", 10, &data, &len, &err) < 0);
	CHECK(strcmp(err.message, "read fifo: not a regular file") == 0);
	CHECK(time(NULL) - t0 < 5);
	CHECK(try_read("sub", NULL) == EISDIR);
	/* A device node: only root may make one (and /tmp may be nodev). */
	if (geteuid() == 0 && mknodat(top_fd, "root/null", S_IFCHR | 0666, makedev(1, 3)) == 0)
		CHECK(try_read("null", NULL) != 0);
	else
		printf("# skip device node case (not root or mknod refused)\n");

	char hundred[101];
	memset(hundred, 'x', 100);
	hundred[100] = '\0';
	put("root/big", hundred);
	CHECK(safe_read_file(root_fd, "big", 99, &data, &len, &err) < 0 && err.errnum == EFBIG);
	CHECK(strcmp(err.message, "read big: file is larger than 99 bytes") == 0);
	CHECK(safe_read_file(root_fd, "big", 100, &data, &len, &err) == 0 && len == 100 && data[100] == '\0');
	free(data);
	put("root/empty", "");
	CHECK(safe_read_file(root_fd, "empty", 0, &data, &len, &err) == 0 && len == 0 && data[0] == '\0');
	free(data);
	/* A file reporting size 0 (as /proc does) is read to its end. */
	int self = open("/proc/self", O_PATH | O_DIRECTORY | O_CLOEXEC);
	CHECK(safe_read_file(self, "status", 1 << 20, &data, &len, &err) == 0 && strstr(data, "Pid:"));
	free(data);
	CHECK(safe_read_file(self, "status", 10, &data, &len, &err) < 0 && err.errnum == EFBIG);
	close(self);

	char long_path[PATH_MAX + 10];
	memset(long_path, 'a', sizeof long_path - 1);
	long_path[sizeof long_path - 1] = '\0';
	CHECK(safe_read_file(root_fd, long_path, 10, &data, &len, &err) < 0 && err.errnum == ENAMETOOLONG);
	CHECK(err.kind == CORRAL_ERR_USAGE);
}

static void test_mkdirs_list(void)
{
	corral_error err = {0};
	struct safe_dirent *e = NULL;
	size_t n = 0;
	bool trunc = true;

	CHECK(safe_mkdirs(root_fd, "/m/n//o/", 0755, &err) == 0 && exists("root/m/n/o"));
	CHECK(safe_mkdirs(root_fd, "m/n/o", 0755, &err) == 0);
	CHECK(safe_mkdirs(root_fd, "subl/p", 0755, &err) == 0 && exists("root/sub/p"));
	CHECK(safe_mkdirs(root_fd, "inner/x", 0755, &err) < 0 && err.errnum == ENOTDIR);

	MUST(mkdirat(top_fd, "root/ls", 0755) == 0);
	put("root/ls/b", "abc");
	put("root/ls/a", "");
	MUST(fchmodat(top_fd, "root/ls/a", 0600, 0) == 0);
	MUST(mkdirat(top_fd, "root/ls/c", 0700) == 0);
	link_to("b", "root/ls/l");
	CHECK(safe_list_dir(root_fd, "ls", 10, &e, &n, &trunc, &err) == 0 && n == 4 && !trunc);
	if (n == 4) {
		CHECK(strcmp(e[0].name, "a") == 0 && e[0].type == SAFE_FILE_REGULAR && e[0].mode == 0600);
		CHECK(strcmp(e[1].name, "b") == 0 && e[1].size == 3 && e[1].mtime > 0);
		CHECK(strcmp(e[2].name, "c") == 0 && e[2].type == SAFE_FILE_DIRECTORY && e[2].mode == 0700);
		CHECK(strcmp(e[3].name, "l") == 0 && e[3].type == SAFE_FILE_SYMLINK);
	}
	safe_dirents_free(e, n);
	CHECK(safe_list_dir(root_fd, "ls", 2, &e, &n, &trunc, &err) == 0 && n == 2 && trunc);
	CHECK(n == 2 && strcmp(e[0].name, "a") == 0 && strcmp(e[1].name, "b") == 0);
	safe_dirents_free(e, n);
	CHECK(safe_list_dir(root_fd, "ls", 0, &e, &n, &trunc, &err) == 0 && n == 0 && trunc);
	CHECK(safe_list_dir(root_fd, "ls/b", 10, &e, &n, &trunc, &err) < 0 && err.errnum == ENOTDIR);
	CHECK(safe_list_dir(root_fd, "fifo", 10, &e, &n, &trunc, &err) < 0 && err.errnum == ENOTDIR);

	/* Many entries, few kept: the first by name whatever the order. */
	MUST(mkdirat(top_fd, "root/many", 0755) == 0);
	for (int i = 499; i >= 0; i--) {
		char name[32];
		snprintf(name, sizeof name, "root/many/%03d", (i * 7) % 500);
		put(name, "");
	}
	CHECK(safe_list_dir(root_fd, "many", 10, &e, &n, &trunc, &err) == 0 && n == 10 && trunc);
	for (size_t i = 0; i < n; i++) {
		char want[24];
		snprintf(want, sizeof want, "%03zu", i);
		CHECK(strcmp(e[i].name, want) == 0);
	}
	safe_dirents_free(e, n);
}

static void test_remove(void)
{
	corral_error err = {0};

	MUST(mkdirat(top_fd, "root/rm", 0755) == 0);
	MUST(mkdirat(top_fd, "root/rm/d", 0755) == 0);
	put("root/rm/d/f", "x");
	put("root/rm/g", "x");
	link_to("@/outdir", "root/rm/out_abs");
	link_to("../../outdir", "root/rm/d/out_rel");
	MUST(mkfifoat(top_fd, "root/rm/d/fifo", 0600) == 0);
	CHECK(safe_remove(root_fd, "rm", false, &err) < 0 && err.errnum == ENOTEMPTY);
	CHECK(safe_remove(root_fd, "rm/out_abs/keep", false, &err) < 0 && err.errnum == ENOENT);
	CHECK(safe_remove(root_fd, "rm/out_abs", false, &err) == 0 && !exists("root/rm/out_abs"));
	CHECK(safe_remove(root_fd, "/rm/", true, &err) == 0 && !exists("root/rm"));
	CHECK(holds("outdir/keep", SECRET) && holds("outdir/f", SECRET));

	link_to("@/outdir", "root/dl");
	CHECK(safe_remove(root_fd, "dl", true, &err) == 0 && !exists("root/dl"));
	CHECK(safe_remove(root_fd, "dl", true, &err) < 0 && err.errnum == ENOENT);
	CHECK(holds("outdir/keep", SECRET));
	for (size_t i = 0; i < 5; i++) {
		static const char *const roots[] = {"/", ".", "//", "sub/..", "sub/../."};
		CHECK(safe_remove(root_fd, roots[i], true, &err) < 0 && err.errnum == EBUSY);
	}
	CHECK(exists("root/inner"));

	/* safe_tree_remove, and a tree deeper than the fds it may use. */
	MUST(mkdirat(top_fd, "root/tr", 0755) == 0);
	link_to("../outdir", "root/tr/up");
	link_to("@/outdir", "root/tr/abs");
	int fd = openat(top_fd, "root/tr", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (int i = 0; i < 200 && fd >= 0; i++) {
		int next;
		MUST(mkdirat(fd, "d", 0755) == 0 && (next = openat(fd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0);
		MUST(symlinkat(top, fd, "top") == 0);
		close(fd);
		fd = next;
	}
	close(fd);
	struct rlimit saved, few;
	MUST(getrlimit(RLIMIT_NOFILE, &saved) == 0);
	few = (struct rlimit){.rlim_cur = 32, .rlim_max = saved.rlim_max};
	MUST(setrlimit(RLIMIT_NOFILE, &few) == 0);
	CHECK(safe_tree_remove(root_fd, "tr", &err) == 0 && !exists("root/tr"));
	MUST(setrlimit(RLIMIT_NOFILE, &saved) == 0);
	CHECK(safe_tree_remove(root_fd, "tr", &err) == 0);
	link_to("@/outdir", "root/trl");
	CHECK(safe_tree_remove(root_fd, "trl", &err) == 0 && !exists("root/trl"));
	CHECK(safe_tree_remove(root_fd, "../x", &err) < 0 && err.errnum == EINVAL);
	CHECK(holds("outdir/keep", SECRET) && holds("secret", SECRET));
}

/* ---- a walk racing renames --------------------------------------------- */

static atomic_bool race_stop;

/* Swap root/rdir (a real directory) with links that lead outside, and
 * root/rfile with a link to the secret, as fast as possible. */
static void *racer(void *arg)
{
	(void)arg;
	static const char *const pairs[][2] = {
		{"rdir", "rabs"}, {"rfile", "rlf"}, {"rdir", "rrel"}, {"rfile", "rlf"},
	};
	for (unsigned i = 0; !atomic_load(&race_stop); i++) {
		const char *const *p = pairs[i % 4];
		if (renameat2(root_fd, p[0], root_fd, p[1], RENAME_EXCHANGE) < 0) {
			/* Without RENAME_EXCHANGE: the same swap, not atomic. */
			renameat(root_fd, p[0], root_fd, "rtmp");
			renameat(root_fd, p[1], root_fd, p[0]);
			renameat(root_fd, "rtmp", root_fd, p[1]);
		}
		sched_yield();   /* lets valgrind's one-at-a-time scheduler run the reader too */
	}
	return NULL;
}

static void test_race(void)
{
	MUST(mkdirat(top_fd, "root/rdir", 0755) == 0);
	put("root/rdir/f", "inside\n");
	put("root/rfile", "inside\n");
	link_to("@/outdir", "root/rabs");
	link_to("../outdir", "root/rrel");
	link_to("@/secret", "root/rlf");

	pthread_t t;
	atomic_store(&race_stop, false);
	MUST(pthread_create(&t, NULL, racer, NULL) == 0);
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	int good = 0, rounds = 0;
	do {
		good += try_read("rdir/f", "inside\n") == 0;
		good += try_read("rfile", "inside\n") == 0;
		rounds++;
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 < 200);
	atomic_store(&race_stop, true);
	pthread_join(t, NULL);
	printf("# race: %d rounds, %d reads of the inside file\n", rounds, good);
	CHECK(good > 0);
	CHECK(holds("secret", SECRET));
}

/* ---- mounts: removal stops at a mount point ------------------------------ */

static int write_proc(const char *file, const char *text)
{
	int fd = open(file, O_WRONLY | O_CLOEXEC);
	int ok = fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text);
	if (fd >= 0)
		close(fd);
	return ok ? 0 : -1;
}

/* In a child with its own mount namespace, bind the outside directory into
 * the tree (same file system, another mount) and try to remove it. */
static void test_mounts(void)
{
	MUST(mkdirat(top_fd, "root/mnt", 0755) == 0);
	MUST(mkdirat(top_fd, "root/mnt/m", 0755) == 0);
	fflush(stdout);
	pid_t pid = fork();
	MUST(pid >= 0);
	if (pid == 0) {
		char map[64], path[128];
		uid_t uid = geteuid();
		gid_t gid = getegid();
		if (unshare(CLONE_NEWNS | (uid ? CLONE_NEWUSER : 0)) < 0)
			_exit(77);
		snprintf(map, sizeof map, "0 %u 1", uid);
		if (uid && write_proc("/proc/self/uid_map", map) < 0)
			_exit(77);
		snprintf(map, sizeof map, "0 %u 1", gid);
		if (uid && (write_proc("/proc/self/setgroups", "deny") < 0 || write_proc("/proc/self/gid_map", map) < 0))
			_exit(77);
		snprintf(path, sizeof path, "%s/root/mnt/m", top);
		char src[128];
		snprintf(src, sizeof src, "%s/outdir", top);
		if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0 || mount(src, path, "none", MS_BIND, NULL) < 0)
			_exit(77);
		/* Open the tree again: fds from before see the old namespace. */
		snprintf(path, sizeof path, "%s/root", top);
		int rfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
		corral_error err = {0};
		int bad = 0;
		bad |= !(safe_remove(rfd, "mnt", true, &err) < 0 && err.errnum == EXDEV);
		bad |= !(safe_tree_remove(rfd, "mnt", &err) < 0 && err.errnum == EXDEV);
		bad |= !(safe_remove(rfd, "mnt/m", false, &err) < 0);
		_exit(bad ? 1 : 0);
	}
	int status;
	MUST(waitpid(pid, &status, 0) == pid);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
		printf("# skip mount case (no mount namespace here)\n");
	} else {
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	CHECK(holds("outdir/keep", SECRET));
}

int main(void)
{
	alarm(300);   /* a hang (a fifo opened for reading) fails, not stalls */
	struct open_how how = {.flags = O_PATH | O_CLOEXEC};
	long probe = syscall(SYS_openat2, AT_FDCWD, "/", &how, sizeof how);
	have_openat2 = probe >= 0;
	if (probe >= 0)
		close((int)probe);
	printf("# openat2 %s\n", have_openat2 ? "available" : "missing: both passes use the walk");
	for (int fallback = 0; fallback <= 1; fallback++) {
		printf("# %s\n", fallback ? "userspace walk" : "openat2");
		safe_file_force_fallback = fallback;
		make_tree();
		test_escapes();
		test_write();
		test_special_files();
		test_mkdirs_list();
		test_remove();
		test_race();
		test_mounts();

		/* Clean up with the code under test, from outside the tree. */
		corral_error err = {0};
		int tmp_fd = open("/tmp", O_PATH | O_DIRECTORY | O_CLOEXEC);
		close(root_fd);
		close(top_fd);
		CHECK(safe_tree_remove(tmp_fd, top + strlen("/tmp/"), &err) == 0);
		CHECK(access(top, F_OK) < 0 && errno == ENOENT);
		close(tmp_fd);
	}
	return unit_done();
}
