"""Is Landlock in force? Write where only Landlock can say no.

    esc_landlock.py DIR...

For each DIR the attack first checks the other walls would let it write:
DIR is owned by our uid with the owner-write bit, and its mount is not
read-only. There it prints "only Landlock can refuse" and tries to create a
file, a directory, a FIFO and a symlink (each removed again). Inside the sandbox
DIR is /dev: a writable tmpfs that `--uid 0` owns but Landlock does not
grant. Also tries open("/", O_RDWR|O_DIRECTORY) and creating a file at /.
ESCAPED when anything was created in a directory.
"""
import errno
import ctypes
import os
import secrets
import sys

hits = []
tag = f"esc-ll-{os.getpid()}-{secrets.token_hex(3)}"

try:
    libc = ctypes.CDLL(None, use_errno=True)
    abi = libc.syscall(444, None, ctypes.c_size_t(0), ctypes.c_uint32(1))  # landlock_create_ruleset
    print(f"NOTE: landlock ABI version: {abi}")
except Exception as e:  # informational only
    print(f"NOTE: landlock ABI query failed: {e}")

for d in sys.argv[1:]:
    st, vfs = os.stat(d), os.statvfs(d)
    ro = bool(vfs.f_flag & os.ST_RDONLY)
    owner_w = st.st_uid == os.geteuid() and st.st_mode & 0o200
    if owner_w and not ro:
        print(f"NOTE: {d}: owned by us, writable mount: only Landlock can refuse")
    else:
        print(f"NOTE: {d}: uid {st.st_uid} mode {oct(st.st_mode & 0o7777)} read-only mount {ro}: "
              f"other walls refuse too")
    p = os.path.join(d, tag)
    for what, make, undo in (
        ("file", lambda: os.close(os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)), os.unlink),
        ("directory", lambda: os.mkdir(p), os.rmdir),
        ("FIFO", lambda: os.mkfifo(p), os.unlink),
        ("symlink", lambda: os.symlink("/etc", p), os.unlink),
    ):
        try:
            make()
        except OSError as e:
            print(f"NOTE: create {what} in {d}: {errno.errorcode.get(e.errno, e.errno)} ({e.strerror})")
            continue
        undo(p)
        print(f"NOTE: ESCAPE-STEP created a {what} in {d}")
        hits.append(f"created a {what} in {d}")

for what, fn in (("open('/', O_RDWR|O_DIRECTORY)", lambda: os.close(os.open("/", os.O_RDWR | os.O_DIRECTORY))),):
    try:
        fn()
        print(f"NOTE: {what} succeeded")
    except OSError as e:
        print(f"NOTE: {what}: {errno.errorcode.get(e.errno, e.errno)} ({e.strerror})")

if hits:
    print(f"ESCAPED: {hits[0]}")
    sys.exit(0)
print("BLOCKED: nothing could be created")
sys.exit(1)
