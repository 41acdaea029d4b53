"""Hard links across grants.

    esc_link.py SRC DSTDIR [EXPECTED]

Links SRC (a file outside the writable grant, e.g. in a read-only bind or
not granted at all) into DSTDIR (a writable grant), directly and through an
O_PATH descriptor's /proc/self/fd link, then reads it back and writes through
the new name. ESCAPED when a link was made and (EXPECTED given) its content
matches, or when writing through it changed SRC.
"""
import errno
import os
import sys

src, dstdir = sys.argv[1], sys.argv[2]
expected = sys.argv[3].encode() if len(sys.argv) > 3 else None
hits = []


def check(dst, how):
    try:
        with open(dst, "rb") as f:
            data = f.read()
    except OSError as e:
        print(f"NOTE: {how}: linked but unreadable: {errno.errorcode.get(e.errno, e.errno)}")
        data = b""
    if expected is None or expected in data:
        print(f"NOTE: ESCAPE-STEP {how}: {dst} now names {src} ({len(data)} bytes)")
        hits.append(how)
    try:
        with open(dst, "ab") as f:
            f.write(b"corral escape\n")
        print(f"NOTE: ESCAPE-STEP {how}: wrote through the link")
        hits.append(how + " (write)")
    except OSError as e:
        print(f"NOTE: {how}: write through the link: {errno.errorcode.get(e.errno, e.errno)}")
    os.unlink(dst)


dst = os.path.join(dstdir, f"esc-link-{os.getpid()}")
try:
    os.link(src, dst)
    check(dst, "link()")
except OSError as e:
    print(f"NOTE: link {src} -> {dst}: {errno.errorcode.get(e.errno, e.errno)} ({e.strerror})")

try:
    fd = os.open(src, os.O_PATH)
    try:
        os.link(f"/proc/self/fd/{fd}", dst + "-fd", follow_symlinks=True)
        check(dst + "-fd", "linkat(/proc/self/fd/N, AT_SYMLINK_FOLLOW)")
    except OSError as e:
        print(f"NOTE: linkat via /proc/self/fd: {errno.errorcode.get(e.errno, e.errno)} ({e.strerror})")
    finally:
        os.close(fd)
except OSError as e:
    print(f"NOTE: open {src} O_PATH: {errno.errorcode.get(e.errno, e.errno)} ({e.strerror})")

if hits:
    print(f"ESCAPED: {hits[0]}")
    sys.exit(0)
print(f"BLOCKED: {src} could not be linked into {dstdir}")
sys.exit(1)
