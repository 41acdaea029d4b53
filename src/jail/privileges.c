#include "jail/privileges.h"

#include "util/error.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static int capset_only(uint64_t keep, corral_error *err)
{
	struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct data[2] = {0};
	for (int i = 0; i < 2; i++) {
		uint32_t bits = (uint32_t)(keep >> (32 * i));
		data[i].effective = bits;
		data[i].permitted = bits;
		data[i].inheritable = 0;
	}
	if (syscall(SYS_capset, &header, data) < 0)
		return error_errno(err, "capset");
	return 0;
}

static int drop_bounding_except(int keep_cap, corral_error *err)
{
	for (int cap = 0; cap <= 63; cap++) {
		if (cap == keep_cap)
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
			if (errno == EINVAL) /* past the kernel's last capability */
				break;
			return error_errno(err, "drop capability %d from the bounding set", cap);
		}
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return error_errno(err, "clear ambient capabilities");
	return 0;
}

/* Raw system calls, not glibc's wrappers: these run in the sandbox's init
 * and its children, raw clones of a caller that may have many threads.
 * glibc's wrappers would change the ids of every thread it believes the
 * process has (the caller's threads, copied in its bookkeeping but gone),
 * taking locks another thread of the caller may have held at the clone:
 * they can hang forever. The process has one thread, so the raw calls
 * (per thread in the kernel) cover it all. */
int privileges_set_ids(uid_t uid, gid_t gid, bool can_setgroups, corral_error *err)
{
	if (can_setgroups && syscall(SYS_setgroups, 0, NULL) < 0)
		return error_errno(err, "setgroups");
	if (syscall(SYS_setresgid, gid, gid, gid) < 0)
		return error_errno(err, "setresgid %u", (unsigned)gid);
	if (syscall(SYS_setresuid, uid, uid, uid) < 0)
		return error_errno(err, "setresuid %u", (unsigned)uid);
	return 0;
}

int privileges_drop_to(uid_t uid, gid_t gid, bool can_setgroups, corral_error *err)
{
	/* Locked securebits: a later uid 0 (--uid 0) or setuid binary gains
	 * nothing, and ambient capabilities can never be raised again. */
	const unsigned long securebits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED |
	                                 SECBIT_NO_SETUID_FIXUP | SECBIT_NO_SETUID_FIXUP_LOCKED |
	                                 SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE |
	                                 SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
	if (prctl(PR_SET_SECUREBITS, securebits, 0, 0, 0) < 0)
		return error_errno(err, "set securebits");
	if (drop_bounding_except(-1, err) < 0)
		return -1;
	if (privileges_set_ids(uid, gid, can_setgroups, err) < 0)
		return -1;
	if (capset_only(0, err) < 0)
		return -1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return error_errno(err, "set no_new_privs");
	return 0;
}

int privileges_reduce_to_kill(corral_error *err)
{
	if (drop_bounding_except(CAP_KILL, err) < 0)
		return -1;
	if (capset_only(UINT64_C(1) << CAP_KILL, err) < 0)
		return -1;
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return error_errno(err, "set non-dumpable");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return error_errno(err, "set no_new_privs");
	return 0;
}
