"""TCP and UDP to servers on the host's loopback, over IPv4, IPv6 and
IPv4-mapped IPv6.

The sandbox has its own network namespace whose loopback has nothing
listening: a connect must fail there, and the host server -- which records
every connection and datagram -- must see nothing from the sandboxed run.
The same attack run on the host reaches the server, so the test can fail.
"""
import secrets
import socket
import threading

import pytest


class LoopbackServer:
    """A TCP or UDP server on a host loopback address that answers
    "ACK <token>" and records every connection and datagram."""

    def __init__(self, proto, family, host):
        self.proto = proto
        self.lock = threading.Lock()
        self.connections = []  # peers that connected (TCP) or sent (UDP)
        self.tokens = []
        kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
        self.sock = socket.socket(family, kind)
        if family == socket.AF_INET6:
            # accept IPv4-mapped peers too, whatever net.ipv6.bindv6only says
            self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        self.sock.bind((host, 0))
        self.port = self.sock.getsockname()[1]
        if proto == "tcp":
            self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _record(self, peer, data):
        token = data.decode(errors="replace").strip()
        with self.lock:
            self.connections.append(peer)
            if token:
                self.tokens.append(token)
        return f"ACK {token}\n".encode()

    def _serve(self):
        while not self.stopping:
            try:
                if self.proto == "tcp":
                    conn, peer = self.sock.accept()
                    with conn:
                        conn.settimeout(5)
                        data = b""
                        try:
                            while b"\n" not in data:
                                chunk = conn.recv(4096)
                                if not chunk:
                                    break
                                data += chunk
                        except OSError:
                            pass
                        reply = self._record(peer, data)
                        try:
                            conn.sendall(reply)
                        except OSError:
                            pass
                else:
                    data, peer = self.sock.recvfrom(4096)
                    self.sock.sendto(self._record(peer, data), peer)
            except (socket.timeout, OSError):
                continue

    def snapshot(self):
        with self.lock:
            return list(self.connections), list(self.tokens)

    def close(self):
        self.stopping = True
        self.thread.join(timeout=5)
        self.sock.close()


def _server_or_skip(proto, family, host):
    try:
        return LoopbackServer(proto, family, host)
    except OSError as e:
        pytest.skip(f"this host cannot listen on {proto} {host}: {e} -- nothing to attack")


CASES = [
    # (proto, server family, server address, attack family, attack target)
    ("tcp", socket.AF_INET, "127.0.0.1", "4", "127.0.0.1"),
    ("tcp", socket.AF_INET6, "::1", "6", "::1"),
    ("tcp", socket.AF_INET, "127.0.0.1", "6", "::ffff:127.0.0.1"),
    ("udp", socket.AF_INET, "127.0.0.1", "4", "127.0.0.1"),
    ("udp", socket.AF_INET6, "::1", "6", "::1"),
    ("udp", socket.AF_INET, "127.0.0.1", "6", "::ffff:127.0.0.1"),
]


@pytest.mark.parametrize("proto,sfam,saddr,afam,target", CASES,
                         ids=[f"{c[0]}-{c[4]}" for c in CASES])
def test_host_loopback_server_unreachable(attack, proto, sfam, saddr, afam, target):
    server = _server_or_skip(proto, sfam, saddr)
    try:
        host_token = "host-" + secrets.token_hex(6)
        outside = attack("net_connect.py", proto, afam, target, server.port, host_token, sandbox=False)
        conns, tokens = server.snapshot()
        if not outside.escaped:
            pytest.skip(f"{proto} to {target} does not reach the host server even without a "
                        f"sandbox on this host: {outside.line!r} (stderr {outside.proc.stderr[-300:]!r})")
        assert host_token in tokens, f"the host run claims success but the server saw nothing: {outside}"

        before = len(conns)
        sandbox_token = "sandbox-" + secrets.token_hex(6)
        inside = attack("net_connect.py", proto, afam, target, server.port, sandbox_token)
        conns, tokens = server.snapshot()
        assert inside.blocked, f"the sandbox reached the host's loopback: {inside}"
        assert sandbox_token not in tokens, f"the host server received the sandbox's token: {tokens}"
        assert len(conns) == before, (f"the host server saw {len(conns) - before} connection(s) "
                                      f"from the sandboxed run: {conns[before:]}")
    finally:
        server.close()


@pytest.mark.parametrize("uid", ["default", "0"])
def test_only_loopback_is_visible(attack, uid):
    """The sandbox's network namespace shows no host interface or address."""
    corral_args = ("--uid", "0") if uid == "0" else ()
    outside = attack("net_rtnetlink.py", "dump", sandbox=False)
    if not outside.escaped:
        pytest.skip(f"the host itself shows only a loopback interface, so there is nothing to "
                    f"leak: {outside.line!r}")
    inside = attack("net_rtnetlink.py", "dump", corral_args=corral_args)
    assert inside.blocked, f"host interfaces are visible in the sandbox: {inside}"
