#!/usr/bin/env bash
# Run every libFuzzer target in fuzz/ for SECONDS each (default 60), starting
# from its committed seed corpus. Exits non-zero if any target finds a crash,
# a leak, a sanitizer report, a timeout or an out-of-memory.
#
#   scripts/fuzz.sh [SECONDS]          # CI: scripts/fuzz.sh 10
#   FUZZ_TARGETS="fuzz_paths" scripts/fuzz.sh 300
#
# Builds ./build-fuzz (clang, ASan+UBSan, -Dfuzzing=true) if needed. The
# corpus is copied to a temporary directory, so the inputs a run discovers
# never dirty the repository. Failing inputs are kept in
# build-fuzz/fuzz-artifacts/<target>/ with the command that reproduces them.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

seconds=${1:-60}
if ! [[ $seconds =~ ^[0-9]+$ ]] || ((seconds < 1)); then
  echo "usage: $0 [SECONDS]" >&2
  exit 2
fi
targets=(${FUZZ_TARGETS:-fuzz_policy_json fuzz_limits fuzz_paths fuzz_mcp_jsonrpc fuzz_net_rules fuzz_http_request fuzz_dns_sni fuzz_http_response fuzz_secret_scan fuzz_serve_request fuzz_landlock_audit})
builddir=$repo/build-fuzz

if [[ ! -f $builddir/build.ninja ]]; then
  CC=clang meson setup "$builddir" -Dfuzzing=true \
    -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
fi
# Only the fuzz targets (and the instrumented library they link): the rest of
# the tree is built and tested by scripts/test.sh with the default compiler.
ninja -C "$builddir" "${targets[@]/#/fuzz/}" >/dev/null

# Largest input each target takes (they reject longer ones).
declare -A max_len=([fuzz_policy_json]=16384 [fuzz_limits]=256 [fuzz_paths]=8194 [fuzz_mcp_jsonrpc]=65536 [fuzz_net_rules]=4096 [fuzz_http_request]=66560 [fuzz_dns_sni]=20000 [fuzz_http_response]=132096 [fuzz_secret_scan]=12288 [fuzz_serve_request]=65536 [fuzz_landlock_audit]=65536)

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

tmp=$(mktemp -d /tmp/corral-fuzz.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

status=0
for t in "${targets[@]}"; do
  corpus=$tmp/$t/corpus
  artifacts=$tmp/$t/artifacts
  mkdir -p "$corpus" "$artifacts"
  cp -r "$repo/fuzz/corpus/$t/." "$corpus/"
  args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048
        -max_len="${max_len[$t]:-4096}" -print_final_stats=1
        -artifact_prefix="$artifacts/")
  [[ -f $repo/fuzz/$t.dict ]] && args+=(-dict="$repo/fuzz/$t.dict")
  echo "=== $t: ${seconds}s from $(find "$repo/fuzz/corpus/$t" -type f | wc -l) seeds"
  log=$tmp/$t/log
  if "$builddir/fuzz/$t" "${args[@]}" "$corpus" >"$log" 2>&1; then
    grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" || true
    echo "=== $t: ok ($(find "$corpus" -type f | wc -l) inputs in the corpus now)"
  else
    status=1
    keep=$builddir/fuzz-artifacts/$t
    rm -rf "$keep"
    mkdir -p "$keep"
    cp -r "$artifacts/." "$keep/" 2>/dev/null || true
    cp "$log" "$keep/log"
    # The report: the sanitizer's or the target's message, without
    # libFuzzer's progress lines and ASan's shadow-memory map.
    grep -vE '^#[0-9]+|^INFO:|NEW_FUNC|^Shadow|^=>|^  0x[0-9a-f]+:|^  [A-Z][A-Za-z -]+: +[0-9a-f]' "$log" | tail -n 40
    echo "=== FAILED: $t (log and inputs in $keep)"
    for a in "$keep"/crash-* "$keep"/leak-* "$keep"/timeout-* "$keep"/oom-* "$keep"/slow-unit-*; do
      [[ -e $a ]] && echo "    reproduce: $builddir/fuzz/$t $a"
    done
  fi
done
exit $status
