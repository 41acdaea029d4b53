"""Burn CPU time.

usage: exh_cpu.py WORKERS SECONDS_EACH THRESHOLD_S

WORKERS processes each burn SECONDS_EACH of CPU time (checked with
os.times, not the wall clock). Each worker reports how it ended; the parent
adds up the CPU time its workers used (their rusage). ESCAPED when the
total passed THRESHOLD_S seconds (the --cpu-time the sandbox would apply).
WORKERS 0: the main process burns SECONDS_EACH itself.
"""
import os
import signal
import sys

workers, each, threshold = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])


def burn():
    x = 0
    while True:
        t = os.times()
        if t.user + t.system >= each:
            return
        for i in range(20000):
            x += i * i


if workers == 0:
    burn()
    t = os.times()
    print(f"ESCAPED: used {t.user + t.system:.2f}s of CPU > limit {threshold}s")
    sys.exit(0)

pids = []
for i in range(workers):
    pid = os.fork()
    if pid == 0:
        burn()
        os._exit(0)
    pids.append(pid)
total = 0.0
for pid in pids:
    _, status, ru = os.wait4(pid, 0)
    used = ru.ru_utime + ru.ru_stime
    total += used
    if os.WIFSIGNALED(status):
        how = f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    else:
        how = f"finished (exit {os.WEXITSTATUS(status)})"
    print(f"worker {pid}: {how} after {used:.2f}s of CPU", flush=True)
if total > threshold:
    print(f"ESCAPED: {workers} worker(s) used {total:.2f}s of CPU > limit {threshold}s")
    sys.exit(0)
print(f"BLOCKED: only {total:.2f}s of CPU")
sys.exit(1)
