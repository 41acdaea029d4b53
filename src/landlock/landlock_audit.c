/*
 * Landlock's refusals from the audit records (see landlock_audit.h).
 *
 * Record texts, as security/landlock/audit.c and lsm_audit.c write them:
 *   1423 (AUDIT_LANDLOCK_ACCESS): "audit(T:S): domain=<hex> blockers=<a,b>
 *        path=<str> dev=<str> ino=<n>" (or name=<str> for a dentry,
 *        opid=<pid> ocomm=<str> for a signal)
 *   1424 (AUDIT_LANDLOCK_DOMAIN): "audit(T:S): domain=<hex>
 *        status=allocated mode=enforcing pid=<n> ..." or
 *        "domain=<hex> status=deallocated denials=<n>"
 * where <str> is "quoted" or, when it holds a space, a quote or a byte
 * outside 0x21..0x7e, hex-encoded. So a value never contains a space and
 * the fields split on spaces.
 */
#include "landlock/landlock_audit.h"

#include "landlock/landlock_fs.h"
#include "util/strings.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/netlink.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef AUDIT_LANDLOCK_ACCESS
#define AUDIT_LANDLOCK_ACCESS 1423
#endif
#ifndef AUDIT_LANDLOCK_DOMAIN
#define AUDIT_LANDLOCK_DOMAIN 1424
#endif

/* The kernel's longest record text (MAX_AUDIT_MESSAGE_LENGTH) and room. */
#define RECORD_MAX 8970
/* How long AUDIT_GET may take to answer (a kernel thread replies). */
#define STATUS_TIMEOUT_MS 1000

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Whether audit is enabled: 1 yes, 0 no, -1 unknown (errno set). Needs
 * CAP_AUDIT_CONTROL, which root has along with CAP_AUDIT_READ. */
static int audit_is_enabled(void)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT);
	if (fd < 0)
		return -1;
	int rc = -1;
	struct nlmsghdr req = {.nlmsg_len = NLMSG_LENGTH(0), .nlmsg_type = AUDIT_GET,
	                       .nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK, .nlmsg_seq = 1};
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
	if (sendto(fd, &req, req.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0)
		goto out;
	int64_t deadline = now_ms() + STATUS_TIMEOUT_MS;
	for (;;) {
		int64_t left = deadline - now_ms();
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int ready = poll(&p, 1, left <= 0 ? 0 : (int)left);
		if (ready < 0 && errno == EINTR)
			continue;
		if (ready <= 0) {
			errno = ready == 0 ? ETIMEDOUT : errno;
			goto out;
		}
		char reply[1024];
		ssize_t n = recv(fd, reply, sizeof reply, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < (ssize_t)NLMSG_HDRLEN)
			goto out;
		struct nlmsghdr h;
		memcpy(&h, reply, sizeof h);
		const char *data = reply + NLMSG_HDRLEN;
		if (h.nlmsg_type == NLMSG_ERROR && (size_t)n >= NLMSG_LENGTH(sizeof(struct nlmsgerr))) {
			struct nlmsgerr e;
			memcpy(&e, data, sizeof e);
			if (e.error != 0) {
				errno = -e.error;
				goto out;
			}
			continue; /* the ack; the status comes apart */
		}
		if (h.nlmsg_type == AUDIT_GET && (size_t)n >= NLMSG_LENGTH(2 * sizeof(uint32_t))) {
			struct audit_status st = {0};
			size_t len = (size_t)n - NLMSG_HDRLEN;
			memcpy(&st, data, len < sizeof st ? len : sizeof st);
			rc = st.enabled != 0;
			goto out;
		}
	}
out:
	close(fd);
	return rc;
}

bool landlock_audit_open(struct landlock_audit *a)
{
	memset(a, 0, sizeof *a);
	a->fd = -1;
	int abi = landlock_abi_version();
	if (abi < 7) {
		string_set(a->why, sizeof a->why,
		           abi == 0 ? "the kernel has no Landlock"
		                    : "the kernel's Landlock (ABI %d) cannot audit; that needs ABI 7 "
		                      "(Linux 6.15)",
		           abi);
		return false;
	}
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_AUDIT);
	if (fd < 0) {
		string_set(a->why, sizeof a->why, "audit socket: %s", strerror(errno));
		return false;
	}
	struct sockaddr_nl group = {.nl_family = AF_NETLINK,
	                            .nl_groups = 1u << (AUDIT_NLGRP_READLOG - 1)};
	if (bind(fd, (struct sockaddr *)&group, sizeof group) < 0) {
		int e = errno;
		close(fd);
		if (e == EPERM)
			string_set(a->why, sizeof a->why,
			           "reading the kernel's audit records needs CAP_AUDIT_READ (root)");
		else
			string_set(a->why, sizeof a->why, "audit socket: %s", strerror(e));
		return false;
	}
	int enabled = audit_is_enabled();
	if (enabled != 1) {
		int e = errno;
		close(fd);
		if (enabled == 0)
			string_set(a->why, sizeof a->why,
			           "audit is disabled on this host (auditctl -e 1, or boot with audit=1)");
		else
			string_set(a->why, sizeof a->why, "audit status: %s", strerror(e));
		return false;
	}
	/* Every record of the host passes through here: room for bursts.
	 * Best effort; an overflow is noticed (ENOBUFS) and reported. */
	int size = 4 << 20;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
	a->fd = fd;
	return true;
}

/* The value of `key=` among the space-separated fields, copied into out
 * as it stands. False if absent. */
static bool field(const char *text, const char *key, char *out, size_t size)
{
	size_t klen = strlen(key);
	const char *p = text;
	while ((p = strstr(p, key)) != NULL) {
		if ((p == text || p[-1] == ' ') && p[klen] == '=')
			break;
		p += klen;
	}
	if (!p || size == 0)
		return false;
	p += klen + 1;
	size_t vlen = strcspn(p, " ");
	if (vlen >= size)
		vlen = size - 1;
	memcpy(out, p, vlen);
	out[vlen] = '\0';
	return true;
}

/* A string the kernel logged as untrusted: "quoted", or hex-encoded when
 * it holds anything outside 0x21..0x7e or a quote. Decoded in place. */
static bool field_untrusted(const char *text, const char *key, char *out, size_t size)
{
	if (!field(text, key, out, size))
		return false;
	size_t len = strlen(out);
	if (out[0] == '"') {
		/* the closing quote is missing when the value was cut */
		size_t end = len >= 2 && out[len - 1] == '"' ? len - 1 : len;
		memmove(out, out + 1, end - 1);
		out[end - 1] = '\0';
		return true;
	}
	if (strspn(out, "0123456789ABCDEFabcdef") != len)
		return true; /* neither form ("<too_long>"): keep it as it is */
	size_t o = 0;
	for (size_t i = 0; i + 1 < len; i += 2) {
		char hex[3] = {out[i], out[i + 1], '\0'};
		out[o++] = (char)strtoul(hex, NULL, 16);
	}
	out[o] = '\0';
	return true;
}

static bool field_u64(const char *text, const char *key, int base, uint64_t *v)
{
	char buf[32];
	if (!field(text, key, buf, sizeof buf) || !buf[0])
		return false;
	char *end;
	errno = 0;
	unsigned long long x = strtoull(buf, &end, base);
	if (errno || *end)
		return false;
	*v = x;
	return true;
}

/* The report is JSON and read by people: bytes outside printable ASCII
 * (from a hex-encoded name) become '?'. */
static void printable(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			*s = '?';
}

static void record_path(struct landlock_audit *a, const char *raw_path, const char *raw_access)
{
	/* Compared as reported: paths that differ only past the cut or in
	 * unprintable bytes are one entry. */
	struct landlock_audit_entry key;
	string_set(key.path, sizeof key.path, "%s", raw_path);
	string_set(key.access, sizeof key.access, "%s", raw_access);
	printable(key.path);
	printable(key.access);
	for (unsigned i = 0; i < a->n; i++) {
		struct landlock_audit_entry *e = &a->entries[i];
		if (strcmp(e->path, key.path) == 0 && strcmp(e->access, key.access) == 0) {
			e->count++;
			return;
		}
	}
	if (a->n == LANDLOCK_AUDIT_TRACKED) {
		a->untracked++;
		return;
	}
	key.count = 1;
	a->entries[a->n++] = key;
}

void landlock_audit_take(struct landlock_audit *a, int type, const char *text)
{
	if (type != AUDIT_LANDLOCK_ACCESS && type != AUDIT_LANDLOCK_DOMAIN)
		return;
	const char *fields = strstr(text, "): ");
	fields = fields ? fields + 3 : text;
	uint64_t domain = 0;
	if (!field_u64(fields, "domain", 16, &domain) || domain == 0)
		return;
	if (type == AUDIT_LANDLOCK_DOMAIN) {
		char status[32];
		uint64_t total = 0;
		if (domain == a->domain && field(fields, "status", status, sizeof status) &&
		    strcmp(status, "deallocated") == 0) {
			a->ended = true;
			if (field_u64(fields, "denials", 10, &total))
				a->kernel_total = total;
		}
		return;
	}
	char blockers[64];
	if (!field(fields, "blockers", blockers, sizeof blockers))
		return;
	if (a->domain == 0) {
		uint64_t opid = 0;
		if (a->init_pid > 0 && strcmp(blockers, "scope.signal") == 0 &&
		    field_u64(fields, "opid", 10, &opid) && opid == (uint64_t)a->init_pid)
			a->domain = domain;
		return;
	}
	if (domain != a->domain)
		return;
	a->seen++;
	/* Room for the longest path reported, hex-encoded. */
	char path[2 * sizeof a->entries[0].path];
	if (strncmp(blockers, "fs.", 3) == 0 &&
	    (field_untrusted(fields, "path", path, sizeof path) ||
	     field_untrusted(fields, "name", path, sizeof path)) &&
	    path[0])
		record_path(a, path, blockers);
}

void landlock_audit_read(struct landlock_audit *a)
{
	if (a->fd < 0)
		return;
	char buf[RECORD_MAX + NLMSG_HDRLEN + 1];
	for (;;) {
		ssize_t n = recv(a->fd, buf, sizeof buf - 1, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == ENOBUFS) {
			a->lost = true;
			continue;
		}
		if (n < 0)
			return;
		if (n < (ssize_t)NLMSG_HDRLEN)
			continue;
		struct nlmsghdr h;
		memcpy(&h, buf, sizeof h);
		size_t len = h.nlmsg_len < (size_t)n ? h.nlmsg_len : (size_t)n;
		if (len < NLMSG_HDRLEN)
			continue;
		buf[len] = '\0';
		landlock_audit_take(a, h.nlmsg_type, buf + NLMSG_HDRLEN);
	}
}

void landlock_audit_finish(struct landlock_audit *a, int timeout_ms)
{
	if (a->fd < 0)
		return;
	int64_t deadline = now_ms() + timeout_ms;
	for (;;) {
		landlock_audit_read(a);
		if (a->ended)
			break;
		int64_t left = deadline - now_ms();
		if (left <= 0)
			break;
		struct pollfd p = {.fd = a->fd, .events = POLLIN};
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
			break;
	}
	landlock_audit_close(a);
	uint64_t itemized = a->seen;
	if (a->domain == 0 && timeout_ms == 0)
		return; /* the sandbox never got as far as restricting itself */
	if (a->domain == 0)
		string_set(a->why, sizeof a->why,
		           "no audit record of the sandbox's Landlock domain arrived within %d ms "
		           "(audit rules may exclude them, or corral is outside the host's network "
		           "namespace)",
		           timeout_ms);
	else if (!a->ended)
		string_set(a->why, sizeof a->why,
		           "the end of the sandbox's Landlock domain did not show in the audit records "
		           "within %d ms: path denials may be incomplete",
		           timeout_ms);
	else if (a->kernel_total > itemized + 1) /* + 1: the probe */
		string_set(a->why, sizeof a->why,
		           "the kernel counted %llu Landlock denials, %llu reached corral (audit "
		           "records were lost)",
		           (unsigned long long)(a->kernel_total ? a->kernel_total - 1 : 0),
		           (unsigned long long)itemized);
	else if (a->untracked)
		string_set(a->why, sizeof a->why, "%llu path denials beyond the first %d paths",
		           (unsigned long long)a->untracked, LANDLOCK_AUDIT_TRACKED);
}

void landlock_audit_export(const struct landlock_audit *a, corral_result *result)
{
	for (unsigned i = 0; i < a->n && result->n_denials < CORRAL_DENIALS_MAX; i++) {
		corral_denial *d = &result->denials[result->n_denials++];
		string_set(d->kind, sizeof d->kind, "path");
		string_set(d->name, sizeof d->name, "%s", a->entries[i].path);
		string_set(d->access, sizeof d->access, "%s", a->entries[i].access);
		d->count = a->entries[i].count;
	}
}

void landlock_audit_close(struct landlock_audit *a)
{
	if (a->fd >= 0)
		close(a->fd);
	a->fd = -1;
}
