#!/usr/bin/env bash
# The network-proxy benchmark: the added latency and the throughput of
# corral's egress proxy (through HTTP_PROXY/HTTPS_PROXY and transparently)
# against a direct loopback connection and against tinyproxy, side by side in
# one interleaved run. Writes proxy-DATE.md (Markdown tables) and
# proxy-DATE.json (every raw timing) into OUTDIR. See docs/benchmarks.md.
#
#   bench/proxy.sh [OUTDIR]           (default bench/results/; 4–6 min)
#   bench/proxy.sh --quick [OUTDIR]   (a smoke test, under a minute;
#                                      default OUTDIR /tmp/corral-bench-quick)
#
# Run as root on an otherwise idle machine (WAIT_IDLE=SECONDS waits, at most
# that long each time, for a 1-minute load average below 1 before each
# section). Only loopback is used: a test CA, an origin server on 127.0.0.1
# (bench/proxy_server.py), a private tinyproxy instance on a free loopback
# port (never the system service), and corral with --net-host pinning the
# test name to 127.0.0.1.
#
# Debian packages it needs (scripts/setup.sh installs them):
#   tinyproxy python3 openssl
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
quick=0
if [[ ${1:-} == --quick ]]; then quick=1; shift; fi
[[ ${QUICK:-0} != 0 ]] && quick=1
# A quick run is a smoke test: by default it does not write into bench/results/.
if ((quick)); then default_out=${TMPDIR:-/tmp}/corral-bench-quick; else default_out=bench/results; fi
out=${1:-$default_out}
mkdir -p "$out"
out=$(cd "$out" && pwd)
corral=${CORRAL_BIN:-$repo/build/corral}

missing=()
for p in tinyproxy python3 openssl; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "bench: missing Debian packages: ${missing[*]} (apt-get install ${missing[*]})" >&2
  exit 1
fi
[[ -x $corral ]] || { echo "bench: $corral not built (ninja -C build)" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || echo "bench: not root: tinyproxy's 'User nobody' needs root; it may refuse to start" >&2
echo "bench: load average $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs (run on an idle machine)" >&2

# Readable by the sandbox's user: the client and the CA are bound from here.
tmp=$(mktemp -d /tmp/corral-bench-proxy.XXXXXX)
chmod 755 "$tmp"
driver_pid=
cleanup() {
  if [[ -n $driver_pid ]] && kill -0 "$driver_pid" 2>/dev/null; then
    kill -TERM "$driver_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$driver_pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$driver_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A snapshot of corral: build/ may be relinked by others while this runs.
cp "$corral" "$tmp/corral"
corral=$tmp/corral

args=(--out "$out" --corral "$corral" --tmp "$tmp")
((quick)) && args+=(--quick)

# Whole-run bound: 60 min (the full run takes 4–6, plus any WAIT_IDLE waits).
timeout -s TERM -k 30 3600 /usr/bin/python3 bench/proxy.py "${args[@]}" &
driver_pid=$!
status=0
wait "$driver_pid" || status=$?
driver_pid=
exit "$status"
