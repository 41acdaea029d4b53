"""Device access.

    esc_dev.py mknod DIR        make char 1:3 and the block device behind the
                                first disk of /sys/dev/block in DIR, open them
    esc_dev.py mem DIR          /dev/mem, /dev/kmem, /dev/port (and mknod 1:1)
    esc_dev.py kmsg DIR         read a record of /dev/kmsg (and mknod 1:11)
    esc_dev.py block DIR        every disk listed in /sys/dev/block: open
                                /dev/NAME (and a node made in DIR), read 512 bytes

Nodes made in DIR are removed again. Only reads, never writes, to devices.
ESCAPED when a device could be opened and read (for mknod: created and opened).
"""
import errno
import os
import stat
import sys

mode, scratch = sys.argv[1], sys.argv[2]
hits = []


def step(msg):
    print(f"NOTE: ESCAPE-STEP {msg}")
    hits.append(msg)


def err(what, e):
    print(f"NOTE: {what}: {errno.errorcode.get(e.errno, e.errno)} ({e.strerror})")


def read_dev(path, n=512):
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        return os.read(fd, n)
    finally:
        os.close(fd)


def node(kind, major, minor, tag):
    p = os.path.join(scratch, f"esc-dev-{tag}-{os.getpid()}")
    try:
        os.mknod(p, 0o600 | kind, os.makedev(major, minor))
    except OSError as e:
        err(f"mknod {p} ({major}:{minor})", e)
        return None
    return p


def via_node(kind, major, minor, tag, n=512):
    p = node(kind, major, minor, tag)
    if not p:
        return
    try:
        data = read_dev(p, n)
        step(f"made {p} ({major}:{minor}) and read {len(data)} bytes from it")
    except OSError as e:
        err(f"open/read own node {p}", e)
    finally:
        os.unlink(p)


def disks():
    out = []
    try:
        names = os.listdir("/sys/dev/block")
    except OSError as e:
        err("list /sys/dev/block", e)
        return out
    for majmin in sorted(names):
        try:
            with open(f"/sys/dev/block/{majmin}/uevent") as f:
                ev = dict(l.strip().split("=", 1) for l in f if "=" in l)
        except OSError:
            continue
        if ev.get("DEVTYPE") == "disk" and not ev.get("DEVNAME", "").startswith(("loop", "ram")):
            out.append((int(ev["MAJOR"]), int(ev["MINOR"]), ev["DEVNAME"]))
    return out


if mode == "mknod":
    via_node(stat.S_IFCHR, 1, 3, "null", 0)
    for major, minor, name in disks()[:1]:
        via_node(stat.S_IFBLK, major, minor, name)
elif mode == "mem":
    for d in ("/dev/mem", "/dev/kmem", "/dev/port"):
        try:
            data = read_dev(d, 16)
            step(f"read {len(data)} bytes of {d}")
        except OSError as e:
            err(d, e)
    via_node(stat.S_IFCHR, 1, 1, "mem", 16)
elif mode == "kmsg":
    try:
        data = read_dev("/dev/kmsg", 8192)
        step(f"read a {len(data)}-byte kernel log record from /dev/kmsg")
    except OSError as e:
        err("/dev/kmsg", e)
    via_node(stat.S_IFCHR, 1, 11, "kmsg", 8192)
elif mode == "block":
    found = disks()
    print(f"NOTE: disks in /sys/dev/block: {found}")
    for major, minor, name in found:
        try:
            data = read_dev(f"/dev/{name}")
            step(f"read {len(data)} bytes of /dev/{name}")
        except OSError as e:
            err(f"/dev/{name}", e)
        via_node(stat.S_IFBLK, major, minor, name)
else:
    sys.exit(2)

if hits:
    print(f"ESCAPED: {hits[0]}")
    sys.exit(0)
print(f"BLOCKED: no device reachable ({mode})")
sys.exit(1)
