"""Read host files that were not granted.

    esc_read.py PATH[=EXPECTED] ...

Tries every PATH (following symlinks, /proc/*/root and /proc/*/cwd magic
links and the like). ESCAPED when one can be read and, if =EXPECTED is
given, contains EXPECTED (so a same-named file that belongs to the sandbox
does not count).
"""
import errno
import sys

hits = []
for arg in sys.argv[1:]:
    path, _, expected = arg.partition("=")
    try:
        with open(path, "rb") as f:
            data = f.read(1 << 20)
    except OSError as e:
        print(f"NOTE: {path}: {errno.errorcode.get(e.errno, e.errno)} ({e.strerror})")
        continue
    if expected and expected.encode() not in data:
        print(f"NOTE: {path}: readable, but not the host's file ({len(data)} bytes)")
        continue
    print(f"NOTE: ESCAPE-STEP read {len(data)} bytes of {path}")
    hits.append(path)

if hits:
    print(f"ESCAPED: read {', '.join(hits)}")
    sys.exit(0)
print(f"BLOCKED: none of {len(sys.argv) - 1} path(s) could be read")
sys.exit(1)
