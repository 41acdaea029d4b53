"""Open file descriptors until the kernel says no.

usage: exh_fds.py THRESHOLD CAP

Raises its own soft RLIMIT_NOFILE as far as the hard limit allows, then
opens /dev/null, sockets and pipes until EMFILE/ENFILE or CAP descriptors.
ESCAPED when more than THRESHOLD descriptors were open at once.
"""
import os
import resource
import socket
import sys

threshold, cap = int(sys.argv[1]), int(sys.argv[2])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = cap + 64 if hard == resource.RLIM_INFINITY else min(hard, cap + 64)
try:
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
except (ValueError, OSError) as e:
    print(f"could not raise the soft limit: {e}")
print(f"RLIMIT_NOFILE was {soft}/{hard}, now {resource.getrlimit(resource.RLIMIT_NOFILE)}")
held = []
err = None
try:
    while len(held) < cap:
        kind = len(held) % 3
        if kind == 0:
            held.append(os.open("/dev/null", os.O_RDONLY))
        elif kind == 1:
            held.append(socket.socket(socket.AF_UNIX, socket.SOCK_STREAM))
        else:
            r, w = os.pipe()
            held.extend([r, w])
except OSError as e:
    err = e
count = len(held) + 3  # stdio too
if count > threshold:
    print(f"ESCAPED: {count} descriptors open at once > limit {threshold}")
    sys.exit(0)
print(f"BLOCKED: only {count} descriptors: {err}")
sys.exit(1)
