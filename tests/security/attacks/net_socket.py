"""Open a socket of a kind the sandbox must refuse.

usage: net_socket.py KIND

Raw IP, packet, non-route netlink, MPTCP and SCTP sockets give access to
other traffic on the host, to kernel subsystems (audit, uevents, netfilter)
or to large, bug-prone protocol code. ESCAPED when the socket could be
created (and, where it means something, bound or used), BLOCKED when the
kernel or the sandbox refused it.
"""
import errno
import socket
import sys

AF_PACKET = getattr(socket, "AF_PACKET", 17)
SOCK_PACKET = 10
IPPROTO_MPTCP = 262
IPPROTO_SCTP = 132
ETH_P_ALL = 0x0003

# kind: (family, type, protocol, what it would give)
KINDS = {
    "raw-icmp": (socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP, "raw ICMP (forged pings, sniffing ICMP)"),
    "raw-tcp": (socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP, "raw TCP (forged segments)"),
    "raw-ipproto-raw": (socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW, "raw IP with own headers (spoofing)"),
    "raw6-icmp": (socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6, "raw ICMPv6 (router adverts, ND spoofing)"),
    "packet-raw": (AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL), "AF_PACKET raw (sniff every frame)"),
    "packet-dgram": (AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_ALL), "AF_PACKET dgram"),
    "sock-packet": (socket.AF_INET, SOCK_PACKET, socket.htons(ETH_P_ALL), "obsolete SOCK_PACKET"),
    "netlink-audit": (socket.AF_NETLINK, socket.SOCK_RAW, 9, "NETLINK_AUDIT"),
    "netlink-uevent": (socket.AF_NETLINK, socket.SOCK_RAW, 15, "NETLINK_KOBJECT_UEVENT (device events)"),
    "netlink-netfilter": (socket.AF_NETLINK, socket.SOCK_RAW, 12, "NETLINK_NETFILTER (nftables, conntrack)"),
    "netlink-sockdiag": (socket.AF_NETLINK, socket.SOCK_RAW, 4, "NETLINK_SOCK_DIAG (every socket of the netns)"),
    "netlink-generic": (socket.AF_NETLINK, socket.SOCK_RAW, 16, "NETLINK_GENERIC (wireguard, nl80211, taskstats...)"),
    "netlink-xfrm": (socket.AF_NETLINK, socket.SOCK_RAW, 6, "NETLINK_XFRM (IPsec state)"),
    "mptcp4": (socket.AF_INET, socket.SOCK_STREAM, IPPROTO_MPTCP, "MPTCP over IPv4"),
    "mptcp6": (socket.AF_INET6, socket.SOCK_STREAM, IPPROTO_MPTCP, "MPTCP over IPv6"),
    "sctp4-stream": (socket.AF_INET, socket.SOCK_STREAM, IPPROTO_SCTP, "SCTP one-to-one"),
    "sctp4-seqpacket": (socket.AF_INET, socket.SOCK_SEQPACKET, IPPROTO_SCTP, "SCTP one-to-many"),
    "sctp6-stream": (socket.AF_INET6, socket.SOCK_STREAM, IPPROTO_SCTP, "SCTP over IPv6"),
}

kind = sys.argv[1]
family, type_, proto, what = KINDS[kind]
try:
    s = socket.socket(family, type_, proto)
except OSError as e:
    print(f"BLOCKED: {kind} ({what}): socket() failed: {errno.errorcode.get(e.errno, e.errno)} {e.strerror}")
    sys.exit(1)

detail = "socket created"
try:
    if kind == "netlink-uevent":
        s.bind((0, 1))  # the kernel uevent multicast group
        detail += ", bound to the uevent multicast group"
    elif kind.startswith("netlink-"):
        s.bind((0, 0))
        detail += ", bound"
except OSError as e:
    detail += f" (bind failed: {e})"
print(f"ESCAPED: {kind} ({what}): {detail}")
sys.exit(0)
