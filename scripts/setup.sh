#!/usr/bin/env bash
# Install what corral needs on Debian 12 (only what is missing) and build it
# into ./build. Idempotent; run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  # build
  gcc meson ninja-build pkg-config libseccomp-dev libjansson-dev libmicrohttpd-dev libssl-dev libsqlite3-dev libarchive-dev
  # tests and the workloads they run inside the sandbox
  python3 python3-pytest python3-numpy python3-pandas python3-matplotlib
  nodejs make git sqlite3 util-linux iproute2 procps libcap2-bin curl openssl
  e2fsprogs  # mkfs.ext4: size-limited volumes
  # security verification: fuzzers (clang's libFuzzer), static analysis, valgrind
  clang libclang-rt-14-dev cppcheck clang-tidy valgrind
  # benchmarks
  bubblewrap hyperfine tinyproxy
)

# npm: nodesource's nodejs bundles it (and conflicts with Debian's npm package).
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: missing Debian packages: ${missing[*]} (run this script as root to install them)" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The MCP SDK client of tests/integration/test_mcp_sdk.py, pinned by
# tests/mcp/package-lock.json; readable by the unprivileged test user.
mcp=tests/mcp
if [[ ! -f $mcp/node_modules/.package-lock.json || $mcp/package-lock.json -nt $mcp/node_modules/.package-lock.json ]]; then
  echo "setup: npm ci in $mcp" >&2
  (cd "$mcp" && npm ci --no-audit --no-fund >/dev/null)
fi
chmod -R a+rX "$mcp/node_modules" 2>/dev/null || true

if [[ ! -f build/build.ninja ]]; then
  meson setup build >/dev/null
fi
ninja -C build >/dev/null
echo "setup: built $(pwd)/build/corral" >&2
