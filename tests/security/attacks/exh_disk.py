"""Fill a writable directory.

usage: exh_disk.py DIR THRESHOLD_MB NAME

Writes DIR/NAME in 1 MiB blocks and stops as soon as it wrote more than
THRESHOLD MiB (the sandbox's --disk), so the host-side run stays small.
ESCAPED when more than THRESHOLD MiB fit; BLOCKED on ENOSPC/EDQUOT/EFBIG
first. The file is left in place (inside, it dies with the sandbox's tmpfs;
the test removes the host-side one).
"""
import os
import sys

directory, threshold, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
directory = os.path.expanduser(directory)
path = os.path.join(directory, name)
block = b"\xa5" * (1 << 20)
written = 0
try:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    while written <= threshold << 20:
        n = os.write(fd, block)
        written += n
        if n < len(block):
            raise OSError(28, "short write")
    os.fsync(fd)
except OSError as e:
    print(f"BLOCKED: {path}: {written >> 10} KiB written, then {e.strerror} (errno {e.errno})")
    sys.exit(1)
print(f"ESCAPED: {path}: wrote {written >> 10} KiB > limit {threshold} MiB")
sys.exit(0)
