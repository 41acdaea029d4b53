/* corral_sandbox_snapshot against the real kernel: a running idle sandbox
 * on an image, its writes made through the files API, snapshotted with a
 * tmpfs upper and with a --state upper; new sandboxes from the snapshots
 * see the files, the deletion (a whiteout) and the modes; the refusals
 * (not on an image, a taken name, an ended sandbox). The image holds no
 * program: an idle sandbox runs only corral's own spawner. Skips where
 * sandboxes cannot run. */
#include "store_test.h"

#include <signal.h>

static char *policy_json(const char *key, const char *name, const char *state)
{
	static char buf[1024];
	int n = snprintf(buf, sizeof buf, "{\"state_dir\": \"%s\", \"%s\": \"%s\"", at("store"),
	                 key, name);
	if (state)
		n += snprintf(buf + n, sizeof buf - (size_t)n, ", \"state\": \"%s\"", state);
	snprintf(buf + n, sizeof buf - (size_t)n, "}");
	return buf;
}

static corral_sandbox *start(const char *json)
{
	corral_error err = {0};
	corral_policy *p = corral_policy_new();
	MUST(p != NULL);
	if (json && corral_policy_merge_json(p, json, &err) < 0) {
		fprintf(stderr, "policy: %s\n", err.message);
		exit(1);
	}
	corral_sandbox *sb = NULL;
	if (corral_sandbox_start_idle(p, &sb, &err) < 0) {
		if (err.kind == CORRAL_ERR_HOST)
			SKIP_ALL(err.message);
		fprintf(stderr, "start_idle: %s\n", err.message);
		exit(1);
	}
	corral_policy_free(p);
	return sb;
}

static const char *read_in(corral_sandbox *sb, const char *path)
{
	static char copy[256];
	char *data = NULL;
	size_t len = 0;
	corral_error err = {0};
	if (corral_sandbox_read_file(sb, path, sizeof copy - 1, &data, &len, &err) < 0)
		return err.errnum == ENOENT ? "(none)" : "(error)";
	snprintf(copy, sizeof copy, "%s", data);
	free(data);
	return copy;
}

static void change(corral_sandbox *sb)
{
	corral_error err = {0};
	CHECK(corral_sandbox_write_file(sb, "/srv/new", "live\n", 5, 0640, &err) == 0);
	CHECK(corral_sandbox_make_dirs(sb, "/srv/dir/sub", &err) == 0);
	CHECK(corral_sandbox_remove(sb, "/srv/a", false, &err) == 0);
}

static void check_changed(corral_sandbox *sb)
{
	CHECK(strcmp(read_in(sb, "/srv/new"), "live\n") == 0);
	CHECK(strcmp(read_in(sb, "/srv/a"), "(none)") == 0);
	CHECK(strcmp(read_in(sb, "/srv/b"), "b\n") == 0);
	corral_file_entry *e = NULL;
	size_t n = 0;
	bool truncated = false;
	corral_error err = {0};
	CHECK(corral_sandbox_list_dir(sb, "/srv", 16, &e, &n, &truncated, &err) == 0);
	CHECK(n == 3 && strcmp(e[0].name, "b") == 0 && strcmp(e[1].name, "dir") == 0 &&
	      e[1].type == 'd' && strcmp(e[2].name, "new") == 0 && e[2].mode == 0640);
	corral_file_entries_free(e, n);
}

static void test_tmpfs_upper(void)
{
	corral_error err = {0};
	corral_sandbox *sb = start(policy_json("image", "base", NULL));
	change(sb);
	corral_snapshot_info *info = NULL;
	CHECK(corral_sandbox_snapshot(sb, "s1", &info, &err) == 0);
	CHECK(info && strcmp(info->name, "s1") == 0 && strcmp(info->image, "base") == 0 &&
	      info->parent == NULL && info->bytes >= 5);
	corral_snapshot_info_free(info, info ? 1 : 0);
	/* Still running, still writable. */
	CHECK(corral_sandbox_write_file(sb, "/srv/after", "x", 1, 0644, &err) == 0);
	error_clear(&err);
	CHECK(corral_sandbox_snapshot(sb, "s1", NULL, &err) < 0 && err.kind == CORRAL_ERR_USAGE);
	error_clear(&err);
	CHECK(corral_sandbox_snapshot(sb, "../x", NULL, &err) < 0 && err.kind == CORRAL_ERR_USAGE);

	corral_sandbox *fork = start(policy_json("from", "s1", NULL));
	check_changed(fork);
	CHECK(strcmp(read_in(fork, "/srv/after"), "(none)") == 0);
	corral_sandbox_free(fork);

	/* Ended: refused as such. */
	CHECK(corral_sandbox_signal(sb, SIGKILL, &err) == 0);
	corral_result result;
	corral_sandbox_wait(sb, &result, &err);
	error_clear(&err);
	CHECK(corral_sandbox_snapshot(sb, "late", NULL, &err) < 0);
	CHECK(err.kind == CORRAL_ERR_USAGE && err.errnum == ESRCH);
	corral_sandbox_free(sb);
}

static void test_state_upper(void)
{
	corral_error err = {0};
	corral_sandbox *sb = start(policy_json("image", "base", at("state")));
	change(sb);
	CHECK(corral_sandbox_snapshot(sb, "s2", NULL, &err) == 0);
	corral_sandbox_free(sb);
	corral_sandbox *fork = start(policy_json("from", "s2", NULL));
	check_changed(fork);
	corral_sandbox_free(fork);
}

static void test_not_on_image(void)
{
	corral_error err = {0};
	corral_sandbox *sb = start(NULL);
	CHECK(corral_sandbox_snapshot(sb, "x", NULL, &err) < 0);
	CHECK(err.kind == CORRAL_ERR_USAGE && err.errnum == EOPNOTSUPP);
	CHECK(strstr(err.message, "snapshots need a sandbox on an image or snapshot") != NULL);
	corral_sandbox_free(sb);
}

int main(void)
{
	scratch_make("sandbox-snapshot-test");
	MUST(chmod(scratch, 0755) == 0);
	MUST(mkdir(at("src"), 0755) == 0);
	MUST(mkdir(at("src/srv"), 0777) == 0);
	MUST(chmod(at("src/srv"), 0777) == 0);
	put_file(at("src/srv/a"), "a\n", 0644);
	put_file(at("src/srv/b"), "b\n", 0644);
	corral_error err = {0};
	corral_store *store = corral_store_open(at("store"), &err);
	MUST(store != NULL);
	MUST(corral_image_import(store, at("src"), "base", &err) == 0);
	corral_store_close(store);
	test_not_on_image();
	test_tmpfs_upper();
	test_state_upper();
	scratch_remove();
	return unit_done();
}
