"""Write outside the writable grants.

    esc_write.py OP:PATH[:VALUE] ...

OPs (each one cleans up after itself, and only touches names it created or
files the test passed in):
  create:DIR        create a new uniquely named file in DIR, then remove it
  mkdir:DIR         create a new directory in DIR, then remove it
  symlink:DIR       create a symlink in DIR, then remove it
  mknod:DIR         create a FIFO in DIR, then remove it
  write:FILE:VALUE  open FILE for writing and write VALUE (the test passes the
                    value FILE already holds, e.g. the host name)
  append:FILE       append a line to FILE
  chmod:FILE        chmod FILE to the mode it already has
  rename:FILE       rename FILE and rename it back
ESCAPED when any operation succeeded.
"""
import errno
import os
import secrets
import sys

hits = []


def did(what):
    print(f"NOTE: ESCAPE-STEP {what}")
    hits.append(what)


def refused(what, e):
    print(f"NOTE: {what}: {errno.errorcode.get(e.errno, e.errno)} ({e.strerror})")


tag = f"esc-write-{os.getpid()}-{secrets.token_hex(4)}"
for spec in sys.argv[1:]:
    op, _, rest = spec.partition(":")
    try:
        if op == "create":
            p = os.path.join(rest, tag)
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, b"corral escape\n")
            os.close(fd)
            os.unlink(p)
            did(f"created and removed {p}")
        elif op == "mkdir":
            p = os.path.join(rest, tag)
            os.mkdir(p)
            os.rmdir(p)
            did(f"created and removed directory {p}")
        elif op == "symlink":
            p = os.path.join(rest, tag)
            os.symlink("/", p)
            os.unlink(p)
            did(f"created and removed symlink {p}")
        elif op == "mknod":
            p = os.path.join(rest, tag)
            os.mkfifo(p)
            os.unlink(p)
            did(f"created and removed FIFO {p}")
        elif op == "write":
            path, _, value = rest.partition(":")
            fd = os.open(path, os.O_WRONLY)
            try:
                os.write(fd, value.encode())
            finally:
                os.close(fd)
            did(f"wrote {value!r} to {path}")
        elif op == "append":
            with open(rest, "a") as f:
                f.write("corral escape\n")
            did(f"appended to {rest}")
        elif op == "chmod":
            os.chmod(rest, os.stat(rest).st_mode & 0o7777)
            did(f"changed the mode of {rest}")
        elif op == "rename":
            os.rename(rest, rest + ".esc")
            os.rename(rest + ".esc", rest)
            did(f"renamed {rest}")
        else:
            print(f"unknown op {op}", file=sys.stderr)
            sys.exit(2)
    except OSError as e:
        refused(spec, e)

if hits:
    print(f"ESCAPED: {hits[0]}" + (f" (and {len(hits) - 1} more)" if len(hits) > 1 else ""))
    sys.exit(0)
print(f"BLOCKED: all {len(sys.argv) - 1} write(s) refused")
sys.exit(1)
