/* The kernel floor for starting an isolated process, for bench/run-all.sh.
 *
 *   floor ns CMD [ARGS...]    clone(NEWUSER|NEWPID|NEWNS|NEWNET|NEWIPC|NEWUTS),
 *                             write the child's uid_map/gid_map, execve CMD
 *                             in it, wait
 *   floor fork CMD [ARGS...]  plain fork + execve CMD + wait
 *
 * Nothing else: no mounts, no pivot_root, no seccomp, no cgroup, no
 * capability dropping. Whatever a sandbox costs above `floor ns` is its own
 * work; `floor ns` minus `floor fork` is what the kernel charges for the
 * namespaces alone. Exits with CMD's status (128+N if killed by signal N).
 *
 * Built by bench/run-all.sh into a temporary directory:
 *   gcc -O2 -o floor bench/floor.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

struct child_args {
	char **argv;
	int sync_fd; /* read end: the parent closes the write end once the maps are written */
	int sync_wr; /* the child's copy of the write end, closed first */
};

static int child_main(void *p)
{
	struct child_args *a = p;
	char c;
	close(a->sync_wr);
	/* Wait for the uid/gid maps: until then we are nobody in our namespace. */
	if (read(a->sync_fd, &c, 1) < 0)
		_exit(125);
	close(a->sync_fd);
	execve(a->argv[0], a->argv, environ);
	_exit(errno == ENOENT ? 127 : 126);
}

static int write_file(pid_t pid, const char *name, const char *text)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, name);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t len = (ssize_t)strlen(text);
	ssize_t n = write(fd, text, (size_t)len);
	close(fd);
	return n == len ? 0 : -1;
}

static int wait_status(pid_t pid)
{
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR) {
			perror("floor: waitpid");
			return 125;
		}
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + WTERMSIG(st);
}

static int run_ns(char **argv)
{
	int sync[2];
	if (pipe2(sync, O_CLOEXEC) < 0) {
		perror("floor: pipe");
		return 125;
	}
	const size_t stack_size = 64 * 1024;
	char *stack = mmap(NULL, stack_size, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED) {
		perror("floor: mmap");
		return 125;
	}
	struct child_args a = {.argv = argv, .sync_fd = sync[0], .sync_wr = sync[1]};
	int flags = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET |
		    CLONE_NEWIPC | CLONE_NEWUTS | SIGCHLD;
	pid_t pid = clone(child_main, stack + stack_size, flags, &a);
	if (pid < 0) {
		perror("floor: clone");
		return 125;
	}
	close(sync[0]);

	/* Map our own ids to 0 inside, as unshare --map-root-user does. */
	char map[64];
	int ok = 0;
	snprintf(map, sizeof map, "0 %u 1\n", (unsigned)geteuid());
	ok |= write_file(pid, "uid_map", map);
	ok |= write_file(pid, "setgroups", "deny\n");
	snprintf(map, sizeof map, "0 %u 1\n", (unsigned)getegid());
	ok |= write_file(pid, "gid_map", map);
	if (ok < 0) {
		perror("floor: writing the id maps");
		kill(pid, SIGKILL);
	}
	close(sync[1]); /* release the child */
	int status = wait_status(pid);
	munmap(stack, stack_size);
	return status;
}

static int run_fork(char **argv)
{
	pid_t pid = fork();
	if (pid < 0) {
		perror("floor: fork");
		return 125;
	}
	if (pid == 0) {
		execve(argv[0], argv, environ);
		_exit(errno == ENOENT ? 127 : 126);
	}
	return wait_status(pid);
}

int main(int argc, char **argv)
{
	if (argc < 3 || (strcmp(argv[1], "ns") != 0 && strcmp(argv[1], "fork") != 0)) {
		fprintf(stderr, "usage: floor ns|fork /path/to/cmd [args...]\n");
		return 2;
	}
	return strcmp(argv[1], "ns") == 0 ? run_ns(argv + 2) : run_fork(argv + 2);
}
