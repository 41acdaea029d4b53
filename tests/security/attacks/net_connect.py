"""Reach a server the test runs on the host's loopback.

usage: net_connect.py PROTO FAMILY HOST PORT TOKEN
  PROTO   tcp | udp
  FAMILY  4 (AF_INET) | 6 (AF_INET6) -- HOST may be an IPv4-mapped ::ffff:a.b.c.d
  TOKEN   sent to the server; the server answers "ACK <TOKEN>"

ESCAPED when the host server answered, i.e. the sandbox reached the host's
network stack. The sandbox has its own loopback with nothing listening, so
there the connect is refused (TCP) or nothing answers (UDP).
"""
import socket
import sys

proto, family, host, port, token = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
fam = socket.AF_INET6 if family == "6" else socket.AF_INET
want = f"ACK {token}".encode()


def verdict(ok, msg):
    print(("ESCAPED: " if ok else "BLOCKED: ") + msg, flush=True)
    sys.exit(0 if ok else 1)


try:
    if proto == "tcp":
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect((host, port))
        print(f"connected to {host}:{port} from {s.getsockname()}", flush=True)
        s.sendall(token.encode() + b"\n")
        got = b""
        while b"\n" not in got:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
    else:
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.settimeout(3)
        # connected, so an ICMP "port unreachable" surfaces as ECONNREFUSED
        s.connect((host, port))
        got = b""
        for _ in range(3):  # UDP may drop; a few tries
            s.send(token.encode())
            try:
                got = s.recv(4096)
                break
            except socket.timeout:
                continue
except OSError as e:
    verdict(False, f"{proto}/{family} to {host}:{port}: {e.__class__.__name__}: {e}")

if got.strip() == want:
    verdict(True, f"{proto}/{family} reached the host server at {host}:{port} (answer {got.strip()!r})")
verdict(False, f"{proto}/{family} to {host}:{port}: no answer from the host server (got {got!r})")
