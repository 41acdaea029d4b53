"""Find a secret in environments.

    esc_environ.py SECRET WHERE...

WHERE: "self" (os.environ and /proc/self/environ), a pid number
(/proc/PID/environ), or "all" (every /proc/*/environ visible here; only
used inside the sandbox, where every visible process is the sandbox's).
ESCAPED when SECRET shows up in any of them.
"""
import errno
import os
import sys

secret = sys.argv[1].encode()
hits = []


def look(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        print(f"NOTE: {path}: {errno.errorcode.get(e.errno, e.errno)}")
        return
    if secret in data:
        print(f"NOTE: ESCAPE-STEP the secret is in {path}")
        hits.append(path)


for where in sys.argv[2:]:
    if where == "self":
        if any(secret in (k + "=" + v).encode() for k, v in os.environ.items()):
            print("NOTE: ESCAPE-STEP the secret is in os.environ")
            hits.append("os.environ")
        look("/proc/self/environ")
    elif where == "all":
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
        print(f"NOTE: visible pids: {' '.join(sorted(pids, key=int))}")
        for p in pids:
            look(f"/proc/{p}/environ")
    else:
        look(f"/proc/{int(where)}/environ")

if hits:
    print(f"ESCAPED: found the secret in {', '.join(hits)}")
    sys.exit(0)
print("BLOCKED: the secret is in no environment visible here")
sys.exit(1)
