/* The host probe against expectations computed here independently, the
 * report's text and JSON forms, and the namespace failure explanation. */
#include "check/host_check.h"

#include "corral.h"
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#define CGROUP2_MAGIC 0x63677270L
#define CGROUP1_MAGIC 0x27e0ebL
#define SUFFIX "(see `corral check`)"

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Run fn in a forked child; true when it exits 0. */
static bool child_succeeds(int (*fn)(void))
{
	pid_t pid = fork();
	if (pid < 0)
		return false;
	if (pid == 0)
		_exit(fn() == 0 ? 0 : 1);
	int status;
	if (waitpid(pid, &status, 0) != pid)
		return false;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static int do_unshare_user(void)
{
	return unshare(CLONE_NEWUSER);
}

/* Install an allow-everything filter: works iff seccomp filters do. */
static int do_seccomp_filter(void)
{
	struct sock_filter insn[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
	struct sock_fprog prog = {.len = 1, .filter = insn};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}

static long fs_type(const char *path)
{
	struct statfs sfs;
	return statfs(path, &sfs) == 0 ? (long)sfs.f_type : -1;
}

static long read_long(const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	long v = -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

static bool kernel_at_least(const char *release, int major, int minor)
{
	int ma = 0, mi = 0;
	if (sscanf(release, "%d.%d", &ma, &mi) < 2)
		return false;
	return ma > major || (ma == major && mi >= minor);
}

static bool in_initial_userns(void)
{
	unsigned long a = 1, b = 1, c = 0;
	FILE *f = fopen("/proc/self/uid_map", "re");
	if (!f)
		return true;
	int n = fscanf(f, "%lu %lu %lu", &a, &b, &c);
	fclose(f);
	return n == 3 && a == 0 && b == 0 && c == 4294967295UL;
}

/* Whether the comma-separated list contains `item`. */
static bool list_has(const char *list, const char *item)
{
	char copy[256];
	snprintf(copy, sizeof copy, "%s", list);
	char *save = NULL;
	for (char *t = strtok_r(copy, ", ", &save); t; t = strtok_r(NULL, ", ", &save))
		if (strcmp(t, item) == 0)
			return true;
	return false;
}

/* Everything corral_host_check_print writes, NUL-terminated; *rc its result. */
static char *capture_report(bool json, int *rc)
{
	int fd = memfd_create("report", MFD_CLOEXEC);
	if (fd < 0)
		return NULL;
	*rc = corral_host_check_print(fd, json);
	off_t len = lseek(fd, 0, SEEK_END);
	char *buf = calloc(1, (size_t)len + 1);
	if (buf && pread(fd, buf, (size_t)len, 0) != len) {
		free(buf);
		buf = NULL;
	}
	close(fd);
	return buf;
}

static void test_probe(struct host_caps *caps)
{
	host_caps_probe(caps);
	printf("# userns=%d blocker='%s' landlock=%d seccomp=%d overlay=%d idmap=%d mountapi=%d "
	       "cgroup=%d v1='%s' v2='%s' kernel=%s\n",
	       caps->user_namespaces, caps->userns_blocker, caps->landlock_abi, caps->seccomp,
	       caps->overlayfs, caps->idmapped_mounts, caps->new_mount_api, caps->cgroup_mode,
	       caps->cgroup_v1_controllers, caps->cgroup_v2_controllers, caps->kernel_release);

	CHECK(caps->is_root == (geteuid() == 0));

	struct utsname u;
	CHECK(uname(&u) == 0);
	CHECK(strcmp(caps->kernel_release, u.release) == 0);

	/* User namespaces: a plain unshare in a child. The probe goes further
	 * (maps, mount namespace), which only AppArmor's restriction of
	 * unprivileged namespaces makes fail after a working unshare. */
	bool userns = child_succeeds(do_unshare_user);
	bool apparmor = read_long("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == 1;
	if (userns && !(apparmor && geteuid() != 0))
		CHECK(caps->user_namespaces);
	if (!userns)
		CHECK(!caps->user_namespaces);
	if (caps->user_namespaces)
		CHECK(caps->userns_blocker[0] == '\0');
	else
		CHECK(caps->userns_blocker[0] != '\0');

	/* seccomp: install a filter for real. */
	CHECK(caps->seccomp == child_succeeds(do_seccomp_filter));

	/* Landlock: securityfs entry or the version query. */
	long raw_abi = syscall(SYS_landlock_create_ruleset, NULL, 0, 1U /* VERSION */);
	bool expect_landlock = raw_abi > 0 || access("/sys/kernel/security/landlock", F_OK) == 0;
	if (expect_landlock)
		CHECK(caps->landlock_abi >= 1);
	else
		CHECK(caps->landlock_abi == 0);
	if (raw_abi > 0)
		CHECK(caps->landlock_abi == raw_abi);

	/* New mount API: open_tree/mount_setattr exist since 5.12. */
	if (kernel_at_least(u.release, 5, 12) && caps->user_namespaces)
		CHECK(caps->new_mount_api);

	/* Idmapped tmpfs: kernel 6.3, real root. */
	if (geteuid() == 0 && in_initial_userns() && kernel_at_least(u.release, 6, 3) &&
	    caps->user_namespaces)
		CHECK(caps->idmapped_mounts);
	if (geteuid() != 0)
		CHECK(!caps->idmapped_mounts);

	/* cgroups, from statfs. */
	long root_type = fs_type("/sys/fs/cgroup");
	if (root_type == CGROUP2_MAGIC) {
		CHECK(caps->cgroup_mode == CGROUP_MODE_V2);
		CHECK(caps->cgroup_v1_controllers[0] == '\0');
	} else if (fs_type("/sys/fs/cgroup/unified") == CGROUP2_MAGIC) {
		CHECK(caps->cgroup_mode == CGROUP_MODE_HYBRID);
	} else if (caps->cgroup_v1_controllers[0]) {
		CHECK(caps->cgroup_mode == CGROUP_MODE_V1);
	} else {
		CHECK(caps->cgroup_mode == CGROUP_MODE_NONE);
	}
	static const char *const v1[] = {"memory", "pids", "cpu", "cpuacct", "freezer"};
	for (size_t i = 0; i < sizeof v1 / sizeof v1[0]; i++) {
		char path[64];
		snprintf(path, sizeof path, "/sys/fs/cgroup/%s", v1[i]);
		if (fs_type(path) == CGROUP1_MAGIC) {
			CHECK(list_has(caps->cgroup_v1_controllers, v1[i]));
			CHECK(caps->cgroup_mode == CGROUP_MODE_V1 ||
			      caps->cgroup_mode == CGROUP_MODE_HYBRID);
		}
	}
	if (caps->cgroup_mode == CGROUP_MODE_V2 && access("/sys/fs/cgroup/memory.stat", F_OK) == 0)
		CHECK(caps->cgroup_v2_controllers[0] != '\0');
}

static void test_text_report(const struct host_caps *caps)
{
	int rc = -1;
	char *text = capture_report(false, &rc);
	CHECK(text != NULL);
	if (!text)
		return;
	bool can_run = caps->user_namespaces && caps->seccomp && caps->new_mount_api;
	CHECK(rc == (can_run ? 0 : 1));
	char want[256];
	CHECK(strstr(text, caps->user_namespaces ? "\nuser namespaces: yes\n"
	                                         : "\nuser namespaces: no") != NULL);
	CHECK(strstr(text, caps->seccomp ? "\nseccomp: yes\n" : "\nseccomp: no") != NULL);
	if (caps->landlock_abi > 0)
		snprintf(want, sizeof want, "\nlandlock: ABI %d", caps->landlock_abi);
	else
		snprintf(want, sizeof want, "\nlandlock: not available");
	CHECK(strstr(text, want) != NULL);
	snprintf(want, sizeof want, "\nkernel: %s\n", caps->kernel_release);
	CHECK(strstr(text, want) != NULL);
	CHECK(strstr(text, "\nrunning as: ") != NULL);
	CHECK(strstr(text, "\ncgroups: ") != NULL);
	CHECK(strstr(text, "\noverlayfs: ") != NULL);
	CHECK(strstr(text, "\nidmapped mounts: ") != NULL);
	CHECK(strstr(text, "\nnew mount API: ") != NULL);
	free(text);
}

static void test_json_report(const struct host_caps *caps)
{
	int rc = -1;
	char *text = capture_report(true, &rc);
	CHECK(text != NULL);
	if (!text)
		return;
	json_error_t jerr;
	json_t *root = json_loads(text, 0, &jerr);
	CHECK(root != NULL && json_is_object(root));
	if (!root) {
		fprintf(stderr, "JSON: %s (line %d)\n%s\n", jerr.text, jerr.line, text);
		free(text);
		return;
	}
	static const char *const bools[] = {"can_run", "user_namespaces", "seccomp", "overlayfs",
	                                    "idmapped_mounts", "new_mount_api"};
	for (size_t i = 0; i < sizeof bools / sizeof bools[0]; i++) {
		bool ok = json_is_boolean(json_object_get(root, bools[i]));
		if (!ok)
			fprintf(stderr, "field %s missing or not a boolean\n", bools[i]);
		CHECK(ok);
	}
	CHECK(json_is_string(json_object_get(root, "kernel")));
	CHECK(json_is_string(json_object_get(root, "running_as")));
	CHECK(json_is_integer(json_object_get(root, "landlock_abi")));
	CHECK(json_is_string(json_object_get(root, "cgroup_mode")));
	CHECK(json_is_array(json_object_get(root, "cgroup_v1_controllers")));
	CHECK(json_is_array(json_object_get(root, "cgroup_v2_controllers")));
	CHECK(json_is_array(json_object_get(root, "missing")));

	CHECK(json_integer_value(json_object_get(root, "landlock_abi")) == caps->landlock_abi);
	CHECK(json_is_true(json_object_get(root, "user_namespaces")) == caps->user_namespaces);
	CHECK(json_is_true(json_object_get(root, "seccomp")) == caps->seccomp);
	CHECK(strcmp(json_string_value(json_object_get(root, "kernel")), caps->kernel_release) ==
	      0);
	CHECK(json_is_true(json_object_get(root, "can_run")) == (rc == 0));
	static const char *const modes[] = {"none", "v1", "hybrid", "v2"};
	const char *mode = json_string_value(json_object_get(root, "cgroup_mode"));
	CHECK(mode && strcmp(mode, modes[caps->cgroup_mode]) == 0);
	json_t *v1 = json_object_get(root, "cgroup_v1_controllers");
	size_t i;
	json_t *item;
	json_array_foreach(v1, i, item)
	{
		CHECK(json_is_string(item) &&
		      list_has(caps->cgroup_v1_controllers, json_string_value(item)));
	}
	json_decref(root);
	free(text);
}

static void test_explain(void)
{
	static const int errs[] = {EPERM, ENOSPC, EINVAL, ENOMEM, EACCES, EIO};
	for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++) {
		char buf[256];
		memset(buf, 'x', sizeof buf);
		host_explain_namespace_failure(errs[i], buf, sizeof buf);
		CHECK(memchr(buf, '\0', sizeof buf) != NULL);
		CHECK(strchr(buf, '\n') == NULL);
		CHECK(ends_with(buf, " " SUFFIX));
		CHECK(strlen(buf) > strlen(SUFFIX) + 10); /* names a cause */
		if (i == 0)
			printf("# %s\n", buf);
	}
	/* Too small for the whole cause: the pointer at `corral check` stays. */
	char small[48];
	host_explain_namespace_failure(EPERM, small, sizeof small);
	CHECK(ends_with(small, SUFFIX));
	CHECK(strlen(small) < sizeof small);
}

int main(void)
{
	struct host_caps caps;
	int fd_before = dup(0);
	close(fd_before);
	test_probe(&caps);
	/* The probe closes everything it opened and reaps its children. */
	int fd_after = dup(0);
	close(fd_after);
	CHECK(fd_after == fd_before);
	CHECK(waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD);
	test_text_report(&caps);
	test_json_report(&caps);
	test_explain();
	return unit_done();
}
