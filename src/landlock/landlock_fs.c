/*
 * Landlock, filesystem side (see landlock_fs.h).
 *
 * Raw syscalls: glibc has no wrappers, and Debian 12's kernel headers stop at
 * ABI 2, so the later access rights and the ruleset attribute's later fields
 * are defined here. The ruleset handles every filesystem right the running
 * kernel knows (deny by default), then each grant adds a path-beneath rule.
 * Network rights (ABI 4) are left unhandled on purpose: the sandbox has its
 * own network namespace. On ABI >= 6 the domain is also scoped: no signals to
 * and no abstract unix socket connections with processes outside it.
 *
 * Runs in the sandbox's setup child: no allocation, every fd closed on every
 * path.
 */
#include "landlock/landlock_fs.h"

#include "util/error.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef __NR_landlock_create_ruleset
#define __NR_landlock_create_ruleset 444
#endif
#ifndef __NR_landlock_add_rule
#define __NR_landlock_add_rule 445
#endif
#ifndef __NR_landlock_restrict_self
#define __NR_landlock_restrict_self 446
#endif

#ifndef LANDLOCK_CREATE_RULESET_VERSION
#define LANDLOCK_CREATE_RULESET_VERSION (1U << 0)
#endif

/* ABI 1 */
#ifndef LANDLOCK_ACCESS_FS_EXECUTE
#define LANDLOCK_ACCESS_FS_EXECUTE (1ULL << 0)
#define LANDLOCK_ACCESS_FS_WRITE_FILE (1ULL << 1)
#define LANDLOCK_ACCESS_FS_READ_FILE (1ULL << 2)
#define LANDLOCK_ACCESS_FS_READ_DIR (1ULL << 3)
#define LANDLOCK_ACCESS_FS_REMOVE_DIR (1ULL << 4)
#define LANDLOCK_ACCESS_FS_REMOVE_FILE (1ULL << 5)
#define LANDLOCK_ACCESS_FS_MAKE_CHAR (1ULL << 6)
#define LANDLOCK_ACCESS_FS_MAKE_DIR (1ULL << 7)
#define LANDLOCK_ACCESS_FS_MAKE_REG (1ULL << 8)
#define LANDLOCK_ACCESS_FS_MAKE_SOCK (1ULL << 9)
#define LANDLOCK_ACCESS_FS_MAKE_FIFO (1ULL << 10)
#define LANDLOCK_ACCESS_FS_MAKE_BLOCK (1ULL << 11)
#define LANDLOCK_ACCESS_FS_MAKE_SYM (1ULL << 12)
#endif
/* ABI 2 */
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13)
#endif
/* ABI 3 */
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
/* ABI 5 */
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)
#endif
/* ABI 6 */
#ifndef LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
#define LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#endif
#ifndef LANDLOCK_SCOPE_SIGNAL
#define LANDLOCK_SCOPE_SIGNAL (1ULL << 1)
#endif

/* ABI 7 */
#ifndef LANDLOCK_RESTRICT_SELF_LOG_NEW_EXEC_ON
#define LANDLOCK_RESTRICT_SELF_LOG_NEW_EXEC_ON (1U << 1)
#endif

/* struct landlock_ruleset_attr as of ABI 6. Older headers declare only the
 * first field, so this is our own type; the kernel takes its size. */
struct corral_landlock_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net; /* ABI 4; left 0 */
	uint64_t scoped;             /* ABI 6 */
};

#define FS_ABI1                                                                                  \
	(LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE | \
	 LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_REMOVE_DIR |                              \
	 LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_CHAR |                           \
	 LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK | \
	 LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SYM)

/* The rights that make sense on a non-directory: the kernel refuses a rule
 * on a file that carries any other. */
#define FS_FILE_RIGHTS                                                                           \
	(LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE | \
	 LANDLOCK_ACCESS_FS_TRUNCATE | LANDLOCK_ACCESS_FS_IOCTL_DEV)

#define GRANT_READ_RIGHTS \
	(LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
#define GRANT_DEVICE_RIGHTS \
	(LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_IOCTL_DEV | LANDLOCK_ACCESS_FS_TRUNCATE)

static uint64_t handled_fs_for_abi(int abi)
{
	uint64_t handled = FS_ABI1;
	if (abi >= 2)
		handled |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		handled |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		handled |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	return handled;
}

int landlock_abi_version(void)
{
	long abi = syscall(__NR_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	return abi < 0 ? 0 : (int)abi;
}

/* The rights one grant gives, before masking to what the kernel handles. */
static uint64_t grant_rights(unsigned access, uint64_t handled)
{
	uint64_t rights = 0;
	if (access & LANDLOCK_GRANT_READ)
		rights |= GRANT_READ_RIGHTS;
	if (access & LANDLOCK_GRANT_WRITE)
		rights |= handled; /* everything below the path */
	if (access & LANDLOCK_GRANT_DEVICE)
		rights |= GRANT_DEVICE_RIGHTS;
	return rights & handled;
}

static int add_grant(int ruleset_fd, const struct landlock_grant *grant, uint64_t handled,
                     corral_error *err)
{
	uint64_t rights = grant_rights(grant->access, handled);
	if (!grant->path || rights == 0)
		return 0;

	int fd = open(grant->path, O_PATH | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return error_set(err, CORRAL_ERR_SETUP, errno, "landlock: open %s", grant->path);
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return error_set(err, CORRAL_ERR_SETUP, e, "landlock: stat %s", grant->path);
	}
	if (!S_ISDIR(st.st_mode))
		rights &= FS_FILE_RIGHTS;
	if (rights == 0) {
		close(fd);
		return 0;
	}

	struct landlock_path_beneath_attr rule = {
		.allowed_access = rights,
		.parent_fd = fd,
	};
	long rc = syscall(__NR_landlock_add_rule, ruleset_fd, LANDLOCK_RULE_PATH_BENEATH, &rule, 0);
	int e = errno;
	close(fd);
	if (rc < 0)
		return error_set(err, CORRAL_ERR_SETUP, e, "landlock_add_rule %s", grant->path);
	return 0;
}

int landlock_restrict(const struct landlock_grant *grants, size_t n_grants, bool audit_after_exec,
                      int *abi_used, corral_error *err)
{
	int dummy_abi;
	if (!abi_used)
		abi_used = &dummy_abi;
	*abi_used = 0;

	long abi = syscall(__NR_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 0) {
		/* ENOSYS: not built in; EOPNOTSUPP: built in but disabled at boot. */
		if (errno == ENOSYS || errno == EOPNOTSUPP)
			return 0;
		return error_set(err, CORRAL_ERR_SETUP, errno, "landlock_create_ruleset (version)");
	}
	if (abi < 1)
		return 0;

	struct corral_landlock_ruleset_attr attr = {
		.handled_access_fs = handled_fs_for_abi((int)abi),
		.scoped = abi >= 6 ? (LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | LANDLOCK_SCOPE_SIGNAL) : 0,
	};
	/* Before ABI 6 the kernel only knows the first field (ABI 4 the first
	 * two); pass the size it understands so it need not check the tail. */
	size_t attr_size = abi >= 6   ? sizeof attr
	                   : abi >= 4 ? 2 * sizeof(uint64_t)
	                              : sizeof(uint64_t);
	int ruleset_fd = (int)syscall(__NR_landlock_create_ruleset, &attr, attr_size, 0);
	if (ruleset_fd < 0)
		return error_set(err, CORRAL_ERR_SETUP, errno, "landlock_create_ruleset");

	for (size_t i = 0; i < n_grants; i++) {
		if (add_grant(ruleset_fd, &grants[i], attr.handled_access_fs, err) < 0) {
			close(ruleset_fd);
			return -1;
		}
	}

	unsigned flags = audit_after_exec && abi >= 7 ? LANDLOCK_RESTRICT_SELF_LOG_NEW_EXEC_ON : 0;
	if (syscall(__NR_landlock_restrict_self, ruleset_fd, flags) < 0) {
		int e = errno;
		close(ruleset_fd);
		return error_set(err, CORRAL_ERR_SETUP, e, "landlock_restrict_self");
	}
	close(ruleset_fd);
	*abi_used = (int)abi;
	return 0;
}
