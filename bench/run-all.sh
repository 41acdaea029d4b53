#!/usr/bin/env bash
# The side-by-side peer benchmark: corral against bubblewrap, firejail, crun,
# gVisor (runsc), unshare(1) and the kernel floor (bench/floor.c), with
# nsjail too when NSJAIL=/path/to/nsjail is set. Writes results.md (Markdown
# tables), coldstart-true.png, coldstart-python.png, growth.png and
# samples.json (raw timings) into OUTDIR. See docs/benchmarks.md.
#
#   bench/run-all.sh [OUTDIR]          (default bench/results/; ~12 min)
#   QUICK=1 bench/run-all.sh [OUTDIR]  (a smoke test: few runs, ~2 min;
#                                      default OUTDIR /tmp/corral-bench-quick)
#
# Run as root on an otherwise idle machine (WAIT_IDLE=SECONDS waits, at most
# that long each time, for a 1-minute load average below 1 before the run and
# before each section); how busy the rest of the machine was is recorded for
# every section.
#
# Debian packages it needs (scripts/setup.sh may install them):
#   hyperfine bubblewrap firejail crun runsc util-linux gcc libc6-dev
#   python3 python3-matplotlib procps coreutils
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
# A QUICK run is a smoke test: by default it does not overwrite the committed results.
if [[ ${QUICK:-0} != 0 ]]; then default_out=${TMPDIR:-/tmp}/corral-bench-quick; else default_out=bench/results; fi
out=${1:-$default_out}
mkdir -p "$out"
out=$(cd "$out" && pwd)
corral=${CORRAL_BIN:-$repo/build/corral}

packages=(hyperfine bubblewrap firejail crun runsc util-linux gcc libc6-dev python3 python3-matplotlib procps coreutils)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "bench: missing Debian packages: ${missing[*]} (apt-get install ${missing[*]});" \
    "a missing peer is reported as such, the others still run" >&2
fi
for tool in hyperfine bwrap gcc; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is required" >&2; exit 1; }
done
/usr/bin/python3 -c 'import matplotlib' 2>/dev/null || { echo "bench: python3-matplotlib is required" >&2; exit 1; }
[[ -x $corral ]] || { echo "bench: $corral not built (ninja -C build)" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || echo "bench: not root: firejail, crun and runsc may behave differently" >&2

# WAIT_IDLE=SECONDS: first wait (at most that long) for the 1-minute load
# average to fall below 1.
if [[ -n ${WAIT_IDLE:-} ]]; then
  end=$((SECONDS + WAIT_IDLE))
  while (($(cut -d' ' -f1 /proc/loadavg | cut -d. -f1) >= 1)) && ((SECONDS < end)); do sleep 10; done
fi
echo "bench: load average $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs (run on an idle machine)" >&2

tmp=$(mktemp -d /tmp/corral-bench.XXXXXX)
chmod 755 "$tmp"
driver_pid=
cleanup() {
  # The driver kills its background sandboxes itself (at exit and on
  # SIGTERM); this only makes sure it is gone, then checks nothing is left.
  if [[ -n $driver_pid ]] && kill -0 "$driver_pid" 2>/dev/null; then
    kill -TERM "$driver_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$driver_pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$driver_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
  if pgrep -a -f '(^|/)sleep 600\.123$' >&2; then
    echo "bench: WARNING: background sandboxes above are still running" >&2
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A snapshot of corral: build/ may be relinked by others while this runs.
cp "$corral" "$tmp/corral"
corral=$tmp/corral

# The kernel floor, compiled here, never committed as a binary.
gcc -O2 -std=c17 -Wall -Wextra -Werror -o "$tmp/floor" bench/floor.c

args=(--out "$out" --corral "$corral" --floor "$tmp/floor")
[[ -n ${NSJAIL:-} ]] && args+=(--nsjail "$NSJAIL")
[[ ${QUICK:-0} != 0 ]] && args+=(--quick)

# Whole-run bound: 90 min (the full run takes ~12).
timeout -s TERM -k 30 5400 /usr/bin/python3 bench/peers.py "${args[@]}" &
driver_pid=$!
status=0
wait "$driver_pid" || status=$?
driver_pid=
echo "bench: results in $out/results.md" >&2
exit "$status"
