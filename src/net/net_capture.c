#include "net/net_capture.h"

#include "util/error.h"
#include "util/fdpass.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* One RTM_NEWROUTE: "local 0.0.0.0/0 dev lo table local" (or ::/0). A
 * single fixed message does not justify a netlink library. */
static int add_local_route(int family, int ifindex, corral_error *err)
{
	struct {
		struct nlmsghdr nh;
		struct rtmsg rt;
		char attrs[64];
	} req;
	memset(&req, 0, sizeof req);
	req.nh.nlmsg_type = RTM_NEWROUTE;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE | NLM_F_ACK;
	req.nh.nlmsg_seq = 1;
	req.rt.rtm_family = (unsigned char)family;
	req.rt.rtm_table = RT_TABLE_LOCAL;
	req.rt.rtm_protocol = RTPROT_BOOT;
	req.rt.rtm_scope = RT_SCOPE_HOST;
	req.rt.rtm_type = RTN_LOCAL;
	struct rtattr *oif = (struct rtattr *)req.attrs;
	oif->rta_type = RTA_OIF;
	oif->rta_len = RTA_LENGTH(sizeof(int));
	memcpy(RTA_DATA(oif), &ifindex, sizeof(int));
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof req.rt) + RTA_ALIGN(oif->rta_len);

	const char *what = family == AF_INET ? "route 0.0.0.0/0 to lo" : "route ::/0 to lo";
	int rc = -1;
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return error_errno(err, "%s: netlink socket", what);
	if (send(fd, &req, req.nh.nlmsg_len, 0) < 0) {
		error_errno(err, "%s", what);
		goto cleanup;
	}
	union {
		char buf[512];
		struct nlmsghdr align;
	} reply;
	ssize_t n = recv(fd, reply.buf, sizeof reply.buf, 0);
	if (n < (ssize_t)NLMSG_LENGTH(sizeof(struct nlmsgerr))) {
		error_errno(err, "%s: no answer", what);
		goto cleanup;
	}
	struct nlmsghdr *nh = &reply.align;
	if (nh->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = NLMSG_DATA(nh);
		if (e->error != 0) {
			errno = -e->error;
			error_errno(err, "%s", what);
			goto cleanup;
		}
	}
	rc = 0;
cleanup:
	close(fd);
	return rc;
}

/* A dual-stack socket bound to port on every address ([::] with
 * V6ONLY off), or 0.0.0.0 where the kernel has no IPv6. */
static int open_socket(int type, uint16_t port, corral_error *err)
{
	int fd = socket(AF_INET6, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1, zero = 0;
	if (fd >= 0) {
		struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons(port),
		                          .sin6_addr = in6addr_any};
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero) < 0 ||
		    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
		    (type == SOCK_DGRAM &&
		     (setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one) < 0 ||
		      setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one) < 0)) ||
		    bind(fd, (struct sockaddr *)&a6, sizeof a6) < 0) {
			error_errno(err, "%s port %u", type == SOCK_DGRAM ? "udp" : "tcp", port);
			close(fd);
			return -1;
		}
	} else if (errno == EAFNOSUPPORT) {
		fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons(port),
		                         .sin_addr = {htonl(INADDR_ANY)}};
		if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
		    (type == SOCK_DGRAM && setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one) < 0) ||
		    bind(fd, (struct sockaddr *)&a4, sizeof a4) < 0) {
			error_errno(err, "%s port %u", type == SOCK_DGRAM ? "udp" : "tcp", port);
			if (fd >= 0)
				close(fd);
			return -1;
		}
	} else {
		return error_errno(err, "socket for port %u", port);
	}
	if (type == SOCK_STREAM && listen(fd, 1024) < 0) {
		error_errno(err, "listen on port %u", port);
		close(fd);
		return -1;
	}
	return fd;
}

int net_capture_setup(const struct net_capture_plan *plan, int sock, corral_error *err)
{
	int lo = (int)if_nametoindex("lo");
	if (lo == 0)
		return error_errno(err, "find lo");
	if (add_local_route(AF_INET, lo, err) < 0)
		return -1;
	/* IPv6 may be disabled; then there is no v6 path to catch either. */
	corral_error v6err = {0};
	if (add_local_route(AF_INET6, lo, &v6err) < 0 && v6err.errnum != EAFNOSUPPORT &&
	    v6err.errnum != EOPNOTSUPP) {
		*err = v6err;
		return -1;
	}
	for (size_t i = 0; i <= plan->n_ports; i++) {
		bool dns = i == plan->n_ports;
		int fd = open_socket(dns ? SOCK_DGRAM : SOCK_STREAM, dns ? 53 : plan->ports[i], err);
		if (fd < 0)
			return -1;
		int rc = fdpass_send(sock, fd, "hand a network listener to the supervisor", err);
		close(fd);
		if (rc < 0)
			return -1;
	}
	return 0;
}

int net_capture_receive(const struct net_capture_plan *plan, int sock, int *fds,
                        corral_error *err)
{
	size_t n = plan->n_ports + 1;
	for (size_t i = 0; i < n; i++)
		fds[i] = -1;
	for (size_t i = 0; i < n; i++) {
		struct pollfd p = {.fd = sock, .events = POLLIN};
		int ready;
		while ((ready = poll(&p, 1, 30000)) < 0 && errno == EINTR)
			;
		if (ready > 0)
			fds[i] = fdpass_recv(sock, MSG_DONTWAIT);
		if (fds[i] < 0) {
			for (size_t j = 0; j < i; j++) {
				close(fds[j]);
				fds[j] = -1;
			}
			return error_set(err, CORRAL_ERR_SETUP, ready == 0 ? ETIMEDOUT : EPIPE,
			                 "receive the sandbox's network listeners");
		}
	}
	return 0;
}
