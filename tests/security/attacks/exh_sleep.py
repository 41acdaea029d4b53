"""Outstay the wall-clock limit: sleep, with a helper that ignores SIGTERM
and SIGHUP sleeping too.

usage: exh_sleep.py SECONDS

ESCAPED when the main process slept SECONDS and finished (a sandbox with
a shorter --timeout must have killed it first).
"""
import os
import signal
import sys
import time

seconds = float(sys.argv[1])
pid = os.fork()
if pid == 0:
    for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(s, signal.SIG_IGN)
    time.sleep(seconds + 5)
    os._exit(0)
for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
    signal.signal(s, signal.SIG_IGN)
start = time.monotonic()
time.sleep(seconds)
os.kill(pid, signal.SIGKILL)
os.waitpid(pid, 0)
print(f"ESCAPED: still running after {time.monotonic() - start:.1f}s")
sys.exit(0)
