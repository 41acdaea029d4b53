"""Use descriptors the caller leaked: a host file and a host directory the
test opened and passed down (subprocess pass_fds).

usage: per_fds.py FILE_FD DIR_FD NAME_IN_DIR

Checks every descriptor number above 2 (fstat, so no new descriptor gets
in the way), then tries to read FILE_FD, and openat(DIR_FD, NAME_IN_DIR)
and list DIR_FD. ESCAPED if any descriptor above 2 is open or any of those
worked.
"""
import os
import sys

file_fd, dir_fd, name = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
max_fd = os.sysconf("SC_OPEN_MAX")
open_fds = []
for fd in range(3, min(max_fd, 65536)):
    try:
        os.fstat(fd)
        open_fds.append(fd)
    except OSError:
        pass
for fd in open_fds:
    try:
        target = os.readlink(f"/proc/self/fd/{fd}")
    except OSError as e:
        target = f"? ({e.strerror})"
    print(f"open fd {fd} -> {target}")

got = []
try:
    os.lseek(file_fd, 0, 0)
    data = os.read(file_fd, 4096)
    got.append(f"read {len(data)} bytes from fd {file_fd}: {data[:40]!r}")
except OSError as e:
    print(f"read fd {file_fd}: {e.strerror}")
try:
    fd = os.open(name, os.O_RDONLY, dir_fd=dir_fd)
    got.append(f"openat({dir_fd}, {name}) worked: {os.read(fd, 4096)[:40]!r}")
except OSError as e:
    print(f"openat({dir_fd}, {name}): {e.strerror}")
try:
    got.append(f"listed fd {dir_fd}: {os.listdir(dir_fd)}")
except OSError as e:
    print(f"listdir fd {dir_fd}: {e.strerror}")

if open_fds or got:
    print(f"ESCAPED: descriptors above 2 open: {open_fds}; {'; '.join(got)}")
    sys.exit(0)
print("BLOCKED: no descriptor above 2 is open, the leaked numbers are dead")
sys.exit(1)
