#!/usr/bin/python3
"""A/B start-up timing, interleaved run by run.

    bench/ab.py [-n RUNS] [-w WARMUP] NAME=COMMAND NAME=COMMAND ...

Runs each command once per round, in a rotating order, RUNS rounds, so
every variant samples the same stretch of a shared, noisy machine (hyperfine
runs one command's whole series, then the next's). Prints the median, p95
and mean wall time of each, the ratio of medians to the first, and the
median of the per-round ratios to the first (robust to load drifting during
the run). Commands are split on spaces; no shell is involved.
"""
import argparse
import os
import statistics
import sys
import time


def run_once(argv):
    t0 = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, os.environ)
    _, status = os.waitpid(pid, 0)
    dt = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"ab: {' '.join(argv)} exited with {os.waitstatus_to_exitcode(status)}")
    return dt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=200, help="rounds")
    ap.add_argument("-w", type=int, default=20, help="warm-up rounds (not recorded)")
    ap.add_argument("variants", nargs="+", metavar="NAME=COMMAND")
    a = ap.parse_args()
    names, cmds = [], []
    for v in a.variants:
        name, sep, cmd = v.partition("=")
        if not sep or not cmd.strip():
            sys.exit(f"ab: expected NAME=COMMAND, got {v!r}")
        names.append(name)
        cmds.append(cmd.split())
    times = [[] for _ in cmds]
    k = len(cmds)
    for r in range(a.w + a.n):
        for j in range(k):
            i = (r + j) % k
            dt = run_once(cmds[i])
            if r >= a.w:
                times[i].append(dt)
    base = statistics.median(times[0])
    print(f"{a.n} interleaved rounds, load average {os.getloadavg()[0]:.2f} at the end")
    print("| variant | median | p95 | mean | median / first | per-round ratio (median) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for i, name in enumerate(names):
        t = sorted(times[i])
        med = statistics.median(t)
        p95 = t[int(0.95 * (len(t) - 1))]
        ratios = [x / y for x, y in zip(times[i], times[0])]
        print(f"| {name} | {med * 1e3:.2f} ms | {p95 * 1e3:.2f} ms | "
              f"{statistics.mean(t) * 1e3:.2f} ms | {med / base:.2f}× | "
              f"{statistics.median(ratios):.2f}× |")


if __name__ == "__main__":
    main()
