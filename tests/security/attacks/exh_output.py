"""Flood the caller with output.

usage: exh_output.py STREAM MIB
  STREAM stdout | stderr | both | procs (four processes flood stdout and
         stderr at once; the cap must hold for all of them together)

Writes MIB MiB of 'x' and then the verdict line. Whether the flood got
through is for the caller to judge (it counts the bytes it received): the
ESCAPED line only appears if the whole flood was delivered.
"""
import os
import sys

stream, mib = sys.argv[1], int(sys.argv[2])
chunk = b"x" * (1 << 16)
total = mib << 20


def flood(fds):
    sent = 0
    while sent < total:
        for fd in fds:
            n = os.write(fd, chunk[: min(len(chunk), total - sent)])
            sent += n
            if sent >= total:
                break
    return sent


if stream == "procs":
    pids = []
    for i in range(3):
        pid = os.fork()
        if pid == 0:
            flood([1, 2])
            os._exit(0)
        pids.append(pid)
    sent = flood([1, 2])
    for pid in pids:
        os.waitpid(pid, 0)
    os.write(1, f"\nESCAPED: 4 processes wrote {4 * sent} bytes\n".encode())
    sys.exit(0)

fds = {"stdout": [1], "stderr": [2], "both": [1, 2]}[stream]
sent = flood(fds)
os.write(1, f"\nESCAPED: wrote {sent} bytes to {stream}\n".encode())
sys.exit(0)
