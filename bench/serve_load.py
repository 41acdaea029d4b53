#!/usr/bin/env python3
"""Load on corral serve: N concurrent clients, each doing create -> exec ->
file write -> file read -> delete M times through the Python client.

Reports p50/p99 per operation and the throughput of whole rounds, then
checks the daemon leaked nothing: no sandbox processes left under it, no
new mounts, no sandbox cgroups, its open descriptors back to the count
before the load (after a warm-up round).

  build/corral serve --socket /tmp/b.sock &          # or let the script start one:
  /usr/bin/python3 bench/serve_load.py --clients 8 --rounds 20 [--json OUT]
"""
import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "clients" / "python"))
from corral import Client, Sandbox  # noqa: E402

OPS = ("create", "exec", "write", "read", "delete")


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))] if s else float("nan")


def children(pid):
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(x) for x in out.stdout.split()]


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def mounts():
    with open("/proc/self/mountinfo") as f:
        return set(f.read().splitlines())


def cgroups(pid):
    found = []
    for root, dirs, _ in os.walk("/sys/fs/cgroup"):
        if root.count("/") > 12:
            dirs[:] = []
            continue
        found += [d for d in dirs if d.startswith(f"sandbox-{pid}-")]
    return found


def one_round(sock, payload, times, memory="256M"):
    t = time.perf_counter()
    sb = Sandbox(socket=sock, memory=memory)
    t1 = time.perf_counter()
    r = sb.run("sh", "-c", "echo hello")
    t2 = time.perf_counter()
    assert r.exit_code == 0 and r.stdout == "hello\n", r
    sb.files.write_bytes("/workspace/data.bin", payload)
    t3 = time.perf_counter()
    assert sb.files.read_bytes("/workspace/data.bin") == payload
    t4 = time.perf_counter()
    sb.close()
    t5 = time.perf_counter()
    for op, d in zip(OPS, (t1 - t, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
        times[op].append(d * 1000)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=20, help="rounds per client")
    ap.add_argument("--file-size", type=int, default=64 * 1024)
    ap.add_argument("--corral", default=str(REPO / "build" / "corral"))
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--memory", default="256M",
                    help='memory limit of each sandbox; "none": the default policy ({}), '
                         "which --warm sandboxes serve")
    ap.add_argument("--warm", type=int, default=0, help="corral serve --warm N")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="serve-bench.")
    sock = os.path.join(tmp, "s.sock")
    log = open(os.path.join(tmp, "log"), "w")
    daemon = subprocess.Popen([args.corral, "serve", "--socket", sock, "--max-sandboxes",
                               str(max(64, args.clients * 2)), "--warm", str(args.warm)],
                              stderr=log)
    memory = None if args.memory == "none" else args.memory
    try:
        for _ in range(200):
            try:
                if Client(socket=sock).health():
                    break
            except OSError:
                time.sleep(0.05)
        payload = os.urandom(args.file_size)
        warm = {op: [] for op in OPS}
        one_round(sock, payload, warm, memory)  # first-use costs out of the numbers
        time.sleep(1 if args.warm else 0)  # the pool refills
        fds_before, mounts_before = fds(daemon.pid), mounts()

        times = {op: [] for op in OPS}
        lock = threading.Lock()
        errors = []

        def client():
            mine = {op: [] for op in OPS}
            try:
                for _ in range(args.rounds):
                    one_round(sock, payload, mine, memory)
                    if args.warm:
                        time.sleep(0.2)  # a sandbox's life between creates: the pool refills
            except Exception as e:  # reported, and fails the run
                errors.append(repr(e))
            with lock:
                for op in OPS:
                    times[op] += mine[op]

        t0 = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
        rounds = len(times["delete"])
        time.sleep(0.5)
        leaks = {
            "processes": children(daemon.pid),
            "mounts": sorted(mounts() - mounts_before),
            "cgroups": cgroups(daemon.pid),
            "fds_before": fds_before,
            "fds_after": fds(daemon.pid),
            "sandboxes_listed": len(Client(socket=sock).sandboxes()),
        }
    finally:
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(timeout=60)
        log.close()
    leaks["exit_code"] = code
    leaks["socket_left"] = os.path.exists(sock)
    leaks["cgroups_after_exit"] = cgroups(daemon.pid)
    for f in os.listdir(tmp):
        os.unlink(os.path.join(tmp, f))
    os.rmdir(tmp)

    result = {
        "clients": args.clients, "rounds_per_client": args.rounds, "file_size": args.file_size,
        "memory": args.memory, "warm": args.warm,
        "rounds": rounds, "errors": errors[:5], "elapsed_s": round(elapsed, 3),
        "rounds_per_s": round(rounds / elapsed, 2),
        "ops": {op: {"p50_ms": round(statistics.median(times[op]), 2),
                     "p99_ms": round(pct(times[op], 99), 2),
                     "max_ms": round(max(times[op]), 2)} for op in OPS if times[op]},
        "leaks": leaks, "cpus": os.cpu_count(), "load_before": os.getloadavg()[0],
    }
    print(f"{args.clients} clients x {args.rounds} rounds: {rounds} rounds in {elapsed:.2f}s "
          f"({result['rounds_per_s']} rounds/s)")
    for op, v in result["ops"].items():
        print(f"  {op:7s} p50 {v['p50_ms']:8.2f} ms   p99 {v['p99_ms']:8.2f} ms")
    print("  leaks:", json.dumps(leaks))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    # With --warm, the pool's sandboxes are alive during the run by design:
    # only what is left after the daemon's exit counts then.
    pooled = args.warm > 0
    ok = (not errors and rounds == args.clients * args.rounds
          and (pooled or not leaks["processes"]) and (pooled or not leaks["cgroups"])
          and not leaks["mounts"] and not leaks["cgroups_after_exit"]
          and leaks["fds_after"] <= leaks["fds_before"] and leaks["sandboxes_listed"] == 0
          and code == 0 and not leaks["socket_left"])
    if not ok:
        print("FAILED: errors or leaks", errors[:5], file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
