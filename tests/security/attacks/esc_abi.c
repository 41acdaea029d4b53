/* Foreign system call ABIs on x86_64: the i386 one (int 0x80) and x32
 * (x86_64 numbers with bit 30 set). They reach compat code a native
 * policy never reviewed, so corral kills the caller with SIGSYS.
 *
 *   esc_abi int80|x32
 *
 * The raw call runs in a forked child: ESCAPED when the child got a real
 * answer (getpid through the foreign ABI returned its pid), BLOCKED when
 * the child was killed (by SIGSYS: the verdict line says which signal) or
 * the kernel answered ENOSYS (a kernel built without that ABI; NOTE says
 * so). */
#include "esc_common.h"

#if defined(__x86_64__)
static int child_int80(void *arg)
{
	(void)arg;
	long ret;
	/* i386 __NR_getpid is 20. int 0x80 takes its arguments in 32-bit
	 * registers; getpid needs none. */
	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(20L) : "memory", "r8", "r9", "r10", "r11");
	if (ret == getpid())
		return 0;
	if (ret == -ENOSYS)
		return 3;
	printf("NOTE: int 0x80 getpid returned %ld\n", ret);
	return 4;
}

static int child_x32(void *arg)
{
	(void)arg;
	long ret;
	long nr = 0x40000000L | SYS_getpid;
	__asm__ volatile("syscall" : "=a"(ret) : "a"(nr) : "rcx", "r11", "memory");
	if (ret == getpid())
		return 0;
	if (ret == -ENOSYS)
		return 3;
	printf("NOTE: x32 getpid returned %ld\n", ret);
	return 4;
}
#endif

int main(int argc, char **argv)
{
	esc_init();
#if !defined(__x86_64__)
	(void)argc;
	(void)argv;
	note("not x86_64: ENOSYS");
	return finish("no foreign ABI on this architecture");
#else
	if (argc < 2)
		return 2;
	int (*fn)(void *) = NULL;
	const char *what = argv[1];
	if (!strcmp(what, "int80"))
		fn = child_int80;
	else if (!strcmp(what, "x32"))
		fn = child_x32;
	else
		return 2;
	int st = in_child(fn, NULL, 10);
	if (st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0) {
		escaped("%s getpid returned the caller's pid: the foreign ABI is usable", what);
	} else if (st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 3) {
		note("%s getpid: ENOSYS (the kernel was built without this ABI)", what);
	} else {
		note("%s child %s", what, describe_status(st));
	}
	char summary[160];
	snprintf(summary, sizeof summary, "%s system call: child %s", what, describe_status(st));
	return finish(summary);
#endif
}
