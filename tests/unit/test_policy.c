/* The policy model: setters' validation, path normalisation, JSON round trip. */
#include "policy/policy.h"
#include "unit.h"

#include <stdlib.h>
#include <string.h>

static void test_normalize(void)
{
	char out[256];
	corral_error err = {0};
	CHECK(policy_normalize_sandbox_path("x", "/a//b/./c/", out, sizeof out, &err) == 0);
	CHECK(strcmp(out, "/a/b/c") == 0);
	CHECK(policy_normalize_sandbox_path("x", "/", out, sizeof out, &err) == 0);
	CHECK(strcmp(out, "/") == 0);
	CHECK(policy_normalize_sandbox_path("x", "relative", out, sizeof out, &err) < 0);
	CHECK(err.kind == CORRAL_ERR_USAGE);
	CHECK(strstr(err.message, "absolute") != NULL);
	CHECK(policy_normalize_sandbox_path("x", "/a/../etc", out, sizeof out, &err) < 0);
	CHECK(strstr(err.message, "..") != NULL);
	CHECK(policy_normalize_sandbox_path("x", "/abcdefgh", out, 4, &err) < 0);
}

static void test_setters(void)
{
	corral_policy *p = corral_policy_new();
	corral_error err = {0};
	CHECK(p != NULL);
	CHECK(p->uid == 1000);
	CHECK(strcmp(policy_effective_cwd(p), "/home/sandbox") == 0);

	CHECK(corral_policy_add_mount(p, CORRAL_MOUNT_BIND, "/nope-corral-test", NULL, &err) < 0);
	CHECK(strcmp(err.message, "--bind /nope-corral-test: No such file or directory") == 0);
	CHECK(corral_policy_add_mount(p, CORRAL_MOUNT_RO_BIND, "/usr", "/proc/x", &err) < 0);
	CHECK(strstr(err.message, "reserved") != NULL);
	CHECK(corral_policy_add_mount(p, CORRAL_MOUNT_RO_BIND, "/usr", "/devices", &err) == 0);
	CHECK(corral_policy_add_mount(p, CORRAL_MOUNT_RO_BIND, "/usr", "/", &err) < 0);
	CHECK(corral_policy_add_mount(p, CORRAL_MOUNT_TMPFS, NULL, "/scratch/", &err) == 0);
	CHECK(p->n_mounts == 2);
	CHECK(strcmp(p->mounts[1].target, "/scratch") == 0);

	CHECK(corral_policy_set_env(p, "NOEQUALS", &err) < 0);
	CHECK(corral_policy_set_env(p, "1BAD=x", &err) < 0);
	CHECK(corral_policy_set_env(p, "GOOD_1=a=b", &err) == 0);
	CHECK(corral_policy_pass_env(p, "BAD-NAME", &err) < 0);
	CHECK(corral_policy_set_uid(p, 65534, &err) < 0);
	CHECK(corral_policy_set_uid(p, 0, &err) == 0);
	CHECK(strcmp(policy_home(p), "/root") == 0);
	CHECK(corral_policy_set_hostname(p, "bad host", &err) < 0);
	CHECK(corral_policy_set_workspace(p, "/etc/passwd", &err) < 0);
	CHECK(strstr(err.message, "Not a directory") != NULL);
	CHECK(corral_policy_set_workspace(p, "/tmp", &err) == 0);
	CHECK(strcmp(policy_effective_cwd(p), "/workspace") == 0);
	corral_policy_free(p);
}

static void test_json(void)
{
	corral_error err = {0};
	corral_policy *p = corral_policy_new();
	const char *doc = "{\"version\":1,\"uid\":1234,\"hostname\":\"box\",\"cwd\":\"/tmp\","
	                  "\"mounts\":[{\"type\":\"ro-bind\",\"source\":\"/usr\",\"target\":\"/opt/u\"},"
	                  "{\"type\":\"tmpfs\",\"target\":\"/scratch\"}],"
	                  "\"env\":{\"A\":\"1\"},\"pass_env\":[\"TERM\"]}";
	CHECK(corral_policy_merge_json(p, doc, &err) == 0);
	CHECK(p->uid == 1234);
	CHECK(strcmp(p->hostname, "box") == 0);
	CHECK(p->n_mounts == 2 && p->n_env == 1 && p->n_pass_env == 1);

	char *json = corral_policy_to_json(p);
	CHECK(json != NULL);
	corral_policy *q = corral_policy_new();
	CHECK(corral_policy_merge_json(q, json, &err) == 0);
	char *json2 = corral_policy_to_json(q);
	CHECK(json2 && strcmp(json, json2) == 0);
	free(json);
	free(json2);
	corral_policy_free(q);

	CHECK(corral_policy_merge_json(p, "{\"uid\":1,\"bogus\":2}", &err) < 0);
	CHECK(strstr(err.message, "unknown key \"bogus\"") != NULL);
	CHECK(corral_policy_merge_json(p, "{\"uid\":\"x\"}", &err) < 0);
	CHECK(corral_policy_merge_json(p, "{\"version\":2}", &err) < 0);
	CHECK(corral_policy_merge_json(p, "[1]", &err) < 0);
	CHECK(corral_policy_merge_json(p, "{\"uid\":", &err) < 0);
	CHECK(strstr(err.message, "line 1") != NULL);
	CHECK(corral_policy_merge_json(p, "{\"mounts\":[{\"type\":\"tmpfs\",\"source\":\"/a\",\"target\":\"/b\"}]}", &err) < 0);
	CHECK(corral_policy_merge_json(p, "{\"mounts\":[{\"type\":\"weird\",\"target\":\"/b\"}]}", &err) < 0);
	CHECK(corral_policy_merge_json(p, "{\"env\":{\"A\":1}}", &err) < 0);
	CHECK(corral_policy_merge_json(p, "{\"uid\":1,\"uid\":2}", &err) < 0);
	corral_policy_free(p);
}

int main(void)
{
	test_normalize();
	test_setters();
	test_json();
	return unit_done();
}
