#!/usr/bin/env bash
# Snapshot and restore cost against environment size and change size.
#
#   bench/snapshot.sh [OUT_PREFIX]      (default bench/results/snapshot-DATE)
#
# For each environment size (an image of a tiny root tree plus that much
# data in 10 MB files) and each change size (what the sandbox writes into
# its persistent upper, 1 MB files):
#   snapshot  `corral snapshot create --state DIR NAME` (a stopped sandbox)
#   restore   `corral run --from NAME -- true`: start a sandbox from the
#             snapshot, run nothing, end (the whole sandbox's life)
#   baseline  `corral run --image NAME -- true` (the same on the bare image)
#   live      POST /v1/sandboxes/{id}/snapshots to `corral serve`: a running
#             sandbox on the image that wrote the change into /workspace
#             (its tmpfs upper) is frozen, copied and thawed
#             (corral_sandbox_snapshot), timed by curl
# Medians of RUNS runs (default 5). SIZES_MB (default "100 1024") and
# CHANGES_MB (default "1 100") choose the grid; SKIP_1G=1 drops 1024.
# Needs root or a user store; uses a store under $TMPDIR, removed at exit.
set -euo pipefail
cd "$(dirname "$0")/.."
corral=${CORRAL:-$PWD/build/corral}
runs=${RUNS:-5}
sizes=${SIZES_MB:-"100 1024"}
[[ ${SKIP_1G:-0} == 1 ]] && sizes=${sizes//1024/}
changes=${CHANGES_MB:-"1 100"}
out=${1:-bench/results/snapshot-$(date -u +%F)}
work=$(mktemp -d "${TMPDIR:-/var/tmp}/bench-snap.XXXXXX")
serve_pid=
cleanup() {
	if [[ -n $serve_pid ]]; then
		kill "$serve_pid" 2>/dev/null || true
		wait "$serve_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

ms() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

rootfs() {
	local root=$1
	mkdir -p "$root/usr/bin"
	ln -s usr/bin "$root/bin"
	for t in sh head true cat; do
		local p; p=$(readlink -f "$(type -P "$t")")
		cp "$p" "$root/usr/bin/$t"
		ldd "$p" 2>/dev/null | grep -o '/[^ ]*' | while read -r lib; do
			mkdir -p "$root$(dirname "$lib")"
			cp -Ln "$lib" "$root$lib" 2>/dev/null || true
		done
	done
}

api() { curl -sf --unix-socket "$work/serve.sock" -X "$1" "http://corral$2" -d "${3:-}"; }

# The live case: a daemon on the store, one sandbox per run.
live_snapshots() {
	local size=$1
	echo "{\"state_dir\": \"$store\", \"limits\": {\"disk\": \"2G\"}}" > "$work/policy.json"
	"$corral" serve --socket "$work/serve.sock" --policy "$work/policy.json" 2>"$work/serve.log" &
	serve_pid=$!
	for ((i = 0; i < 100; i++)); do
		[[ -S $work/serve.sock ]] && break
		sleep 0.1
	done
	for change in $changes; do
		live_t=()
		for ((r = 0; r < runs; r++)); do
			id=$(api POST /v1/sandboxes "{\"image\": \"env$size\"}" | jq -r .id)
			api POST "/v1/sandboxes/$id/exec" "{\"argv\": [\"sh\", \"-c\", \"i=0; while [ \$i -lt $change ]; do head -c 1048576 /dev/zero > c\$i; i=\$((i+1)); done\"]}" >/dev/null
			t=$(curl -sf -o /dev/null -w '%{time_total}' --unix-socket "$work/serve.sock" \
				-X POST "http://corral/v1/sandboxes/$id/snapshots" -d "{\"name\": \"l$size-$change-$r\"}")
			live_t+=($(awk -v t="$t" 'BEGIN {printf "%d", t * 1000}'))
			api DELETE "/v1/sandboxes/$id" >/dev/null
		done
		m=$(printf '%s\n' "${live_t[@]}" | median)
		echo "$size,$change,live,$m,$runs" | tee -a "$out.csv"
	done
	kill "$serve_pid"
	wait "$serve_pid" 2>/dev/null || true
	serve_pid=
}

store=$work/store
echo "env_mb,change_mb,op,median_ms,runs" > "$out.csv"
for size in $sizes; do
	src=$work/src-$size
	rootfs "$src"
	mkdir -p "$src/data"
	for ((i = 0; i < size / 10; i++)); do
		head -c 10485760 /dev/urandom > "$src/data/f$i"
	done
	"$corral" image import "$src" "env$size" --state-dir "$store" >/dev/null
	rm -rf "$src"
	for change in $changes; do
		snap_t=() restore_t=() base_t=()
		for ((r = 0; r < runs; r++)); do
			st=$work/state
			rm -rf "$st"
			"$corral" run --state-dir "$store" --image "env$size" --state "$st" --disk unlimited \
				-- sh -c "i=0; while [ \$i -lt $change ]; do head -c 1048576 /dev/zero > ~/c\$i; i=\$((i+1)); done"
			sync
			name=s$size-$change-$r
			t0=$(ms)
			"$corral" snapshot create --state "$st" "$name" --state-dir "$store"
			t1=$(ms)
			"$corral" run --state-dir "$store" --from "$name" -- true
			t2=$(ms)
			"$corral" run --state-dir "$store" --image "env$size" -- true
			t3=$(ms)
			snap_t+=($(((t1 - t0) / 1000000)))
			restore_t+=($(((t2 - t1) / 1000000)))
			base_t+=($(((t3 - t2) / 1000000)))
		done
		for op in snapshot restore baseline; do
			case $op in
			snapshot) m=$(printf '%s\n' "${snap_t[@]}" | median) ;;
			restore) m=$(printf '%s\n' "${restore_t[@]}" | median) ;;
			baseline) m=$(printf '%s\n' "${base_t[@]}" | median) ;;
			esac
			echo "$size,$change,$op,$m,$runs" | tee -a "$out.csv"
		done
		rm -rf "$work/state"
	done
	live_snapshots "$size"
done
{
	echo "host: $(uname -r), $(nproc) CPUs, $(id -un), store on $(df -T "$work" | awk 'NR==2 {print $2}')"
	echo "corral: $("$corral" --version 2>/dev/null || echo unknown)"
	cat "$out.csv"
} > "$out.txt"
echo "wrote $out.csv and $out.txt"
