"""Connect to Unix sockets of the host.

usage: net_unix.py squat NAME SECONDS
         bind the abstract socket "\0NAME" and wait for a connection
       net_unix.py abstract NAME TOKEN
         connect to the abstract socket "\\0NAME" the test bound on the host
       net_unix.py path TOKEN PATH [PATH...]
         connect to filesystem sockets: the test's own (which answers
         "ACK TOKEN") and host daemons' (/run/*.sock, docker.sock...)

ESCAPED when a connection to a host socket succeeded.
"""
import os
import socket
import stat
import sys


def talk(addr, token):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(addr)
    s.sendall(token.encode() + b"\n")
    try:
        return s.recv(4096).strip()
    except socket.timeout:
        return b""


mode = sys.argv[1]
if mode == "squat":
    # Bind @NAME and wait for the host to connect (the test tries).
    name, wait = sys.argv[2], float(sys.argv[3])
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind("\0" + name)
    s.listen(1)
    s.settimeout(wait)
    print("READY", flush=True)
    try:
        conn, _ = s.accept()
        print(f"ESCAPED: a host process connected to @{name}: {conn.recv(100)!r}")
        sys.exit(0)
    except socket.timeout:
        print(f"BLOCKED: nobody connected to @{name} within {wait}s")
        sys.exit(1)
elif mode == "abstract":
    name, token = sys.argv[2], sys.argv[3]
    try:
        got = talk("\0" + name, token)
    except OSError as e:
        print(f"BLOCKED: abstract socket @{name}: {e.__class__.__name__}: {e}")
        sys.exit(1)
    print(f"ESCAPED: connected to the host's abstract socket @{name} (answer {got!r})")
    sys.exit(0)

token, paths = sys.argv[2], sys.argv[3:]
reached, failed = [], []
for path in paths:
    try:
        st = os.stat(path)
        kind = "socket" if stat.S_ISSOCK(st.st_mode) else "not a socket"
    except OSError as e:
        failed.append(f"{path}: not visible ({e.strerror})")
        continue
    try:
        got = talk(path, token)
        reached.append(f"{path} ({kind}, answer {got!r})")
    except OSError as e:
        failed.append(f"{path}: visible ({kind}) but connect failed: {e.strerror}")
for line in failed:
    print(line)
if reached:
    print(f"ESCAPED: connected to host Unix sockets: {', '.join(reached)}")
    sys.exit(0)
print(f"BLOCKED: no host Unix socket reachable ({len(failed)} tried)")
sys.exit(1)
