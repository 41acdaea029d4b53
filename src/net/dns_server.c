#include "net/dns_server.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define STANDIN_BASE 0xC6120001u /* 198.18.0.1 */
#define DNS_TTL 60
enum { TYPE_A = 1, TYPE_AAAA = 28, CLASS_IN = 1 };
enum { RCODE_OK = 0, RCODE_FORMERR = 1, RCODE_NXDOMAIN = 3, RCODE_NOTIMP = 4, RCODE_REFUSED = 5 };

const char *dns_names_lookup(const struct dns_names *names, const struct sockaddr *addr)
{
	uint32_t ip;
	if (addr->sa_family == AF_INET) {
		ip = ntohl(((const struct sockaddr_in *)addr)->sin_addr.s_addr);
	} else if (addr->sa_family == AF_INET6 &&
	           IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)addr)->sin6_addr)) {
		memcpy(&ip, &((const struct sockaddr_in6 *)addr)->sin6_addr.s6_addr[12], 4);
		ip = ntohl(ip);
	} else {
		return NULL;
	}
	if (ip < STANDIN_BASE || ip - STANDIN_BASE >= names->n)
		return NULL;
	return names->names[ip - STANDIN_BASE];
}

void dns_names_free(struct dns_names *names)
{
	for (size_t i = 0; i < names->n; i++)
		free(names->names[i]);
	free(names->names);
	names->names = NULL;
	names->n = 0;
}

/* The stand-in for name, assigned on first use; 0 when the table is full. */
static uint32_t standin(struct dns_names *names, const char *name)
{
	for (size_t i = 0; i < names->n; i++)
		if (strcmp(names->names[i], name) == 0)
			return STANDIN_BASE + (uint32_t)i;
	if (names->n >= DNS_STANDINS_MAX)
		return 0;
	char **grown = realloc(names->names, (names->n + 1) * sizeof *grown);
	if (!grown)
		return 0;
	names->names = grown;
	if (!(names->names[names->n] = strdup(name)))
		return 0;
	return STANDIN_BASE + (uint32_t)names->n++;
}

/* The question's name (uncompressed labels, as queries carry it). Returns
 * the offset just past it, or 0 if malformed. */
static size_t read_name(const unsigned char *q, size_t len, size_t at, char *out)
{
	size_t o = 0;
	for (;;) {
		if (at >= len)
			return 0;
		unsigned label = q[at++];
		if (label == 0)
			break;
		if (label > 63 || at + label > len || o + label + 1 > DNS_NAME_MAX)
			return 0;
		if (o)
			out[o++] = '.';
		for (unsigned i = 0; i < label; i++) {
			unsigned char c = q[at + i];
			if (!(isalnum(c) || c == '-' || c == '_'))
				return 0;
			out[o++] = (char)tolower(c);
		}
		at += label;
	}
	out[o] = '\0';
	return at;
}

size_t dns_answer(const unsigned char *q, size_t len, unsigned char *out, size_t size,
                  dns_allow_fn allow, void *ctx, struct dns_names *names,
                  struct dns_query_info *info)
{
	memset(info, 0, sizeof *info);
	/* Header: id, flags, qdcount, ancount, nscount, arcount. */
	if (len < 12 || (q[2] & 0x80) || size < 512)
		return 0; /* too short to answer, or itself an answer */
	unsigned opcode = (q[2] >> 3) & 0xF;
	unsigned qdcount = (unsigned)q[4] << 8 | q[5];
	size_t end = 12;
	int rcode = RCODE_OK;
	if (opcode != 0) {
		rcode = RCODE_NOTIMP;
	} else if (qdcount != 1) {
		rcode = RCODE_FORMERR;
	} else {
		end = read_name(q, len, 12, info->name);
		if (end == 0 || end + 4 > len) {
			rcode = RCODE_FORMERR;
			end = 12;
		} else {
			info->type = (unsigned)q[end] << 8 | q[end + 1];
			unsigned qclass = (unsigned)q[end + 2] << 8 | q[end + 3];
			end += 4;
			if (qclass != CLASS_IN)
				rcode = RCODE_REFUSED;
			else if (!info->name[0] || !allow(ctx, info->name))
				rcode = RCODE_NXDOMAIN;
		}
	}
	/* The answer repeats the question and adds one 16-byte record. */
	if (end + 16 > size)
		return 0;
	size_t o = end;
	memcpy(out, q, end);
	out[2] = (unsigned char)(0x80 | (q[2] & 0x79)); /* QR, opcode, RD kept */
	out[3] = (unsigned char)(0x80 | rcode);          /* RA */
	if (rcode == RCODE_FORMERR || rcode == RCODE_NOTIMP) {
		out[4] = out[5] = 0; /* no question echoed */
		o = 12;
	}
	memset(out + 6, 0, 6);
	if (rcode == RCODE_OK && info->type == TYPE_A) {
		uint32_t ip = standin(names, info->name);
		if (ip == 0) {
			out[3] = 0x80 | RCODE_REFUSED;
			rcode = RCODE_REFUSED;
		} else {
			static const unsigned char rr[] = {0xC0, 12, 0, TYPE_A, 0, CLASS_IN,
			                                   0,    0,  0, DNS_TTL, 0, 4};
			memcpy(out + o, rr, sizeof rr);
			o += sizeof rr;
			uint32_t be = htonl(ip);
			memcpy(out + o, &be, 4);
			o += 4;
			out[7] = 1; /* ancount */
		}
	}
	info->rcode = rcode;
	return o;
}

int dns_serve_one(int fd, dns_allow_fn allow, void *ctx, struct dns_names *names,
                  struct dns_query_info *info)
{
	unsigned char query[1500], answer[1500];
	struct sockaddr_storage peer;
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(struct in_pktinfo))];
		struct cmsghdr align;
	} control;
	struct iovec iov = {query, sizeof query};
	struct msghdr msg = {.msg_name = &peer, .msg_namelen = sizeof peer, .msg_iov = &iov,
	                     .msg_iovlen = 1, .msg_control = control.buf,
	                     .msg_controllen = sizeof control.buf};
	ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	size_t alen = dns_answer(query, (size_t)n, answer, sizeof answer, allow, ctx, names, info);
	if (alen == 0)
		return 1;
	/* Answer from the address the query went to, or the resolver the
	 * client dialled would not recognise it. */
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(struct in_pktinfo))];
		struct cmsghdr align;
	} reply_control;
	memset(&reply_control, 0, sizeof reply_control);
	struct msghdr reply = {.msg_name = &peer, .msg_namelen = msg.msg_namelen,
	                       .msg_iov = &(struct iovec){answer, alen}, .msg_iovlen = 1};
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if ((c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) ||
		    (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO)) {
			size_t data_len = c->cmsg_len - CMSG_LEN(0);
			reply.msg_control = reply_control.buf;
			reply.msg_controllen = CMSG_SPACE(data_len);
			struct cmsghdr *rc = CMSG_FIRSTHDR(&reply);
			rc->cmsg_level = c->cmsg_level;
			rc->cmsg_type = c->cmsg_type;
			rc->cmsg_len = c->cmsg_len;
			memcpy(CMSG_DATA(rc), CMSG_DATA(c), data_len);
			if (c->cmsg_type == IP_PKTINFO) {
				/* Send from the query's destination, not via an interface. */
				struct in_pktinfo *pi = (struct in_pktinfo *)CMSG_DATA(rc);
				pi->ipi_spec_dst = pi->ipi_addr;
				pi->ipi_ifindex = 0;
			} else {
				((struct in6_pktinfo *)CMSG_DATA(rc))->ipi6_ifindex = 0;
			}
			break;
		}
	}
	while (sendmsg(fd, &reply, MSG_DONTWAIT) < 0 && errno == EINTR)
		;
	return 1;
}
