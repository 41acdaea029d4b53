/* Gaining privileges by executing setuid or file-capability binaries.
 *
 *   esc_setuid probe                  print "PROBE euid=N eff=HEX prm=HEX"
 *   esc_setuid run BINARY [DROP_UID]  exec BINARY probe and compare
 *   esc_setuid su                     su -c "<self> probe" with no input
 *
 * BINARY is a copy of this program the test made setuid-root or gave
 * cap_net_raw+ep. `run` first drops to DROP_UID when it is host root (so
 * the host-side run has something to gain), then executes BINARY, whose
 * probe output shows its ids and capabilities. ESCAPED when the executed
 * program ran with a different effective uid than ours or with any
 * effective or permitted capability. */
#include "esc_common.h"

#include <grp.h>

static unsigned long long cap_field(const char *field)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	unsigned long long v = 0;
	size_t l = strlen(field);
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, field, l))
			v = strtoull(line + l, NULL, 16);
	if (f)
		fclose(f);
	return v;
}

static int probe(void)
{
	printf("PROBE euid=%u ruid=%u eff=%llx prm=%llx\n", (unsigned)geteuid(), (unsigned)getuid(),
	       cap_field("CapEff:"), cap_field("CapPrm:"));
	return 0;
}

/* Run argv, capture stdout, look for the PROBE line. */
static int run_probe(char *const argv[], const char *what)
{
	int p[2];
	if (pipe(p) < 0)
		return 0;
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		int devnull = open("/dev/null", O_RDONLY);
		if (devnull >= 0)
			dup2(devnull, 0);
		dup2(p[1], 1);
		dup2(p[1], 2);
		close(p[0]);
		alarm(20);
		execv(argv[0], argv);
		printf("exec failed: %s\n", errname(errno));
		_exit(127);
	}
	close(p[1]);
	char buf[8192];
	size_t got = 0;
	ssize_t n;
	while (got < sizeof buf - 1 && (n = read(p[0], buf + got, sizeof buf - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = 0;
	close(p[0]);
	int st;
	waitpid(c, &st, 0);
	unsigned euid = 0, ruid = 0;
	unsigned long long eff = 0, prm = 0;
	char *line = strstr(buf, "PROBE ");
	if (!line || sscanf(line, "PROBE euid=%u ruid=%u eff=%llx prm=%llx", &euid, &ruid, &eff, &prm) != 4) {
		char *nl;
		while ((nl = strchr(buf, '\n')))
			*nl = ' ';
		note("%s: no probe output (%s): %.300s", what, describe_status(st), buf);
		return 0;
	}
	note("%s: euid=%u (ours %u) eff=%llx prm=%llx", what, euid, (unsigned)geteuid(), eff, prm);
	if (euid != geteuid())
		escaped("%s ran with euid %u instead of %u", what, euid, (unsigned)geteuid());
	else if (eff || prm)
		escaped("%s gained capabilities (effective %llx, permitted %llx)", what, eff, prm);
	return 1;
}

static int drop(const char *uid_s)
{
	if (!uid_s || !is_host_root())
		return 0;
	uid_t uid = (uid_t)atoi(uid_s);
	if (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0) {
		note("drop to uid %u: %s", (unsigned)uid, errname(errno));
		return -1;
	}
	note("dropped from host root to uid %u", (unsigned)uid);
	return 0;
}

int main(int argc, char **argv)
{
	esc_init();
	if (argc < 2)
		return 2;
	if (!strcmp(argv[1], "probe"))
		return probe();
	if (!strcmp(argv[1], "run") && argc > 2) {
		if (drop(argc > 3 ? argv[3] : NULL) < 0)
			return 3;
		unsigned long long eff = cap_field("CapEff:");
		note("before: euid=%u eff=%llx", (unsigned)geteuid(), eff);
		if (eff) {
			note("already holding capabilities: nothing to gain");
			return 3;
		}
		char *av[] = {argv[2], "probe", NULL};
		run_probe(av, argv[2]);
		return finish("executing the binary gained nothing");
	}
	if (!strcmp(argv[1], "su")) {
		char self[4096];
		ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
		if (n < 0)
			return 3;
		self[n] = 0;
		char cmd[4200];
		snprintf(cmd, sizeof cmd, "%s probe", self);
		const char *sus[] = {"/usr/bin/su", "/bin/su"};
		for (int i = 0; i < 2; i++) {
			if (access(sus[i], X_OK) < 0) {
				note("%s: %s", sus[i], errname(errno));
				continue;
			}
			char *av[] = {(char *)sus[i], "-c", cmd, "root", NULL};
			run_probe(av, sus[i]);
			break;
		}
		return finish("su gained nothing");
	}
	return 2;
}
