/*
 * Preparing a sandbox's context in the supervisor: the mount plan, image
 * root, environment, id maps, seccomp program and every buffer init and the
 * command will use, so that nothing allocates between clone and execve.
 * Separate from sandbox.c, which starts the sandbox from this context.
 */
#include "jail/jail.h"
#include "jail/spawner.h"

#include "corral_config.h"
#include "cgroup/cgroup.h"
#include "check/host_check.h"
#include "policy/parse.h"
#include "policy/policy.h"
#include "seccomp/seccomp_filter.h"
#include "store/store.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/fileutil.h"
#include "util/strings.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void sandbox_context_free(struct jail_context *ctx)
{
	mount_plan_free(&ctx->plan);
	image_root_free(&ctx->image);
	environment_free(&ctx->env);
	seccomp_program_free(ctx->seccomp);
	ctx->seccomp = NULL;
	free(ctx->spawn_buf);
	ctx->spawn_buf = NULL;
}

/* Root mode: writable binds are idmapped from their owner on disk to the
 * sandbox user's host ids. */
static int attach_idmaps(struct jail_context *ctx, corral_error *err)
{
	uid_t to_uid = jail_ids_command_host_uid(&ctx->ids);
	gid_t to_gid = jail_ids_command_host_gid(&ctx->ids);
	for (size_t i = 0; i < ctx->plan.n_ops; i++) {
		struct mount_op *op = &ctx->plan.ops[i];
		if (op->kind != MOUNT_OP_BIND || !(op->flags & MOUNT_OP_F_IDMAP))
			continue;
		struct stat st;
		if (stat(op->source, &st) < 0)
			return error_set(err, CORRAL_ERR_USAGE, errno, "%s", op->label);
		op->idmap_userns_fd = idmap_userns_open(st.st_uid, st.st_gid, to_uid, to_gid, err);
		if (op->idmap_userns_fd < 0)
			return error_prefix(err, "%s", op->label);
	}
	return 0;
}

/* `memory_in_cgroup`: a cgroup charges tmpfs pages to --memory. Without
 * one, the writable tmpfs mounts are also capped at the memory limit, so
 * /dev/shm and friends cannot hold more memory than --memory allows. */
int sandbox_context_prepare(struct jail_context *ctx, const corral_policy *policy,
                            char *const argv[], bool idle, bool memory_in_cgroup,
                            const struct egress *egress, corral_error *err)
{
	memset(ctx, 0, sizeof *ctx);
	ctx->policy = policy;
	ctx->argv = argv;
	ctx->idle = idle;
	ctx->cwd = policy_effective_cwd(policy);
	ctx->io_fds[0] = ctx->io_fds[1] = ctx->io_fds[2] = -1;
	ctx->sync_read_fd = -1;
	ctx->status_write_fd = -1;
	ctx->listener_sock = -1;
	ctx->root_sock = -1;
	ctx->net_sock = -1;
	ctx->spawn_sock = -1;
	if (!idle && (!argv || !argv[0] || !argv[0][0]))
		return error_set(err, CORRAL_ERR_USAGE, 0, "no command given");
	if (jail_ids_init(&ctx->ids, policy, err) < 0)
		return -1;
	uint64_t tmpfs_bytes = policy->limits.disk_bytes;
	if (!memory_in_cgroup && policy->limits.memory_bytes < tmpfs_bytes)
		tmpfs_bytes = policy->limits.memory_bytes;
	if (image_root_resolve(&ctx->image, policy, err) < 0)
		return -1;
	if (mount_plan_build(&ctx->plan, policy, &ctx->ids, tmpfs_bytes, &ctx->image, err) < 0)
		goto fail;
	if (egress->intercept &&
	    mount_plan_add_ca(&ctx->plan, egress->ca_bundle, egress->ca_pem, EGRESS_CA_PATH, err) < 0)
		goto fail;
	if (environment_build(&ctx->env, policy, egress->env, egress->n_env, err) < 0)
		goto fail;
	struct seccomp_options opts = {.notify_denials = true};
	if (seccomp_program_build(&opts, &ctx->seccomp, err) < 0)
		goto fail;
	if (idle) {
		ctx->spawn_buf = malloc(sizeof *ctx->spawn_buf);
		if (!ctx->spawn_buf) {
			error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "the spawner's buffers");
			goto fail;
		}
	}
	if (ctx->ids.root_mode) {
		if (attach_idmaps(ctx, err) < 0)
			goto fail;
		/* Real root opens the sources, so host directory permissions
		 * never block a bind the caller asked for. */
		if (mount_plan_open_trees(&ctx->plan, err) < 0)
			goto fail;
	}
	return 0;
fail:
	sandbox_context_free(ctx);
	return -1;
}
