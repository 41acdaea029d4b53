/* Kernel attack surface the sandbox must not reach.
 *
 *   esc_syscalls <probe> [args]
 *
 * Each probe makes one call. Where a real success would change the host
 * (reboot, swap, the clock, module loading, kexec), the probe passes
 * arguments the kernel rejects only *after* its permission check (a bad
 * reboot magic, a file that does not exist, a time before boot). Reaching
 * that later error proves the caller holds the privilege, without using it:
 * that counts as ESCAPED. EPERM (a capability check or seccomp) and ENOSYS
 * (seccomp's answer for io_uring/clone3, or a kernel built without the
 * feature) count as BLOCKED; the NOTE line names the errno so the test can
 * tell a kernel that lacks the feature from a refusal. */
#include "esc_common.h"

#include <linux/bpf.h>
#include <linux/io_uring.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/sysmacros.h>
#include <sys/timex.h>
#include <asm/ldt.h>

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW _IO(0xAA, 0x00)
#endif

/* Record the outcome of a call that returns -1/errno on failure. `reached`
 * lists, besides success, which errors prove the privilege check passed. */
static void outcome(const char *what, long rc, int e, const int *reached_errnos)
{
	if (rc >= 0) {
		escaped("%s succeeded (returned %ld)", what, rc);
		return;
	}
	for (const int *r = reached_errnos; r && *r; r++) {
		if (e == *r) {
			escaped("%s got past the permission check (%s: the kernel only refused the "
			        "deliberately invalid argument)", what, errname(e));
			return;
		}
	}
	note("%s: %s", what, errname(e));
}

static int p_add_key(void)
{
	long id = syscall(SYS_add_key, "user", "corral-esc-probe", "x", 1, KEY_SPEC_PROCESS_KEYRING);
	int e = errno;
	outcome("add_key(user, process keyring)", id, e, NULL);
	if (id >= 0)
		syscall(SYS_keyctl, KEYCTL_REVOKE, id, 0, 0, 0);
	return finish("add_key refused");
}

static int p_keyctl(void)
{
	long id = syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0, 0, 0);
	outcome("keyctl(GET_KEYRING_ID, session)", id, errno, NULL);
	long r = syscall(SYS_request_key, "user", "corral-esc-no-such-key", NULL, 0);
	static const int reached[] = {ENOKEY, 0};
	outcome("request_key(user)", r, errno, reached);
	return finish("keyctl and request_key refused");
}

static int p_bpf(void)
{
	union bpf_attr attr;
	memset(&attr, 0, sizeof attr);
	attr.map_type = BPF_MAP_TYPE_ARRAY;
	attr.key_size = 4;
	attr.value_size = 4;
	attr.max_entries = 1;
	long fd = syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof attr);
	outcome("bpf(BPF_MAP_CREATE)", fd, errno, NULL);
	return finish("bpf refused");
}

static int p_perf(void)
{
	struct perf_event_attr pe;
	memset(&pe, 0, sizeof pe);
	pe.type = PERF_TYPE_SOFTWARE;
	pe.size = sizeof pe;
	pe.config = PERF_COUNT_SW_TASK_CLOCK;
	pe.disabled = 1;
	pe.exclude_kernel = 1;
	pe.exclude_hv = 1;
	long fd = syscall(SYS_perf_event_open, &pe, 0, -1, -1, 0);
	outcome("perf_event_open(software task clock, self)", fd, errno, NULL);
	return finish("perf_event_open refused");
}

static int p_userfaultfd(void)
{
	long fd = syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
	if (fd < 0 && errno == EINVAL)
		fd = syscall(SYS_userfaultfd, O_CLOEXEC);
	outcome("userfaultfd()", fd, errno, NULL);
	return finish("userfaultfd refused");
}

static int misc_minor(const char *name)
{
	FILE *f = fopen("/proc/misc", "r");
	if (!f)
		return -1;
	int minor, found = -1;
	char n[64];
	while (fscanf(f, "%d %63s", &minor, n) == 2)
		if (!strcmp(n, name))
			found = minor;
	fclose(f);
	return found;
}

static int p_userfaultfd_dev(const char *scratch)
{
	int fd = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		note("open /dev/userfaultfd: %s", errname(errno));
		int minor = misc_minor("userfaultfd");
		if (minor >= 0 && scratch) {
			char node[4096];
			snprintf(node, sizeof node, "%s/esc-uffd-%d", scratch, (int)getpid());
			if (mknod(node, S_IFCHR | 0600, makedev(10, minor)) == 0) {
				fd = open(node, O_RDWR | O_CLOEXEC);
				note("open own userfaultfd node: %s", fd < 0 ? errname(errno) : "ok");
				unlink(node);
			} else {
				note("mknod userfaultfd node (10:%d): %s", minor, errname(errno));
			}
		}
	}
	if (fd >= 0) {
		long u = ioctl(fd, USERFAULTFD_IOC_NEW, O_CLOEXEC);
		outcome("ioctl(/dev/userfaultfd, USERFAULTFD_IOC_NEW)", u, errno, NULL);
	}
	return finish("/dev/userfaultfd unreachable");
}

static int p_io_uring(void)
{
	struct io_uring_params p;
	memset(&p, 0, sizeof p);
	long fd = syscall(SYS_io_uring_setup, 4, &p);
	outcome("io_uring_setup(4)", fd, errno, NULL);
	return finish("io_uring_setup refused");
}

static int p_modules(const char *scratch)
{
	/* Garbage that no kernel would load: only a privileged caller gets as
	 * far as the ELF checks (ENOEXEC/EINVAL/EBADMSG/EFAULT). */
	static const int reached[] = {ENOEXEC, EINVAL, EBADMSG, EFAULT, EKEYREJECTED, ENOKEY, 0};
	static char junk[64] = "not a module";
	long r = syscall(SYS_init_module, junk, sizeof junk, "");
	outcome("init_module(garbage)", r, errno, reached);
	char path[4096];
	snprintf(path, sizeof path, "%s/esc-module-%d.ko", scratch, (int)getpid());
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0) {
		(void)!write(fd, junk, sizeof junk);
		lseek(fd, 0, SEEK_SET);
		r = syscall(SYS_finit_module, fd, "", 0);
		outcome("finit_module(garbage file)", r, errno, reached);
		close(fd);
		unlink(path);
	} else {
		note("create %s: %s", path, errname(errno));
	}
	return finish("module loading refused");
}

static int p_kexec(void)
{
	/* A flag bit the kernel does not define: refused with EINVAL, but only
	 * after the CAP_SYS_BOOT check, and long before anything is loaded. */
	static const int reached[] = {EINVAL, 0};
	long r = syscall(SYS_kexec_load, 0UL, 0UL, NULL, 0x8000UL);
	outcome("kexec_load(bad flags)", r, errno, reached);
	r = syscall(SYS_kexec_file_load, -1, -1, 0UL, "", 0x8000UL);
	outcome("kexec_file_load(bad flags)", r, errno, reached);
	return finish("kexec refused");
}

static int p_reboot(void)
{
	/* Wrong magic numbers: EINVAL comes after the CAP_SYS_BOOT check. */
	static const int reached[] = {EINVAL, 0};
	long r = syscall(SYS_reboot, 0x12345678, 0x9abcdef0, 0x01234567, NULL);
	outcome("reboot(bad magic)", r, errno, reached);
	return finish("reboot refused");
}

static int p_swap(const char *scratch)
{
	/* A path that does not exist: ENOENT comes after CAP_SYS_ADMIN. */
	static const int reached[] = {ENOENT, EINVAL, 0};
	char path[4096];
	snprintf(path, sizeof path, "%s/esc-no-such-swapfile-%d", scratch, (int)getpid());
	long r = syscall(SYS_swapon, path, 0);
	outcome("swapon(missing file)", r, errno, reached);
	r = syscall(SYS_swapoff, path);
	outcome("swapoff(missing file)", r, errno, reached);
	return finish("swapon/swapoff refused");
}

static int p_clock(void)
{
	/* 1970 is before boot: do_settimeofday64 refuses it with EINVAL, after
	 * the CAP_SYS_TIME check. settimeofday(NULL, NULL) checks the
	 * capability and changes nothing. adjtimex rewrites the current
	 * maximum-error estimate with its own value. */
	static const int reached[] = {EINVAL, 0};
	struct timespec zero = {0, 0};
	long r = syscall(SYS_clock_settime, CLOCK_REALTIME, &zero);
	outcome("clock_settime(CLOCK_REALTIME, before boot)", r, errno, reached);
	struct timeval tv0 = {0, 0};
	r = syscall(SYS_settimeofday, &tv0, NULL);
	outcome("settimeofday(before boot)", r, errno, reached);
	r = syscall(SYS_settimeofday, NULL, NULL);
	outcome("settimeofday(NULL, NULL) capability check", r, errno, NULL);
	struct timex tx;
	memset(&tx, 0, sizeof tx);
	long rd = syscall(SYS_adjtimex, &tx);
	note("adjtimex(read): %s", rd >= 0 ? "ok" : errname(errno));
	if (rd >= 0) {
		tx.modes = ADJ_MAXERROR;
		r = syscall(SYS_adjtimex, &tx);
		outcome("adjtimex(ADJ_MAXERROR, unchanged value)", r, errno, NULL);
		memset(&tx, 0, sizeof tx);
		if (syscall(SYS_clock_adjtime, CLOCK_REALTIME, &tx) >= 0) {
			tx.modes = ADJ_MAXERROR;
			r = syscall(SYS_clock_adjtime, CLOCK_REALTIME, &tx);
			outcome("clock_adjtime(ADJ_MAXERROR, unchanged value)", r, errno, NULL);
		}
	} else {
		tx.modes = ADJ_MAXERROR;
		tx.maxerror = 16000000;
		r = syscall(SYS_adjtimex, &tx);
		outcome("adjtimex(ADJ_MAXERROR)", r, errno, NULL);
	}
	return finish("setting the clock refused");
}

static int p_sethostname(const char *name)
{
	long r = syscall(SYS_sethostname, name, strlen(name));
	outcome("sethostname", r, errno, NULL);
	return finish("sethostname refused");
}

static int p_name_to_handle(const char *path)
{
	struct {
		struct file_handle fh;
		unsigned char buf[128];
	} h;
	memset(&h, 0, sizeof h);
	h.fh.handle_bytes = 128;
	int mount_id;
	long r = syscall(SYS_name_to_handle_at, AT_FDCWD, path, &h.fh, &mount_id, 0);
	outcome("name_to_handle_at", r, errno, NULL);
	return finish("name_to_handle_at refused");
}

/* "shocker": guess the handle of the root directory of the file system
 * behind `anchor` (ext4 root is inode 2, generation 0) and open it with
 * open_by_handle_at, bypassing the mount tree. */
static int p_open_by_handle(const char *anchor, const char *expect_entry)
{
	int mfd = open(anchor, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mfd < 0) {
		note("open %s: %s", anchor, errname(errno));
		mfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	struct {
		struct file_handle fh;
		unsigned char buf[128];
	} h;
	/* Prefer the real handle of the anchor's root when the kernel lets us
	 * name it; fall back to the ext4 guess. */
	memset(&h, 0, sizeof h);
	h.fh.handle_bytes = 8;
	h.fh.handle_type = 1; /* FILEID_INO32_GEN */
	unsigned ino_gen[2] = {2, 0};
	memcpy(h.fh.f_handle, ino_gen, sizeof ino_gen);
	long fd = syscall(SYS_open_by_handle_at, mfd, &h.fh, O_RDONLY | O_DIRECTORY);
	int e = errno;
	if (fd >= 0) {
		DIR *d = fdopendir((int)fd);
		struct dirent *de;
		int found = 0, n = 0;
		while (d && (de = readdir(d))) {
			n++;
			if (expect_entry && !strcmp(de->d_name, expect_entry))
				found = 1;
		}
		escaped("open_by_handle_at opened inode 2 of the file system behind %s (%d entries%s)",
		        anchor, n, found ? ", including the host's own" : "");
	} else {
		static const int reached[] = {ESTALE, EINVAL, 0};
		outcome("open_by_handle_at(inode 2)", fd, e, reached);
	}
	return finish("open_by_handle_at refused");
}

static int p_modify_ldt(void)
{
	unsigned char buf[64];
	long r = syscall(SYS_modify_ldt, 0, buf, sizeof buf);
	outcome("modify_ldt(read)", r, errno, NULL);
	struct user_desc d;
	memset(&d, 0, sizeof d);
	d.entry_number = 0;
	d.base_addr = 0;
	d.limit = 0xfff;
	d.seg_32bit = 1;
	d.limit_in_pages = 1;
	d.useable = 1;
	r = syscall(SYS_modify_ldt, 1, &d, sizeof d);
	outcome("modify_ldt(write an LDT entry)", r, errno, NULL);
	return finish("modify_ldt refused");
}

static int p_personality(void)
{
	const struct {
		unsigned long flag;
		const char *name;
	} flags[] = {{READ_IMPLIES_EXEC, "READ_IMPLIES_EXEC"},
	             {ADDR_NO_RANDOMIZE, "ADDR_NO_RANDOMIZE"}};
	for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
		long before = syscall(SYS_personality, 0xffffffffUL);
		long r = syscall(SYS_personality, (unsigned long)PER_LINUX | flags[i].flag);
		int e = errno;
		long after = syscall(SYS_personality, 0xffffffffUL);
		if (r >= 0 && after >= 0 && (after & flags[i].flag))
			escaped("personality(%s) took effect (persona 0x%lx -> 0x%lx)", flags[i].name,
			        before, after);
		else
			note("personality(%s): %s", flags[i].name, r < 0 ? errname(e) : "no effect");
		syscall(SYS_personality, (unsigned long)PER_LINUX);
	}
	return finish("personality flags refused");
}

int main(int argc, char **argv)
{
	esc_init();
	if (argc < 2) {
		fprintf(stderr, "usage: %s PROBE [ARGS]\n", argv[0]);
		return 2;
	}
	const char *p = argv[1], *a = argc > 2 ? argv[2] : NULL, *b = argc > 3 ? argv[3] : NULL;
	const char *scratch = a ? a : "/tmp";
	if (!strcmp(p, "add_key"))
		return p_add_key();
	if (!strcmp(p, "keyctl"))
		return p_keyctl();
	if (!strcmp(p, "bpf"))
		return p_bpf();
	if (!strcmp(p, "perf_event_open"))
		return p_perf();
	if (!strcmp(p, "userfaultfd"))
		return p_userfaultfd();
	if (!strcmp(p, "dev_userfaultfd"))
		return p_userfaultfd_dev(scratch);
	if (!strcmp(p, "io_uring_setup"))
		return p_io_uring();
	if (!strcmp(p, "modules"))
		return p_modules(scratch);
	if (!strcmp(p, "kexec"))
		return p_kexec();
	if (!strcmp(p, "reboot"))
		return p_reboot();
	if (!strcmp(p, "swap"))
		return p_swap(scratch);
	if (!strcmp(p, "clock"))
		return p_clock();
	if (!strcmp(p, "sethostname") && a)
		return p_sethostname(a);
	if (!strcmp(p, "name_to_handle_at"))
		return p_name_to_handle(a ? a : "/");
	if (!strcmp(p, "open_by_handle_at"))
		return p_open_by_handle(a ? a : "/", b);
	if (!strcmp(p, "modify_ldt"))
		return p_modify_ldt();
	if (!strcmp(p, "personality"))
		return p_personality();
	fprintf(stderr, "unknown probe %s\n", p);
	return 2;
}
