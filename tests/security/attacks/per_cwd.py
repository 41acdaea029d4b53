"""Reach the caller's working directory: corral was started from a host
directory the sandbox must not see.

usage: per_cwd.py CANARY HOST_DIR

Looks for the file CANARY (which the test put in HOST_DIR) through
getcwd(), '.', /proc/self/cwd, /proc/1/cwd (corral's init), HOST_DIR by
name, and by walking '..' upwards 64 times from '.' with openat, listing
every level (the walk must end at this process's own root). ESCAPED if the
canary or the host directory was reached, or the walk left the root.
"""
import os
import sys

canary, host_dir = sys.argv[1], sys.argv[2]
hits = []

try:
    cwd = os.getcwd()
    print(f"getcwd: {cwd}")
    if cwd == host_dir:
        hits.append(f"getcwd() is the host directory {cwd}")
except OSError as e:
    print(f"getcwd: {e.strerror}")

for path in (".", "/proc/self/cwd", "/proc/1/cwd", host_dir):
    try:
        entries = os.listdir(path)
        if canary in entries:
            hits.append(f"listing {path} shows {canary}")
    except OSError as e:
        print(f"listdir {path}: {e.strerror}")
    try:
        with open(os.path.join(path, canary)) as f:
            hits.append(f"read {path}/{canary}: {f.read()[:40]!r}")
    except OSError:
        pass

# walk '..' with openat from the current directory, as far as it goes
try:
    fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY)
    seen = []
    for level in range(64):
        entries = os.listdir(fd)
        st = os.fstat(fd)
        seen.append((st.st_dev, st.st_ino))
        if canary in entries:
            hits.append(f"'..' walk, level {level}: {canary} visible")
        parent = os.open("..", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = parent
    end, root = os.fstat(fd), os.stat("/")
    if (end.st_dev, end.st_ino) != (root.st_dev, root.st_ino):
        hits.append("'..' walk ended in a directory that is not this root")
    os.close(fd)
    top = os.listdir("/")
    print(f"'..' walk: {len(set(seen))} distinct directories; / has {sorted(top)}")
except OSError as e:
    print(f"'..' walk: {e.strerror}")

if hits:
    print("ESCAPED: " + "; ".join(hits))
    sys.exit(0)
print("BLOCKED: the caller's working directory is out of reach")
sys.exit(1)
