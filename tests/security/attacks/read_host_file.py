"""Read a host file given by path (a canary the test plants)."""
import sys

try:
    with open(sys.argv[1]) as f:
        data = f.read()
    print(f"ESCAPED: read {len(data)} bytes of {sys.argv[1]}")
    sys.exit(0)
except OSError as e:
    print(f"BLOCKED: {e}")
    sys.exit(1)
