/* Landlock's audit records as the kernel writes them (formats from
 * security/landlock/audit.c and lsm_audit.c, as seen on Linux 6.18): which
 * are the sandbox's, and what they become in the report. No kernel
 * feature needed: the records are fed in as text. */
#include "landlock/landlock_audit.h"

#include "unit.h"

#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ACCESS 1423
#define DOMAIN 1424
#define INIT 4242

static void start(struct landlock_audit *a)
{
	memset(a, 0, sizeof *a);
	a->fd = -1;
	a->init_pid = INIT;
}

static const char probe[] = "audit(1795779623.406:384): domain=1956455bf blockers=scope.signal "
                            "opid=4242 ocomm=\"corral\"";

static void test_probe_names_the_domain(void)
{
	struct landlock_audit a;
	start(&a);
	/* another sandbox's denial before ours is known: not ours */
	landlock_audit_take(&a, ACCESS,
	                    "audit(1.1:1): domain=77 blockers=fs.read_file path=\"/x\" dev=\"vda\" ino=1");
	/* a refused signal to another pid does not name our domain */
	landlock_audit_take(&a, ACCESS, "audit(1.1:2): domain=78 blockers=scope.signal opid=1 ocomm=\"x\"");
	CHECK(a.domain == 0);
	landlock_audit_take(&a, ACCESS, probe);
	CHECK(a.domain == 0x1956455bfULL);
	CHECK(a.n == 0 && a.seen == 0); /* the probe itself is no denial */
	landlock_audit_take(&a, ACCESS,
	                    "audit(1.1:3): domain=77 blockers=fs.read_file path=\"/y\" dev=\"vda\" ino=2");
	CHECK(a.n == 0);
}

static void test_paths_counted_and_decoded(void)
{
	struct landlock_audit a;
	start(&a);
	landlock_audit_take(&a, ACCESS, probe);
	const char *shadow = "audit(1.2:5): domain=1956455bf blockers=fs.read_file "
	                     "path=\"/etc/shadow\" dev=\"vda\" ino=10954227";
	landlock_audit_take(&a, ACCESS, shadow);
	landlock_audit_take(&a, ACCESS, shadow);
	/* a path with a space is hex-encoded: "/tmp/a b" */
	landlock_audit_take(&a, ACCESS,
	                    "audit(1.2:6): domain=1956455bf blockers=fs.make_reg,fs.write_file "
	                    "path=2F746D702F612062 dev=\"tmpfs\" ino=1");
	/* a dentry (rename, link) shows as name= */
	landlock_audit_take(&a, ACCESS,
	                    "audit(1.2:7): domain=1956455bf blockers=fs.refer name=\"f\" dev=\"vda\" ino=3");
	/* not a path: counted, not listed */
	landlock_audit_take(&a, ACCESS, "audit(1.2:8): domain=1956455bf blockers=ptrace opid=9 ocomm=\"s\"");
	CHECK(a.n == 3);
	CHECK(strcmp(a.entries[0].path, "/etc/shadow") == 0);
	CHECK(strcmp(a.entries[0].access, "fs.read_file") == 0 && a.entries[0].count == 2);
	CHECK(strcmp(a.entries[1].path, "/tmp/a b") == 0);
	CHECK(strcmp(a.entries[1].access, "fs.make_reg,fs.write_file") == 0);
	CHECK(strcmp(a.entries[2].path, "f") == 0);
	CHECK(a.seen == 5);

	/* the allocation record of the domain changes nothing; its end closes */
	landlock_audit_take(&a, DOMAIN,
	                    "audit(1.2:5): domain=1956455bf status=allocated mode=enforcing pid=7 "
	                    "uid=0 exe=\"/usr/bin/corral\" comm=\"corral\"");
	CHECK(!a.ended);
	landlock_audit_take(&a, DOMAIN, "audit(1.3:9): domain=77 status=deallocated denials=1");
	CHECK(!a.ended);
	landlock_audit_take(&a, DOMAIN, "audit(1.3:9): domain=1956455bf status=deallocated denials=6");
	CHECK(a.ended && a.kernel_total == 6);

	corral_result r;
	memset(&r, 0, sizeof r);
	landlock_audit_export(&a, &r);
	CHECK(r.n_denials == 3);
	CHECK(strcmp(r.denials[0].kind, "path") == 0 && strcmp(r.denials[0].name, "/etc/shadow") == 0);
	CHECK(strcmp(r.denials[0].access, "fs.read_file") == 0 && r.denials[0].count == 2);
}

static void test_hostile_names(void)
{
	struct landlock_audit a;
	start(&a);
	landlock_audit_take(&a, ACCESS, probe);
	/* control bytes in a file name stay out of the report */
	landlock_audit_take(&a, ACCESS,
	                    "audit(1.4:1): domain=1956455bf blockers=fs.make_reg "
	                    "path=2F746D702F0A221B5B306D dev=\"tmpfs\" ino=1");
	CHECK(a.n == 1 && strcmp(a.entries[0].path, "/tmp/?\"?[0m") == 0);
	/* names that differ only in such bytes are one entry, as reported */
	landlock_audit_take(&a, ACCESS,
	                    "audit(1.4:1): domain=1956455bf blockers=fs.make_reg "
	                    "path=2F746D702F01221B5B306D dev=\"tmpfs\" ino=1");
	CHECK(a.n == 1 && a.entries[0].count == 2);
	/* broken records are ignored */
	landlock_audit_take(&a, ACCESS, "");
	landlock_audit_take(&a, ACCESS, "audit(1.4:2): domain=");
	landlock_audit_take(&a, ACCESS, "audit(1.4:3): domain=zz blockers=fs.read_file path=\"/a\"");
	landlock_audit_take(&a, ACCESS, "audit(1.4:4): domain=1956455bf path=\"/a\"");
	landlock_audit_take(&a, ACCESS, "audit(1.4:5): domain=1956455bf blockers=fs.read_file path=");
	landlock_audit_take(&a, ACCESS, "audit(1.4:6): domain=1956455bf blockers=fs.read_file path=ABC");
	CHECK(a.n <= 3);
	/* a long path is cut, not overflowed */
	char text[1200];
	char longpath[900];
	memset(longpath, 'a', sizeof longpath - 1);
	longpath[0] = '/';
	longpath[sizeof longpath - 1] = '\0';
	snprintf(text, sizeof text, "audit(1.4:7): domain=1956455bf blockers=fs.read_file path=\"%s\"",
	         longpath);
	landlock_audit_take(&a, ACCESS, text);
	CHECK(strlen(a.entries[a.n - 1].path) == sizeof a.entries[0].path - 1);
	/* so is a long hex-encoded one: cut, still decoded */
	char hexpath[2 * sizeof longpath];
	for (size_t i = 0; longpath[i]; i++)
		snprintf(hexpath + 2 * i, 3, "%02X", (unsigned char)(i == 5 ? ' ' : longpath[i]));
	snprintf(text, sizeof text, "audit(1.4:8): domain=1956455bf blockers=fs.write_file path=%.1000s",
	         hexpath);
	landlock_audit_take(&a, ACCESS, text);
	const char *cut = a.entries[a.n - 1].path;
	CHECK(strncmp(cut, "/aaaa aaa", 9) == 0 && strlen(cut) == sizeof a.entries[0].path - 1);
}

static void test_bounded(void)
{
	struct landlock_audit a;
	start(&a);
	landlock_audit_take(&a, ACCESS, probe);
	char text[200];
	for (int i = 0; i < LANDLOCK_AUDIT_TRACKED + 5; i++) {
		snprintf(text, sizeof text,
		         "audit(1.5:%d): domain=1956455bf blockers=fs.read_file path=\"/f%d\"", i, i);
		landlock_audit_take(&a, ACCESS, text);
	}
	CHECK(a.n == LANDLOCK_AUDIT_TRACKED && a.untracked == 5);
	corral_result r;
	memset(&r, 0, sizeof r);
	r.n_denials = CORRAL_DENIALS_MAX - 2; /* the syscalls took most of the room */
	landlock_audit_export(&a, &r);
	CHECK(r.n_denials == CORRAL_DENIALS_MAX);
}

static void test_finish_explains(void)
{
	struct landlock_audit a;
	start(&a);
	landlock_audit_finish(&a, 0); /* not reading: nothing to say */
	CHECK(a.why[0] == '\0');
	start(&a);
	int pair[2];
	CHECK(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, pair) == 0);
	a.fd = pair[0]; /* nothing to read: finish closes it */
	landlock_audit_take(&a, ACCESS, probe);
	landlock_audit_take(&a, ACCESS,
	                    "audit(1.6:1): domain=1956455bf blockers=fs.read_file path=\"/a\"");
	landlock_audit_take(&a, DOMAIN, "audit(1.6:2): domain=1956455bf status=deallocated denials=4");
	landlock_audit_finish(&a, 0);
	CHECK(a.fd == -1);
	close(pair[1]);
	CHECK(strstr(a.why, "counted 3") != NULL); /* two records never came */
}

int main(void)
{
	test_probe_names_the_domain();
	test_paths_counted_and_decoded();
	test_hostile_names();
	test_bounded();
	test_finish_explains();
	return unit_done();
}
