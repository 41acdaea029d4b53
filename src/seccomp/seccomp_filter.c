/*
 * The sandbox's default seccomp policy, compiled with libseccomp.
 *
 * An allowlist: every system call not named here fails with EPERM. A few
 * fail with ENOSYS instead, so that the C library falls back to an older
 * call it can still make (clone3 -> clone) or a program concludes that the
 * feature is absent (io_uring, system calls newer than this policy). Calls
 * made with a foreign ABI (i386 via int 0x80, x32 on x86_64, AArch32 on
 * aarch64) kill the whole process. docs/seccomp.md is the documented form of
 * this policy (rules in seccomp_rules.c); keep them in step.
 *
 * The policy is made of two stacked filters, because a single libseccomp
 * filter cannot say "allow ioctl except TIOCSTI": it merges an unconditional
 * allow with conditional denials of the same call into a plain allow. The
 * kernel runs every installed filter and keeps the most severe verdict, so
 *   1. the allowlist (default EPERM) allows ioctl, and
 *   2. a small denylist (default ALLOW) refuses ioctl TIOCSTI/TIOCLINUX.
 *
 * Both are compiled once, exported to memory, and installed later by
 * seccomp_program_install() with two seccomp(2) calls and no allocation.
 * The rules themselves are in seccomp_rules.c.
 */
#include "seccomp/seccomp_internal.h"

#include "util/error.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <sched.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

struct seccomp_program {
	/* [0]: the allowlist, [1]: the ioctl denylist. Installed in this
	 * order. */
	struct sock_fprog filters[2];
	bool notify;  /* filters[0] refuses through a listener */
	bool owned;   /* the instructions are malloc'd (not the prebuilt arrays) */
};

#ifdef CORRAL_SECCOMP_PREBUILT
#include "seccomp_prebuilt.h"
#endif

/* libseccomp 2.5 can only export to a file descriptor: go through a memfd. */
static int export_filter(scmp_filter_ctx ctx, const char *what, struct sock_fprog *out,
                         corral_error *err)
{
	int fd = memfd_create("corral-seccomp", MFD_CLOEXEC);
	if (fd < 0)
		return error_errno(err, "memfd_create for the %s filter", what);
	int rc = seccomp_export_bpf(ctx, fd);
	if (rc < 0) {
		close(fd);
		return error_set(err, CORRAL_ERR_SETUP, -rc, "seccomp_export_bpf %s", what);
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return error_set(err, CORRAL_ERR_SETUP, e, "fstat %s filter memfd", what);
	}
	size_t size = (size_t)st.st_size;
	if (size == 0 || size % sizeof(struct sock_filter) != 0 ||
	    size / sizeof(struct sock_filter) > BPF_MAXINSNS) {
		close(fd);
		return error_set(err, CORRAL_ERR_INTERNAL, 0,
		                 "seccomp %s filter: unexpected size of %zu bytes", what, size);
	}
	struct sock_filter *insns = malloc(size);
	if (!insns) {
		close(fd);
		return error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "seccomp %s filter", what);
	}
	size_t done = 0;
	while (done < size) {
		ssize_t n = pread(fd, (char *)insns + done, size - done, (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? errno : EIO;
			free(insns);
			close(fd);
			return error_set(err, CORRAL_ERR_SETUP, e, "read back the %s filter", what);
		}
		done += (size_t)n;
	}
	close(fd);
	out->len = (unsigned short)(size / sizeof(struct sock_filter));
	out->filter = insns;
	return 0;
}

typedef int (*filter_builder)(scmp_filter_ctx ctx, corral_error *err);

static int compile_filter(uint32_t default_action, filter_builder build, const char *what,
                          struct sock_fprog *out, corral_error *err)
{
	scmp_filter_ctx ctx = seccomp_init(default_action);
	if (!ctx)
		return error_set(err, CORRAL_ERR_SETUP, ENOMEM, "seccomp_init %s", what);
	int rc = build(ctx, err);
	if (rc == 0)
		rc = export_filter(ctx, what, out, err);
	seccomp_release(ctx);
	return rc;
}

int seccomp_program_build(const struct seccomp_options *options, struct seccomp_program **out,
                          corral_error *err)
{
#ifdef CORRAL_SECCOMP_PREBUILT
	/* The default policy was compiled at build time by this very code
	 * (seccomp-generate); use it when it fits the running architecture. */
	bool notify = options && options->notify_denials;
	if (!(options && options->allow_nested_userns) && notify == SECCOMP_PREBUILT_NOTIFY &&
	    seccomp_arch_native() == SECCOMP_PREBUILT_ARCH) {
		struct seccomp_program *program = calloc(1, sizeof *program);
		if (!program)
			return error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "seccomp program");
		program->notify = notify;
		program->filters[0] = (struct sock_fprog){
			.len = sizeof seccomp_prebuilt_allowlist / sizeof seccomp_prebuilt_allowlist[0],
			.filter = (struct sock_filter *)seccomp_prebuilt_allowlist};
		program->filters[1] = (struct sock_fprog){
			.len = sizeof seccomp_prebuilt_ioctl / sizeof seccomp_prebuilt_ioctl[0],
			.filter = (struct sock_filter *)seccomp_prebuilt_ioctl};
		*out = program;
		return 0;
	}
#endif
	return seccomp_program_compile(options, out, err);
}

int seccomp_program_write_c(const struct seccomp_program *program, FILE *out)
{
	static const char *const names[] = {"seccomp_prebuilt_allowlist", "seccomp_prebuilt_ioctl"};
	fprintf(out, "/* Generated at build time by seccomp-generate: do not edit. */\n");
	fprintf(out, "#define SECCOMP_PREBUILT_ARCH 0x%08xu\n", seccomp_arch_native());
	fprintf(out, "#define SECCOMP_PREBUILT_NOTIFY %d\n", program->notify ? 1 : 0);
	for (size_t f = 0; f < 2; f++) {
		fprintf(out, "static const struct sock_filter %s[] = {\n", names[f]);
		for (size_t i = 0; i < program->filters[f].len; i++) {
			const struct sock_filter *in = &program->filters[f].filter[i];
			fprintf(out, "\t{0x%04x, %u, %u, 0x%08xu},\n", in->code, in->jt, in->jf, in->k);
		}
		fprintf(out, "};\n");
	}
	return ferror(out) ? -1 : 0;
}

int seccomp_program_compile(const struct seccomp_options *options, struct seccomp_program **out,
                            corral_error *err)
{
	*out = NULL;
	if (options && options->allow_nested_userns)
		return error_set(err, CORRAL_ERR_USAGE, 0,
		                 "seccomp policy: nested user namespaces are not supported yet");

	struct seccomp_program *program = calloc(1, sizeof *program);
	if (!program)
		return error_set(err, CORRAL_ERR_INTERNAL, ENOMEM, "seccomp program");
	program->notify = options && options->notify_denials;
	program->owned = true;
	if (compile_filter(program->notify ? SCMP_ACT_NOTIFY : SCMP_ACT_ERRNO(EPERM),
	                   seccomp_build_allowlist, "allowlist",
	                   &program->filters[0], err) < 0 ||
	    compile_filter(SCMP_ACT_ALLOW, seccomp_build_ioctl_denylist, "ioctl",
	                   &program->filters[1], err) < 0) {
		seccomp_program_free(program);
		return -1;
	}
	*out = program;
	return 0;
}

int seccomp_program_install(const struct seccomp_program *program, int *listener_fd,
                            corral_error *err)
{
	if (listener_fd)
		*listener_fd = -1;
	if (!program)
		return error_set(err, CORRAL_ERR_INTERNAL, 0, "seccomp filter: not built");
	for (size_t i = 0; i < sizeof program->filters / sizeof program->filters[0]; i++) {
		/* seccomp(2) does not write through the pointer. Only one
		 * filter of a chain may have a listener: the allowlist's. */
		struct sock_fprog prog = program->filters[i];
		bool listen = i == 0 && program->notify && listener_fd;
		long rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
		                  listen ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0, &prog);
		if (rc >= 0 && listen)
			*listener_fd = (int)rc;
		if (rc < 0) {
			int e = errno;
			if (e == EACCES)
				return error_set(err, CORRAL_ERR_SETUP, e,
				                 "install seccomp filter (no_new_privs not set)");
			enum corral_error_kind kind =
				e == ENOSYS || e == EINVAL ? CORRAL_ERR_HOST : CORRAL_ERR_SETUP;
			return error_set(err, kind, e, "install seccomp filter");
		}
	}
	return 0;
}

void seccomp_program_free(struct seccomp_program *program)
{
	if (!program)
		return;
	for (size_t i = 0; program->owned && i < sizeof program->filters / sizeof program->filters[0];
	     i++)
		free(program->filters[i].filter);
	free(program);
}

size_t seccomp_program_length(const struct seccomp_program *program)
{
	if (!program)
		return 0;
	size_t n = 0;
	for (size_t i = 0; i < sizeof program->filters / sizeof program->filters[0]; i++)
		n += program->filters[i].len;
	return n;
}

bool seccomp_program_equal(const struct seccomp_program *a, const struct seccomp_program *b)
{
	if (!a || !b || a->notify != b->notify)
		return false;
	for (size_t i = 0; i < sizeof a->filters / sizeof a->filters[0]; i++) {
		if (a->filters[i].len != b->filters[i].len ||
		    memcmp(a->filters[i].filter, b->filters[i].filter,
		           a->filters[i].len * sizeof(struct sock_filter)) != 0)
			return false;
	}
	return true;
}
