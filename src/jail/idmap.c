#include "jail/idmap.h"

#include "policy/policy.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/fileutil.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int jail_ids_init(struct jail_ids *ids, const corral_policy *policy, corral_error *err)
{
	memset(ids, 0, sizeof *ids);
	ids->caller_uid = geteuid();
	ids->caller_gid = getegid();
	ids->root_mode = ids->caller_uid == 0;
	ids->inside_uid = policy->uid;
	ids->inside_gid = policy->uid;
	if (ids->root_mode) {
		ids->setup_uid = 0;
		ids->setup_gid = 0;
		snprintf(ids->uid_map, sizeof ids->uid_map, "0 %u %u\n", JAIL_HOST_ID_BASE, JAIL_ID_RANGE);
		snprintf(ids->gid_map, sizeof ids->gid_map, "0 %u %u\n", JAIL_HOST_ID_BASE, JAIL_ID_RANGE);
	} else {
		/* Only one id can be mapped without a setuid helper: init and
		 * the command share it. */
		ids->setup_uid = ids->inside_uid;
		ids->setup_gid = ids->inside_gid;
		snprintf(ids->uid_map, sizeof ids->uid_map, "%u %u 1\n", ids->inside_uid, ids->caller_uid);
		snprintf(ids->gid_map, sizeof ids->gid_map, "%u %u 1\n", ids->inside_gid, ids->caller_gid);
	}
	(void)err;
	return 0;
}

uid_t jail_ids_command_host_uid(const struct jail_ids *ids)
{
	return ids->root_mode ? JAIL_HOST_ID_BASE + ids->inside_uid : ids->caller_uid;
}

gid_t jail_ids_command_host_gid(const struct jail_ids *ids)
{
	return ids->root_mode ? JAIL_HOST_ID_BASE + ids->inside_gid : ids->caller_gid;
}

static int write_proc_file(pid_t pid, const char *name, const char *content, corral_error *err)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, name);
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return error_errno(err, "open %s", path);
	if (write_all(fd, content, strlen(content)) < 0)
		return error_errno(err, "write %s", path);
	return 0;
}

int jail_ids_write_maps(const struct jail_ids *ids, pid_t pid, corral_error *err)
{
	/* Rootless: setgroups must be denied before an unprivileged gid_map. */
	if (!ids->root_mode && write_proc_file(pid, "setgroups", "deny", err) < 0)
		return -1;
	if (write_proc_file(pid, "uid_map", ids->uid_map, err) < 0)
		return -1;
	if (write_proc_file(pid, "gid_map", ids->gid_map, err) < 0)
		return -1;
	return 0;
}

static int userns_with_maps(const char *uid_map, const char *gid_map, corral_error *err)
{
	int sync[2];
	if (pipe2(sync, O_CLOEXEC) < 0)
		return error_errno(err, "idmap: pipe");
	int rc = -1;
	pid_t pid = (pid_t)syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, NULL);
	if (pid < 0) {
		error_errno(err, "idmap: clone user namespace");
		goto cleanup;
	}
	if (pid == 0) {
		/* Hold the namespace alive until the parent has its fd. */
		char c;
		close(sync[1]);
		(void)!read(sync[0], &c, 1);
		_exit(0);
	}
	char path[64];
	if (write_proc_file(pid, "uid_map", uid_map, err) < 0 ||
	    write_proc_file(pid, "gid_map", gid_map, err) < 0)
		goto reap;
	snprintf(path, sizeof path, "/proc/%d/ns/user", (int)pid);
	rc = open(path, O_RDONLY | O_CLOEXEC);
	if (rc < 0)
		error_errno(err, "idmap: open %s", path);
reap:
	close(sync[1]);
	sync[1] = -1;
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
cleanup:
	close(sync[0]);
	if (sync[1] >= 0)
		close(sync[1]);
	return rc;
}

int idmap_userns_open(uid_t from_uid, gid_t from_gid, uid_t to_uid, gid_t to_gid, corral_error *err)
{
	char uid_map[64], gid_map[64];
	snprintf(uid_map, sizeof uid_map, "%u %u 1\n", from_uid, to_uid);
	snprintf(gid_map, sizeof gid_map, "%u %u 1\n", from_gid, to_gid);
	return userns_with_maps(uid_map, gid_map, err);
}

int idmap_userns_open_range(unsigned from, unsigned to, unsigned count, corral_error *err)
{
	char map[64];
	snprintf(map, sizeof map, "%u %u %u\n", from, to, count);
	return userns_with_maps(map, map, err);
}
