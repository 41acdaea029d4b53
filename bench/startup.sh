#!/usr/bin/env bash
# Start-up cost of a fully isolated /bin/true: corral against bubblewrap
# configured for equivalent isolation, interleaved in one hyperfine run.
# Prints a Markdown table (median, mean, p95, ratio to corral).
#
#   bench/startup.sh [RUNS]        (default 300 runs each)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-300}
corral=${CORRAL_BIN:-$(pwd)/build/corral}
command -v hyperfine >/dev/null || { echo "bench: hyperfine missing (apt-get install hyperfine)" >&2; exit 1; }
command -v bwrap >/dev/null || { echo "bench: bwrap missing (apt-get install bubblewrap)" >&2; exit 1; }

# bubblewrap with what corral does by default, as far as bwrap can:
# all namespaces, new session, die-with-parent, no capabilities, uid 1000,
# read-only system, a curated /etc, fresh /proc and /dev, tmpfs /tmp and HOME,
# scrubbed environment. (bwrap has no seccomp policy or landlock of its own;
# corral's figures include both.)
bwrap_cmd=(bwrap --unshare-all --die-with-parent --new-session --cap-drop ALL
  --uid 1000 --gid 1000 --hostname corral
  --ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/sbin /sbin
  --symlink usr/lib /lib --symlink usr/lib64 /lib64
  --ro-bind /etc/ld.so.cache /etc/ld.so.cache --ro-bind /etc/ssl /etc/ssl
  --ro-bind /etc/alternatives /etc/alternatives --ro-bind /etc/nsswitch.conf /etc/nsswitch.conf
  --proc /proc --dev /dev --tmpfs /tmp --tmpfs /home/sandbox
  --clearenv --setenv PATH /usr/bin:/bin --setenv HOME /home/sandbox)

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

hyperfine -N --warmup 30 --runs "$runs" --export-json "$out/startup.json" \
  -n corral "$corral run -- /bin/true" \
  -n bubblewrap "${bwrap_cmd[*]} /bin/true" \
  -n fork+exec "/bin/true" >/dev/null

/usr/bin/python3 - "$out/startup.json" <<'PY'
import json, statistics, sys
res = json.load(open(sys.argv[1]))["results"]
by = {r["command"]: r for r in res}
base = statistics.median(by["corral"]["times"])
print("| runner | median | mean | p95 | median / corral |")
print("| --- | --- | --- | --- | --- |")
for name in ("corral", "bubblewrap", "fork+exec"):
    t = sorted(by[name]["times"])
    med = statistics.median(t)
    p95 = t[int(0.95 * (len(t) - 1))]
    print(f"| {name} | {med*1e3:.2f} ms | {statistics.mean(t)*1e3:.2f} ms | {p95*1e3:.2f} ms | {med/base:.2f}× |")
PY
