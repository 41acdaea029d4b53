#!/usr/bin/env bash
# What limits cost: start-up of /bin/true with corral's default limits (a
# cgroup per sandbox) against the same run with every cgroup-held limit
# unlimited (no cgroup is created), interleaved in one hyperfine run; then
# the latency from a --timeout expiring to the sandbox being fully gone
# (every process reaped, cgroup removed), for a single sleeper and for a
# tree of 100 processes that ignore SIGTERM.
#
#   bench/limits.sh [RUNS]        (default 200)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-200}
corral=${CORRAL_BIN:-$(pwd)/build/corral}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

hyperfine -N --warmup 20 --runs "$runs" --export-json "$out/limits.json" \
  -n "with cgroup" "$corral run -- /bin/true" \
  -n "without cgroup" "$corral run --memory unlimited --pids unlimited -- /bin/true" >/dev/null

/usr/bin/python3 - "$out/limits.json" "$corral" "$runs" <<'PY'
import json, statistics, subprocess, sys, time
res = {r["command"]: sorted(r["times"]) for r in json.load(open(sys.argv[1]))["results"]}
corral, runs = sys.argv[2], int(sys.argv[3])
def p95(t): return t[int(0.95 * (len(t) - 1))]
print("Start-up of `corral run -- /bin/true`:\n")
print("| configuration | median | p95 |")
print("| --- | --- | --- |")
base = statistics.median(res["without cgroup"])
for name in ("with cgroup", "without cgroup"):
    t = res[name]
    print(f"| {name} | {statistics.median(t)*1e3:.2f} ms | {p95(t)*1e3:.2f} ms |")
print(f"\nCost of the cgroup: {(statistics.median(res['with cgroup']) - base)*1e3:.2f} ms (median)\n")

timeout_ms = 200
cases = {
    "one sleeper": "sleep 100",
    "100 processes ignoring SIGTERM": "trap '' TERM; for i in $(seq 100); do sh -c \"trap '' TERM; sleep 100\" & done; wait",
}
print(f"Timeout to fully gone (`--timeout {timeout_ms}ms`): the report's wall_ms (sandbox start until its last process is reaped) minus the timeout:\n")
print("| workload | median | p95 |")
print("| --- | --- | --- |")
import os, tempfile
rep = os.path.join(tempfile.mkdtemp(), "report.json")
for name, script in cases.items():
    lat = []
    for _ in range(max(20, runs // 5)):
        r = subprocess.run([corral, "run", f"--timeout={timeout_ms}ms", f"--report={rep}", "--", "sh", "-c", script])
        assert r.returncode == 124, r.returncode
        lat.append(json.load(open(rep))["wall_ms"] - timeout_ms)
    lat.sort()
    print(f"| {name} | {statistics.median(lat):.0f} ms | {p95(lat):.0f} ms |")
PY
