"""NETLINK_ROUTE, the one netlink protocol the sandbox allows, used to change
or inspect the network.

usage: net_rtnetlink.py modify IFNAME ADDRESS ROUTE
         create links IFNAME-<kind> (dummy, veth, bridge, vxlan, ifb, macvlan
         on lo), add ADDRESS/32 to lo, add the route ROUTE (a.b.c.0/24) via
         lo, and set lo's MTU. ESCAPED if any change was accepted; the
         changes are then held (HOLDING) until a line on stdin or 30 s, so
         the caller can look for them on the host, and undone.
       net_rtnetlink.py dump
         list links and IPv4/IPv6 addresses. ESCAPED if anything but the
         loopback interface (or an address not on it) is visible.

Pure Python: builds the netlink messages itself, so it needs no iproute2.
"""
import errno
import os
import select
import socket
import struct
import sys

NLM_F_REQUEST, NLM_F_MULTI, NLM_F_ACK = 0x1, 0x2, 0x4
NLM_F_EXCL, NLM_F_CREATE, NLM_F_DUMP = 0x200, 0x400, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK, RTM_SETLINK = 16, 17, 18, 19
RTM_NEWADDR, RTM_DELADDR, RTM_GETADDR = 20, 21, 22
RTM_NEWROUTE, RTM_DELROUTE = 24, 25
IFLA_IFNAME, IFLA_MTU, IFLA_LINK, IFLA_LINKINFO = 3, 4, 5, 18
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2
IFLA_VXLAN_ID = 1
IFA_ADDRESS, IFA_LOCAL, IFA_LABEL = 1, 2, 3
RTA_DST, RTA_OIF = 1, 4

seq = 0


def align(n):
    return (n + 3) & ~3


def rta(kind, data):
    length = 4 + len(data)
    return struct.pack("=HH", length, kind) + data + b"\0" * (align(length) - length)


def request(sock, msg_type, flags, body):
    global seq
    seq += 1
    hdr = struct.pack("=LHHLL", 16 + len(body), msg_type, flags | NLM_F_REQUEST, seq, 0)
    sock.send(hdr + body)
    return seq


def messages(sock):
    while True:
        data = sock.recv(1 << 16)
        off = 0
        while off + 16 <= len(data):
            length, mtype, flags, mseq, _ = struct.unpack_from("=LHHLL", data, off)
            yield mtype, flags, data[off + 16 : off + length]
            off += align(length)


def ack(sock, msg_type, flags, body):
    """0 on success, else the errno the kernel answered."""
    request(sock, msg_type, flags | NLM_F_ACK, body)
    for mtype, _, payload in messages(sock):
        if mtype == NLMSG_ERROR:
            return -struct.unpack_from("=i", payload)[0]


def attrs(payload, off):
    out = {}
    while off + 4 <= len(payload):
        length, kind = struct.unpack_from("=HH", payload, off)
        if length < 4:
            break
        out[kind] = payload[off + 4 : off + length]
        off += align(length)
    return out


def dump(sock, msg_type, body):
    request(sock, msg_type, NLM_F_DUMP, body)
    out = []
    for mtype, _, payload in messages(sock):
        if mtype == NLMSG_DONE:
            return out
        if mtype == NLMSG_ERROR:
            raise OSError(-struct.unpack_from("=i", payload)[0], "dump refused")
        out.append((mtype, payload))


def ifinfomsg(index=0, flags=0, change=0):
    return struct.pack("=BxHiII", socket.AF_UNSPEC, 0, index, flags, change)


def name(err):
    return "ok" if err == 0 else f"{errno.errorcode.get(err, err)} ({os.strerror(err)})"


def lo_index(sock):
    for _, payload in dump(sock, RTM_GETLINK, ifinfomsg()):
        index = struct.unpack_from("=i", payload, 4)[0]
        if attrs(payload, 16).get(IFLA_IFNAME, b"").rstrip(b"\0") == b"lo":
            return index
    return 1


def lo_mtu(sock, lo):
    for _, payload in dump(sock, RTM_GETLINK, ifinfomsg()):
        if struct.unpack_from("=i", payload, 4)[0] == lo:
            raw = attrs(payload, 16).get(IFLA_MTU)
            if raw:
                return struct.unpack("=I", raw[:4])[0]
    return None


def modify(ifname, address, route):
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    sock.bind((0, 0))
    lo = lo_index(sock)
    mtu = lo_mtu(sock, lo)
    results = []  # (what, errno, undo message or None)
    kinds = {
        "dummy": b"",
        "veth": b"",
        "bridge": b"",
        "ifb": b"",
        "vxlan": rta(IFLA_INFO_DATA, rta(IFLA_VXLAN_ID, struct.pack("=I", 42))),
        "macvlan": b"",
    }
    for i, (kind, data) in enumerate(kinds.items()):
        linkname = f"{ifname}{i}".encode()[:15] + b"\0"
        body = ifinfomsg() + rta(IFLA_IFNAME, linkname)
        if kind == "macvlan":
            body += rta(IFLA_LINK, struct.pack("=I", lo))
        body += rta(IFLA_LINKINFO, rta(IFLA_INFO_KIND, kind.encode()) + data)
        undo = (RTM_DELLINK, ifinfomsg() + rta(IFLA_IFNAME, linkname))
        results.append((f"link add {linkname.rstrip(bytes(1)).decode()} type {kind}",
                        ack(sock, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, body), undo))
    packed = socket.inet_aton(address)
    body = struct.pack("=BBBBI", socket.AF_INET, 32, 0, 0, lo) + rta(IFA_LOCAL, packed) + rta(IFA_ADDRESS, packed)
    results.append((f"addr add {address}/32 dev lo", ack(sock, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, body),
                    (RTM_DELADDR, body)))
    dst = socket.inet_aton(route.split("/")[0])
    body = struct.pack("=BBBBBBBBI", socket.AF_INET, 24, 0, 0, 254, 3, 253, 1, 0)
    body += rta(RTA_DST, dst) + rta(RTA_OIF, struct.pack("=I", lo))
    results.append((f"route add {route} dev lo", ack(sock, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, body),
                    (RTM_DELROUTE, body)))
    body = ifinfomsg(index=lo) + rta(IFLA_MTU, struct.pack("=I", 1280))
    undo = (RTM_SETLINK, ifinfomsg(index=lo) + rta(IFLA_MTU, struct.pack("=I", mtu))) if mtu else None
    results.append((f"link set lo mtu 1280 (was {mtu})", ack(sock, RTM_SETLINK, 0, body), undo))
    for what, err, _ in results:
        print(f"{what}: {name(err)}", flush=True)
    done = [what for what, err, _ in results if err == 0]
    if done:
        # Hold the changes while the caller looks at the host's network,
        # then undo them whatever happens: should a broken sandbox ever let
        # them reach the host's network namespace, the host is restored.
        print("HOLDING", flush=True)
        select.select([sys.stdin], [], [], 30)
        for what, err, undo in reversed(results):
            if err == 0 and undo:
                print(f"undo {what}: {name(ack(sock, undo[0], 0, undo[1]))}")
        print(f"ESCAPED: NETLINK_ROUTE changed the network: {', '.join(done)}")
        sys.exit(0)
    print("BLOCKED: every change refused: " + "; ".join(f"{w}: {name(e)}" for w, e, _ in results))
    sys.exit(1)


def show():
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    sock.bind((0, 0))
    links = {}
    for _, payload in dump(sock, RTM_GETLINK, ifinfomsg()):
        index = struct.unpack_from("=i", payload, 4)[0]
        links[index] = attrs(payload, 16).get(IFLA_IFNAME, b"?").rstrip(b"\0").decode()
    addrs = []
    for family in (socket.AF_INET, socket.AF_INET6):
        for _, payload in dump(sock, RTM_GETADDR, struct.pack("=BBBBI", family, 0, 0, 0, 0)):
            index = struct.unpack_from("=I", payload, 4)[0]
            a = attrs(payload, 8)
            raw = a.get(IFA_LOCAL) or a.get(IFA_ADDRESS)
            if raw:
                addrs.append((links.get(index, str(index)), socket.inet_ntop(family, raw)))
    print(f"links: {links}")
    print(f"addresses: {addrs}")
    foreign = [n for n in links.values() if n != "lo"] + [f"{a}@{i}" for i, a in addrs if i != "lo"]
    if foreign:
        print(f"ESCAPED: host interfaces or addresses visible: {foreign}")
        sys.exit(0)
    print(f"BLOCKED: only the loopback is visible: {links}, {addrs}")
    sys.exit(1)


try:
    if sys.argv[1] == "modify":
        modify(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        show()
except OSError as e:
    print(f"BLOCKED: NETLINK_ROUTE unusable: {e}")
    sys.exit(1)
