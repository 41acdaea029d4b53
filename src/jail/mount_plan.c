/*
 * The mount plan: what the sandbox's file system is made of, decided from the
 * policy without touching the host. Opening its trees is in
 * mount_plan_trees.c.
 */
#include "jail/mount_plan.h"

#include "jail/idmap.h"
#include "jail/image_root.h"
#include "jail/volume_mount.h"
#include "policy/parse.h"
#include "policy/policy.h"
#include "util/error.h"
#include "util/strings.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The host's system directories, shown read-only (or recreated as the
 * symlinks they are on usr-merged systems). */
static const char *const system_dirs[] = {"usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"};

/* The curated /etc: what dynamic linking, TLS, locales, time zones, name
 * lookups of localhost and common tools need, and nothing that identifies
 * the host's users or secrets. */
static const char *const etc_entries[] = {
	"ld.so.cache", "ld.so.conf", "ld.so.conf.d", "ssl", "ca-certificates", "ca-certificates.conf",
	"alternatives", "localtime", "timezone", "nsswitch.conf", "host.conf", "gai.conf",
	"protocols", "services", "mime.types", "locale.alias", "os-release", "debian_version",
	"matplotlibrc", "fonts", "python3", "python3.11", "terminfo", "inputrc", "bash.bashrc",
	"profile", "perl", "gitconfig", "papersize", "magic", "magic.mime",
};

/* Masked and read-only /proc and /sys paths, as Docker's default. */
static const char *const masked_paths[] = {
	"proc/acpi", "proc/asound", "proc/kcore", "proc/keys", "proc/latency_stats",
	"proc/timer_list", "proc/timer_stats", "proc/sched_debug", "proc/scsi", "proc/sysrq-trigger",
	"sys/firmware", "sys/devices/virtual/powercap", "sys/kernel/security", "sys/kernel/debug",
};
static const char *const readonly_proc_paths[] = {
	"proc/bus", "proc/fs", "proc/irq", "proc/sys",
};

static const char *const devices[] = {"null", "zero", "full", "random", "urandom", "tty"};

static const char *plan_strdup(struct mount_plan *plan, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static const char *plan_strdup(struct mount_plan *plan, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	va_start(ap, fmt);
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0) {
		plan->failed_alloc = true;
		return "";
	}
	char **grown = reallocarray(plan->strings, plan->n_strings + 1, sizeof *grown);
	if (!grown) {
		free(s);
		plan->failed_alloc = true;
		return "";
	}
	plan->strings = grown;
	plan->strings[plan->n_strings++] = s;
	return s;
}

static struct mount_op *plan_add(struct mount_plan *plan, enum mount_op_kind kind,
                                 const char *target)
{
	if (plan->n_ops == plan->cap_ops) {
		size_t cap = plan->cap_ops ? plan->cap_ops * 2 : 64;
		struct mount_op *grown = reallocarray(plan->ops, cap, sizeof *grown);
		if (!grown) {
			plan->failed_alloc = true;
			static struct mount_op scratch;
			return &scratch;
		}
		plan->ops = grown;
		plan->cap_ops = cap;
	}
	struct mount_op *op = &plan->ops[plan->n_ops++];
	*op = (struct mount_op){.kind = kind, .target = target, .tree_fd = -1, .idmap_userns_fd = -1,
	                        .label = target};
	return op;
}

static void plan_grant(struct mount_plan *plan, const char *sandbox_path, unsigned access)
{
	if (plan->n_grants < sizeof plan->grants / sizeof plan->grants[0])
		plan->grants[plan->n_grants++] = (struct landlock_grant){sandbox_path, access};
	else
		plan->failed_alloc = true;
}

static void plan_mkdir(struct mount_plan *plan, const char *target, mode_t mode)
{
	plan_add(plan, MOUNT_OP_MKDIR, target)->mode = mode;
}

static void plan_symlink(struct mount_plan *plan, const char *target, const char *points_to)
{
	plan_add(plan, MOUNT_OP_SYMLINK, target)->source = points_to;
}

/* Every writable tmpfs the sandbox gets is capped at the disk limit. */
static const char *sized_options(struct mount_plan *plan, const char *options)
{
	uint64_t disk = plan->tmpfs_bytes;
	if (disk == LIMIT_UNLIMITED)
		return options;
	return plan_strdup(plan, "%s,size=%llu", options, (unsigned long long)disk);
}

static void plan_tmpfs(struct mount_plan *plan, const char *target, const char *options,
                       unsigned flags)
{
	plan_mkdir(plan, target, 0755);
	struct mount_op *op = plan_add(plan, MOUNT_OP_TMPFS, target);
	op->data = options;
	op->flags = flags;
}

/* Mirror a host path: symlinks as symlinks, anything else read-only bound. */
static void plan_mirror_host(struct mount_plan *plan, const char *host_path, const char *target)
{
	struct stat st;
	if (lstat(host_path, &st) < 0)
		return;
	if (S_ISLNK(st.st_mode)) {
		char buf[PATH_MAX];
		ssize_t n = readlink(host_path, buf, sizeof buf - 1);
		if (n < 0)
			return;
		buf[n] = '\0';
		plan_symlink(plan, target, plan_strdup(plan, "%s", buf));
		return;
	}
	struct mount_op *op = plan_add(plan, MOUNT_OP_BIND, target);
	op->source = host_path;
	op->flags = MOUNT_OP_F_READONLY | MOUNT_OP_F_OPTIONAL |
	            (S_ISDIR(st.st_mode) ? 0 : MOUNT_OP_F_FILE);
}

static void plan_identity_files(struct mount_plan *plan, const corral_policy *policy,
                                const struct jail_ids *ids)
{
	const char *user = policy_user_name(policy);
	unsigned uid = ids->inside_uid, gid = ids->inside_gid;
	const char *passwd, *group;
	if (uid == 0) {
		passwd = plan_strdup(plan,
		                     "root:x:0:0:root:/root:/bin/bash\n"
		                     "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n");
		group = plan_strdup(plan, "root:x:0:\nnogroup:x:65534:\n");
	} else {
		passwd = plan_strdup(plan,
		                     "root:x:0:0:root:/root:/usr/sbin/nologin\n"
		                     "%s:x:%u:%u:corral sandbox user:%s:/bin/bash\n"
		                     "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
		                     user, uid, gid, policy_home(policy));
		group = plan_strdup(plan, "root:x:0:\n%s:x:%u:\nnogroup:x:65534:\n", user, gid);
	}
	struct mount_op *op = plan_add(plan, MOUNT_OP_FILE, "etc/passwd");
	op->data = passwd;
	op->mode = 0644;
	op = plan_add(plan, MOUNT_OP_FILE, "etc/group");
	op->data = group;
	op->mode = 0644;
	op = plan_add(plan, MOUNT_OP_FILE, "etc/hostname");
	op->data = plan_strdup(plan, "%s\n", policy->hostname);
	op->mode = 0644;
	op = plan_add(plan, MOUNT_OP_FILE, "etc/hosts");
	op->data = plan_strdup(plan,
	                       "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
	                       "127.0.1.1\t%s\n",
	                       policy->hostname);
	op->mode = 0644;
	/* Never the host's resolvers: with egress rules, port 53 anywhere is
	 * corral's DNS (net/dns_server.h); without, lookups fail at once. */
	op = plan_add(plan, MOUNT_OP_FILE, "etc/resolv.conf");
	op->data = plan_strdup(plan, "nameserver 127.0.0.1\noptions timeout:2 attempts:1\n");
	op->mode = 0644;
}

static void plan_system(struct mount_plan *plan)
{
	for (size_t i = 0; i < sizeof system_dirs / sizeof system_dirs[0]; i++)
		plan_mirror_host(plan, plan_strdup(plan, "/%s", system_dirs[i]), system_dirs[i]);
	plan_mkdir(plan, "etc", 0755);
	for (size_t i = 0; i < sizeof etc_entries / sizeof etc_entries[0]; i++)
		plan_mirror_host(plan, plan_strdup(plan, "/etc/%s", etc_entries[i]),
		                 plan_strdup(plan, "etc/%s", etc_entries[i]));
}

static void plan_proc_dev_sys(struct mount_plan *plan)
{
	plan_mkdir(plan, "dev", 0755);
	struct mount_op *op = plan_add(plan, MOUNT_OP_TMPFS, "dev");
	op->data = "mode=0755,size=64k";
	op->flags = MOUNT_OP_F_DEVICES | MOUNT_OP_F_NOEXEC;
	for (size_t i = 0; i < sizeof devices / sizeof devices[0]; i++) {
		const char *target = plan_strdup(plan, "dev/%s", devices[i]);
		op = plan_add(plan, MOUNT_OP_BIND, target);
		op->source = plan_strdup(plan, "/%s", target);
		op->flags = MOUNT_OP_F_FILE | MOUNT_OP_F_DEVICES | MOUNT_OP_F_NOEXEC;
		plan_grant(plan, plan_strdup(plan, "/%s", target), LANDLOCK_GRANT_DEVICE);
	}
	plan_symlink(plan, "dev/fd", "/proc/self/fd");
	plan_symlink(plan, "dev/stdin", "/proc/self/fd/0");
	plan_symlink(plan, "dev/stdout", "/proc/self/fd/1");
	plan_symlink(plan, "dev/stderr", "/proc/self/fd/2");
	plan_symlink(plan, "dev/core", "/proc/kcore");
	plan_symlink(plan, "dev/ptmx", "pts/ptmx");
	plan_mkdir(plan, "dev/pts", 0755);
	plan_add(plan, MOUNT_OP_DEVPTS, "dev/pts");
	plan_grant(plan, "/dev/pts", LANDLOCK_GRANT_DEVICE | LANDLOCK_GRANT_READ);
	plan_tmpfs(plan, "dev/shm", sized_options(plan, "mode=1777"), MOUNT_OP_F_NOEXEC);
	plan_grant(plan, "/dev/shm", LANDLOCK_GRANT_WRITE | LANDLOCK_GRANT_READ);

	plan_mkdir(plan, "proc", 0555);
	plan_add(plan, MOUNT_OP_PROC, "proc");
	for (size_t i = 0; i < sizeof readonly_proc_paths / sizeof readonly_proc_paths[0]; i++)
		plan_add(plan, MOUNT_OP_READONLY, readonly_proc_paths[i])->flags = MOUNT_OP_F_OPTIONAL;

	plan_mkdir(plan, "sys", 0555);
	plan_add(plan, MOUNT_OP_SYSFS, "sys")->flags = MOUNT_OP_F_OPTIONAL;
	for (size_t i = 0; i < sizeof masked_paths / sizeof masked_paths[0]; i++)
		plan_add(plan, MOUNT_OP_MASK, masked_paths[i])->flags = MOUNT_OP_F_OPTIONAL;
}

static void plan_owned_dir(struct mount_plan *plan, const char *target, mode_t mode, uid_t uid,
                           gid_t gid)
{
	struct mount_op *op = plan_add(plan, MOUNT_OP_OWNED_DIR, target);
	op->mode = mode;
	op->uid = uid;
	op->gid = gid;
}

static void plan_writable_dirs(struct mount_plan *plan, const corral_policy *policy,
                               const struct jail_ids *ids)
{
	const char *home = policy_home(policy);
	if (plan->overlay.on) {
		/* On an image, /tmp and HOME are directories of the overlay: what
		 * the sandbox writes there is in its upper layer, so a snapshot
		 * keeps it. What the image already has is left as it is. */
		plan_owned_dir(plan, "tmp", 01777, 0, 0);
		plan_mkdir(plan, "var", 0755);
		plan_symlink(plan, "var/tmp", "/tmp");
		plan_owned_dir(plan, "home", 0755, 0, 0);
		plan_owned_dir(plan, home + 1, 0700, ids->inside_uid, ids->inside_gid);
		/* A working directory /workspace that nothing is bound on (corral
		 * serve's default) is the sandbox user's directory of the overlay,
		 * so snapshots keep it too. */
		if (!policy->workspace && strcmp(policy_effective_cwd(policy), POLICY_WORKSPACE_PATH) == 0)
			plan_owned_dir(plan, &POLICY_WORKSPACE_PATH[1], 0755, ids->inside_uid,
			               ids->inside_gid);
		return;
	}
	plan_tmpfs(plan, "tmp", sized_options(plan, "mode=1777"), 0);
	plan_grant(plan, "/tmp", LANDLOCK_GRANT_WRITE | LANDLOCK_GRANT_READ);
	plan_mkdir(plan, "var", 0755);
	plan_symlink(plan, "var/tmp", "/tmp");

	plan_tmpfs(plan, home + 1,
	           sized_options(plan, plan_strdup(plan, "mode=0700,uid=%u,gid=%u", ids->inside_uid,
	                                     ids->inside_gid)),
	           0);
	plan_grant(plan, home, LANDLOCK_GRANT_WRITE | LANDLOCK_GRANT_READ);
}

static void plan_workspace(struct mount_plan *plan, const corral_policy *policy)
{
	if (!policy->workspace)
		return;
	struct mount_op *op = plan_add(plan, MOUNT_OP_BIND, &POLICY_WORKSPACE_PATH[1]);
	op->source = policy->workspace;
	op->flags = MOUNT_OP_F_IDMAP;
	op->label = plan_strdup(plan, "--workspace %s", policy->workspace);
	plan_grant(plan, POLICY_WORKSPACE_PATH, LANDLOCK_GRANT_WRITE | LANDLOCK_GRANT_READ);
}

static int plan_user_mounts(struct mount_plan *plan, const corral_policy *policy,
                            corral_error *err)
{
	for (size_t i = 0; i < policy->n_mounts; i++) {
		const struct policy_mount *m = &policy->mounts[i];
		if (m->type == CORRAL_MOUNT_TMPFS) {
			const char *label = plan_strdup(plan, "--tmpfs %s", m->target);
			plan_tmpfs(plan, m->target + 1, sized_options(plan, "mode=1777"), 0);
			plan->ops[plan->n_ops - 1].label = label;
			plan_grant(plan, m->target, LANDLOCK_GRANT_WRITE | LANDLOCK_GRANT_READ);
			continue;
		}
		/* Bind sources are resolved and present by the policy's
		 * invariant; the host may have changed since. */
		const char *label = plan_strdup(plan, "--%s %s", policy_mount_type_name(m->type),
		                                m->source);
		struct stat st;
		if (!m->source || stat(m->source, &st) < 0)
			return error_set(err, CORRAL_ERR_USAGE, m->source ? errno : EINVAL, "%s", label);
		struct mount_op *op = plan_add(plan, MOUNT_OP_BIND, m->target + 1);
		op->source = m->source;
		op->label = label;
		op->flags = S_ISDIR(st.st_mode) ? 0 : MOUNT_OP_F_FILE;
		if (m->type == CORRAL_MOUNT_RO_BIND) {
			op->flags |= MOUNT_OP_F_READONLY;
		} else {
			op->flags |= MOUNT_OP_F_IDMAP;
			plan_grant(plan, m->target, LANDLOCK_GRANT_WRITE | LANDLOCK_GRANT_READ);
		}
	}
	return 0;
}

/* Volumes are binds of the store's directories: writable ones idmapped to
 * the sandbox user, as --bind. */
static void plan_volumes(struct mount_plan *plan, const corral_policy *policy,
                         const struct image_root *image)
{
	for (size_t i = 0; image && i < policy->n_volumes && i < image->n_volumes; i++) {
		const struct policy_volume *v = &policy->volumes[i];
		struct mount_op *op = plan_add(plan, MOUNT_OP_BIND, v->target + 1);
		const char *fs_image = image->volume_images ? image->volume_images[i] : NULL;
		op->source = fs_image ? fs_image : image->volumes[i];
		op->label = plan_strdup(plan, "--volume %s", v->name);
		if (v->readonly) {
			op->flags = MOUNT_OP_F_READONLY;
		} else {
			op->flags = MOUNT_OP_F_IDMAP;
			plan_grant(plan, v->target, LANDLOCK_GRANT_WRITE | LANDLOCK_GRANT_READ);
		}
		if (fs_image)
			op->flags |= MOUNT_OP_F_FSIMAGE;
	}
}

static int plan_overlay(struct mount_plan *plan, const struct image_root *image,
                        const struct jail_ids *ids, uint64_t upper_bytes, corral_error *err)
{
	struct overlay_root *o = &plan->overlay;
	o->fd = -1;
	o->idmap_userns_fd = -1;
	o->upper_fd = -1;
	if (!image || !image->on)
		return 0;
	if (image->n_layers == 0 || image->n_layers > OVERLAY_LAYERS_MAX)
		return error_set(err, CORRAL_ERR_USAGE, 0, "the image has %zu layers (1 to %d work)",
		                 image->n_layers, OVERLAY_LAYERS_MAX);
	o->on = true;
	for (size_t i = 0; i < image->n_layers; i++)
		o->layers[i] = plan_strdup(plan, "%s", image->layers[i]);
	o->n_layers = image->n_layers;
	o->state_dir = image->state ? plan_strdup(plan, "%s", image->state) : NULL;
	if (!image->state && upper_bytes != LIMIT_UNLIMITED)
		o->tmpfs_size = plan_strdup(plan, "%llu", (unsigned long long)upper_bytes);
	if (ids->root_mode) {
		o->as_uid = JAIL_HOST_ID_BASE;
		o->as_gid = JAIL_HOST_ID_BASE;
		o->idmap_userns_fd = idmap_userns_open_range(0, JAIL_HOST_ID_BASE, JAIL_ID_RANGE, err);
		if (o->idmap_userns_fd < 0)
			return error_prefix(err, "the overlay root");
	} else {
		o->userxattr = true;
	}
	return 0;
}

int mount_plan_build(struct mount_plan *plan, const corral_policy *policy,
                     const struct jail_ids *ids, uint64_t tmpfs_bytes,
                     const struct image_root *image, corral_error *err)
{
	memset(plan, 0, sizeof *plan);
	plan->tmpfs_bytes = tmpfs_bytes;
	if (plan_overlay(plan, image, ids, tmpfs_bytes, err) < 0)
		goto fail;
	if (plan->overlay.on) {
		/* The whole root is the sandbox's own layer: what its user may
		 * write there is up to the image's permissions. */
		plan_grant(plan, "/", LANDLOCK_GRANT_READ | LANDLOCK_GRANT_WRITE);
		plan_mkdir(plan, "etc", 0755);
	} else {
		plan_grant(plan, "/", LANDLOCK_GRANT_READ);
		plan_system(plan);
	}
	plan_identity_files(plan, policy, ids);
	plan_proc_dev_sys(plan);
	plan_writable_dirs(plan, policy, ids);
	plan_workspace(plan, policy);
	plan_volumes(plan, policy, image);
	if (plan_user_mounts(plan, policy, err) < 0)
		goto fail;
	if (plan->failed_alloc) {
		error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "building the mount plan");
		goto fail;
	}
	return 0;
fail:
	mount_plan_free(plan);
	return -1;
}

int mount_plan_add_ca(struct mount_plan *plan, const char *bundle, const char *ca_pem,
                      const char *ca_path, corral_error *err)
{
	static const char system_bundle[] = "/etc/ssl/certs/ca-certificates.crt";
	struct stat st;
	if (stat(system_bundle, &st) == 0 && S_ISREG(st.st_mode)) {
		struct mount_op *op = plan_add(plan, MOUNT_OP_BIND, &system_bundle[1]);
		op->source = plan_strdup(plan, "%s", bundle);
		op->label = plan_strdup(plan, "the CA bundle %s", bundle);
		op->flags = MOUNT_OP_F_READONLY | MOUNT_OP_F_FILE;
	}
	struct mount_op *op = plan_add(plan, MOUNT_OP_FILE, &ca_path[1]);
	op->data = plan_strdup(plan, "%s", ca_pem);
	op->mode = 0644;
	if (plan->failed_alloc)
		return error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "building the mount plan");
	return 0;
}

void mount_plan_free(struct mount_plan *plan)
{
	mount_plan_close_trees(plan);
	if (plan->overlay.on && plan->overlay.upper_fd >= 0)
		close(plan->overlay.upper_fd);
	free(plan->ops);
	strv_free(plan->strings, plan->n_strings);
	memset(plan, 0, sizeof *plan);
}
