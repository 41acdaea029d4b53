"""List a host directory that was not granted.

    esc_listdir.py DIR ENTRY...

ESCAPED when DIR can be listed and shows one of the ENTRY names the test
took from the host's copy of DIR (a same-named directory that belongs to
the sandbox, e.g. a fresh /root for --uid 0, does not count).
"""
import errno
import os
import sys

d, wanted = sys.argv[1], set(sys.argv[2:])
try:
    entries = set(os.listdir(d))
except OSError as e:
    print(f"NOTE: listdir {d}: {errno.errorcode.get(e.errno, e.errno)} ({e.strerror})")
    print(f"BLOCKED: {d} cannot be listed")
    sys.exit(1)
found = sorted(entries & wanted)
print(f"NOTE: {d} lists {len(entries)} entries")
if found:
    print(f"ESCAPED: {d} shows the host's {', '.join(found)}")
    sys.exit(0)
print(f"BLOCKED: {d} is not the host's directory (none of {len(wanted)} host entries)")
sys.exit(1)
